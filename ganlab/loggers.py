"""What ganlab sends to each experiment logger beyond Lightning's scalars: pictures, and the run's summary.

Scalars reach every logger under the same keys (``train/d_loss``, ``val/fid``, ``final/fid``, ...)
through Lightning. Pictures go where a logger can show them: TensorBoard's images, a W&B media
panel, MLflow artifacts; the CSV logger keeps scalars only (the run dir holds the PNGs).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from lightning.pytorch.loggers import Logger
from torch import Tensor


def mlflow_logger(**kwargs: Any) -> Logger:
    """Lightning's ``MLFlowLogger``; with no ``tracking_uri``, on MLflow's local file store in ``save_dir``.

    MLflow 3 keeps that store in maintenance mode and refuses it unless ``MLFLOW_ALLOW_FILE_STORE=true``:
    ganlab sets it for this local default only (a server or ``sqlite:///...`` URI is used as given).
    """
    from lightning.pytorch.loggers import MLFlowLogger

    if not kwargs.get("tracking_uri"):
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    return MLFlowLogger(**kwargs)


def _hwc_bytes(image: Tensor) -> np.ndarray:
    return (image.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy()


#: how each logger class shows a ``(3, H, W)`` picture in [0, 1] under a key at a step
IMAGE_WRITERS: dict[str, Callable[[Any, str, Tensor, int], None]] = {
    "TensorBoardLogger": lambda logger, key, image, step: logger.experiment.add_image(key, image, global_step=step),
    "WandbLogger": lambda logger, key, image, step: logger.log_image(key=key, images=[_hwc_bytes(image)], step=step),
    "MLFlowLogger": lambda logger, key, image, step: logger.experiment.log_image(
        logger.run_id, _hwc_bytes(image), f"{key}/step_{step:06d}.png"
    ),
}


def _wandb_location(logger: Any) -> str:
    run = logger.experiment
    return run.url if getattr(run, "url", None) else f"wandb sync {run.dir.rsplit('/files', 1)[0]}  (offline)"


#: where each logger class's record of the run can be looked at, for the end-of-run table
LOCATIONS: dict[str, tuple[str, Callable[[Any], str]]] = {
    "TensorBoardLogger": ("tensorboard", lambda logger: f"tensorboard --logdir {Path(logger.log_dir)}"),
    "CSVLogger": ("csv", lambda logger: str(Path(logger.log_dir) / "metrics.csv")),
    "WandbLogger": ("wandb", _wandb_location),
    "MLFlowLogger": (
        "mlflow",
        lambda logger: f"mlflow ui --backend-store-uri {logger._tracking_uri}  (run {logger.run_id})",
    ),
}


def _entry(table: Mapping[str, Any], logger: Logger) -> Any:
    return next((table[c.__name__] for c in type(logger).__mro__ if c.__name__ in table), None)


def location(logger: Logger) -> tuple[str, str] | None:
    """``(name, where)`` of ``logger``'s record of the run: a command to view it, or its file."""
    entry = _entry(LOCATIONS, logger)
    return None if entry is None else (entry[0], entry[1](logger))


def log_image(logger: Logger, key: str, image: Tensor, step: int) -> None:
    """Show ``image`` under ``key`` at generator step ``step`` where ``logger`` can (else nothing)."""
    writer = _entry(IMAGE_WRITERS, logger)
    if writer is not None:
        writer(logger, key, image, step)


def log_summary(
    logger: Logger, hparams: Mapping[str, Any], final: Mapping[str, float], figures: Mapping[str, Tensor], step: int
) -> None:
    """The run's settings and final values (TensorBoard's HParams tab pairs them), and its final pictures."""
    if type(logger).__name__ == "TensorBoardLogger":
        logger.log_hyperparams(dict(hparams), metrics=dict(final))
    else:
        logger.log_hyperparams(dict(hparams))
        if final:
            logger.log_metrics(dict(final), step=step)
    for stem, image in figures.items():
        log_image(logger, f"final/{stem}", image, step)
    logger.finalize("success")
