"""`ganlab eval`: rebuild a trained generator from its checkpoint and score it."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import torch
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import Tensor

from ganlab.checkpoint import load_checkpoint, resolve_checkpoint_path
from ganlab.config_checks import check_eval_config
from ganlab.console import results_table
from ganlab.data.base import GANDataModule
from ganlab.generative import GenerativeModule, module_class
from ganlab.metrics.base import Findings
from ganlab.metrics.suite import MetricSuite, sample_batches
from ganlab.plotting import save_png


def score(
    module: GenerativeModule,
    datamodule: GANDataModule,
    metric_configs: Mapping[str, Any],
    num_samples: int,
    batch_size: int,
    seed: int,
    cache_dir: str | Path | None,
) -> Findings:
    """Generate ``num_samples`` samples from a seeded noise stream, score them, and run the latent probes.

    A translating generator translates the first ``num_samples`` test examples instead (at most
    the whole test split), and paired metrics compare each output with its target.

    Runs in the calling process alone: the metrics do not wait for other DDP ranks.

    Returns:
        The metrics' named values (e.g. ``{"fid": 12.3}`` or ``{"modes_covered": 8.0, ...}``) and figures.
    """
    suite = MetricSuite.from_configs(metric_configs, sync_on_compute=False)
    findings = Findings()
    if suite.sample_metrics:
        suite.to(module.device)
        suite.prepare(datamodule, num_samples, Path(cache_dir).expanduser() if cache_dir else None)
        translating = module.generator.translates
        if translating:
            num_samples = min(num_samples, len(datamodule.examples(num_samples)["real"]))
        for fake, given in sample_batches(module, datamodule, num_samples, batch_size, seed):
            suite.update(fake, given if translating else None)
        findings = Findings(suite.compute(), suite.figures(datamodule), num_samples)
    probed = suite.probe(module, datamodule, seed)
    return Findings({**findings.values, **probed.values}, {**findings.figures, **probed.figures}, findings.num_samples)


# Checkpoints from before datasets named their feature space used Inception for images.
_INCEPTION = {"_target_": "ganlab.metrics.InceptionFeatures", "feature": 2048}


def run_config(checkpoint: Mapping[str, Any], paths: DictConfig) -> DictConfig:
    """The config a checkpoint was trained with, with this machine's ``paths`` in place of the old ones."""
    cfg = OmegaConf.create(checkpoint["ganlab"]["run"]["config"])
    cfg.paths = paths
    return cfg


def restore(
    ckpt: str | Path, paths: DictConfig, device: str
) -> tuple[Path, dict[str, Any], DictConfig, GenerativeModule]:
    """The checkpoint ``ckpt`` (a file or run dir) as ``(path, checkpoint, run config, module in eval mode)``."""
    ckpt_path = resolve_checkpoint_path(ckpt)
    checkpoint = load_checkpoint(ckpt_path)
    trained = run_config(checkpoint, paths)
    module = module_class(trained).from_config(trained)
    module.load_state_dict(checkpoint["state_dict"])
    return ckpt_path, checkpoint, trained, module.to(device).eval()


class Restored(NamedTuple):
    """A checkpoint ready to sample from: ``ganlab eval``'s and ``ganlab sample``'s common start."""

    ckpt_path: Path
    checkpoint: dict[str, Any]
    trained: DictConfig
    module: GenerativeModule
    datamodule: GANDataModule
    num_samples: int


