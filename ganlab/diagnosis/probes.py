"""The signals the diagnosis measures itself, from samples of a fixed latent batch: how much of the data G covers.

Training logs nothing about coverage, so the diagnosis callback draws ``G(z_fixed)`` at its own
interval and logs one number (``diagnosis/modes_covered`` or ``diagnosis/diversity``), which
``ganlab doctor`` then finds in TensorBoard like any other signal.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ganlab.data.toy2d import GaussianMixture2D
from ganlab.metrics.modes import ModeCoverage


def mean_pairwise_distance(samples: Tensor) -> float:
    """The mean Euclidean distance between distinct samples, each flattened: ``(N, ...) -> float``."""
    return float(torch.pdist(samples.detach().float().flatten(1)).mean())


class ModesProbe:
    """``diagnosis/modes_covered``: modes of a Gaussian mixture that ``G(z_fixed)`` covers.

    Counted as the ``modes`` metric counts them (:class:`~ganlab.metrics.ModeCoverage`: a mode is
    covered by a sample within 3 standard deviations of its centre), on the fixed batch instead of 2,500 fresh samples.
    """

    def __init__(self, mixture: GaussianMixture2D) -> None:
        self.mixture = mixture

    def measure(self, fake: Tensor) -> dict[str, float]:
        metric = ModeCoverage.for_mixture(self.mixture)
        metric.update(fake)
        return {"diagnosis/modes_covered": float(metric.compute()["modes_covered"])}


class DiversityProbe:
    r"""``diagnosis/diversity``: how spread out ``G(z_fixed)`` is, relative to real data.

    .. math:: \mathrm{diversity} = \frac{\overline{\lVert G(z_i) - G(z_j)\rVert}}{\overline{\lVert x_i - x_j\rVert}}

    with both means over distinct pairs, in pixel space: about 1 for a generator as varied as the
    data, falling towards 0 as its samples become alike. Pixels rather than D's penultimate
    features, because D's feature space changes as D trains, so values along a run would not be
    comparable, and rather than Inception features, which cost seconds per measurement on a CPU.

    Args:
        real: real samples of the shape G produces, drawn once (their mean distance is the unit).
    """

    def __init__(self, real: Tensor) -> None:
        self.real_distance = mean_pairwise_distance(real)

    def measure(self, fake: Tensor) -> dict[str, float]:
        return {"diagnosis/diversity": mean_pairwise_distance(fake) / max(self.real_distance, 1e-12)}


def collapse_probe(datamodule: Any, num_samples: int) -> ModesProbe | DiversityProbe:
    """The probe that suits the data: mode counting for mixtures with known centres, diversity otherwise."""
    mixture = getattr(datamodule, "distribution", None)
    if isinstance(mixture, GaussianMixture2D):
        return ModesProbe(mixture)
    return DiversityProbe(datamodule.real_samples(num_samples))
