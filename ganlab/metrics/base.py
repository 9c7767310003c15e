"""The interface of metrics computed on generated samples."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from ganlab.data.base import GANDataModule
from ganlab.errors import GanlabError
from ganlab.metrics.features import FeatureExtractor, InceptionFeatures, extract, real_features

if TYPE_CHECKING:
    from ganlab.module import GANModule


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

    def figures(self, datamodule: GANDataModule) -> dict[str, Tensor]:
        """Pictures that explain the values, by file stem: ``(3, H, W)`` images in [0, 1] that ``ganlab eval``
        saves as ``<stem>.png`` and logs to TensorBoard; none by default. Called after :meth:`compute`."""
        return {}


class FeatureMetric(SampleMetric):
    """A metric that compares generated with real samples in a feature space.

    ``prepare`` takes the real features from the cache (:func:`~ganlab.metrics.features.real_features`,
    as many real samples as generated ones); ``update`` extracts the features of a batch of
    generated samples and adds them to the state (:meth:`add_features`). Metrics that share a feature space
    are fed one extraction per batch (:class:`~ganlab.metrics.suite.MetricSuite`), so FID, KID and
    precision/recall on Inception features cost one Inception pass, not three.

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

    def prepare(self, datamodule: GANDataModule, num_samples: int, cache_dir: Path | None) -> None:
        self.set_real_features(
            real_features(datamodule, self.feature_extractor, num_samples, self.real_split, cache_dir, self.batch_size)
        )

    def set_real_features(self, features: Tensor) -> None:
        """Use ``features`` ``(N, D)`` as the real side (``prepare`` does this with the cached real features)."""
        self.real_features = features

    def update(self, fake: Tensor | None = None, features: Tensor | None = None) -> None:
        """Take a batch of generated samples ``fake``, or their ``features`` ``(N, D)`` when already extracted."""
        if fake is None and features is None:
            raise GanlabError(f"{type(self).__name__}.update needs the samples or their features")
        self.add_features(extract(self.feature_extractor, fake, self.batch_size) if features is None else features)

    def add_features(self, features: Tensor) -> None:
        """Add the features ``(N, D)`` of a batch of generated samples to the state."""
        raise NotImplementedError

    def _check_prepared(self) -> None:
        if self.real_features is None:
            raise GanlabError(f"{type(self).__name__}: call prepare(datamodule, ...) before compute()")

    def _real(self, like: Tensor) -> Tensor:
        self._check_prepared()
        return self.real_features.to(like.device, like.dtype)


class FeatureSetMetric(FeatureMetric):
    """A feature metric that needs every generated feature vector at once (k-NN balls, kernels).

    The generated features are kept (under DDP gathered from all processes, ``dist_reduce_fx="cat"``)
    and ``compute`` hands both sets to :meth:`compare`, which subclasses define.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_state("fake_features", default=[], dist_reduce_fx="cat")

    def add_features(self, features: Tensor) -> None:
        self.fake_features.append(features)

    def compute(self) -> dict[str, Tensor]:
        fake = dim_zero_cat(self.fake_features)
        return self.compare(self._real(fake), fake)

    def compare(self, real: Tensor, fake: Tensor) -> dict[str, Tensor]:
        """Named values from real features ``(N, D)`` and generated features ``(M, D)``."""
        raise NotImplementedError


@dataclass
class Findings:
    """What an evaluation found: named values, and pictures (``(3, H, W)`` in [0, 1]) by file stem."""

    values: dict[str, float] = field(default_factory=dict)
    figures: dict[str, Tensor] = field(default_factory=dict)
    #: generated samples the sample metrics scored (0 when only probes ran)
    num_samples: int = 0


class LatentProbe:
    """A study of the generator through latent codes it picks itself (walks, arithmetic) rather than a sample set.

    ``ganlab eval`` calls :meth:`run` once, after the sample metrics, with the trained module (its
    ``generate(z)`` and ``generator.sample_latent(n, rng=...)``), the data module (whose ``render``
    draws samples) and the eval seed.
    """

    def run(self, module: GANModule, datamodule: GANDataModule, seed: int) -> Findings:
        raise NotImplementedError
