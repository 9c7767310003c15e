"""Nearest-neighbour metrics in feature space: 1-NN two-sample accuracy, precision/recall, density/coverage."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import torch
from torch import Tensor

from ganlab.metrics.base import FeatureSetMetric
from ganlab.schema import AtLeast

# Rows per block of a distance matrix: 10,000 x 10,000 distances at once would take 800 MB.
_BLOCK = 1024


def blockwise(points: Tensor, reduce: Callable[[Tensor, int], Tensor]) -> Tensor:
    """``reduce(block of rows of points, index of its first row)`` for every block, concatenated."""
    return torch.cat([reduce(points[start : start + _BLOCK], start) for start in range(0, len(points), _BLOCK)])


def knn_radii(features: Tensor, k: int) -> Tensor:
    """Distance from each row of ``features`` ``(N, D)`` to its k-th nearest other row, shape ``(N,)``."""
    return blockwise(features, lambda rows, _: torch.cdist(rows, features).topk(k + 1, largest=False).values[:, k])


def balls_containing(points: Tensor, centres: Tensor, radii: Tensor) -> Tensor:
    """How many of the balls ``B(centres[i], radii[i])`` contain each point, shape ``(len(points),)``."""
    return blockwise(points, lambda rows, _: (torch.cdist(rows, centres) <= radii).sum(dim=1))


def one_nn_accuracy(real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor]:
    """Leave-one-out 1-NN classifier accuracy on the union of ``real`` and ``fake``, on each part."""
    union = torch.cat([real, fake])
    is_real = torch.arange(len(union), device=union.device) < len(real)

    def nearest(rows: Tensor, start: int) -> Tensor:
        distances = torch.cdist(rows, union)
        distances[torch.arange(len(rows)), torch.arange(start, start + len(rows))] = float("inf")  # leave self out
        return distances.argmin(dim=1)

    correct = (is_real[blockwise(union, nearest)] == is_real).double()
    return correct[: len(real)].mean(), correct[len(real) :].mean()


class OneNearestNeighbourAccuracy(FeatureSetMetric):
    r"""Leave-one-out 1-nearest-neighbour two-sample test (Lopez-Paz & Oquab 2017; Xu et al. 2018).

    Real samples (label 1) and as many generated ones (label 0) are pooled; each point is classified
    by the label of its nearest other point, and ``nn1_accuracy`` is the fraction classified
    correctly. 0.5 means the two sets are indistinguishable to this test; 1.0 means disjoint
    distributions (collapse, or samples far from the data); below 0.5 means generated samples sit
    closer to real ones than real ones to each other, down to 0.0 when they are exact copies of the
    real set they are compared with (memorisation of the test split; copies of *training* images
    compared with test images look disjoint instead). ``nn1_real`` and ``nn1_fake`` are the
    accuracies on each part (Xu et al. report both).
    """

    def compare(self, real: Tensor, fake: Tensor) -> dict[str, Tensor]:
        on_real, on_fake = one_nn_accuracy(real, fake)
        return {"nn1_accuracy": (on_real + on_fake) / 2, "nn1_real": on_real, "nn1_fake": on_fake}


class PrecisionRecall(FeatureSetMetric):
    r"""Improved precision and recall (Kynkäänniemi et al. 2019).

    Each set's manifold is the union of balls around its points with radius the distance to the
    point's k-th nearest neighbour in the same set. Precision is the fraction of generated samples
    inside the real manifold (quality); recall is the fraction of real samples inside the generated
    manifold (diversity). Both in [0, 1], 1 is best; the paper uses k = 3 on VGG-16 features.

    Args:
        k: neighbour whose distance sets the radii.
        kwargs: :class:`FeatureSetMetric` options (``feature_extractor``, ...).
    """

    def __init__(self, k: Annotated[int, AtLeast(1)] = 3, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.k = int(k)

    def compare(self, real: Tensor, fake: Tensor) -> dict[str, Tensor]:
        precision = (balls_containing(fake, real, knn_radii(real, self.k)) > 0).double().mean()
        recall = (balls_containing(real, fake, knn_radii(fake, self.k)) > 0).double().mean()
        return {"precision": precision, "recall": recall}


class DensityCoverage(FeatureSetMetric):
    r"""Density and coverage (Naeem et al. 2020), robust versions of precision and recall.

    With :math:`B(x_i, r_i)` the ball around real sample :math:`x_i` of radius its k-NN distance
    among the N real samples, and M generated samples :math:`y_j`:

    .. math::
        \text{density} = \frac{1}{kM}\sum_j \sum_i 1[y_j \in B(x_i, r_i)], \qquad
        \text{coverage} = \frac{1}{N}\sum_i 1[\exists j: y_j \in B(x_i, r_i)].

    Density is about 1 when the two distributions are equal (it is not capped at 1: generated
    samples crowded where real ones are dense exceed it); coverage is in [0, 1], 1 is best. The
    paper uses k = 5.

    Args:
        k: neighbour whose distance sets the radii.
        kwargs: :class:`FeatureSetMetric` options.
    """

    def __init__(self, k: Annotated[int, AtLeast(1)] = 5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.k = int(k)

    def compare(self, real: Tensor, fake: Tensor) -> dict[str, Tensor]:
        radii = knn_radii(real, self.k)
        density = balls_containing(fake, real, radii).double().sum() / (self.k * len(fake))
        nearest_fake = blockwise(real, lambda rows, _: torch.cdist(rows, fake).min(dim=1).values)
        return {"density": density, "coverage": (nearest_fake <= radii).double().mean()}
