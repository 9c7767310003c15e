r"""StyleGAN2 generator and residual discriminator (Karras et al. 2019, 2020), for resolutions base·2^k, base 4..8.

The generator maps ``z`` through an MLP to an intermediate latent ``w``, and ``w`` sets the style of
every convolution of a synthesis network that starts from a learned constant (``↑``: 2x upsampling)::

    w = mapping(z)                        pixel norm -> [Linear -> LeakyReLU] x mapping_layers
    ws = (w, w, ..., w)                   one w per layer, (N, 2k + 2, w_dim); style mixing swaps a tail
    x = ModConv3x3(const, ws[0]);         rgb = toRGB(x, ws[1])
    for i = 1..k:                         (each ModConv3x3 adds noise and bias, then LeakyReLU)
        x = ModConv3x3(ModConv3x3(↑x, ws[2i-1]), ws[2i]);   rgb = ↑rgb + toRGB(x, ws[2i+1])
    image = tanh(rgb)

StyleGAN2's config F is kept at small scale: weight demodulation instead of AdaIN, per-pixel
noise, skip connections to RGB in G, a residual D with a minibatch standard deviation layer,
style mixing regularisation and truncation in ``w``; not its path length regularisation. The
papers train it with the non-saturating loss, R1 and an EMA of G: ``loss=nsgan 'tricks=[r1,ema]'``.
"""

from __future__ import annotations

import itertools
import math
from typing import Annotated

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganlab.models.base import Discriminator, Generator, stride2_layers
from ganlab.schema import AtLeast, Decay, Probability
from ganlab.tricks.minibatch import MinibatchStdDevLayer

_SLOPE = 0.2


def _resolutions(resolution: int) -> list[int]:
    """Feature-map sides from the base to ``resolution``: 28 -> [7, 14, 28], 32 -> [4, 8, 16, 32]."""
    base, k = stride2_layers(resolution)
    return [base * 2**i for i in range(k + 1)]


