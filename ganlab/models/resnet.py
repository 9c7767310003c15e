"""Residual generator and discriminator of WGAN-GP and SNGAN (Gulrajani et al. 2017; Miyato et al. 2018).

The CIFAR-10 ResNets of both papers, for any resolution ``base·2^k`` with ``base`` in 4..8: G up-samples
a ``base x base`` map with ``k`` residual blocks, D down-samples with residual blocks to a map of side
at most 8 and sums its features over space. Initialisation follows the SNGAN code (Glorot uniform,
gain √2 inside residual branches, 1 elsewhere; zero biases).
"""

from __future__ import annotations

import math
from typing import Annotated

import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm as apply_spectral_norm

from ganlab.models.base import Discriminator, Generator, stride2_layers
from ganlab.schema import AtLeast

# Glorot gain of the convolutions inside a residual branch: each follows a ReLU, which halves the variance.
_RESIDUAL_GAIN = math.sqrt(2)
# D halves the input until its side is at most this (8x8 at 32px, as in SNGAN).
_MAX_DISCRIMINATOR_SIDE = 8
# Non-down-sampling blocks at the end of D: SNGAN's and WGAN-GP's CIFAR critics have two.
_DISCRIMINATOR_PLAIN_BLOCKS = 2


def _layer(layer: nn.Conv2d | nn.Linear, gain: float = 1.0, spectral_norm: bool = False) -> nn.Module:
    """``layer`` Glorot-initialised with ``gain`` and a zero bias, wrapped in spectral normalisation if asked."""
    nn.init.xavier_uniform_(layer.weight, gain)
    nn.init.zeros_(layer.bias)
    return apply_spectral_norm(layer) if spectral_norm else layer


def _upsample(x: Tensor) -> Tensor:
    return F.interpolate(x, scale_factor=2, mode="nearest")


class ConditionalBatchNorm2d(nn.Module):
    r"""Batch norm with a gain and bias per class (SNGAN's conditional generator; de Vries et al. 2017).

    .. math::
        y = \gamma_{c} \cdot \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta_{c}

    with batch statistics :math:`\mu, \sigma^2` as in :class:`~torch.nn.BatchNorm2d` (no affine
    parameters of its own) and :math:`\gamma, \beta` looked up for each sample's class ``c``,
    starting at 1 and 0 so that every class begins as plain batch norm.

    Shapes: ``x`` ``(N, C, H, W)``, ``label`` ``(N,)`` class indices ``->`` ``(N, C, H, W)``.

    Args:
        num_features: ``C``.
        num_classes: rows of the gain and bias tables.
    """

    def __init__(self, num_features: int, num_classes: int) -> None:
        super().__init__()
        self.batch_norm = nn.BatchNorm2d(num_features, affine=False)
        self.gain = nn.Embedding(num_classes, num_features)
        self.bias = nn.Embedding(num_classes, num_features)
        nn.init.ones_(self.gain.weight)
        nn.init.zeros_(self.bias.weight)

    def forward(self, x: Tensor, label: Tensor) -> Tensor:
        gain = self.gain(label)[:, :, None, None]
        bias = self.bias(label)[:, :, None, None]
        return gain * self.batch_norm(x) + bias


def _block_norm(channels: int, num_classes: int) -> nn.Module:
    return ConditionalBatchNorm2d(channels, num_classes) if num_classes else nn.BatchNorm2d(channels)


class GeneratorBlock(nn.Module):
    r"""Up-sampling residual block of the generator::

        x ─ BN ─ ReLU ─ up2 ─ conv3x3 ─ BN ─ ReLU ─ conv3x3 ─(+)─ out
        └──────────────── up2 ─ conv1x1 ──────────────────────┘

    ``up2`` is nearest-neighbour up-sampling. With ``num_classes > 0`` both BNs are
    :class:`ConditionalBatchNorm2d`. Shapes: ``(N, in_channels, H, W) -> (N, out_channels, 2H, 2W)``.

    Args:
        in_channels: channels of ``x``.
        out_channels: channels of the output and of the hidden layer.
        num_classes: classes of the conditional batch norms; 0 for plain batch norm.
    """

    def __init__(self, in_channels: int, out_channels: int, num_classes: int = 0) -> None:
        super().__init__()
        self.conditional = num_classes > 0
        self.norm1 = _block_norm(in_channels, num_classes)
        self.conv1 = _layer(nn.Conv2d(in_channels, out_channels, 3, padding=1), _RESIDUAL_GAIN)
        self.norm2 = _block_norm(out_channels, num_classes)
        self.conv2 = _layer(nn.Conv2d(out_channels, out_channels, 3, padding=1), _RESIDUAL_GAIN)
        self.shortcut = _layer(nn.Conv2d(in_channels, out_channels, 1))

    def _norm(self, norm: nn.Module, x: Tensor, label: Tensor | None) -> Tensor:
        return norm(x, label) if self.conditional else norm(x)

    def forward(self, x: Tensor, label: Tensor | None = None) -> Tensor:
        h = self.conv1(_upsample(F.relu(self._norm(self.norm1, x, label))))
        h = self.conv2(F.relu(self._norm(self.norm2, h, label)))
        # a 1x1 convolution commutes with nearest up-sampling: convolving first is the same map, 4x cheaper
        return h + _upsample(self.shortcut(x))