def restore_for_sampling(cfg: DictConfig) -> Restored:
    """``cfg.ckpt`` restored on ``cfg.device`` with ``cfg.truncation``, its test data set up, and the sample
    count ``cfg.num_samples`` asks for (null: the dataset's ``eval_samples``)."""
    ckpt_path, checkpoint, trained, module = restore(cfg.ckpt, cfg.paths, cfg.device)
    for generator in (module.generator, module.sampling_generator):
        generator.truncation = cfg.get("truncation")
    datamodule = instantiate(trained.dataset.datamodule)
    datamodule.setup("test")
    num_samples = int(trained.dataset.eval_samples if cfg.num_samples is None else cfg.num_samples)
    return Restored(ckpt_path, checkpoint, trained, module, datamodule, num_samples)


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Score ``cfg.ckpt``: write ``metrics.json`` and the figures, log them to TensorBoard, print the report."""
    check_eval_config(cfg)
    started = time.perf_counter()
    ckpt_path, checkpoint, trained, module, datamodule, num_samples = restore_for_sampling(cfg)
    choices = (cfg, trained, trained.dataset)  # this eval's, the run's, the dataset's
    feature_space = next((c.feature_extractor for c in choices if c.get("feature_extractor")), _INCEPTION)
    metrics = next(c.metrics for c in choices if c.get("metrics"))
    # Metric configs interpolate ${dataset...} and ${feature_extractor}: resolve them against the trained run.
    scope = OmegaConf.create({"dataset": trained.dataset, "feature_extractor": feature_space, "metrics": metrics})
    findings = score(module, datamodule, scope.metrics, num_samples, cfg.batch_size, cfg.seed, cfg.paths.cache_dir)
    results = findings.values
    elapsed = time.perf_counter() - started

    out_dir = Path(HydraConfig.get().runtime.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    grid_z = module.generator.sample_latent(
        trained.dataset.sample_grid_size, rng=torch.Generator().manual_seed(cfg.seed)
    )
    figures = {"samples": module.sample_picture(grid_z, datamodule, game=False), **findings.figures}
    for stem, image in figures.items():
        save_png(image, str(out_dir / f"{stem}.png"))
    run = checkpoint["ganlab"]["run"]
    report = {
        "checkpoint": str(ckpt_path.resolve()),
        "generator_steps": checkpoint["ganlab"].get("generator_steps"),
        "choices": run.get("choices", {}),
        "num_samples": findings.num_samples,
        "feature_extractor": OmegaConf.to_container(OmegaConf.create(feature_space)),
        "seed": int(cfg.seed),
        "truncation": cfg.get("truncation"),
        "metrics": results,
        "wall_time_s": round(elapsed, 3),
        "samples_per_s": round(findings.num_samples / elapsed, 2),
    }
    (out_dir / "metrics.json").write_text(json.dumps(report, indent=2) + "\n")
    log_dir = log_to_tensorboard(report, figures, tensorboard_dir(ckpt_path, out_dir))
    results_table(
        f"ganlab eval: {ckpt_path}",
        {
            **results,
            "samples scored": findings.num_samples,
            "wall time (s)": report["wall_time_s"],
            "samples/s": report["samples_per_s"],
            "metrics.json": out_dir / "metrics.json",
            **{f"{stem}.png": out_dir / f"{stem}.png" for stem in figures},
            "tensorboard": f"tensorboard --logdir {log_dir}",
        },
    )
    return report


def tensorboard_dir(ckpt_path: Path, out_dir: Path) -> Path:
    """The run's own TensorBoard folder (``<run>/tensorboard`` next to ``<run>/checkpoints``), else ``out_dir``'s."""
    run_logs = ckpt_path.resolve().parent.parent / "tensorboard"
    return (
        run_logs if ckpt_path.resolve().parent.name == "checkpoints" and run_logs.is_dir() else out_dir / "tensorboard"
    )


def log_to_tensorboard(report: Mapping[str, Any], figures: Mapping[str, Tensor], log_dir: Path) -> Path:
    """``eval/<name>`` scalars and images at the checkpoint's generator step, and the settings they hold for."""
    from torch.utils.tensorboard import SummaryWriter

    step = report["generator_steps"] or 0
    # evals of one checkpoint at several truncations get a section each, not one overwritten curve
    section = "eval" if report["truncation"] is None else f"eval_truncation_{report['truncation']}"
    with SummaryWriter(str(log_dir)) as writer:
        for name, value in report["metrics"].items():
            writer.add_scalar(f"{section}/{name}", value, global_step=step)
        for stem, image in figures.items():
            writer.add_image(f"{section}/{stem}", image, global_step=step)
        settings = {
            key: report[key] for key in ("checkpoint", "num_samples", "feature_extractor", "seed", "truncation")
        }
        writer.add_text(f"{section}/settings", f"```\n{json.dumps(settings, indent=2)}\n```", global_step=step)
    return log_dir
