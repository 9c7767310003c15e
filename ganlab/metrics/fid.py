"""Fréchet Inception Distance from cached real features."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torchmetrics.image.fid import _compute_fid

from ganlab.errors import GanlabError
from ganlab.metrics.base import FeatureMetric
from ganlab.metrics.features import FeatureExtractor, InceptionFeatures


def mean_and_covariance(feature_sum: Tensor, outer_sum: Tensor, count: Tensor | int) -> tuple[Tensor, Tensor]:
    """Mean and unbiased covariance from the sums :math:`\\sum x`, :math:`\\sum x x^\\top` over ``count`` rows."""
    mean = feature_sum / count
    return mean, (outer_sum - count * torch.outer(mean, mean)) / (count - 1)


class FrechetInceptionDistance(FeatureMetric):
    r"""FID (Heusel et al. 2017): the Fréchet distance between Gaussians fitted to real and generated features.

    .. math::
        \mathrm{FID} = \lVert\mu_r - \mu_g\rVert_2^2 + \mathrm{Tr}\big(\Sigma_r + \Sigma_g
        - 2(\Sigma_r\Sigma_g)^{1/2}\big)

    By default over the 2048-d pool features of torchmetrics' standard Inception, computed as
    torchmetrics' ``FrechetInceptionDistance(normalize=True)`` does (its ``_compute_fid`` gives the
    distance). The real features are computed once per (dataset, split, resolution, channels,
    sample count, feature space) and cached in ``cache_dir``, shared with the other feature metrics.
    The generated side keeps only sums (:math:`\sum x`, :math:`\sum xx^\top`, count), so memory does
    not grow with the sample count and DDP all-reduces them. FID falls with the sample count:
    compare runs at the same ``num_samples`` and feature space only.

    Args:
        feature_extractor: the feature space; ``None``: Inception pool features of size ``feature``.
        feature: Inception feature size (64, 192, 768 or 2048) when no ``feature_extractor`` is given.
        kwargs: :class:`~ganlab.metrics.base.FeatureMetric` options (``real_split``, ``batch_size``, ...).
    """

    def __init__(self, feature_extractor: FeatureExtractor | None = None, feature: int = 2048, **kwargs: Any) -> None:
        super().__init__(feature_extractor=feature_extractor or InceptionFeatures(feature), **kwargs)
        self.real_mean: Tensor | None = None
        self.real_covariance: Tensor | None = None
        self.add_state("fake_sum", default=torch.zeros(0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("fake_outer_sum", default=torch.zeros(0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("fake_count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def set_real_features(self, features: Tensor) -> None:
        super().set_real_features(features)
        real = features.double()
        self.real_mean, self.real_covariance = mean_and_covariance(real.sum(0), real.T @ real, len(real))

    def add_features(self, features: Tensor) -> None:
        features = features.double()
        if self.fake_sum.numel() == 0:  # sized by the first batch: the feature size is the extractor's
            self.fake_sum = features.new_zeros(features.shape[1])
            self.fake_outer_sum = features.new_zeros(features.shape[1], features.shape[1])
        self.fake_sum += features.sum(0)
        self.fake_outer_sum += features.T @ features
        self.fake_count += len(features)

    def compute(self) -> dict[str, Tensor]:
        self._check_prepared()
        if self.fake_count < 2:
            raise GanlabError(f"FID needs at least 2 generated samples, got {int(self.fake_count)}")
        mean, covariance = mean_and_covariance(self.fake_sum, self.fake_outer_sum, self.fake_count)
        real_mean, real_covariance = self.real_mean.to(mean.device), self.real_covariance.to(mean.device)
        return {"fid": _compute_fid(real_mean, real_covariance, mean, covariance)}
