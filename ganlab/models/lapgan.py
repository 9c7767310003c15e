r"""LAPGAN (Denton et al. 2015): a coarse GAN and one conditional GAN per level of a Laplacian pyramid.

The pyramid (Burt & Adelson 1983) of an image :math:`I` with ``levels`` = K + 1 levels:

.. math::
    I_0 = I, \quad I_{k+1} = d(I_k), \qquad h_k = I_k - u(I_{k+1}) \;(k < K), \qquad h_K = I_K

with :math:`d` a blur-and-decimate (5x5 binomial kernel, stride 2) and :math:`u` a bilinear 2x
upsampling. Reconstruction runs coarse to fine, :math:`I_k = u(I_{k+1}) + h_k`, and is exact for any
:math:`d, u`. Sampling follows it: :math:`\tilde I_K = G_K(z_K)`, then for :math:`k = K-1 \dots 0`

.. math:: l_k = u(\tilde I_{k+1}), \qquad \tilde I_k = l_k + G_k(z_k, l_k)

where each :math:`G_k` generates the band-pass residual at its scale from a noise plane
:math:`z_k` and the upsampled coarser image. Training is per level, on real coarse images: the
fake at level :math:`k` is :math:`l_k + G_k(z_k, l_k)` with :math:`l_k = u(I_{k+1})` from the real
batch, and :math:`D_k` compares it with :math:`I_k = l_k + h_k` (the paper adds :math:`l_k` to the
residual before D_k's first layer). ganlab runs all levels in one step: the generator's training
output and the real batch (:meth:`LAPGANGenerator.discriminator_view`) are the K + 1 level images
stacked along the channels (each nearest-upsampled to full size), and the discriminator returns one
score per level, shape ``(N, levels)``; every loss averages over them, so each pair
:math:`(G_k, D_k)` plays its own game, as in the paper.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Annotated

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganlab.errors import GanlabError
from ganlab.models.base import Discriminator, Generator, init_normal, with_onehot
from ganlab.schema import AtLeast

_BINOMIAL = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16


def downsample(image: Tensor) -> Tensor:
    """``d``: blur with the 5x5 binomial kernel (reflected borders) and keep every other pixel.

    ``(N, C, H, W) -> (N, C, H/2, W/2)`` for even ``H``, ``W``.
    """
    channels = image.shape[1]
    kernel = torch.outer(_BINOMIAL, _BINOMIAL).to(image).expand(channels, 1, 5, 5)
    return F.conv2d(F.pad(image, (2, 2, 2, 2), mode="reflect"), kernel, stride=2, groups=channels)


def upsample(image: Tensor) -> Tensor:
    """``u``: bilinear 2x upsampling, ``(N, C, H, W) -> (N, C, 2H, 2W)``."""
    return F.interpolate(image, scale_factor=2, mode="bilinear", align_corners=False)


def gaussian_pyramid(image: Tensor, levels: int) -> list[Tensor]:
    """``[I_0, ..., I_K]``: the image and its ``levels - 1`` successive downsamplings, finest first."""
    pyramid = [image]
    for _ in range(levels - 1):
        pyramid.append(downsample(pyramid[-1]))
    return pyramid


def laplacian_pyramid(image: Tensor, levels: int) -> list[Tensor]:
    """``[h_0, ..., h_{K-1}, I_K]``: the band-pass residuals ``I_k - u(I_{k+1})``, then the coarsest image."""
    gaussian = gaussian_pyramid(image, levels)
    return [fine - upsample(coarse) for fine, coarse in pairwise(gaussian)] + [gaussian[-1]]


def reconstruct(pyramid: Sequence[Tensor]) -> Tensor:
    """The image a Laplacian pyramid encodes: ``I_k = u(I_{k+1}) + h_k`` from the coarsest level up."""
    image = pyramid[-1]
    for residual in reversed(pyramid[:-1]):
        image = upsample(image) + residual
    return image


def stack_levels(images: Sequence[Tensor]) -> Tensor:
    """Level images ``[I_0, ..., I_K]`` (side halving per level) as one ``(N, C·(K+1), H, W)`` tensor.

    Level ``k`` is repeated ``2^k x 2^k`` times (nearest upsampling), so :func:`unstack_levels`
    recovers it exactly by striding.
    """
    return torch.cat([F.interpolate(image, scale_factor=2**k, mode="nearest") for k, image in enumerate(images)], 1)


def unstack_levels(stacked: Tensor, levels: int) -> list[Tensor]:
    """Inverse of :func:`stack_levels`: ``(N, C·levels, H, W)`` → ``[I_0, ..., I_K]``."""
    return [block[..., :: 2**k, :: 2**k] for k, block in enumerate(stacked.chunk(levels, dim=1))]


def level_sides(resolution: int, levels: int) -> list[int]:
    """Side of each level, finest first; the resolution must halve ``levels - 1`` times to at least 4 px.

    Raises:
        GanlabError: a resolution the pyramid cannot halve that often.
    """
    if levels < 1:
        raise GanlabError(f"model.levels={levels}: a Laplacian pyramid has at least one level")
    coarsest = resolution // 2 ** (levels - 1)
    if resolution % 2 ** (levels - 1) or coarsest < 4:
        raise GanlabError(
            f"model=lapgan cannot split {resolution} px into {levels} levels (each half the size of the last, "
            "at least 4 px): lower model.levels or change the resolution"
        )
    return [resolution // 2**k for k in range(levels)]


def _class_planes(label: Tensor | None, num_classes: int, side: int, like: Tensor) -> list[Tensor]:
    """One constant ``side x side`` plane per class (the paper's conditional LAPGAN); none when unconditional."""
    if not num_classes:
        return []
    onehot = F.one_hot(label, num_classes).to(like.dtype)
    return [onehot[:, :, None, None].expand(-1, -1, side, side)]


class LAPGANGenerator(Generator):
    r"""The coarse generator :math:`G_K` and one residual generator :math:`G_k` per finer level.

    - :math:`G_K`: fully connected, ``[z_K; onehot(y)] -> hidden -> hidden -> C·s_K² -> tanh``.
    - :math:`G_k`: ``[l_k; z_k; onehot planes] -> [Conv 5x5 -> BN -> ReLU] x 2 -> Conv 5x5 -> h̃_k``,
      a linear output (residuals are signed).

    The latent code is ``[z_K; z_{K-1}; ...; z_0]``: ``latent_dim`` entries for :math:`G_K`, then one
    noise plane per finer level, coarse to fine, so :attr:`latent_dim` is ``latent_dim + Σ s_k²``
    and latent walks and truncation act on every level. ``G(z)`` samples coarse to fine and returns
    ``(N, C, H, W)`` images clipped to [-1, 1]; ``G(z, real=x)`` is the training output: every
    level built on the real batch's coarser image, stacked as
    :meth:`discriminator_view` stacks the real pyramid.

    Args:
        latent_dim: size of the coarse code ``z_K``.
        channels: image channels.
        resolution: output side; halves ``levels - 1`` times to at least 4 px (28 → 14 → 7).
        levels: pyramid levels, the coarse GAN included (3 for CIFAR-10 in the paper).
        width: channels of the residual generators' hidden layers.
        coarse_hidden: units of the coarse generator's two hidden layers.
        num_classes: classes of the ``label`` input; 0 for an unconditional generator.

    Example:
        >>> g = LAPGANGenerator(latent_dim=100, channels=1, resolution=28, levels=3)
        >>> g(g.sample_latent(4)).shape
        torch.Size([4, 1, 28, 28])
    """

    def __init__(
        self,
        latent_dim: Annotated[int, AtLeast(1)] = 100,
        channels: Annotated[int, AtLeast(1)] = 1,
        resolution: Annotated[int, AtLeast(1)] = 28,
        levels: Annotated[int, AtLeast(1)] = 3,
        width: Annotated[int, AtLeast(1)] = 64,
        coarse_hidden: Annotated[int, AtLeast(1)] = 600,
        num_classes: Annotated[int, AtLeast(0)] = 0,
    ) -> None:
        self.sides = level_sides(resolution, levels)
        super().__init__(int(latent_dim) + sum(side**2 for side in self.sides[:-1]), num_classes)
        self.condition_keys = ("real", *self.condition_keys)
        self.coarse_latent_dim = int(latent_dim)
        self.channels = int(channels)
        coarsest = self.sides[-1]
        self.coarse = nn.Sequential(
            nn.Linear(self.coarse_latent_dim + self.num_classes, coarse_hidden),
            nn.ReLU(True),
            nn.Linear(coarse_hidden, coarse_hidden),
            nn.ReLU(True),
            nn.Linear(coarse_hidden, channels * coarsest * coarsest),
            nn.Tanh(),
        )
        self.residuals = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(channels + 1 + self.num_classes, width, 5, padding=2, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(True),
                nn.Conv2d(width, width, 5, padding=2, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(True),
                nn.Conv2d(width, channels, 5, padding=2),
            )
            for _ in self.sides[:-1]
        )
        init_normal(self)

    @property
    def levels(self) -> int:
        return len(self.sides)

    def _codes(self, z: Tensor) -> tuple[Tensor, list[Tensor]]:
        """``z`` split into ``z_K`` and the noise planes, the latter indexed by level (finest first)."""
        finer = self.sides[:-1]
        parts = z.split([self.coarse_latent_dim, *(side**2 for side in reversed(finer))], dim=1)
        planes = [part.view(-1, 1, side, side) for part, side in zip(parts[1:], reversed(finer), strict=True)]
        return parts[0], planes[::-1]

    def _refine(self, level: int, low: Tensor, noise: Tensor, label: Tensor | None) -> Tensor:
        """``l_k + G_k(z_k, l_k)``: the level-``k`` image from its upsampled coarser image ``l_k``."""
        inputs = [low, noise, *_class_planes(label, self.num_classes, self.sides[level], low)]
        return low + self.residuals[level](torch.cat(inputs, dim=1))

    def forward(self, z: Tensor, real: Tensor | None = None, label: Tensor | None = None) -> Tensor:
        coarse_code, noise = self._codes(z)
        side = self.sides[-1]
        coarse = self.coarse(with_onehot(coarse_code, label, self.num_classes)).view(-1, self.channels, side, side)
        if real is None:
            image = coarse
            for level in reversed(range(self.levels - 1)):
                image = self._refine(level, upsample(image), noise[level], label)
            return image.clamp(-1.0, 1.0)
        real_pyramid = gaussian_pyramid(real, self.levels)
        fakes = [self._refine(k, upsample(real_pyramid[k + 1]), noise[k], label) for k in range(self.levels - 1)]
        return stack_levels([*fakes, coarse])

    def discriminator_view(self, batch: Mapping[str, Tensor]) -> Tensor:
        """The real images' Gaussian pyramid ``[I_0, ..., I_K]``, stacked like the training output."""
        return stack_levels(gaussian_pyramid(batch["real"], self.levels))


class LevelScores(nn.Module):
    """ψ of the per-level discriminator: one linear score per level from that level's features alone.

    ``(N, Σ f_k) -> (N, levels)``, the features split into the sizes ``f_k``.
    """

    def __init__(self, sizes: Sequence[int]) -> None:
        super().__init__()
        self.sizes = [int(size) for size in sizes]
        self.scores = nn.ModuleList(nn.Linear(size, 1) for size in self.sizes)

    def forward(self, features: Tensor) -> Tensor:
        parts = features.split(self.sizes, dim=1)
        return torch.cat([score(part) for score, part in zip(self.scores, parts, strict=True)], dim=1)


class LAPGANDiscriminator(Discriminator):
    r"""One discriminator per pyramid level, :math:`D(x) = (D_0(x_0), \dots, D_K(x_K))`, shape ``(N, levels)``.

    - :math:`D_K`: fully connected, ``C·s_K² -> hidden -> hidden`` with LeakyReLU(0.2).
    - :math:`D_k`: ``Conv 5x5 -> LeakyReLU -> Conv 5x5 stride 2 -> LeakyReLU``, flattened.

    The input is the stack of level images (:func:`stack_levels`); :math:`\varphi(x)` joins the
    levels' features and the head (:class:`LevelScores`) scores each level from its own. With
    ``extra_input_channels`` (``concat`` conditioning) the extra planes go to every level.

    Args:
        channels: image channels.
        resolution: full-resolution side.
        levels: pyramid levels, as for the generator.
        width: channels of the convolutional levels.
        coarse_hidden: units of the coarse level's hidden layers.
        extra_input_channels: input planes after the stacked levels (one-hot labels).
    """

    single_stream = False

    def __init__(
        self,
        channels: int = 1,
        resolution: int = 28,
        levels: int = 3,
        width: int = 64,
        coarse_hidden: int = 600,
        extra_input_channels: int = 0,
    ) -> None:
        super().__init__()
        sides = level_sides(resolution, levels)
        self.levels = levels
        self.extra_input_channels = int(extra_input_channels)
        inputs = channels + extra_input_channels
        self.convolutional = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(inputs, width, 5, padding=2),
                nn.LeakyReLU(0.2, True),
                nn.Conv2d(width, width, 5, stride=2, padding=2),
                nn.LeakyReLU(0.2, True),
                nn.Flatten(),
            )
            for _ in sides[:-1]
        )
        self.coarse = nn.Sequential(
            nn.Flatten(),
            nn.Linear(inputs * sides[-1] ** 2, coarse_hidden),
            nn.LeakyReLU(0.2, True),
            nn.Linear(coarse_hidden, coarse_hidden),
            nn.LeakyReLU(0.2, True),
        )
        sizes = [width * ((side + 1) // 2) ** 2 for side in sides[:-1]] + [coarse_hidden]
        self.feature_dim = sum(sizes)
        self.head = LevelScores(sizes)
        init_normal(self)

    def features(self, x: Tensor) -> Tensor:
        stacked, extra = x.tensor_split([x.shape[1] - self.extra_input_channels], dim=1)
        images = unstack_levels(stacked, self.levels)
        nets = [*self.convolutional, self.coarse]
        return torch.cat(
            [
                net(torch.cat([image, extra[..., :: 2**k, :: 2**k]], dim=1))
                for k, (net, image) in enumerate(zip(nets, images, strict=True))
            ],
            dim=1,
        )
