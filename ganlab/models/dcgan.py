"""DCGAN generator and discriminator (Radford et al. 2016), for any resolution base·2^k, base in 4..8."""

from __future__ import annotations

from itertools import pairwise
from typing import Annotated

from torch import Tensor, nn

from ganlab.models.base import Discriminator, Generator, init_normal, stride2_layers, with_onehot
from ganlab.schema import AtLeast


class DCGANGenerator(Generator):
    r"""DCGAN generator: ``z -> ConvT(base x base) -> [ConvT 4x4 stride 2 -> BN -> ReLU] x k -> tanh``.

    The first transposed convolution projects ``z`` to a ``(width·2^{k-1}, base, base)`` map, each
    further layer doubles the resolution and halves the channels; the output is
    ``(N, channels, resolution, resolution)`` in [-1, 1]. Weights ~ N(0, 0.02) as in the paper.
    Class-conditional (``num_classes > 0``): the input is ``[z; onehot(y)]``, the label joined to
    the noise (Mirza & Osindero 2014).

    Args:
        latent_dim: size of z (100 in the paper).
        channels: image channels (1 for MNIST, 3 for CIFAR-10).
        resolution: output side; 28, 32, 64 or any ``base·2^k`` with ``base`` in 4..8.
        width: channels of the last hidden layer ("ngf"; 64 in the paper).
        num_classes: classes of the ``label`` input; 0 for an unconditional generator.
    """

    def __init__(
        self,
        latent_dim: Annotated[int, AtLeast(1)] = 100,
        channels: Annotated[int, AtLeast(1)] = 1,
        resolution: Annotated[int, AtLeast(1)] = 28,
        width: Annotated[int, AtLeast(1)] = 64,
        num_classes: Annotated[int, AtLeast(0)] = 0,
    ) -> None:
        super().__init__(latent_dim, num_classes)
        base, k = stride2_layers(resolution)
        chans = [width * 2 ** (k - 1 - i) for i in range(k)]
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(self.latent_dim + self.num_classes, chans[0], base, 1, 0, bias=False),
            nn.BatchNorm2d(chans[0]),
            nn.ReLU(True),
        ]
        for c_in, c_out in pairwise(chans):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(chans[-1], channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        init_normal(self)

    def forward(self, z: Tensor, label: Tensor | None = None) -> Tensor:
        return self.net(with_onehot(z, label, self.num_classes).view(z.shape[0], -1, 1, 1))


class DCGANDiscriminator(Discriminator):
    r"""DCGAN discriminator: ``[Conv 4x4 stride 2 -> norm -> LeakyReLU(0.2)] x k -> Linear -> logit``.

    Mirrors :class:`DCGANGenerator`; no normalisation on the first layer, as in the paper. The
    features ``φ(x)`` are the last ``(width·2^{k-1}, base, base)`` map flattened; the head, a linear
    layer on them, is the paper's final ``base x base`` convolution. ``(N, channels, resolution,
    resolution) -> (N, 1)``.

    Args:
        channels: image channels.
        resolution: input side, as for the generator.
        width: channels of the first layer ("ndf").
        norm: ``batch`` (the paper), ``layer`` (per-sample, for gradient penalties) or ``none``.
        extra_input_channels: input planes beyond the image's (one-hot labels of ``concat`` conditioning).
    """

    def __init__(
        self,
        channels: int = 1,
        resolution: int = 28,
        width: int = 64,
        norm: str = "batch",
        extra_input_channels: int = 0,
    ) -> None:
        super().__init__()
        base, k = stride2_layers(resolution)
        chans = [width * 2**i for i in range(k)]
        layers: list[nn.Module] = [
            nn.Conv2d(channels + extra_input_channels, chans[0], 4, 2, 1),
            nn.LeakyReLU(0.2, True),
        ]
        for c_in, c_out in pairwise(chans):
            layers += [
                nn.Conv2d(c_in, c_out, 4, 2, 1, bias=norm == "none"),
                _norm(norm, c_out),
                nn.LeakyReLU(0.2, True),
            ]
        self.body = nn.Sequential(*layers, nn.Flatten())
        self.feature_dim = chans[-1] * base * base
        self.head = nn.Linear(self.feature_dim, 1)
        init_normal(self)

    def features(self, x: Tensor) -> Tensor:
        return self.body(x)


_NORMS = {
    "batch": nn.BatchNorm2d,
    "layer": lambda channels: nn.GroupNorm(1, channels),
    "none": lambda channels: nn.Identity(),
}


def _norm(kind: str, channels: int) -> nn.Module:
    if kind not in _NORMS:
        raise ValueError(f"unknown discriminator norm {kind!r}: use one of {', '.join(_NORMS)}")
    return _NORMS[kind](channels)
