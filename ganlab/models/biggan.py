"""BigGAN generator and discriminator (Brock et al. 2019) at small scale, for any resolution base·2^k, base in 4..8.

The pieces: residual blocks with spectral normalisation in both networks, a hierarchical latent
space feeding class-conditional batch norm in G, one SAGAN self-attention block in each network,
orthogonal initialisation, and G's orthogonal regularisation (:mod:`ganlab.tricks.orthogonal`),
which the generator brings through :meth:`BigGANGenerator.implied_tricks`. Class projection in D
comes from :func:`ganlab.models.conditioning.conditional_discriminator` (``conditioning=projection``).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Annotated

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from ganlab.models.base import Discriminator, Generator, stride2_layers
from ganlab.schema import AtLeast, NonNegative
from ganlab.tricks.base import Trick
from ganlab.tricks.orthogonal import OrthogonalRegularization


def sn_conv2d(in_channels: int, out_channels: int, kernel_size: int, bias: bool = True) -> nn.Conv2d:
    """A spectrally normalised, orthogonally initialised, size-preserving convolution (BigGAN's ``SNConv2d``)."""
    conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=bias)
    nn.init.orthogonal_(conv.weight)  # before the parametrisation, which exposes the weight read-only
    return spectral_norm(conv)


def sn_linear(in_features: int, out_features: int, bias: bool = True) -> nn.Linear:
    """A spectrally normalised, orthogonally initialised linear layer (BigGAN's ``SNLinear``)."""
    linear = nn.Linear(in_features, out_features, bias=bias)
    nn.init.orthogonal_(linear.weight)
    return spectral_norm(linear)


def attention_position(sides: Sequence[int], attention_resolution: int) -> int | None:
    """Index of the block after which self-attention goes, given each block's output side.

    The block whose output side is the largest one not above ``attention_resolution``, the first
    such block where several share that side: 16 picks the 16x16 map at 32 px, and the 14x14 map
    at 28 px, where no 16x16 map exists. ``0`` means no attention (``None``).

    Raises:
        ValueError: ``attention_resolution`` below every feature map side.
    """
    if attention_resolution == 0:
        return None
    fitting = [side for side in sides if side <= attention_resolution]
    if not fitting:
        raise ValueError(
            f"attention_resolution={attention_resolution} is below every feature map side of this network "
            f"({', '.join(map(str, sorted(set(sides))))}): use one of those, a larger value, or 0 for no attention"
        )
    return list(sides).index(max(fitting))


