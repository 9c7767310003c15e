"""When training stops early, on a non-finite loss or a termination signal, save where it stopped as ``last.ckpt``."""

from __future__ import annotations

import signal
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.utilities.exceptions import SIGTERMException

from ganlab.errors import NonFiniteLoss


class StopCheckpoint(L.Callback):
    """Save ``last.ckpt`` when a run stops before its end, so resuming loses nothing.

    - A non-finite loss: losses are checked before their backward pass, so the weights are those
      after the last good step; they are saved if they are finite themselves (otherwise
      ``last.ckpt`` keeps the previous checkpoint). Resume with changed values, e.g.
      ``ckpt_path=... optim.lr=1e-4``.
    - SIGTERM (``kill``, ``scancel``, a preemption, ``timeout``): Lightning stops at the end of the
      current step, and the state after that step is saved, so ``resume=auto`` continues exactly.
    - SIGUSR1, the signal SLURM jobs are usually warned with (``#SBATCH --signal=USR1@120``), is
      treated as SIGTERM, unless something else (Lightning's own SLURM auto-requeue) handles it.

    Args:
        dirpath: the run's checkpoint folder.
    """

    def __init__(self, dirpath: str) -> None:
        self.dirpath = Path(dirpath)
        self.saved: bool | None = None
        self._usr1_was: signal.Handlers | None = None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Lightning has installed its SIGTERM handler by now (a main-thread-only call, as signals are).
        if signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL:
            self._usr1_was = signal.signal(signal.SIGUSR1, signal.getsignal(signal.SIGTERM))

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._restore_usr1()

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        self._restore_usr1()
        if isinstance(exception, NonFiniteLoss):
            self.saved = all(torch.isfinite(p).all() for p in pl_module.parameters())
        elif isinstance(exception, SIGTERMException):
            self.saved = True
        else:
            return
        if self.saved:
            trainer.save_checkpoint(self.dirpath / "last.ckpt")

    def _restore_usr1(self) -> None:
        if self._usr1_was is not None:
            signal.signal(signal.SIGUSR1, self._usr1_was)
            self._usr1_was = None
