"""How sharp generated images are, next to real ones: the variance of the Laplacian and the high-frequency energy."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ganlab.data.base import GANDataModule
from ganlab.errors import GanlabError
from ganlab.metrics.base import SampleMetric
from ganlab.schema import Positive

#: the 5-point discrete Laplacian
LAPLACIAN = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])


def grey_levels(images: Tensor) -> Tensor:
    """``(N, C, H, W)`` images in [-1, 1] -> ``(N, 1, H, W)`` grey levels in [0, 1] (the channels' mean)."""
    if images.dim() != 4:
        raise GanlabError(f"sharpness needs (N, C, H, W) images, got shape {tuple(images.shape)}")
    return (images.detach().float().mean(1, keepdim=True) + 1) / 2


def laplacian_variance(images: Tensor) -> Tensor:
    r"""Per image, :math:`\mathrm{Var}[\nabla^2 x]` over the interior pixels: ``(N, C, H, W)`` in [-1, 1] -> ``(N,)``.

    :math:`\nabla^2` is the 5-point Laplacian on the grey levels in [0, 1] (Pech-Pacheco et al. 2000, the
    classic focus measure). Edges give large second differences and blur smooths them away: on white
    noise of variance :math:`s^2` it is :math:`s^2 \sum_{ij} L_{ij}^2 = 20 s^2`, and after a blur with kernel
    :math:`K`, :math:`s^2 \sum_{ij} (L * K)_{ij}^2`.
    """
    grey = grey_levels(images)
    response = F.conv2d(grey, LAPLACIAN.to(grey.device).view(1, 1, 3, 3))
    return response.flatten(1).var(1, correction=0)


def high_frequency_energy(images: Tensor, cutoff: float = 0.25) -> Tensor:
    """Per image, the share of spectral energy above ``cutoff`` cycles per pixel: ``(N, C, H, W)`` -> ``(N,)``.

    The power spectrum :math:`|\\mathcal F(x - \\bar x)|^2` of the grey levels (mean removed, so a constant
    image has none) is split at the radial frequency ``cutoff`` (the Nyquist frequency is 0.5); an image with
    no energy at all scores 0.
    """
    grey = grey_levels(images)[:, 0]
    grey = grey - grey.mean((1, 2), keepdim=True)
    power = torch.fft.fft2(grey).abs().pow(2)
    fy = torch.fft.fftfreq(grey.shape[1], device=grey.device).view(-1, 1)
    fx = torch.fft.fftfreq(grey.shape[2], device=grey.device).view(1, -1)
    high = (fx.pow(2) + fy.pow(2)).sqrt() > cutoff
    total = power.flatten(1).sum(1)
    return torch.where(total > 0, (power * high).flatten(1).sum(1) / total.clamp_min(1e-30), torch.zeros_like(total))


class Sharpness(SampleMetric):
    """The sharpness of generated images, and of as many real ones, by two measures.

    - ``laplacian_var``: the mean over images of :func:`laplacian_variance`; ``laplacian_var_real`` the same
      for real images, and ``laplacian_var_ratio`` = generated / real (1: as sharp as the data, < 1: blurrier).
    - ``hf_energy``: the mean share of spectral energy above ``cutoff`` cycles per pixel
      (:func:`high_frequency_energy`), and ``hf_energy_real``.

    A VAE trained with a pixel-wise MSE or BCE term puts the average of the plausible images where a GAN
    draws one of them: the average is blurrier, and scores lower on both.

    Args:
        cutoff: the frequency that splits the spectrum, in cycles per pixel (0 to 0.5).
        real_split: the split real images come from.
        kwargs: torchmetrics ``Metric`` options.
    """

    def __init__(self, cutoff: Annotated[float, Positive] = 0.25, real_split: str = "test", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not 0 < cutoff < 0.5:
            raise GanlabError(f"sharpness: cutoff={cutoff} must be between 0 and 0.5 cycles per pixel, e.g. 0.25")
        self.cutoff = float(cutoff)
        self.real_split = real_split
        self.real_values: dict[str, Tensor] | None = None
        for name in ("laplacian_sum", "energy_sum", "count"):
            self.add_state(name, default=torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

    def measures(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """Per image: the Laplacian variance and the high-frequency energy share."""
        return laplacian_variance(images), high_frequency_energy(images, self.cutoff)

    def prepare(self, datamodule: GANDataModule, num_samples: int, cache_dir: Path | None) -> None:
        real = datamodule.real_samples(num_samples, split=self.real_split)
        laplacian, energy = self.measures(real)
        self.real_values = {"laplacian_var_real": laplacian.mean(), "hf_energy_real": energy.mean()}

    def update(self, fake: Tensor) -> None:
        laplacian, energy = self.measures(fake)
        self.laplacian_sum += laplacian.double().sum()
        self.energy_sum += energy.double().sum()
        self.count += len(fake)

    def compute(self) -> dict[str, Tensor]:
        if self.real_values is None:
            raise GanlabError("Sharpness: call prepare(datamodule, ...) before compute()")
        laplacian = self.laplacian_sum / self.count
        real = {name: value.to(laplacian) for name, value in self.real_values.items()}
        return {
            "laplacian_var": laplacian,
            "laplacian_var_ratio": laplacian / real["laplacian_var_real"],
            "hf_energy": self.energy_sum / self.count,
            **real,
        }
