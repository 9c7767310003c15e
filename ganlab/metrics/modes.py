"""Mode coverage of 2-D Gaussian mixtures, as in VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et al. 2018)."""

from __future__ import annotations

from typing import Annotated, Any

import torch
from torch import Tensor

from ganlab.data.toy2d import GaussianMixture2D
from ganlab.metrics.base import SampleMetric
from ganlab.schema import Positive


class ModeCoverage(SampleMetric):
    r"""Modes captured, high-quality fraction and reverse KL of a generator on a Gaussian mixture.

    For ``K`` modes with centres :math:`\mu_k` and per-axis std :math:`\sigma`, each sample ``x`` is
    assigned to its nearest centre :math:`k(x) = \arg\min_k \lVert x - \mu_k\rVert_2`.

    - **high quality**: :math:`\lVert x - \mu_{k(x)}\rVert_2 < 3\sigma` (VEEGAN's "within three
      standard deviations"); ``hq_fraction`` is the share of such samples.
    - **modes covered**: modes that are the nearest centre of at least one high-quality sample.
    - **reverse KL**: :math:`\mathrm{KL}(\hat p\,\|\,u) = \sum_k \hat p_k \log(K \hat p_k)`, where
      :math:`\hat p_k` is the fraction of *all* samples whose nearest centre is :math:`\mu_k` and
      :math:`u` the uniform distribution over modes (0 for a perfect balance, :math:`\log K` when
      every sample sits at one mode). PacGAN's code does not pin its exact definition down; this is
      ganlab's, stated so that numbers can be compared honestly.

    The protocol scores 2,500 samples. States are per-mode counts, so results under DDP equal
    the single-process results for the same samples.

    Args:
        centers: ``(K, 2)`` mode centres.
        std: per-axis standard deviation of each mode.
        threshold: high-quality radius in units of ``std`` (3 in the protocol).
        kwargs: torchmetrics ``Metric`` options (``sync_on_compute``, ...).
    """

    def __init__(self, centers: Tensor, std: float, threshold: float = 3.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.register_buffer("centers", torch.as_tensor(centers, dtype=torch.float32))
        self.std = float(std)
        self.threshold = float(threshold)
        num_modes = len(self.centers)
        self.add_state("nearest_counts", torch.zeros(num_modes, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("hq_counts", torch.zeros(num_modes, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("total", torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")

    @classmethod
    def for_mixture(
        cls, mixture: GaussianMixture2D, threshold: Annotated[float, Positive] = 3.0, **kwargs: Any
    ) -> ModeCoverage:
        """The metric for a dataset's mixture (used by ``conf/dataset/ring8.yaml`` and friends)."""
        return cls(mixture.centers, mixture.std, threshold, **kwargs)

    def update(self, fake: Tensor) -> None:
        points = fake.detach().float().reshape(-1, 2)
        distances = torch.cdist(points, self.centers.to(points.device))
        nearest_distance, nearest = distances.min(dim=1)
        num_modes = len(self.centers)
        self.nearest_counts += torch.bincount(nearest, minlength=num_modes)
        high_quality = nearest_distance < self.threshold * self.std
        self.hq_counts += torch.bincount(nearest[high_quality], minlength=num_modes)
        self.total += points.shape[0]

    def compute(self) -> dict[str, Tensor]:
        total = self.total.clamp(min=1).double()
        share = self.nearest_counts.double() / total
        occupied = share > 0
        reverse_kl = (share[occupied] * torch.log(share[occupied] * len(share))).sum()
        return {
            "modes_covered": (self.hq_counts > 0).sum(),
            "num_modes": torch.tensor(len(share)),
            "hq_fraction": self.hq_counts.sum().double() / total,
            "reverse_kl": reverse_kl,
        }
