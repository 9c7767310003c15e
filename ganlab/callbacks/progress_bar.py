"""One progress bar for the whole run, in generator steps, with the latest losses and D's scores."""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ProgressBar
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Column
from rich.text import Text

from ganlab.console import console
from ganlab.hydra_app import sweep_position

#: the logged values the bar shows: ``{label: keys}``, the first of the keys that the run logs (a VAE logs its loss)
SHOWN = {
    "d_loss": ("train/d_loss",),
    "g_loss": ("train/g_loss",),
    "D(x)": ("train/D_real_prob", "train/D_real"),
    "D(G(z))": ("train/D_fake_prob", "train/D_fake"),
    "loss": ("train/loss",),
    "kl": ("train/kl",),
}


def total_generator_steps(trainer: L.Trainer) -> int | None:
    """The run's generator steps: Lightning's ``max_steps`` counts ``n_critic + 1`` optimiser steps per batch."""
    if trainer.max_steps is None or trainer.max_steps < 0:
        return None
    return trainer.max_steps // trainer.lightning_module.optimizer_steps_per_batch


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:.1f} steps/s" if task.speed else "", style="dim")


class GANProgressBar(ProgressBar):
    """A rich bar from generator step 0 (or the resumed step) to ``generator_steps``, across epochs.

    Shows ``step / total``, steps per second, the elapsed and remaining time, and the latest logged
    ``d_loss``, ``g_loss``, ``D(x)`` and ``D(G(z))`` (probabilities where the loss has them, else raw
    scores; values arrive every ``trainer.log_every_n_steps``). In a sweep the description says which job
    of how many this is. Only the global-zero process draws it.

    Args:
        leave: keep the finished bar on screen (false: it disappears when the run ends).
    """

    def __init__(self, leave: bool = True) -> None:
        super().__init__()
        self.leave = leave
        self._enabled = True
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    @property
    def is_enabled(self) -> bool:
        return self._enabled

    def disable(self) -> None:
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    def on_train_start(self, trainer: L.Trainer, pl_module: Any) -> None:
        if not self._enabled:
            return
        # the counts and times keep their width on a narrow terminal; the logged values wrap below them
        whole = Column(no_wrap=True)
        self._progress = Progress(
            TextColumn("[bold]{task.description}", table_column=whole),
            BarColumn(bar_width=24),
            MofNCompleteColumn(table_column=whole),
            _RateColumn(table_column=whole),
            TimeElapsedColumn(table_column=whole),
            TextColumn("eta", table_column=whole),
            TimeRemainingColumn(table_column=whole),
            TextColumn("{task.fields[shown]}", table_column=Column(overflow="fold")),
            console=console,
            transient=not self.leave,
        )
        self._progress.start()
        self._task = self._progress.add_task(
            self.description(), total=total_generator_steps(trainer), completed=pl_module.generator_steps, shown=""
        )

    @staticmethod
    def description() -> str:
        position = sweep_position()
        if position is None:
            return "train"
        job, jobs = position
        return f"job {job}/{jobs}" if jobs else f"job {job}"

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: Any, *args: Any) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=pl_module.generator_steps, shown=self.shown(trainer))

    @staticmethod
    def shown(trainer: L.Trainer) -> str:
        logged = trainer.callback_metrics
        values = {label: next((logged[k] for k in keys if k in logged), None) for label, keys in SHOWN.items()}
        return "  ".join(f"{label} {float(value):.3f}" for label, value in values.items() if value is not None)

    def _stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def on_train_end(self, trainer: L.Trainer, pl_module: Any) -> None:
        self._stop()

    def on_exception(self, trainer: L.Trainer, pl_module: Any, exception: BaseException) -> None:
        self._stop()
