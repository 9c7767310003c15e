"""Kernel Inception Distance."""

from __future__ import annotations

from typing import Annotated, Any

import torch
from torch import Tensor
from torchmetrics.image.kid import poly_mmd

from ganlab.metrics.base import FeatureSetMetric
from ganlab.schema import AtLeast


class KernelInceptionDistance(FeatureSetMetric):
    r"""KID (Bińkowski et al. 2018): the unbiased squared MMD with the cubic polynomial kernel.

    .. math::
        k(x, y) = \Big(\tfrac{1}{d}\,x^\top y + 1\Big)^3, \qquad
        \mathrm{MMD}^2_u = \tfrac{1}{m(m-1)}\sum_{i\ne j}\big(k(x_i,x_j) + k(y_i,y_j)\big)
        - \tfrac{2}{m^2}\sum_{i,j} k(x_i, y_j)

    averaged over ``num_subsets`` random subsets of ``subset_size`` samples from each set
    (torchmetrics' ``poly_mmd`` computes each estimate); ``kid_std`` is the spread over subsets.
    Unlike FID it is unbiased, so small sample counts do not inflate it; 0 is best, and it can be
    slightly negative. Subsets are drawn from a generator seeded with ``seed``, so a result repeats.

    Args:
        num_subsets: estimates to average (100 in the paper's code).
        subset_size: samples per subset (1,000); capped at the number of samples.
        seed: seed of the subset draws.
        kwargs: :class:`FeatureSetMetric` options.
    """

    def __init__(
        self,
        num_subsets: Annotated[int, AtLeast(1)] = 100,
        subset_size: Annotated[int, AtLeast(1)] = 1000,
        seed: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.num_subsets, self.subset_size, self.seed = int(num_subsets), int(subset_size), int(seed)

    def compare(self, real: Tensor, fake: Tensor) -> dict[str, Tensor]:
        size = min(self.subset_size, len(real), len(fake))
        rng = torch.Generator().manual_seed(self.seed)
        estimates = torch.stack(
            [
                poly_mmd(
                    real[torch.randperm(len(real), generator=rng)[:size].to(real.device)],
                    fake[torch.randperm(len(fake), generator=rng)[:size].to(fake.device)],
                )
                for _ in range(self.num_subsets)
            ]
        )
        return {"kid_mean": estimates.mean(), "kid_std": estimates.std() if len(estimates) > 1 else estimates[0] * 0}
