"""The interface of metrics computed on generated samples."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from ganlab.data.base import GANDataModule
from ganlab.errors import GanlabError
from ganlab.metrics.features import FeatureExtractor, InceptionFeatures, extract, real_features


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


class FeatureMetric(SampleMetric):
    """A metric that compares generated with real samples in a feature space.

    ``prepare`` takes the real features from the cache (:func:`~ganlab.metrics.features.real_features`,
    as many real samples as generated ones), ``update`` extracts the features of each batch of
    generated samples, and ``compute`` hands both sets to :meth:`compare`, which subclasses define.
    Under DDP the generated features of all processes are gathered (``dist_reduce_fx="cat"``).

    Args:
        feature_extractor: the feature space; ``None`` is the standard Inception pool-2048 features.
        real_split: the split real samples come from.
        batch_size: samples per feature-extractor batch.
        kwargs: torchmetrics ``Metric`` options (``sync_on_compute``, ...).
    """

    def __init__(
        self,
        feature_extractor: FeatureExtractor | None = None,
        real_split: str = "test",
        batch_size: int = 100,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.feature_extractor = feature_extractor if feature_extractor is not None else InceptionFeatures()
        self.real_split = real_split
        self.batch_size = int(batch_size)
        self.real_features: Tensor | None = None
        self.add_state("fake_features", default=[], dist_reduce_fx="cat")

    def prepare(self, datamodule: GANDataModule, num_samples: int, cache_dir: Path | None) -> None:
        self.real_features = real_features(
            datamodule, self.feature_extractor, num_samples, self.real_split, cache_dir, self.batch_size
        )

    def update(self, fake: Tensor) -> None:
        self.fake_features.append(extract(self.feature_extractor, fake, self.batch_size))

    def compute(self) -> dict[str, Tensor]:
        if self.real_features is None:
            raise GanlabError(f"{type(self).__name__}: call prepare(datamodule, ...) before compute()")
        fake = dim_zero_cat(self.fake_features)
        return self.compare(self.real_features.to(fake.device, fake.dtype), fake)

    def compare(self, real: Tensor, fake: Tensor) -> dict[str, Tensor]:
        """Named values from real features ``(N, D)`` and generated features ``(M, D)``."""
        raise NotImplementedError