class SelfAttention(nn.Module):
    r"""SAGAN self-attention (Zhang et al. 2019), as BigGAN uses it: ``y = x + gamma·v(o)``.

    .. math:: o_j = \sum_i \operatorname{softmax}_i\big(f(x_i)^\top g(x_j)\big)\, h(x_i)

    ``f``, ``g``: 1x1 convolutions to ``C/8`` channels (keys and queries), ``h``: to ``C/2`` (values),
    ``v``: ``C/2 -> C``; all spectrally normalised and without bias. Keys and values are 2x2
    max-pooled, as in the SAGAN and BigGAN code, so each of the ``HW`` positions attends over
    ``HW/4`` pooled ones (a quarter of the memory). ``gamma`` starts at 0: the block begins as the
    identity and the network learns how much non-local evidence to use.
    ``(N, C, H, W) -> (N, C, H, W)``.

    Args:
        channels: ``C``.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        inner = max(channels // 8, 1)
        self.f = sn_conv2d(channels, inner, 1, bias=False)
        self.g = sn_conv2d(channels, inner, 1, bias=False)
        self.h = sn_conv2d(channels, channels // 2, 1, bias=False)
        self.v = sn_conv2d(channels // 2, channels, 1, bias=False)
        self.gamma = nn.Parameter(torch.zeros(()))

    def forward(self, x: Tensor) -> Tensor:
        n, _, height, width = x.shape
        # ceil_mode keeps the last row and column of odd maps (7x7 at 28 px)
        keys = F.max_pool2d(self.f(x), 2, ceil_mode=True).flatten(2)  # (N, C/8, HW/4)
        queries = self.g(x).flatten(2)  # (N, C/8, HW)
        values = F.max_pool2d(self.h(x), 2, ceil_mode=True).flatten(2)  # (N, C/2, HW/4)
        attention = torch.softmax(queries.transpose(1, 2) @ keys, dim=-1)  # (N, HW, HW/4), rows sum to 1
        out = (values @ attention.transpose(1, 2)).view(n, -1, height, width)
        return x + self.gamma * self.v(out)


class ConditionalBatchNorm2d(nn.Module):
    r"""Batch norm whose per-sample gain and bias are linear in a condition vector ``c``.

    .. math:: y = \frac{x - \mu_B}{\sqrt{\sigma^2_B + \epsilon}} \cdot (1 + W_\mathrm{gain} c) + W_\mathrm{bias} c

    BigGAN's ``c`` is ``[shared class embedding(y); z chunk]`` (or the z chunk alone when G is
    unconditional). ``W_gain``, ``W_bias``: spectrally normalised linear maps without bias; the ``1 +``
    centres the gain around 1 at initialisation for zero-mean ``c``.
    ``x: (N, C, H, W)``, ``c: (N, cond_dim) -> (N, C, H, W)``.

    Args:
        num_features: ``C``.
        cond_dim: size of ``c``.
    """

    def __init__(self, num_features: int, cond_dim: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(num_features, affine=False)
        self.to_gain = sn_linear(cond_dim, num_features, bias=False)
        self.to_bias = sn_linear(cond_dim, num_features, bias=False)

    def affine(self, cond: Tensor) -> tuple[Tensor, Tensor]:
        """The per-sample gain and bias, each ``(N, C)``."""
        return 1 + self.to_gain(cond), self.to_bias(cond)

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        gain, bias = self.affine(cond)
        return self.norm(x) * gain[:, :, None, None] + bias[:, :, None, None]


class GBlock(nn.Module):
    """BigGAN's residual up-block: ``x -> CBN-ReLU-up-conv3x3-CBN-ReLU-conv3x3  +  up-conv1x1(x)``.

    ``up`` is nearest-neighbour 2x upsampling; both batch norms are conditioned on the same ``c``.
    ``x: (N, C_in, H, W)``, ``c: (N, cond_dim) -> (N, C_out, 2H, 2W)``.

    Args:
        in_channels: ``C_in``.
        out_channels: ``C_out``.
        cond_dim: size of the batch norms' condition ``c``.
    """

    def __init__(self, in_channels: int, out_channels: int, cond_dim: int) -> None:
        super().__init__()
        self.bn1 = ConditionalBatchNorm2d(in_channels, cond_dim)
        self.conv1 = sn_conv2d(in_channels, out_channels, 3)
        self.bn2 = ConditionalBatchNorm2d(out_channels, cond_dim)
        self.conv2 = sn_conv2d(out_channels, out_channels, 3)
        self.shortcut = sn_conv2d(in_channels, out_channels, 1)

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        h = F.interpolate(F.relu(self.bn1(x, cond)), scale_factor=2)
        h = self.conv2(F.relu(self.bn2(self.conv1(h), cond)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2))


class DBlock(nn.Module):
    """BigGAN's residual down-block: ``x -> [ReLU]-conv3x3-ReLU-conv3x3-[avgpool]  +  [conv1x1-avgpool](x)``.

    The first block of D omits the leading ReLU (``preactivation=False``): the input is an image.
    The shortcut is the identity when the block keeps both channels and size (BigGAN's last block).
    ``(N, C_in, H, W) -> (N, C_out, H/2, W/2)``, or ``(N, C_out, H, W)`` without downsampling.

    Args:
        in_channels: ``C_in``.
        out_channels: ``C_out``.
        downsample: halve the side with 2x2 average pooling.
        preactivation: start the residual branch with a ReLU.
    """

    def __init__(
        self, in_channels: int, out_channels: int, downsample: bool = True, preactivation: bool = True
    ) -> None:
        super().__init__()
        self.conv1 = sn_conv2d(in_channels, out_channels, 3)
        self.conv2 = sn_conv2d(out_channels, out_channels, 3)
        self.pool = nn.AvgPool2d(2) if downsample else nn.Identity()
        self.preactivation = preactivation
        learnable = downsample or in_channels != out_channels
        self.shortcut = sn_conv2d(in_channels, out_channels, 1) if learnable else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        h = F.relu(x) if self.preactivation else x
        h = self.pool(self.conv2(F.relu(self.conv1(h))))
        # average pooling and a 1x1 convolution commute; pooling first is 4x cheaper
        return h + self.shortcut(self.pool(x))


class BigGANGenerator(Generator):
    r"""BigGAN generator (Brock et al. 2019) with a hierarchical latent space and conditional batch norm.

    ::

        z = [z_0; z_1; ...; z_k]           one chunk for the input layer and one per block
        c_i = [shared(y); z_i]              (z_i alone when unconditional)
        h = SNLinear(z_0) -> (width·2^{k-1}, base, base)
        h = GBlock_i(h, c_i), i = 1..k      each doubles the side; channels width·2^{k-i}
            + SelfAttention after the block at attention_resolution
        x = tanh(conv3x3(ReLU(BN(h))))      (N, channels, resolution, resolution), in [-1, 1]

    Resolution ``base·2^k`` as for DCGAN (28 = 7·2², 32 = 4·2³); at 128 px the channels follow the
    paper's layout, ``16·width`` at 4x4 down to ``width`` at 128x128. ``shared`` is one class
    embedding shared by all blocks; each conditional batch norm projects its ``c_i`` to gains and
    biases. Every convolution and linear layer is spectrally normalised and orthogonally
    initialised; the output batch norm is an ordinary one. Truncation (``truncation = ψ``) is the
    base class's resampling in :meth:`~ganlab.models.base.Generator.sample_latent`.

    Args:
        latent_dim: size of z (120 in the paper at 128 px); must split evenly into the ``k + 1`` chunks.
        channels: image channels.
        resolution: output side, ``base·2^k`` with ``base`` in 4..8 (28, 32, 64, 128, ...).
        width: BigGAN's ``ch``, the channels of the last block (64 in the paper).
        num_classes: classes of ``label``; 0 for an unconditional generator.
        shared_dim: size of the shared class embedding (128 in the paper).
        attention_resolution: side of the feature map attended over (the largest one not above it);
            0 for no attention (:func:`attention_position`).
        orthogonal_weight: ``β`` of the orthogonal regularisation G brings (1e-4 in the paper); 0 turns it off.

    Raises:
        ValueError: a resolution not ``base·2^k``, ``latent_dim`` not divisible by ``k + 1``, or an
            ``attention_resolution`` below every feature map.
    """

    def __init__(
        self,
        latent_dim: Annotated[int, AtLeast(1)] = 120,
        channels: Annotated[int, AtLeast(1)] = 1,
        resolution: Annotated[int, AtLeast(1)] = 28,
        width: Annotated[int, AtLeast(1)] = 64,
        num_classes: Annotated[int, AtLeast(0)] = 0,
        shared_dim: Annotated[int, AtLeast(1)] = 128,
        attention_resolution: int = 16,
        orthogonal_weight: Annotated[float, NonNegative] = 1e-4,
    ) -> None:
        super().__init__(latent_dim, num_classes)
        self.base, k = stride2_layers(resolution)
        if self.latent_dim % (k + 1):
            nearest = [m * (k + 1) for m in (self.latent_dim // (k + 1), self.latent_dim // (k + 1) + 1) if m]
            raise ValueError(
                f"BigGAN at {resolution} px splits z into {k + 1} equal chunks (the input layer and {k} blocks), "
                f"so latent_dim={self.latent_dim} must be a multiple of {k + 1}: "
                f"use e.g. {' or '.join(map(str, nearest))} (model.latent_dim; 120 fits 28, 32, 64 and 128 px)"
            )
        self.chunk_size = self.latent_dim // (k + 1)
        self.orthogonal_weight = float(orthogonal_weight)
        self.shared = nn.Embedding(self.num_classes, shared_dim) if self.num_classes else None
        if self.shared is not None:
            nn.init.orthogonal_(self.shared.weight)
        cond_dim = self.chunk_size + (shared_dim if self.shared is not None else 0)

        chans = [width * 2 ** (k - 1 - i) for i in range(k)]
        self.linear = sn_linear(self.chunk_size, chans[0] * self.base**2)
        self.blocks = nn.ModuleList(GBlock(c_in, c_out, cond_dim) for c_in, c_out in pairwise([chans[0], *chans]))
        self.attention_after = attention_position([self.base * 2 ** (i + 1) for i in range(k)], attention_resolution)
        self.attention = SelfAttention(chans[self.attention_after]) if self.attention_after is not None else None
        self.output = nn.Sequential(nn.BatchNorm2d(chans[-1]), nn.ReLU(), sn_conv2d(chans[-1], channels, 3), nn.Tanh())

    def forward(self, z: Tensor, label: Tensor | None = None) -> Tensor:
        """``z: (N, latent_dim)``, ``label: (N,)`` class indices (required when ``num_classes > 0``, else unused)
        -> ``(N, channels, resolution, resolution)`` in [-1, 1]."""
        z = z.reshape(z.shape[0], self.latent_dim)
        first, *chunks = z.split(self.chunk_size, dim=1)
        if self.shared is not None:
            if label is None:
                raise ValueError(f"this generator is class-conditional (num_classes={self.num_classes}): pass label")
            shared = self.shared(label)
            chunks = [torch.cat([shared, chunk], dim=1) for chunk in chunks]
        h = self.linear(first).view(z.shape[0], -1, self.base, self.base)
        for i, (block, cond) in enumerate(zip(self.blocks, chunks, strict=True)):
            h = block(h, cond)
            if i == self.attention_after:
                h = self.attention(h)
        return self.output(h)

    def implied_tricks(self) -> list[Trick]:
        if self.orthogonal_weight > 0:
            return [OrthogonalRegularization(weight=self.orthogonal_weight, network="generator")]
        return []


class BigGANDiscriminator(Discriminator):
    r"""BigGAN discriminator (Brock et al. 2019): residual down-blocks, self-attention, global sum pooling.

    ::

        h = DBlock_i(h), i = 1..k        each halves the side; channels width·2^{i-1}; no leading ReLU in the first
            + SelfAttention after the block at attention_resolution
        h = DBlock(h)                    one more block at base x base, same channels, identity shortcut
        φ(x) = Σ_{spatial} ReLU(h)       (N, feature_dim), feature_dim = width·2^{k-1}
        D(x) = SNLinear(φ(x))            (N, 1)

    Mirrors :class:`BigGANGenerator`; at 128 px the channels follow the paper's layout, ``width`` up to ``16·width``.
    All convolution and linear layers are spectrally normalised and orthogonally initialised. The
    class projection ``⟨e_y, φ(x)⟩`` of BigGAN is added by
    :func:`~ganlab.models.conditioning.conditional_discriminator` with ``conditioning=projection``.
    ``(N, channels + extra_input_channels, resolution, resolution) -> (N, 1)``.

    Args:
        channels: image channels.
        resolution: input side, as for the generator.
        width: BigGAN's ``ch``, the channels of the first block (64 in the paper).
        extra_input_channels: further input planes (the one-hot label planes of ``conditioning=concat``).
        attention_resolution: side of the feature map attended over, as for the generator; 0: none.
    """

    def __init__(
        self,
        channels: int = 1,
        resolution: int = 28,
        width: int = 64,
        extra_input_channels: int = 0,
        attention_resolution: int = 16,
    ) -> None:
        super().__init__()
        base, k = stride2_layers(resolution)
        chans = [width * 2**i for i in range(k)]
        ins = [channels + extra_input_channels, *chans]
        blocks = [DBlock(ins[i], chans[i], preactivation=i > 0) for i in range(k)]
        blocks.append(DBlock(chans[-1], chans[-1], downsample=False))
        self.blocks = nn.ModuleList(blocks)
        sides = [resolution // 2 ** (i + 1) for i in range(k)] + [base]
        self.attention_after = attention_position(sides, attention_resolution)
        self.attention = (
            SelfAttention(blocks[self.attention_after].conv2.out_channels) if self.attention_after is not None else None
        )
        self.feature_dim = chans[-1]
        self.head = sn_linear(self.feature_dim, 1)

    def features(self, x: Tensor) -> Tensor:
        h = x
        for i, block in enumerate(self.blocks):
            h = block(h)
            if i == self.attention_after:
                h = self.attention(h)
        # summed, not averaged, over positions, as in BigGAN and SNGAN's ResNet discriminators
        return F.relu(h).sum(dim=(2, 3))
