"""Feature spaces that sample-set metrics compare real and generated samples in, and the real-feature cache."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import torch
from torch import Tensor, nn

from ganlab.data.base import GANDataModule
from ganlab.errors import GanlabError
from ganlab.metrics.cache import cached
from ganlab.schema import OneOf


def to_inception_input(images: Tensor) -> Tensor:
    """Model-range images ``(N, C, H, W)`` in [-1, 1] -> ``(N, 3, H, W)`` in [0, 1]; grey is tiled to RGB."""
    x = ((images.float() + 1.0) / 2.0).clamp(0.0, 1.0)
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


def image_bytes(images: Tensor) -> Tensor:
    """Model-range images ``(N, C, H, W)`` in [-1, 1] -> ``uint8`` with their own channels.

    These are the bytes Inception sees (:class:`InceptionFeatures`, grey then tiled to RGB), quantised as
    torchmetrics' ``normalize=True`` does, ``floor(255 x)`` of the [0, 1] image: files written from them
    give another FID tool the very inputs ganlab scores.
    """
    return (((images.float() + 1.0) / 2.0).clamp(0.0, 1.0) * 255).byte()


class FeatureExtractor(nn.Module):
    """Maps a batch of samples to one feature vector each, ``(N, ...) -> (N, D)``.

    ``name`` identifies the feature space in cache keys and in ``metrics.json``, so that numbers
    computed in different spaces are never mixed up.
    """

    name: str = "features"


class Flatten(FeatureExtractor):
    """The samples themselves, flattened: pixel space for images, the plane for 2-D points."""

    name = "pixels"

    def forward(self, samples: Tensor) -> Tensor:
        return samples.flatten(1).float()


class InceptionFeatures(FeatureExtractor):
    """Pool features of the standard FID Inception-v3 (the network torchmetrics' FID uses).

    Images in [-1, 1] are mapped to [0, 1], quantised to bytes (:func:`image_bytes`), tiled to 3
    channels and resized to 299 x 299 inside the network with TensorFlow 1's bilinear resize, as the
    original FID code (Heusel et al. 2017) and torch-fidelity do: the features are torch-fidelity's, bit for
    bit, and torchmetrics' with ``antialias=False`` (its default antialiased resize departs from the
    original). Weights come from ``$TORCH_HOME/hub/checkpoints`` (downloaded on first use when online).

    Args:
        feature: 64, 192, 768 or 2048 (the pool features).
        precision: ``fp32``, the standard (numbers comparable with the literature and torch-fidelity), or
            ``bf16``: the network under bf16 autocast, about twice as fast on hardware with native bf16,
            for monitoring a run; its FIDs differ slightly (docs/performance.md) and are kept apart by
            their feature-space name (``inception2048-bf16``).
    """

    PRECISIONS = ("fp32", "bf16")

    def __init__(
        self, feature: int = 2048, precision: Annotated[str, OneOf(*InceptionFeatures.PRECISIONS)] = "fp32"
    ) -> None:
        super().__init__()
        from torchmetrics.image.fid import NoTrainInceptionV3

        if precision not in self.PRECISIONS:
            raise GanlabError(
                f"feature_extractor.precision={precision} is not an option: use fp32 (the standard) or bf16 (faster)"
            )
        self.feature = int(feature)
        self.precision = precision
        self.name = f"inception{self.feature}" + ("" if precision == "fp32" else f"-{precision}")
        try:
            # antialias=False: resized as the original TensorFlow FID code (and torch-fidelity) does;
            # torchmetrics' antialiased default gives other features (MNIST FIDs about 2% higher)
            self.network = NoTrainInceptionV3(
                name="inception-v3-compat", features_list=[str(self.feature)], antialias=False
            )
        except OSError as err:
            raise missing_inception_weights(err) from err

    @torch.no_grad()
    def forward(self, samples: Tensor) -> Tensor:
        if samples.dim() != 4:
            raise GanlabError(
                f"Inception features need images (N, C, H, W), got samples of shape {tuple(samples.shape[1:])}; "
                "use feature_extractor=pixels"
            )
        images = image_bytes(samples)
        images = images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images
        with torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16"):
            features = self.network(images)
        return features.reshape(samples.shape[0], -1).double()


def missing_inception_weights(err: OSError) -> GanlabError:
    home = os.environ.get("TORCH_HOME", "~/.cache/torch")
    return GanlabError(
        f"Inception weights are not in {home}/hub/checkpoints and could not be downloaded "
        f"({str(err).splitlines()[0]}); set TORCH_HOME to a folder holding "
        "hub/checkpoints/weights-inception-2015-12-05-6726825d.pth, or run once online"
    )


def extract(extractor: nn.Module, samples: Tensor, batch_size: int) -> Tensor:
    """Features of ``samples``, in batches of ``batch_size``, on the device ``samples`` are on."""
    device = next(iter(extractor.parameters()), samples).device
    parts = [extractor(samples[i : i + batch_size].to(device)) for i in range(0, len(samples), batch_size)]
    return torch.cat(parts).to(samples.device)


#: in the cache's file names: 2 since Inception resizes as the original FID code (older files hold other features)
CACHE_VERSION = 2


def real_features(
    datamodule: GANDataModule,
    extractor: FeatureExtractor,
    num: int,
    split: str,
    cache_dir: Path | None,
    batch_size: int = 100,
) -> Tensor:
    """Features of ``num`` real samples of ``split`` (:meth:`GANDataModule.real_samples`), computed once and cached.

    The cache key names the dataset, split, sample shape, count, sample order and feature space, so
    a change in any of them computes new features.
    """
    real = datamodule.real_samples(num, split=split)
    shape = "x".join(map(str, real.shape[1:]))
    key = f"{datamodule.name}-{split}-{shape}-n{len(real)}-order{datamodule.real_order_seed}-{extractor.name}"
    cache_file = Path(cache_dir) / f"features{CACHE_VERSION}_{key}.pt" if cache_dir else None
    return cached(cache_file, lambda: extract(extractor, real, batch_size).cpu())
