"""The 1-D Wasserstein distance between generated and real samples, and the moments of the generated ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torchmetrics.utilities import dim_zero_cat

from ganlab.data.base import GANDataModule
from ganlab.metrics.base import SampleMetric


class Wasserstein1D(SampleMetric):
    r"""Earth mover's distance of 1-D samples, :math:`W_1 = \int_0^1 |F_g^{-1}(u) - F_r^{-1}(u)|\, du`.

    Computed from the sorted generated samples against the real empirical quantiles at the same levels
    :math:`(i + 1/2)/n`; with equal counts that is exactly the mean absolute difference of the sorted sets.
    Also reports the generated ``mean`` and ``std``: for ``model=location_scale`` they are G's
    :math:`\mu` and :math:`\sigma`, what a divergence's preference shows in.

    Args:
        real_split: the split real samples come from.
        kwargs: torchmetrics ``Metric`` options.
    """

    def __init__(self, real_split: str = "test", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.real_split = real_split
        self.real: Tensor | None = None
        self.add_state("fake", default=[], dist_reduce_fx="cat")

    def prepare(self, datamodule: GANDataModule, num_samples: int, cache_dir: Path | None) -> None:
        self.real = datamodule.real_samples(num_samples, split=self.real_split).double().flatten()

    def update(self, fake: Tensor) -> None:
        self.fake.append(fake.detach().double().flatten())

    def compute(self) -> dict[str, Tensor]:
        fake = dim_zero_cat(self.fake).sort().values
        levels = (torch.arange(len(fake), dtype=torch.float64, device=fake.device) + 0.5) / len(fake)
        real = self.real.to(fake.device).sort().values
        real_quantiles = real[(levels * len(real)).long().clamp(max=len(real) - 1)]  # the empirical inverse CDF
        return {"wasserstein1": (fake - real_quantiles).abs().mean(), "mean": fake.mean(), "std": fake.std()}