class ResNetGenerator(Generator):
    r"""WGAN-GP / SNGAN ResNet generator::

        z ─ Linear ─ reshape (width, base, base) ─ [GeneratorBlock] x k ─ BN ─ ReLU ─ conv3x3 ─ tanh

    Each :class:`GeneratorBlock` doubles the side and keeps ``width`` channels, so
    ``base·2^k = resolution`` (28: 7·2², 32: 4·2³, 64: 4·2⁴). Shapes: ``z`` ``(N, latent_dim)``
    ``->`` images ``(N, channels, resolution, resolution)`` in [-1, 1].

    With ``num_classes > 0`` the generator is class-conditional as in SNGAN's conditional
    generator (Miyato & Koyama 2018): the batch norms inside the blocks are
    :class:`ConditionalBatchNorm2d` and :meth:`forward` takes ``label``; the last batch norm stays
    unconditional. Gulrajani et al. 2017, appendix (CIFAR-10 ResNet); Miyato et al. 2018, appendix
    (the same generator).

    Args:
        latent_dim: size of z (128 in both papers).
        channels: image channels (1 for MNIST, 3 for CIFAR-10).
        resolution: output side; 28, 32, 64 or any ``base·2^k`` with ``base`` in 4..8.
        width: channels of every block ("ch").
        num_classes: classes of a conditional generator; 0 for an unconditional one.
    """

    def __init__(
        self,
        latent_dim: Annotated[int, AtLeast(1)],
        channels: Annotated[int, AtLeast(1)],
        resolution: Annotated[int, AtLeast(1)],
        width: Annotated[int, AtLeast(1)] = 128,
        num_classes: Annotated[int, AtLeast(0)] = 0,
    ) -> None:
        super().__init__(latent_dim, num_classes)
        self.base, num_blocks = stride2_layers(resolution)
        self.width = int(width)
        self.project = _layer(nn.Linear(self.latent_dim, self.width * self.base**2))
        self.blocks = nn.ModuleList(GeneratorBlock(self.width, self.width, self.num_classes) for _ in range(num_blocks))
        self.output_norm = nn.BatchNorm2d(self.width)
        self.output_conv = _layer(nn.Conv2d(self.width, channels, 3, padding=1))

    def forward(self, z: Tensor, label: Tensor | None = None) -> Tensor:
        """Images ``(N, channels, resolution, resolution)`` from ``z`` ``(N, latent_dim)`` and ``label`` ``(N,)``.

        ``label`` is needed exactly when the generator is conditional (``num_classes > 0``); an
        unconditional one ignores it.

        Raises:
            ValueError: a conditional generator called without ``label``.
        """
        if self.num_classes and label is None:
            raise ValueError(
                f"this generator is class-conditional (num_classes={self.num_classes}): pass label=(N,) class indices"
            )
        h = self.project(z).view(z.shape[0], self.width, self.base, self.base)
        for block in self.blocks:
            h = block(h, label)
        return self.output_conv(F.relu(self.output_norm(h))).tanh()


class FirstDiscriminatorBlock(nn.Module):
    r"""SNGAN's "optimized" first block of the discriminator::

        x ─ conv3x3 ─ ReLU ─ conv3x3 ─ avgpool2 ─(+)─ out
        └────────── avgpool2 ─ conv1x1 ───────────┘

    Unlike :class:`DiscriminatorBlock` there is no ReLU on the raw image.
    Shapes: ``(N, in_channels, H, W) -> (N, out_channels, H/2, W/2)``.

    Args:
        in_channels: image channels (plus label planes under input conditioning).
        out_channels: channels of the output and of the hidden layer.
        spectral_norm: wrap the convolutions in spectral normalisation.
    """

    def __init__(self, in_channels: int, out_channels: int, spectral_norm: bool = True) -> None:
        super().__init__()
        self.conv1 = _layer(nn.Conv2d(in_channels, out_channels, 3, padding=1), _RESIDUAL_GAIN, spectral_norm)
        self.conv2 = _layer(nn.Conv2d(out_channels, out_channels, 3, padding=1), _RESIDUAL_GAIN, spectral_norm)
        self.shortcut = _layer(nn.Conv2d(in_channels, out_channels, 1), 1.0, spectral_norm)

    def forward(self, x: Tensor) -> Tensor:
        h = F.avg_pool2d(self.conv2(F.relu(self.conv1(x))), 2)
        # a 1x1 convolution commutes with average pooling: pooling first is the same map, 4x cheaper
        return h + self.shortcut(F.avg_pool2d(x, 2))