def _channels(side: int, width: int) -> int:
    """StyleGAN2's ``min(channel_base / side, channel_max)`` with ``channel_max = width`` and
    ``channel_base = 64·width`` (config F: 32768 = 64·512): ``width`` up to 64 px, halved per doubling above."""
    return max(1, min(width, 64 * width // side))


def _init(layer: nn.Linear | nn.Conv2d, after_leaky_relu: bool = True) -> None:
    """He initialisation, ``W ~ N(0, g²/fan_in)``, zero bias: where StyleGAN2's equalized learning rate starts.

    ``g = sqrt(2 / (1 + 0.2²))`` for a layer that reads a LeakyReLU's output, so activations keep
    unit second moment layer after layer; ``g = 1`` for one that reads ``z`` or an image.
    """
    nn.init.kaiming_normal_(layer.weight, a=_SLOPE, nonlinearity="leaky_relu" if after_leaky_relu else "linear")
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)


def _upsample(x: Tensor) -> Tensor:
    # 2x bilinear interpolation is StyleGAN2's [1, 3, 3, 1] FIR upsampling, up to the border pixels
    return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


def _downsample(x: Tensor) -> Tensor:
    # antialiased 2x bilinear reduction weighs each 4x4 window by the [1, 3, 3, 1] FIR filter (outer product / 64),
    # StyleGAN2's low-pass before subsampling; it renormalises at the border instead of zero padding. The kernel
    # has no bfloat16 version on CPU, so half-precision maps (bf16-mixed training) are filtered in float32.
    y = x.to(torch.promote_types(x.dtype, torch.float32))
    return F.interpolate(y, scale_factor=0.5, mode="bilinear", align_corners=False, antialias=True).to(x.dtype)


def _normalize_2nd_moment(x: Tensor, eps: float = 1e-8) -> Tensor:
    """Pixel norm over dim 1: ``x / sqrt(mean(x²) + eps)``."""
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


class ModulatedConv2d(nn.Module):
    r"""Modulated convolution (Karras et al. 2020, section 2.2): a per-sample weight scaled by the style of ``w``.

    .. math::
        s = A(w), \qquad w'_{ijk} = s_i\,w_{ijk}, \qquad
        w''_{ijk} = w'_{ijk} \Big/ \sqrt{\textstyle\sum_{i,k} {w'_{ijk}}^2 + \epsilon}

    with ``i`` input channels, ``j`` output channels, ``k`` kernel taps and ``A`` a learned affine
    map (bias 1, so styles start near 1). Demodulation gives every output channel unit expected
    variance for unit-variance inputs, which replaces AdaIN's normalisation of the activations
    (the cause of StyleGAN's droplet artefacts). The N per-sample weights run as one grouped
    convolution. ``(N, in_channels, H, W), (N, w_dim) -> (N, out_channels, H, W)``.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: side of the square kernel (3 in the synthesis layers, 1 for toRGB).
        w_dim: size of ``w``.
        demodulate: normalise each output channel's weights (off for toRGB, whose scale is the image's).
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, w_dim: int, demodulate: bool = True
    ) -> None:
        super().__init__()
        self.demodulate = demodulate
        self.padding = kernel_size // 2
        self.affine = nn.Linear(w_dim, in_channels)
        _init(self.affine)
        nn.init.ones_(self.affine.bias)
        # toRGB reads LeakyReLU outputs; in the demodulated layers the weight's scale cancels
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size, kernel_size))
        nn.init.kaiming_normal_(self.weight, a=_SLOPE, nonlinearity="leaky_relu")
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        n, c, h, width = x.shape
        styles = self.affine(w)  # (N, in_channels)
        weight = self.weight[None] * styles[:, None, :, None, None]  # (N, out, in, k, k)
        if self.demodulate:
            weight = weight * (weight.square().sum(dim=(2, 3, 4), keepdim=True) + 1e-8).rsqrt()
        out = F.conv2d(x.reshape(1, n * c, h, width), weight.flatten(0, 1), padding=self.padding, groups=n)
        return out.view(n, -1, *out.shape[2:]) + self.bias.view(1, -1, 1, 1)


class SynthesisLayer(nn.Module):
    r"""``x -> [upsample] -> ModConv3x3(w) + bias + strength ⊙ noise -> LeakyReLU(0.2)``.

    The noise is one fresh N(0, 1) value per pixel, shared by the channels and scaled by a learned
    per-channel strength (zero at first): stochastic detail (hair, freckles) without spending
    ``w`` on it (Karras et al. 2019, section 3.2). ``(N, in, H, W), (N, w_dim) -> (N, out, H', W')``,
    ``H' = 2H`` when ``upsample``.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        w_dim: size of ``w``.
        upsample: double the resolution before the convolution.
    """

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, upsample: bool = False) -> None:
        super().__init__()
        self.upsample = upsample
        self.conv = ModulatedConv2d(in_channels, out_channels, 3, w_dim)
        self.noise_strength = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        x = self.conv(_upsample(x) if self.upsample else x, w)
        noise = torch.randn(x.shape[0], 1, *x.shape[2:], device=x.device, dtype=x.dtype)
        return F.leaky_relu(x + self.noise_strength.view(1, -1, 1, 1) * noise, _SLOPE)


class StyleGANGenerator(Generator):
    r"""StyleGAN2 generator: mapping network ``z -> w``, then a skip-architecture synthesis network driven by ``w``.

    Mapping: ``w = f(normalize(z))``, or ``f([normalize(z); normalize(e_y)])`` with a learned class
    embedding ``e_y`` when ``num_classes > 0`` (as StyleGAN2-ADA); ``f`` is ``mapping_layers``
    Linear + LeakyReLU(0.2) layers. Synthesis: a learned ``base x base`` constant, one modulated 3x3
    convolution at the base resolution and two (the first after 2x upsampling) at each of the ``k``
    higher ones, each followed by noise, bias and LeakyReLU; every resolution adds its toRGB output
    (a modulated 1x1 convolution without demodulation) to the upsampled sum of the coarser ones.
    Layer ``l`` takes its style from ``ws[:, l]``, ``num_layers = 2k + 2`` of them (a toRGB shares
    its ``w`` with the next resolution's first convolution, as in the papers).

    Training mode adds style mixing regularisation (with probability ``style_mixing_probability``
    a second ``z`` drives the layers from a random crossover on, :meth:`mix_styles`) and tracks
    ``w_avg``, the moving average of ``w``. With :attr:`truncation` set to ψ (``ganlab eval
    truncation=0.7``) every ``w`` becomes ``w_avg + ψ (w - w_avg)``: ψ = 0 gives the average image,
    ψ = 1 the untruncated distribution; ``z`` itself is never truncated (:meth:`sample_latent`).

    Shapes: ``(N, latent_dim)`` (and ``label`` ``(N,)``) ``-> (N, channels, resolution, resolution)``
    in [-1, 1] (a final tanh, which StyleGAN2 does not have). Weights are He-initialised: the
    function StyleGAN2's equalized learning rate starts from, trained without its runtime
    rescaling (and so without the mapping network's 0.01 learning-rate multiplier), so that one
    Adam learning rate suits G and D as for ganlab's other models.

    Args:
        latent_dim: size of z.
        channels: image channels.
        resolution: output side; 28, 32, 64 or any ``base·2^k`` with ``base`` in 4..8.
        width: most channels of a synthesis layer (StyleGAN2's ``channel_max``, 512 in the paper);
            layers above 64 px have ``64·width / side``.
        w_dim: size of w (512 in the paper).
        mapping_layers: layers of the mapping network (8 in the paper, 2 in StyleGAN2-ADA's CIFAR-10 setup).
        num_classes: classes of ``label``; 0 for an unconditional generator.
        style_mixing_probability: chance per training batch of mixing two latents (0.9 in the paper).
        w_avg_beta: decay of the moving average of ``w`` (0.995 in the paper).
    """

    def __init__(
        self,
        latent_dim: Annotated[int, AtLeast(1)] = 128,
        channels: Annotated[int, AtLeast(1)] = 1,
        resolution: Annotated[int, AtLeast(1)] = 28,
        width: Annotated[int, AtLeast(1)] = 64,
        w_dim: Annotated[int, AtLeast(1)] = 128,
        mapping_layers: Annotated[int, AtLeast(1)] = 4,
        num_classes: Annotated[int, AtLeast(0)] = 0,
        style_mixing_probability: Annotated[float, Probability] = 0.9,
        w_avg_beta: Annotated[float, Decay] = 0.995,
    ) -> None:
        super().__init__(latent_dim, num_classes)
        self.w_dim = int(w_dim)
        self.style_mixing_probability = float(style_mixing_probability)
        self.w_avg_beta = float(w_avg_beta)
        self.register_buffer("w_avg", torch.zeros(self.w_dim))

        self.embed = nn.Embedding(self.num_classes, self.w_dim) if self.num_classes else None
        mapping: list[nn.Module] = []
        in_features = self.latent_dim + (self.w_dim if self.embed is not None else 0)
        for i in range(mapping_layers):
            layer = nn.Linear(in_features if i == 0 else self.w_dim, self.w_dim)
            _init(layer, after_leaky_relu=i > 0)
            mapping += [layer, nn.LeakyReLU(_SLOPE)]
        self.mapping_network = nn.Sequential(*mapping)

        sides = _resolutions(resolution)
        chans = [_channels(side, width) for side in sides]
        self.const = nn.Parameter(torch.randn(chans[0], sides[0], sides[0]))
        self.base_layer = SynthesisLayer(chans[0], chans[0], self.w_dim)
        self.to_rgb = nn.ModuleList([ModulatedConv2d(chans[0], channels, 1, self.w_dim, demodulate=False)])
        self.layers = nn.ModuleList()
        for c_in, c_out in itertools.pairwise(chans):
            self.layers.append(SynthesisLayer(c_in, c_out, self.w_dim, upsample=True))
            self.layers.append(SynthesisLayer(c_out, c_out, self.w_dim))
            self.to_rgb.append(ModulatedConv2d(c_out, channels, 1, self.w_dim, demodulate=False))
        self.num_layers = 2 * len(sides)

    def sample_latent(self, num: int, device: torch.device | str = "cpu", rng: torch.Generator | None = None) -> Tensor:
        """Standard normal ``z``, shape ``(num, latent_dim)``, whatever :attr:`truncation` is (it applies to ``w``)."""
        return torch.randn(num, self.latent_dim, device=device, generator=rng)

    def mapping(self, z: Tensor, label: Tensor | None = None) -> Tensor:
        """``w``, shape ``(N, w_dim)``, of ``z`` ``(N, latent_dim)`` (and ``label`` ``(N,)``), untruncated.

        Raises:
            ValueError: a conditional generator called without ``label``.
        """
        x = _normalize_2nd_moment(z)
        if self.embed is not None:
            if label is None:
                raise ValueError(
                    f"this StyleGAN generator is class-conditional ({self.num_classes} classes): pass label"
                )
            x = torch.cat([x, _normalize_2nd_moment(self.embed(label))], dim=1)
        return self.mapping_network(x)

    def mix_styles(self, w1: Tensor, w2: Tensor, crossover_layer: int) -> Tensor:
        """Per-layer latents ``(N, num_layers, w_dim)``: ``w1`` in layers ``< crossover_layer``, ``w2`` from it on."""
        before = torch.arange(self.num_layers, device=w1.device) < crossover_layer
        return torch.where(before[None, :, None], w1[:, None], w2[:, None])

    def layer_ws(self, z: Tensor, label: Tensor | None = None) -> Tensor:
        """The per-layer latents ``(N, num_layers, w_dim)`` that :meth:`forward` synthesises from ``z``.

        In training mode this updates ``w_avg`` and, with probability ``style_mixing_probability``,
        mixes in the ``w`` of a second, fresh ``z`` (same labels) from a crossover layer drawn
        uniformly in ``1..num_layers-1``. Truncation, when set, applies to every layer.
        """
        w = self.mapping(z, label)
        if self.training:
            with torch.no_grad():
                self.w_avg.lerp_(w.detach().mean(dim=0).to(self.w_avg.dtype), 1.0 - self.w_avg_beta)
        if self.training and self.style_mixing_probability > 0 and torch.rand(()) < self.style_mixing_probability:
            crossover = int(torch.randint(1, self.num_layers, ()))
            ws = self.mix_styles(w, self.mapping(torch.randn_like(z), label), crossover)
        else:
            ws = w[:, None].expand(-1, self.num_layers, -1)
        if self.truncation is not None:
            # lerp is exact at both ends: ψ = 0 returns w_avg itself and ψ = 1 returns w itself
            ws = torch.lerp(self.w_avg.to(ws.dtype).expand_as(ws), ws, float(self.truncation))
        return ws

    def synthesize(self, ws: Tensor) -> Tensor:
        """Images ``(N, channels, resolution, resolution)`` in [-1, 1] from ``ws``, ``(N, num_layers, w_dim)``."""
        if ws.shape[1] != self.num_layers:
            raise ValueError(f"ws has {ws.shape[1]} layers, this generator {self.num_layers}")
        x = self.base_layer(self.const.expand(ws.shape[0], -1, -1, -1), ws[:, 0])
        image = self.to_rgb[0](x, ws[:, 1])
        for i, to_rgb in enumerate(self.to_rgb[1:], start=1):
            x = self.layers[2 * i - 2](x, ws[:, 2 * i - 1])
            x = self.layers[2 * i - 1](x, ws[:, 2 * i])
            image = _upsample(image) + to_rgb(x, ws[:, 2 * i + 1])
        return torch.tanh(image)

    def forward(self, z: Tensor, label: Tensor | None = None) -> Tensor:
        return self.synthesize(self.layer_ws(z, label))


class DiscriminatorBlock(nn.Module):
    r"""StyleGAN2's residual discriminator block, ``(N, in, H, W) -> (N, out, H/2, W/2)``::

        x -> Conv3x3 -> LeakyReLU -> Conv3x3 -> LeakyReLU -> downsample --+--> / sqrt(2)
        x -> downsample -> Conv1x1 (no bias) ------------------------------+

    Dividing the sum by ``sqrt(2)`` keeps the variance of two uncorrelated unit-variance branches at 1.

    Args:
        in_channels: input channels (also the first convolution's output).
        out_channels: output channels.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv0 = nn.Conv2d(in_channels, in_channels, 3, padding=1)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.skip = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        for layer in (self.conv0, self.conv1, self.skip):
            _init(layer)

    def forward(self, x: Tensor) -> Tensor:
        skip = self.skip(_downsample(x))
        x = F.leaky_relu(self.conv0(x), _SLOPE)
        x = _downsample(F.leaky_relu(self.conv1(x), _SLOPE))
        return (x + skip) / math.sqrt(2.0)


class StyleGANDiscriminator(Discriminator):
    r"""StyleGAN2's residual discriminator: ``φ(x)`` of shape ``(N, feature_dim)``, then ``D(x) = head(φ(x))``::

        x -> fromRGB (Conv1x1) -> LeakyReLU -> [DiscriminatorBlock] x k          (resolution -> base)
          -> minibatch stddev (+1 channel) -> Conv3x3 -> LeakyReLU -> flatten -> Linear -> LeakyReLU = φ(x)

    The minibatch standard deviation (Karras et al. 2018) is one channel: the average over
    features of the standard deviation within groups of ``min(mbstd_group_size, N)`` samples (the
    largest divisor of ``N`` up to that, so any batch size works), so D can see a collapsed batch.
    Layers are plain ``nn.Conv2d``/``nn.Linear``, He-initialised, so ganlab's tricks can normalise
    and widen them (fromRGB is the first weight layer, ``head`` the last).
    ``(N, channels + extra_input_channels, resolution, resolution) -> (N, 1)``.

    Args:
        channels: image channels.
        resolution: input side, as for the generator.
        width: most channels of a layer (``channel_max``), as for the generator.
        extra_input_channels: more input planes (one per class with ``conditioning=concat``).
        mbstd_group_size: samples per minibatch standard deviation group (4 in the paper).
    """

    def __init__(
        self,
        channels: int = 1,
        resolution: int = 28,
        width: int = 64,
        extra_input_channels: int = 0,
        mbstd_group_size: int = 4,
    ) -> None:
        super().__init__()
        sides = _resolutions(resolution)[::-1]
        chans = [_channels(side, width) for side in sides]
        self.from_rgb = nn.Conv2d(channels + extra_input_channels, chans[0], 1)
        _init(self.from_rgb, after_leaky_relu=False)
        self.blocks = nn.Sequential(*(DiscriminatorBlock(a, b) for a, b in itertools.pairwise(chans)))
        self.mbstd = MinibatchStdDevLayer(mbstd_group_size)
        base, c = sides[-1], chans[-1]
        self.conv = nn.Conv2d(c + 1, c, 3, padding=1)
        self.fc = nn.Linear(c * base * base, c)
        self.head = nn.Linear(c, 1)
        for layer in (self.conv, self.fc, self.head):
            _init(layer)
        self.feature_dim = c

    def features(self, x: Tensor) -> Tensor:
        x = self.blocks(F.leaky_relu(self.from_rgb(x), _SLOPE))
        x = F.leaky_relu(self.conv(torch.cat([x, self.mbstd(x)], dim=1)), _SLOPE)
        return F.leaky_relu(self.fc(x.flatten(1)), _SLOPE)
