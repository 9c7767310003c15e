"""On a non-finite loss, keep the last finite weights as ``last.ckpt``, so the failed run can be resumed."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch

from ganlab.errors import NonFiniteLoss


class LastFiniteCheckpoint(L.Callback):
    """When training stops on a non-finite loss, save the weights it had, if they are finite, as ``last.ckpt``.

    The loss is checked before its backward pass, so the weights are those after the last good
    step, and ``last.ckpt`` then holds them (instead of the state up to ``checkpoint_every`` steps
    earlier). Weights that are themselves non-finite are never saved: ``last.ckpt`` keeps the
    previous checkpoint. Resume with changed values, e.g. ``ckpt_path=... optim.lr=1e-4``.

    Args:
        dirpath: the run's checkpoint folder.
    """

    def __init__(self, dirpath: str) -> None:
        self.dirpath = Path(dirpath)
        self.saved: bool | None = None

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        if not isinstance(exception, NonFiniteLoss):
            return
        self.saved = all(torch.isfinite(p).all() for p in pl_module.parameters())
        if self.saved:
            trainer.save_checkpoint(self.dirpath / "last.ckpt")
