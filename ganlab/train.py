"""`ganlab train`: compose a run from config, fit it, and report where everything went."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import lightning as L
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.utils import instantiate
from lightning.pytorch.utilities import rank_zero_only
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import DictConfig, OmegaConf
from torch import Tensor

from ganlab.checkpoint import load_checkpoint
from ganlab.config import check_same_job, holds_a_run, resumable_checkpoint
from ganlab.config_checks import check_train_config
from ganlab.console import config_tree, console, results_table
from ganlab.errors import GanlabError, Interrupted, NonFiniteLoss
from ganlab.evaluate import score
from ganlab.generative import module_class
from ganlab.hydra_app import launch_argv
from ganlab.loggers import location, log_summary
from ganlab.plotting import save_png
from ganlab.precision import pin_precision


def resumed_config(cfg: DictConfig) -> tuple[DictConfig, dict[str, Any]]:
    """The checkpoint's own config and group choices, with this command line's value overrides on top.

    ``ganlab train ckpt_path=X`` continues X's run as it was configured; ``generator_steps=N`` or any
    other ``key=value`` given with it still applies. Changing a config group (``model=...``) is
    refused: that is a different run.
    """
    checkpoint = load_checkpoint(cfg.ckpt_path)
    run = checkpoint["ganlab"]["run"]
    saved = OmegaConf.create(run["config"])
    choices = dict(run["choices"])
    hydra_cfg = HydraConfig.get()
    for override in OverridesParser.create().parse_overrides(list(hydra_cfg.overrides.task)):
        key = override.key_or_group
        if key.startswith("hydra") or key == "ckpt_path":
            continue
        if key in hydra_cfg.runtime.choices:
            if str(hydra_cfg.runtime.choices[key]) != str(choices.get(key)):
                raise GanlabError(
                    f"cannot change {key} when resuming: the checkpoint was trained with "
                    f"{key}={choices.get(key)}; drop the override or start a new run without ckpt_path"
                )
            continue
        OmegaConf.update(saved, key, OmegaConf.select(cfg, key), force_add=True)
    saved.ckpt_path = cfg.ckpt_path
    saved.paths = cfg.paths
    return saved, choices


_COMPARED_GROUPS = ("model", "loss", "dataset", "optim", "tricks", "trainer", "experiment")


def _hparams(cfg: DictConfig, choices: dict[str, Any]) -> dict[str, Any]:
    """What the HParams tab compares: the group choices, key settings, and every command-line override."""
    params: dict[str, Any] = {group: str(choices.get(group)) for group in _COMPARED_GROUPS if group in choices}
    for key in (
        "seed",
        "trainer.precision",
        "generator_steps",
        "optim.lr",
        "optim.n_critic",
        "model.latent_dim",
        "dataset.datamodule.batch_size",
    ):
        params[key] = OmegaConf.select(cfg, key)
    for override in OverridesParser.create().parse_overrides(list(HydraConfig.get().overrides.task)):
        key = override.key_or_group
        if not key.startswith("hydra") and key not in choices:
            value = OmegaConf.select(cfg, key)
            params[key] = value if isinstance(value, (int, float, str, bool)) else str(value)
    return params


# Lightning 2.6 warns about its own use of a deprecated torch API on every fit.
warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")
# Checkpoints are meant to hold the weights after each step; Lightning warns about that under manual optimisation.
warnings.filterwarnings("ignore", message=r"Using ModelCheckpoint with manual optimization")


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit the GAN that ``cfg`` describes; return the final metrics (for sweepers)."""
    check_train_config(cfg)
    choices: dict[str, Any] = dict(HydraConfig.get().runtime.choices)
    run_dir = Path(cfg.paths.output_dir)
    if cfg.get("resume") not in (None, "auto"):
        raise GanlabError(f"resume={cfg.resume} is not an option: use resume=auto, or ckpt_path=<checkpoint>")
    if not cfg.get("ckpt_path") and (ckpt_path := resumable_checkpoint(None, cfg.get("resume"), run_dir)):
        check_same_job(run_dir, list(HydraConfig.get().overrides.task))
        cfg.ckpt_path = ckpt_path
    if cfg.ckpt_path:
        cfg, choices = resumed_config(cfg)
    elif holds_a_run(run_dir):
        raise GanlabError(
            f"{run_dir} already holds a run (checkpoints/); continue it with resume=auto, "
            "or start the new run elsewhere (hydra.run.dir=... or the default dated directory)"
        )
    why = pin_precision(cfg.trainer)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    rank_zero_only(config_tree)(cfg, run_dir / "config_tree.log")
    rank_zero_only(console.print)(f"precision: {cfg.trainer.precision}: {why}")

    datamodule = instantiate(cfg.dataset.datamodule)
    # a resumed run's checkpoint holds G already (and init_generator's file may be gone by now)
    module = module_class(cfg).from_config(cfg, None if cfg.ckpt_path else cfg.get("init_generator"))
    module.run_info = {"config": OmegaConf.to_container(cfg, resolve=False), "choices": choices}
    # callbacks.<name>=null switches one off
    callbacks = [instantiate(node) for node in cfg.callbacks.values() if node is not None]
    loggers = [instantiate(node) for node in cfg.logger.values()]
    trainer: L.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    try:
        with launch_argv():
            trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    except NonFiniteLoss as err:
        rank_zero_only(record_failure)(run_dir, module.generator_steps, str(err))
        raise
    except SIGTERMException as err:
        stop = Interrupted(
            f"stopped by a termination signal after generator step {module.generator_steps}, which "
            f"{run_dir / 'checkpoints' / 'last.ckpt'} holds; run the same command with resume=auto to continue"
        )
        rank_zero_only(record_failure)(run_dir, module.generator_steps, str(stop))
        raise stop from err
    if not trainer.is_global_zero:
        return {}
    # this run (or a resume of it) reached its end: an earlier failure of it is history, not its state
    (run_dir / "failed.json").unlink(missing_ok=True)

    results: dict[str, float] = {}
    figures: dict[str, Tensor] = {}
    if cfg.final_eval:
        module.to("cpu")
        # Seed 0, as `ganlab eval`'s default: the final numbers and a later eval of last.ckpt agree.
        metrics = cfg.get("metrics") or cfg.dataset.metrics
        findings = score(module, datamodule, metrics, cfg.dataset.eval_samples, 500, 0, cfg.paths.cache_dir)
        results, figures = findings.values, findings.figures
        for stem, image in figures.items():
            save_png(image, str(run_dir / f"{stem}.png"))
        report = {
            "generator_steps": module.generator_steps,
            "num_samples": cfg.dataset.eval_samples,
            "metrics": results,
        }
        (run_dir / "metrics.json").write_text(json.dumps(report, indent=2) + "\n")
    final = {f"final/{name}": value for name, value in results.items()}
    final.update(
        {f"final/{k.split('/')[-1]}": float(v) for k, v in trainer.callback_metrics.items() if k.endswith("_loss")}
    )
    for logger in trainer.loggers:
        log_summary(logger, _hparams(cfg, choices), final, figures, module.generator_steps)

    where: dict[str, Any] = {"run dir": run_dir, "checkpoint": run_dir / "checkpoints" / "last.ckpt"}
    where.update(dict(filter(None, map(location, trainer.loggers))))
    where.update({"samples": run_dir / "samples", "generator steps": module.generator_steps})
    results_table("ganlab train: done", {**where, **results})
    return results


def objective(results: dict[str, float], optimized_metric: str | None) -> dict[str, float] | float:
    """What ``ganlab train`` returns to Hydra: the results, or the one value a sweeper optimises."""
    if not optimized_metric:
        return results
    if optimized_metric not in results:
        raise GanlabError(
            f"optimized_metric={optimized_metric} is not among the final evaluation's values {sorted(results)}; "
            "pick one of them (and keep final_eval=true)"
        )
    return results[optimized_metric]


def record_failure(run_dir: Path, generator_steps: int, error: str) -> None:
    """``failed.json`` in the run dir: the step and the error, for ``ganlab report`` and for the user."""
    failure = {"generator_steps": generator_steps, "error": error}
    (run_dir / "failed.json").write_text(json.dumps(failure, indent=2) + "\n")
