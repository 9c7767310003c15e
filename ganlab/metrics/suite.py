"""The metrics of one evaluation, fed from a single pass over the generated samples."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from hydra.utils import instantiate
from torch import Tensor
from torchmetrics import Metric

from ganlab.data.base import GANDataModule
from ganlab.errors import GanlabError
from ganlab.metrics.base import Findings, LatentProbe, SampleMetric
from ganlab.metrics.features import FeatureExtractor, extract

if TYPE_CHECKING:
    from ganlab.module import GANModule


class MetricSuite:
    """Sample metrics and latent probes built from configs, updated together batch by batch.

    Feature metrics in the same feature space (same extractor ``name``) share one extractor and
    one forward pass per batch: ``metrics=[fid,kid,precision_recall]`` runs Inception once per
    batch of generated images, and once over the real images (their features are cached on disk).

    Args:
        metrics: metric instances by config name: torchmetrics ``Metric`` s following the
            :class:`~ganlab.metrics.base.SampleMetric` protocol, or :class:`~ganlab.metrics.base.LatentProbe` s.
    """

    def __init__(self, metrics: Mapping[str, Metric | LatentProbe]) -> None:
        for name, metric in metrics.items():
            if not isinstance(metric, Metric | LatentProbe):
                raise GanlabError(
                    f"metrics.{name} builds a {type(metric).__name__}, which is not a ganlab metric: its _target_ "
                    "must be a SampleMetric (torchmetrics Metric with prepare/update/compute) or a LatentProbe"
                )
        self.sample_metrics = [m for m in metrics.values() if isinstance(m, Metric)]
        self.probes = [m for m in metrics.values() if isinstance(m, LatentProbe)]
        shared: dict[str, FeatureExtractor] = {}
        for metric in self.feature_metrics:
            metric.feature_extractor = shared.setdefault(metric.feature_extractor.name, metric.feature_extractor)

    @classmethod
    def from_configs(cls, configs: Mapping[str, Any], **metric_options: Any) -> MetricSuite:
        """Build each config with Hydra; ``metric_options`` (``sync_on_compute=False``, ...) go to sample metrics."""
        metrics = {}
        for name, node in configs.items():
            target = instantiate(node, _partial_=True)
            is_probe = isinstance(target.func, type) and issubclass(target.func, LatentProbe)
            options = {} if is_probe else metric_options
            metrics[name] = target(**options)
        return cls(metrics)

    @property
    def feature_metrics(self) -> list[Metric]:
        """The sample metrics that work in a feature space: those with a ``feature_extractor``.

        Their ``update(fake, features=...)`` takes the batch's features in that space when given
        (:class:`~ganlab.metrics.base.FeatureMetric` does, and so does e.g. ``Memorization``).
        """
        return [m for m in self.sample_metrics if isinstance(getattr(m, "feature_extractor", None), FeatureExtractor)]

    def __bool__(self) -> bool:
        return bool(self.sample_metrics or self.probes)

    def to(self, device: torch.device | str) -> MetricSuite:
        for metric in self.sample_metrics:
            metric.to(device)
        return self

    def prepare(self, datamodule: GANDataModule, num_samples: int, cache_dir: Path | None) -> None:
        for metric in self.sample_metrics:
            metric.prepare(datamodule, num_samples, cache_dir)

    def reset(self) -> None:
        for metric in self.sample_metrics:
            metric.reset()

    def update(self, fake: Tensor, examples: Mapping[str, Tensor] | None = None) -> None:
        """Feed a batch of generated samples to every sample metric, extracting each feature space once.

        ``examples``: for translations, the test examples ``fake`` translates (``"source"`` inputs and
        ``"real"`` targets), which paired metrics (PSNR, SSIM) compare with.
        """
        features: dict[str, Tensor] = {}
        # by identity: torchmetrics overloads == to build a new metric
        in_a_feature_space = {id(m) for m in self.feature_metrics}
        for metric in self.sample_metrics:
            if id(metric) in in_a_feature_space:
                space = metric.feature_extractor.name
                if space not in features:
                    features[space] = extract(metric.feature_extractor, fake, metric.batch_size)
                metric.update(fake, features=features[space])
            elif getattr(metric, "needs_pairs", False):
                if examples is None:
                    raise GanlabError(
                        f"{type(metric).__name__} compares translations with their targets: use it with an "
                        "image-to-image model on a paired dataset (mnist_edges, mnist_superres, paired_folder)"
                    )
                metric.update(fake, source=examples["source"], target=examples["real"])
            else:
                metric.update(fake)

    def compute(self) -> dict[str, float]:
        return {name: float(value) for metric in self.sample_metrics for name, value in metric.compute().items()}

    def figures(self, datamodule: GANDataModule) -> dict[str, Tensor]:
        metrics = [m for m in self.sample_metrics if isinstance(m, SampleMetric)]
        return {stem: image for metric in metrics for stem, image in metric.figures(datamodule).items()}

    def probe(self, module: GANModule, datamodule: GANDataModule, seed: int) -> Findings:
        """Run every latent probe; their values and figures merged."""
        merged = Findings()
        for probe in self.probes:
            found = probe.run(module, datamodule, seed)
            merged.values.update(found.values)
            merged.figures.update(found.figures)
        return merged


def sample_batches(
    module: GANModule,
    datamodule: GANDataModule | None,
    num_samples: int,
    batch_size: int,
    seed: int,
    rank: int = 0,
    world_size: int = 1,
) -> Iterator[tuple[Tensor, dict[str, Tensor]]]:
    """The samples the metrics score (``ganlab eval``, ``ganlab sample``, the metrics callback), with what each got.

    ``num_samples`` latents from a generator seeded with ``seed``, drawn at once (so any batch size gives
    the same samples: torch's ``randn`` is not chunk-invariant), through the sampling generator; a
    class-conditional generator draws the classes in turn (``{"label": ...}``); a translating generator
    translates the first ``num_samples`` test examples (``{"source": ..., "real": ...}``, at most the
    whole test split). Under DDP this process takes its contiguous share.
    """
    rng = torch.Generator().manual_seed(seed)
    if module.generator.translates:
        yield from translated_batches(module, datamodule, num_samples, batch_size, rng, rank, world_size)
        return
    z = module.generator.sample_latent(num_samples, rng=rng)
    condition = module.generator.default_condition(num_samples)
    for part in torch.arange(num_samples).tensor_split(world_size)[rank].split(batch_size):
        given = {key: value[part] for key, value in condition.items()}
        yield module.generate(z[part], given), given


def translated_batches(
    module: GANModule,
    datamodule: GANDataModule,
    num: int,
    batch_size: int,
    rng: torch.Generator,
    rank: int = 0,
    world_size: int = 1,
) -> Iterator[tuple[Tensor, dict[str, Tensor]]]:
    """A translating generator's outputs for the first ``num`` test examples, batch by batch, with the examples.

    The examples are the data module's fixed order (:meth:`~ganlab.data.translation.TranslationDataModule.examples`),
    at most the whole test split; under DDP this process takes its contiguous share.
    """
    examples = datamodule.examples(num)
    count = len(examples["real"])
    z = module.generator.sample_latent(count, rng=rng)
    for part in torch.arange(count).tensor_split(world_size)[rank].split(batch_size):
        batch = {key: value[part].to(module.device) for key, value in examples.items()}
        yield module.generate(z[part], {"source": batch["source"]}), batch
