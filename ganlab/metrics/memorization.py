"""Memorisation check: generated samples next to their nearest training images (Goodfellow et al. 2014, Fig. 2)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics.utilities import dim_zero_cat

from ganlab.data.base import GANDataModule
from ganlab.errors import GanlabError
from ganlab.metrics.base import SampleMetric
from ganlab.metrics.cache import cached
from ganlab.metrics.features import FeatureExtractor, Flatten, InceptionFeatures, extract, real_features
from ganlab.metrics.nearest_neighbours import blockwise
from ganlab.plotting import figure_image, image_grid
from ganlab.schema import AtLeast, Probability

# Small images are drawn enlarged (nearest-neighbour) to about this many pixels a side in the neighbour grid.
_TILE = 64
# Height in pixels of the neighbour grid's header, which labels its blocks.
_HEADER = 30


def nearest(queries: Tensor, reference: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """The ``k`` nearest rows of ``reference`` ``(M, D)`` to each row of ``queries`` ``(N, D)``, nearest first.

    Candidates come from ``torch.cdist`` in blocks of rows; their L2 distances are then recomputed
    from the differences, because cdist's matrix-product form (``|x|² - 2x·y + |y|²``) is off by
    about 1e-2 near 0 in float32: an exact copy of a reference row gets distance exactly 0.

    Returns:
        distances ``(N, k)`` in ascending order and the indices into ``reference`` ``(N, k)``.
    """
    queries = queries.to(reference.dtype)
    k = min(k, len(reference))
    indices = blockwise(queries, lambda rows, _: torch.cdist(rows, reference).topk(k, largest=False).indices)
    distances = blockwise(
        queries,
        lambda rows, start: (rows.unsqueeze(1) - reference[indices[start : start + len(rows)]]).norm(dim=-1),
    )
    distances, order = distances.sort(dim=1)
    return distances, indices.gather(1, order)


def distance_statistics(fake: Tensor, test: Tensor, copy_quantile: float) -> dict[str, Tensor]:
    """The memorisation numbers of :class:`Memorization` (and its copy threshold ``q``) from the
    nearest-training distances of generated samples ``fake`` ``(M,)`` and of held-out test samples
    ``test`` ``(N,)``, in one feature space."""
    fake, test = fake.double(), test.double()
    fake_median, test_median = fake.quantile(0.5), test.quantile(0.5)
    threshold = test.quantile(copy_quantile)
    # Mann-Whitney U / (M N): P(fake < test) + P(fake = test) / 2, by counting through the sorted test distances.
    ordered = test.sort().values
    below = torch.searchsorted(ordered, fake, right=False).double()
    at_most = torch.searchsorted(ordered, fake, right=True).double()
    closer = ((len(test) - at_most) + (at_most - below) / 2).mean() / len(test)
    return {
        "nn_median": fake_median,
        "test_nn_median": test_median,
        "ratio": fake_median / test_median,
        "copies": (fake <= threshold).double().mean(),
        "closer": closer,
        "copy_threshold": threshold,
    }


def neighbour_sheet(samples: Tensor, neighbours: list[Tensor], labels: list[str]) -> Tensor:
    """One row per sample: the sample, then each block of its neighbours after a blank column, labelled on top.

    Args:
        samples: ``(G, C, H, W)`` images in [-1, 1].
        neighbours: blocks of ``(G, k, C, H, W)`` images in [-1, 1], ``k`` per row.
        labels: one header per block, the samples' first (``\\n`` breaks a line).

    Returns:
        ``(3, 30 + G (sH + 2) + 2, n (sW + 2) + 2)`` in [0, 1] for ``n`` columns of tiles (the
        sample, and per block a blank one and ``k`` neighbours): tiles enlarged by the integer factor
        ``s = max(1, 64 // max(H, W))`` and framed by :func:`~ganlab.plotting.image_grid`'s 2 pixels.
    """
    from matplotlib.figure import Figure

    blank = torch.ones_like(samples[:, None])  # white in [-1, 1]
    tiles = torch.cat([samples[:, None], *(part for block in neighbours for part in (blank, block))], dim=1)
    columns = tiles.shape[1]
    scale = max(1, _TILE // max(samples.shape[-2:]))
    body = image_grid(F.interpolate(tiles.flatten(0, 1).float().cpu(), scale_factor=scale, mode="nearest"), columns)
    width, step = body.shape[2], (body.shape[2] - 2) // columns  # image_grid: 2 + columns * (tile + 2) pixels

    dpi = 100
    header = Figure(figsize=((width + 1) / dpi, (_HEADER + 1) / dpi), dpi=dpi)
    first = 0
    for count, label in zip([1, *(block.shape[1] for block in neighbours)], labels, strict=True):
        centre = 2 + first * step + (count * step - 2) / 2
        header.text(centre / (width + 1), 0.5, label, ha="center", va="center", fontsize=7, linespacing=1.1)
        first += count + 1
    return torch.cat([figure_image(header)[:, :_HEADER, :width], body], dim=1)


class Memorization(SampleMetric):
    r"""Has the generator memorised its training set? Generated samples beside their nearest training images.

    With :math:`T` ``num_train`` training samples and :math:`\phi` a space's features, the
    nearest-training distance of a sample is :math:`d(x) = \min_{t \in T} \lVert \phi(x) - \phi(t)\rVert_2`.
    It is computed for the M generated samples :math:`y_j` and, as the reference of what an
    unmemorised sample looks like, for N held-out test samples :math:`x_i` (as many as
    generated ones, up to the split's size; a test image is by construction no copy of a training
    image). In each space:

    .. math::
        \text{nn\_median} = \operatorname{median}_j d(y_j), \qquad
        \text{test\_nn\_median} = \operatorname{median}_i d(x_i), \qquad
        \text{ratio} = \text{nn\_median} \,/\, \text{test\_nn\_median},

        \text{copies} = \tfrac{1}{M}\textstyle\sum_j 1\big[d(y_j) \le q\big], \quad
        q = \text{the } \texttt{copy\_quantile} \text{ (1\%) quantile of the } d(x_i), \qquad
        \text{closer} = P\big(d(y) < d(x)\big) + \tfrac{1}{2} P\big(d(y) = d(x)\big).

    The spaces are ``pixel`` (L2 between flattened images in [-1, 1]; the plane for 2-D data) and
    ``feature`` (Inception pool-2048 features by default, where a copy that is shifted or slightly
    altered still sits close); values are named ``memorization_<space>_<value>``, e.g.
    ``memorization_pixel_ratio``. When the feature space is pixels too (``feature_extractor=pixels``,
    the default for 2-D data) only the ``pixel`` values are reported.

    Goodfellow et al. 2014 (Fig. 2) show samples beside their nearest training examples to show that
    the model has not memorised the training set; the numbers make that check quantitative. A
    generator that samples the data distribution without copying has ratio ≈ 1, copies ≈
    ``copy_quantile`` (the rate at which test images come that close) and closer ≈ 0.5. Exact copies
    of training images have distance 0: ratio 0, copies 1, closer 1. Ratio ≪ 1 or copies ≫ ``copy_quantile`` is
    the copying signal (mode collapse onto a few training images shows the same way); ratio > 1 and
    closer < 0.5 mean samples farther from the data than real images are (poor quality, underfitting),
    which says nothing about memorisation. ``closer`` is the Mann-Whitney statistic :math:`U / MN`:
    the global form of the data-copying test of Meehan, Chaudhuri & Dasgupta 2020, who compare the
    same two distributions (generated-to-train against test-to-train distances) within cells of the
    data space, so that copying in one region is not averaged away by underfitting in another.

    Figures: ``memorization`` (images only): ``grid_size`` rows, each a generated sample, then its
    ``neighbours`` nearest training images in pixel space, then in the feature space, nearest first,
    blocks apart and labelled. For 2-D points there is no neighbour grid: a point beside its nearest
    training point shows nothing that ``samples.png`` does not. ``memorization_distances``:
    histograms of :math:`d`, generated against held-out test, one panel per space, with :math:`q`.

    States under DDP: the distances and the grid are ``"cat"`` lists, gathered from all processes.

    Args:
        feature_extractor: the feature space besides pixels; ``None`` is Inception pool-2048 features.
        grid_size: generated samples shown in the ``memorization`` figure (the first ones scored).
        neighbours: nearest training images shown per sample and space.
        num_train: training samples searched (a fixed random subset of the train split); ``None``: all.
            Inception features of 50,000 training images take about 1.5 hours on a CPU (once: they
            are cached); cap it there, e.g. ``metrics.memorization.num_train=5000``.
        copy_quantile: the quantile of the test distances below which a generated sample counts as a copy.
        batch_size: samples per feature-extractor batch.
        kwargs: torchmetrics ``Metric`` options (``sync_on_compute``, ...).
    """

    def __init__(
        self,
        feature_extractor: FeatureExtractor | None = None,
        grid_size: Annotated[int, AtLeast(1)] = 8,
        neighbours: Annotated[int, AtLeast(1)] = 5,
        num_train: Annotated[int | None, AtLeast(1, nullable=True)] = None,
        copy_quantile: Annotated[float, Probability] = 0.01,
        batch_size: Annotated[int, AtLeast(1)] = 100,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.pixels = Flatten()
        self.feature_extractor = feature_extractor if feature_extractor is not None else InceptionFeatures()
        self.grid_size, self.neighbours = int(grid_size), int(neighbours)
        self.num_train = None if num_train is None else int(num_train)
        self.copy_quantile = float(copy_quantile)
        self.batch_size = int(batch_size)
        if self.grid_size < 0 or self.neighbours < 1 or (self.num_train is not None and self.num_train < 1):
            raise GanlabError("memorization: grid_size must be >= 0, neighbours and num_train >= 1")
        if not 0.0 < self.copy_quantile < 1.0:
            raise GanlabError(f"memorization: copy_quantile must be in (0, 1), got {self.copy_quantile}")
        for space in self.spaces:
            self.add_state(f"{space}_distances", default=[], dist_reduce_fx="cat")
            self.add_state(f"{space}_neighbours", default=[], dist_reduce_fx="cat")
        self.add_state("grid", default=[], dist_reduce_fx="cat")
        self.train_features: dict[str, Tensor] = {}
        self.test_distances: dict[str, Tensor] = {}
        self.num_train_searched = 0

    @property
    def spaces(self) -> dict[str, FeatureExtractor]:
        """The feature spaces by value-name prefix: ``pixel``, and ``feature`` unless that is pixels too."""
        if self.feature_extractor.name == self.pixels.name:
            return {"pixel": self.pixels}
        return {"pixel": self.pixels, "feature": self.feature_extractor}

    def prepare(self, datamodule: GANDataModule, num_samples: int, cache_dir: Path | None) -> None:
        """Training features in each space (cached, except pixels: those are the data), and the
        nearest-training distances of ``num_samples`` held-out test samples (cached)."""
        num_train = len(datamodule.real_samples(self.num_train or sys.maxsize, split="train"))
        if datamodule.test_set is None:
            raise GanlabError(
                f"memorization needs a held-out test split as its reference, and {datamodule.name} has none"
            )
        for space, extractor in self.spaces.items():
            features_cache = None if extractor is self.pixels else cache_dir
            train = real_features(datamodule, extractor, num_train, "train", features_cache, self.batch_size)
            test = real_features(datamodule, extractor, num_samples, "test", features_cache, self.batch_size)
            shape = "x".join(map(str, datamodule.real_samples(1, split="test").shape[1:]))
            key = f"{datamodule.name}-{shape}-test{len(test)}-train{num_train}-{extractor.name}"
            cache_file = Path(cache_dir) / f"memorization_{key}.pt" if cache_dir else None
            self.test_distances[space] = cached(cache_file, lambda t=test, r=train: nearest(t, r, 1)[0][:, 0].cpu())
            self.train_features[space] = train.to(self.device)
        self.num_train_searched = num_train

    def _check_prepared(self) -> None:
        if not self.train_features:
            raise GanlabError("Memorization: call prepare(datamodule, ...) before update() or compute()")

    def update(self, fake: Tensor, features: Tensor | None = None) -> None:
        """Score a batch of generated samples; ``features``: theirs in the feature space, when already extracted."""
        self._check_prepared()
        fake = fake.detach()
        room = max(0, self.grid_size - sum(len(kept) for kept in self.grid))
        for space, extractor in self.spaces.items():
            train = self.train_features[space] = self.train_features[space].to(fake.device)
            given = features if space == "feature" and features is not None else None
            space_features = extract(extractor, fake, self.batch_size) if given is None else given
            distances, indices = nearest(space_features, train, self.neighbours)
            getattr(self, f"{space}_distances").append(distances[:, 0])
            if room:
                getattr(self, f"{space}_neighbours").append(indices[:room])
        if room:
            self.grid.append(fake[:room])

    def _statistics(self) -> dict[str, dict[str, Tensor]]:
        """:func:`distance_statistics` of each space, and the distances themselves (``fake``, ``test``)."""
        self._check_prepared()
        found = {}
        for space in self.spaces:
            fake = dim_zero_cat(getattr(self, f"{space}_distances"))
            test = self.test_distances[space].to(fake.device)
            found[space] = {"fake": fake, "test": test, **distance_statistics(fake, test, self.copy_quantile)}
        return found

    def compute(self) -> dict[str, Tensor]:
        names = ("nn_median", "test_nn_median", "ratio", "copies", "closer")
        return {
            f"memorization_{space}_{name}": values[name]
            for space, values in self._statistics().items()
            for name in names
        }

    def figures(self, datamodule: GANDataModule) -> dict[str, Tensor]:
        if not self.grid:
            return {}
        grid = dim_zero_cat(self.grid)[: self.grid_size].cpu()
        figures = {"memorization_distances": self._histograms(is_image=grid.dim() == 4)}
        if grid.dim() == 4 and len(grid):
            train = datamodule.real_samples(self.num_train_searched, split="train")
            blocks = [
                train[dim_zero_cat(getattr(self, f"{space}_neighbours"))[: len(grid)].cpu()] for space in self.spaces
            ]
            labels = ["generated\nsample"] + [
                f"nearest training images\n{extractor.name}" for extractor in self.spaces.values()
            ]
            figures["memorization"] = neighbour_sheet(grid, blocks, labels)
        return figures

    def _histograms(self, is_image: bool) -> Tensor:
        from matplotlib.figure import Figure

        statistics = self._statistics()
        fig = Figure(figsize=(4.6 * len(statistics), 3.6), dpi=100)
        axes = fig.subplots(1, len(statistics), squeeze=False)[0]
        what = "image" if is_image else "point"
        for ax, (space, found) in zip(axes, statistics.items(), strict=True):
            fake, test = found["fake"].double().cpu().numpy(), found["test"].double().cpu().numpy()
            bins = np.histogram_bin_edges(np.concatenate([fake, test]), bins=40)
            ax.hist(test, bins, density=True, color="0.55", alpha=0.6, label=f"held-out test ({len(test)})")
            ax.hist(fake, bins, density=True, color="tab:blue", alpha=0.6, label=f"generated ({len(fake)})")
            threshold = float(found["copy_threshold"])
            ax.axvline(
                threshold,
                color="tab:red",
                ls="--",
                lw=1,
                label=f"copy threshold ({100 * self.copy_quantile:g}% of test)",
            )
            ax.set_xlabel(f"L2 distance to the nearest training {what} ({self.spaces[space].name})", fontsize=8)
            ax.set_ylabel("density", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.set_title(
                f"{space}: ratio {float(found['ratio']):.3g}, copies {float(found['copies']):.1%}, "
                f"closer {float(found['closer']):.2f}",
                fontsize=9,
            )
            ax.legend(fontsize=7, frameon=False)
        fig.suptitle(f"nearest-training distances, {self.num_train_searched} training samples searched", fontsize=9)
        fig.tight_layout()
        return figure_image(fig)
