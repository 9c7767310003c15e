"""Scoring the generator during training: metrics every N generator steps, and the best checkpoint by one of them."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import lightning as L
import torch

from ganlab.errors import GanlabError
from ganlab.loggers import log_image
from ganlab.metrics.suite import MetricSuite, sample_batches
from ganlab.schema import AtLeast, OneOf


class PeriodicMetrics(L.Callback):
    """Every ``every_n_steps`` generator steps, score ``num_samples`` samples and log ``val/<name>``.

    The samples are those ``ganlab eval`` would draw (the latent stream seeded with ``seed``).
    Pictures that metrics draw (``memorization``) and latent probes (``interpolation``) go to
    TensorBoard as ``val/<stem>`` images at the same steps.

    Under DDP each process generates a contiguous share of that same stream and updates its metric
    states; ``compute`` all-reduces them, so the result equals the single-process one. Real-data
    statistics are prepared once, at the start, from the cache in ``cache_dir``.

    With ``monitor`` set, the checkpoint with the best value so far is kept as ``best.ckpt`` in
    ``dirpath`` (e.g. ``monitor=fid, mode=min``).

    Args:
        metrics: metric configs by name (the dataset's ``metrics`` by default), built when the callback is on.
        every_n_steps: generator steps between scores; ``None`` or 0 switches the callback off.
        num_samples: generated samples per score (and real samples for the statistics).
        batch_size: samples per generator batch.
        seed: seed of the latent stream.
        cache_dir: where real-data statistics are cached.
        monitor: a logged value's name (without ``val/``) that selects ``best.ckpt``; ``None``: no selection.
        mode: ``min`` or ``max``: whether a lower or a higher ``monitor`` is better.
        dirpath: folder of ``best.ckpt``.
    """

    def __init__(
        self,
        metrics: Mapping[str, Any],
        every_n_steps: Annotated[int | None, AtLeast(1, nullable=True)] = None,
        num_samples: Annotated[int, AtLeast(1)] = 1000,
        batch_size: Annotated[int, AtLeast(1)] = 250,
        seed: int = 0,
        cache_dir: str | None = None,
        monitor: str | None = None,
        mode: Annotated[str, OneOf("min", "max")] = "min",
        dirpath: str | None = None,
    ) -> None:
        if mode not in ("min", "max"):
            raise GanlabError(f"callbacks.metrics.mode must be min or max, got {mode!r}")
        if monitor and not dirpath:
            raise GanlabError("callbacks.metrics.monitor needs callbacks.metrics.dirpath for best.ckpt")
        self.metric_configs = metrics
        self.suite = MetricSuite({})
        self.every_n_steps = int(every_n_steps or 0)
        self.num_samples, self.batch_size, self.seed = int(num_samples), int(batch_size), int(seed)
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else None
        self.monitor, self.mode = monitor, mode
        self.dirpath = Path(dirpath) if dirpath else None
        self.best: float | None = None

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self.every_n_steps:
            return
        # Built here, not by Hydra, so that a switched-off callback never loads Inception.
        self.suite = MetricSuite.from_configs(self.metric_configs).to(pl_module.device)
        self.suite.prepare(trainer.datamodule, self.num_samples, self.cache_dir)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        if self.every_n_steps and pl_module.generator_steps % self.every_n_steps == 0:
            results = self.score(pl_module, trainer.global_rank, trainer.world_size)
            values = {f"val/{name}": value for name, value in results.items()}
            # Straight to the loggers: Lightning writes logged values only every log_every_n_steps.
            if trainer.is_global_zero:
                for logger in trainer.loggers:
                    logger.log_metrics(values, step=pl_module.generator_steps)
            trainer.callback_metrics.update({k: torch.tensor(v) for k, v in values.items()})
            self._keep_best(trainer, results)
            if trainer.is_global_zero:
                self._log_figures(trainer, pl_module)

    @torch.no_grad()
    def score(self, pl_module: L.LightningModule, rank: int = 0, world_size: int = 1) -> dict[str, float]:
        """This process's share of the seeded samples through every metric; all-reduced values."""
        self.suite.reset()
        translating = pl_module.generator.translates
        batches = sample_batches(
            pl_module, pl_module.trainer.datamodule, self.num_samples, self.batch_size, self.seed, rank, world_size
        )
        for fake, given in batches:
            self.suite.update(fake, given if translating else None)
        return self.suite.compute()

    def _log_figures(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """The metrics' pictures and the latent probes' (walks, ...) as ``val/<stem>`` images, where loggers show
        them."""
        if not trainer.loggers:
            return
        figures = {
            **self.suite.figures(trainer.datamodule),
            **self.suite.probe(pl_module, trainer.datamodule, self.seed).figures,
        }
        for logger in trainer.loggers:
            for stem, image in figures.items():
                log_image(logger, f"val/{stem}", image, pl_module.generator_steps)

    def _keep_best(self, trainer: L.Trainer, results: dict[str, float]) -> None:
        if not self.monitor:
            return
        if self.monitor not in results:
            raise GanlabError(
                f"callbacks.metrics.monitor={self.monitor} is not among the computed values {sorted(results)}"
            )
        value = results[self.monitor]
        better = self.best is None or (value < self.best if self.mode == "min" else value > self.best)
        if better and math.isfinite(value):
            self.best = value
            trainer.save_checkpoint(self.dirpath / "best.ckpt")

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best = state_dict.get("best")
