"""`ganlab eval`: rebuild a trained generator from its checkpoint and score it."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from ganlab.checkpoint import load_checkpoint, resolve_checkpoint_path
from ganlab.console import results_table
from ganlab.data.base import GANDataModule
from ganlab.module import GANModule
from ganlab.plotting import save_png


def score(
    module: GANModule,
    datamodule: GANDataModule,
    metric_configs: Mapping[str, Any],
    num_samples: int,
    batch_size: int,
    seed: int,
    cache_dir: str | Path | None,
) -> dict[str, float]:
    """Generate ``num_samples`` samples from a seeded noise stream and compute each metric on them.

    Runs in the calling process alone: the metrics do not wait for other DDP ranks.

    Returns:
        The metrics' named values, e.g. ``{"fid": 12.3}`` or ``{"modes_covered": 8.0, ...}``.
    """
    metrics = [instantiate(node, sync_on_compute=False) for node in metric_configs.values()]
    if not metrics:
        return {}
    cache = Path(cache_dir).expanduser() if cache_dir else None
    for metric in metrics:
        metric.to(module.device)
        metric.prepare(datamodule, num_samples, cache)
    rng = torch.Generator().manual_seed(seed)
    for start in range(0, num_samples, batch_size):
        count = min(batch_size, num_samples - start)
        fake = module.generate(module.generator.sample_latent(count, rng=rng))
        for metric in metrics:
            metric.update(fake)
    return {name: float(value) for metric in metrics for name, value in metric.compute().items()}


# Checkpoints from before datasets named their feature space used Inception for images.
_INCEPTION = {"_target_": "ganlab.metrics.InceptionFeatures", "feature": 2048}


def run_config(checkpoint: Mapping[str, Any], paths: DictConfig) -> DictConfig:
    """The config a checkpoint was trained with, with this machine's ``paths`` in place of the old ones."""
    cfg = OmegaConf.create(checkpoint["ganlab"]["run"]["config"])
    cfg.paths = paths
    return cfg


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Score ``cfg.ckpt``; write ``metrics.json`` and ``samples.png``; print and return the report."""
    started = time.perf_counter()
    ckpt_path = resolve_checkpoint_path(cfg.ckpt)
    checkpoint = load_checkpoint(ckpt_path)
    trained = run_config(checkpoint, cfg.paths)
    module = GANModule.from_config(trained)
    module.load_state_dict(checkpoint["state_dict"])
    module.to(cfg.device).eval()
    datamodule = instantiate(trained.dataset.datamodule)
    datamodule.setup("test")
    num_samples = int(cfg.num_samples or trained.dataset.eval_samples)
    feature_space = cfg.get("feature_extractor") or trained.dataset.get("feature_extractor") or _INCEPTION
    # Metric configs interpolate ${dataset...} and ${feature_extractor}: resolve them against the trained run.
    metrics = cfg.get("metrics") or trained.dataset.metrics
    scope = OmegaConf.create({"dataset": trained.dataset, "feature_extractor": feature_space, "metrics": metrics})
    results = score(module, datamodule, scope.metrics, num_samples, cfg.batch_size, cfg.seed, cfg.paths.cache_dir)
    elapsed = time.perf_counter() - started

    out_dir = Path(HydraConfig.get().runtime.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    grid_z = module.generator.sample_latent(
        trained.dataset.sample_grid_size, rng=torch.Generator().manual_seed(cfg.seed)
    )
    save_png(datamodule.render(module.generate(grid_z).cpu()), str(out_dir / "samples.png"))
    run = checkpoint["ganlab"]["run"]
    report = {
        "checkpoint": str(ckpt_path.resolve()),
        "generator_steps": checkpoint["ganlab"].get("generator_steps"),
        "choices": run.get("choices", {}),
        "num_samples": num_samples,
        "feature_extractor": OmegaConf.to_container(OmegaConf.create(feature_space)),
        "seed": int(cfg.seed),
        "metrics": results,
        "wall_time_s": round(elapsed, 3),
        "samples_per_s": round(num_samples / elapsed, 2),
    }
    (out_dir / "metrics.json").write_text(json.dumps(report, indent=2) + "\n")
    results_table(
        f"ganlab eval: {ckpt_path}",
        {
            **results,
            "samples": num_samples,
            "wall time (s)": report["wall_time_s"],
            "metrics.json": out_dir / "metrics.json",
            "samples.png": out_dir / "samples.png",
        },
    )
    return report
