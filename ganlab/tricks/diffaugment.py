"""DiffAugment: the same differentiable augmentations on real and fake images, in both players' steps."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from ganlab.errors import GanlabError
from ganlab.tricks.base import Trick

if TYPE_CHECKING:
    from ganlab.module import GANModule


def _per_sample(x: Tensor) -> Tensor:
    return torch.rand(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype)


def brightness(x: Tensor) -> Tensor:
    """Add one offset in [-0.5, 0.5) per image."""
    return x + (_per_sample(x) - 0.5)


def saturation(x: Tensor) -> Tensor:
    """Scale each pixel's deviation from its channel mean by a factor in [0, 2) per image."""
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * (_per_sample(x) * 2) + mean


def contrast(x: Tensor) -> Tensor:
    """Scale each image's deviation from its mean by a factor in [0.5, 1.5)."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_per_sample(x) + 0.5) + mean


def translate(x: Tensor, shifts: Tensor) -> Tensor:
    """Shift image i by ``shifts[i] = (dx, dy)`` whole pixels, filling with zeros."""
    n, _, h, w = x.shape
    rows = torch.arange(h, device=x.device).view(1, h, 1) - shifts[:, 1].view(n, 1, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w) - shifts[:, 0].view(n, 1, 1)
    inside = ((rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)).unsqueeze(1)
    index = (rows.clamp(0, h - 1) * w + cols.clamp(0, w - 1)).view(n, 1, h * w).expand(-1, x.shape[1], -1)
    moved = x.flatten(2).gather(2, index).view_as(x)
    return moved * inside


def translation(x: Tensor, ratio: float = 0.125) -> Tensor:
    """Random shifts of up to ``ratio`` of the image size in each direction."""
    limit = torch.tensor([x.shape[3], x.shape[2]], device=x.device) * ratio
    limit = (limit + 0.5).long()
    shifts = torch.stack([torch.randint(-int(s), int(s) + 1, (x.shape[0],), device=x.device) for s in limit], 1)
    return translate(x, shifts)


def cutout(x: Tensor, ratio: float = 0.5) -> Tensor:
    """Zero a square of side ``ratio`` times the image size, centred at a random pixel of each image."""
    n, _, h, w = x.shape
    size_y, size_x = int(h * ratio + 0.5), int(w * ratio + 0.5)
    top = torch.randint(0, h, (n, 1, 1), device=x.device) - size_y // 2
    left = torch.randint(0, w, (n, 1, 1), device=x.device) - size_x // 2
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    hole = (rows >= top) & (rows < top + size_y) & (cols >= left) & (cols < left + size_x)
    return x * (~hole).unsqueeze(1).to(x.dtype)


POLICIES: dict[str, Sequence[Callable[[Tensor], Tensor]]] = {
    "color": (brightness, saturation, contrast),
    "translation": (translation,),
    "cutout": (cutout,),
}


class DiffAugment(Trick):
    """Differentiable augmentation (Zhao et al. 2020).

    Every image D sees, real or fake, in D's step and in G's step, goes through the same random
    transformations, all differentiable, so G's gradient passes through them. D then cannot overfit
    a small training set, and G is not asked to reproduce the augmentations (they apply to both
    sides). Policies, applied in the order given: ``color`` (brightness, saturation, contrast),
    ``translation`` (up to 1/8 of the size, zero fill), ``cutout`` (a square of half the size).

    Args:
        policy: comma-separated policies, e.g. ``"color,translation,cutout"`` (the paper's choice).
    """

    def __init__(self, policy: str = "color,translation,cutout") -> None:
        names = [name.strip() for name in policy.split(",") if name.strip()]
        unknown = [name for name in names if name not in POLICIES]
        if unknown:
            raise GanlabError(f"unknown DiffAugment policy {unknown[0]!r}: use {', '.join(POLICIES)}")
        self.policy = ",".join(names)
        self.transforms = [t for name in names for t in POLICIES[name]]

    def augment(self, x: Tensor) -> Tensor:
        if x.dim() != 4:
            raise GanlabError(f"diffaugment needs images (N, C, H, W); this data has shape {list(x.shape)}")
        for transform in self.transforms:
            x = transform(x)
        return x

    def discriminator_inputs(self, real: Tensor, fake: Tensor, module: GANModule) -> tuple[Tensor, Tensor]:
        return self.augment(real), self.augment(fake)

    def generator_step_inputs(self, real: Tensor, fake: Tensor, module: GANModule) -> tuple[Tensor, Tensor]:
        return self.augment(real), self.augment(fake)
