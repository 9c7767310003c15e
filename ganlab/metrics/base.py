"""The interface of metrics computed on generated samples."""

from __future__ import annotations

from pathlib import Path

from torch import Tensor
from torchmetrics import Metric

from ganlab.data.base import GANDataModule


class SampleMetric(Metric):
    """A torchmetrics ``Metric`` fed with generated samples only.

    The protocol ``ganlab eval`` relies on (metrics built on another torchmetrics class, such as
    :class:`~ganlab.metrics.fid.FrechetInceptionDistance`, follow it without this base):
    ``prepare(datamodule, num_samples, cache_dir)`` once, ``update(fake)`` per batch of generated
    samples, ``compute() -> dict[str, Tensor]`` of named values. States are sums, so under DDP
    each process updates with its share of samples and ``compute`` sees the all-reduced totals.
    """

    full_state_update = False

    def prepare(self, datamodule: GANDataModule, num_samples: int, cache_dir: Path | None) -> None:
        """Get ready to score ``num_samples`` generated samples (real statistics, say); no-op by default."""

    def update(self, fake: Tensor) -> None:
        raise NotImplementedError

    def compute(self) -> dict[str, Tensor]:
        raise NotImplementedError