class DiscriminatorBlock(nn.Module):
    r"""Residual block of the discriminator, down-sampling or not::

        x ─ ReLU ─ conv3x3 ─ ReLU ─ conv3x3 ─ [avgpool2] ─(+)─ out
        └───────────── conv1x1 ─ [avgpool2] ─────────────┘

    The shortcut is learnable (the 1x1 convolution) when the block changes the channels or
    down-samples, else the identity. Shapes: ``(N, in_channels, H, W) -> (N, out_channels, H', W')``
    with ``H' = H/2`` when ``downsample``, else ``H``.

    Args:
        in_channels: channels of ``x``.
        out_channels: channels of the output and of the hidden layer.
        downsample: halve the side with 2x2 average pooling.
        spectral_norm: wrap the convolutions in spectral normalisation.
    """

    def __init__(self, in_channels: int, out_channels: int, downsample: bool, spectral_norm: bool = True) -> None:
        super().__init__()
        self.downsample = downsample
        self.conv1 = _layer(nn.Conv2d(in_channels, out_channels, 3, padding=1), _RESIDUAL_GAIN, spectral_norm)
        self.conv2 = _layer(nn.Conv2d(out_channels, out_channels, 3, padding=1), _RESIDUAL_GAIN, spectral_norm)
        self.shortcut: nn.Module = nn.Identity()
        if downsample or in_channels != out_channels:
            self.shortcut = _layer(nn.Conv2d(in_channels, out_channels, 1), 1.0, spectral_norm)

    def _pool(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(x, 2) if self.downsample else x

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv2(F.relu(self.conv1(F.relu(x))))
        # a 1x1 convolution commutes with average pooling: pooling first is the same map, 4x cheaper
        return self._pool(h) + self.shortcut(self._pool(x))


def discriminator_downsamplings(resolution: int) -> int:
    """Halvings that take ``resolution`` to a side of at most 8, and at least one: 28 -> 7 and 32 -> 8 (2), 64 -> 8 (3).

    Raises:
        ValueError: a resolution the generator cannot build either (see :func:`~ganlab.models.base.stride2_layers`).
    """
    stride2_layers(resolution)
    halvings, side = 1, resolution // 2
    while side > _MAX_DISCRIMINATOR_SIDE:
        halvings, side = halvings + 1, side // 2
    return halvings


class ResNetDiscriminator(Discriminator):
    r"""SNGAN / WGAN-GP ResNet discriminator::

        x ─ FirstDiscriminatorBlock ─ [DiscriminatorBlock, down] x (d-1) ─ [DiscriminatorBlock] x 2
          ─ ReLU ─ sum over H, W = φ(x) ─ Linear = D(x)

    ``d`` down-samplings take the side to at most 8 (32 -> 8 and 28 -> 7 with d = 2, 64 -> 8 with
    d = 3); at 32px that is SNGAN's CIFAR-10 critic of four blocks (Miyato et al. 2018, appendix;
    Gulrajani et al. 2017 average-pool instead of summing). Every block has ``width`` channels.
    Shapes: ``(N, channels + extra_input_channels, resolution, resolution)`` ``->`` features
    ``φ(x)`` ``(N, width)`` ``->`` scores ``(N, 1)``.

    Args:
        channels: image channels.
        resolution: input side; 28, 32, 64 or any ``base·2^k`` with ``base`` in 4..8.
        width: channels of every block ("ch"; 128 in both papers).
        extra_input_channels: label planes joined to the input (``model.conditioning=concat``).
        spectral_norm: wrap every convolution and linear layer in spectral normalisation (SNGAN);
            ``False`` for WGAN-GP's critic, which its gradient penalty keeps Lipschitz instead.
    """

    def __init__(
        self,
        channels: int,
        resolution: int,
        width: int = 128,
        extra_input_channels: int = 0,
        spectral_norm: bool = True,
    ) -> None:
        super().__init__()
        downsamplings = discriminator_downsamplings(resolution)
        self.blocks = nn.Sequential(
            FirstDiscriminatorBlock(channels + extra_input_channels, width, spectral_norm),
            *(DiscriminatorBlock(width, width, True, spectral_norm) for _ in range(downsamplings - 1)),
            *(DiscriminatorBlock(width, width, False, spectral_norm) for _ in range(_DISCRIMINATOR_PLAIN_BLOCKS)),
        )
        self.feature_dim = int(width)
        self.head = _layer(nn.Linear(self.feature_dim, 1), 1.0, spectral_norm)

    def features(self, x: Tensor) -> Tensor:
        return F.relu(self.blocks(x)).sum(dim=(2, 3))
