r"""SRGAN (Ledig et al. 2017): photo-realistic single-image super-resolution with a GAN.

The generator :math:`G` maps a low-resolution image :math:`I^{LR}` of side ``h`` to a
super-resolved one :math:`I^{SR} = G(I^{LR})` of side ``s·h``; the discriminator tells
:math:`I^{SR}` from the high-resolution target :math:`I^{HR}`. G minimises the perceptual loss
(eq. 3)

.. math:: l^{SR} = l^{SR}_X + 10^{-3}\, l^{SR}_{Gen}

with the content loss :math:`l^{SR}_X` either the pixel-wise MSE (eq. 4, ``content=pixel``,
:class:`~ganlab.tricks.reconstruction.ReconstructionLoss` with ``l2``) or the MSE between VGG19
feature maps (eq. 5, ``content=vgg``, :class:`~ganlab.tricks.perceptual.VGGContentLoss`), and
:math:`l^{SR}_{Gen}` the adversarial loss, weighted by :attr:`SRResNetGenerator.adversarial_weight`.
SRResNet is the same generator trained on the content loss alone (``adversarial_weight=0``).

Batches are dicts ``{"source": (N, C, h, w), "real": (N, C, s·h, s·w)}``, both in [-1, 1]: the
generator consumes ``source`` and the discriminator compares its output with ``real``. There is
no latent code (``latent_dim = 0``): the paper's generator is deterministic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from torch import Tensor, nn

from ganlab.errors import GanlabError
from ganlab.models.base import Discriminator, Generator, init_normal
from ganlab.schema import AtLeast, NonNegative, OneOf
from ganlab.tricks.reconstruction import ReconstructionLoss

if TYPE_CHECKING:
    from ganlab.tricks.base import Trick

CONTENT_LOSSES = ("pixel", "vgg")

# The paper's seven strided blocks after the first convolution: (channel multiple of width, stride),
# k3n64s2, k3n128s1, k3n128s2, k3n256s1, k3n256s2, k3n512s1, k3n512s2 at width 64.
_DISCRIMINATOR_BLOCKS = ((1, 2), (2, 1), (2, 2), (4, 1), (4, 2), (8, 1), (8, 2))


def upscale_factor_blocks(scale: int) -> int:
    """The number of 2x sub-pixel upsampling blocks for an upscaling factor: ``log2(scale)``.

    Raises:
        GanlabError: ``scale`` is not a power of two of at least 2.
    """
    if isinstance(scale, bool) or int(scale) != scale or scale < 2 or int(scale) & (int(scale) - 1):
        raise GanlabError(
            f"super-resolution scale {scale!r} is not a power of two >= 2: "
            "set dataset.scale and model.generator.scale to 2, 4 or 8"
        )
    return int(scale).bit_length() - 1


class ResidualBlock(nn.Module):
    """SRResNet's residual block: ``x + BN(conv3x3(PReLU(BN(conv3x3(x)))))``, shape kept."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(width, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.PReLU(width),
            nn.Conv2d(width, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class SubPixelUpsample(nn.Module):
    """Sub-pixel 2x upsampling (Shi et al. 2016): ``PReLU(PixelShuffle(2)(conv3x3(x)))``.

    The convolution makes ``4·width`` channels and the shuffle rearranges each group of four into
    a 2x2 block of pixels: ``(N, width, H, W) -> (N, width, 2H, 2W)``.
    """

    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(width, 4 * width, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)
        self.activation = nn.PReLU(width)

    def forward(self, x: Tensor) -> Tensor:
        return self.activation(self.shuffle(self.conv(x)))


class SRResNetGenerator(Generator):
    r"""SRResNet, the SRGAN generator (Ledig et al. 2017, fig. 4)::

        source ─ conv9x9 ─ PReLU ─┬─ [ResidualBlock] x B ─ conv3x3 ─ BN ─(+)─ [SubPixelUpsample] x log2(s)
                                  └──────────────── long skip ──────────┘
               ─ conv9x9 ─ tanh

    with B = ``num_blocks`` residual blocks (conv3x3-BN-PReLU-conv3x3-BN plus a skip each,
    :class:`ResidualBlock`) and one 2x sub-pixel upsampling block per factor of two of the scale
    (:class:`SubPixelUpsample`). The tanh keeps the output in [-1, 1], the range of the targets.
    PReLU slopes are per channel; weights start from N(0, 0.02) as in the authors' release.

    There is no latent code: ``latent_dim = 0`` and ``forward`` ignores ``z`` (shape ``(N, 0)``),
    the training step's draw from :meth:`sample_latent`. The architecture brings its content loss
    with it (:meth:`implied_tricks`); the adversarial term's weight is :attr:`adversarial_weight`.

    Shapes: ``source`` ``(N, channels, h, w)`` ``->`` ``(N, channels, scale·h, scale·w)``.

    Args:
        channels: image channels.
        scale: upscaling factor, a power of two >= 2 (4 in the paper); must match ``dataset.scale``.
        width: channels of every hidden layer (64 in the paper).
        num_blocks: residual blocks B (16 in the paper).
        content: the content loss G brings, ``pixel`` (MSE, eq. 4) or ``vgg`` (VGG54, eq. 5).
        content_weight: weight of the content loss.
        adversarial_weight: weight of the adversarial loss relative to the content loss (the
            paper's 1e-3); 0 trains SRResNet on the content loss alone (``srresnet`` pre-training).
            Stored here for the training step, which applies it.

    Example:
        >>> import torch
        >>> g = SRResNetGenerator(channels=1, scale=4, width=8, num_blocks=2)
        >>> g(g.sample_latent(2), source=torch.zeros(2, 1, 7, 7)).shape
        torch.Size([2, 1, 28, 28])
    """

    def __init__(
        self,
        channels: Annotated[int, AtLeast(1)] = 1,
        scale: Annotated[int, AtLeast(1)] = 4,
        width: Annotated[int, AtLeast(1)] = 64,
        num_blocks: Annotated[int, AtLeast(1)] = 16,
        content: Annotated[str, OneOf(*CONTENT_LOSSES)] = "pixel",
        content_weight: Annotated[float, NonNegative] = 1.0,
        adversarial_weight: Annotated[float, NonNegative] = 1e-3,
    ) -> None:
        super().__init__(0)
        upsamplings = upscale_factor_blocks(scale)
        if content not in CONTENT_LOSSES:
            raise GanlabError(
                f"model.generator.content={content!r} is not a content loss: use one of {', '.join(CONTENT_LOSSES)}"
            )
        self.condition_keys = ("source",)
        self.channels = int(channels)
        self.scale = int(scale)
        self.content = content
        self.content_weight = float(content_weight)
        self.adversarial_weight = float(adversarial_weight)
        self.stem = nn.Sequential(nn.Conv2d(channels, width, 9, padding=4), nn.PReLU(width))
        self.body = nn.Sequential(
            *(ResidualBlock(width) for _ in range(num_blocks)),
            nn.Conv2d(width, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
        )
        self.upsample = nn.Sequential(*(SubPixelUpsample(width) for _ in range(upsamplings)))
        self.output = nn.Conv2d(width, channels, 9, padding=4)
        init_normal(self)

    def forward(self, z: Tensor, source: Tensor | None = None) -> Tensor:
        """The super-resolved ``source``; ``z`` (shape ``(N, 0)``) carries nothing and is ignored.

        Raises:
            ValueError: called without ``source``.
        """
        if source is None:
            raise ValueError("SRResNetGenerator upscales an image: pass source=(N, C, h, w) low-resolution images")
        shallow = self.stem(source)
        # the long skip lets the residual blocks learn only the detail the shallow features lack
        deep = shallow + self.body(shallow)
        return self.output(self.upsample(deep)).tanh()

    def implied_tricks(self) -> list[Trick]:
        """The content loss: ``ReconstructionLoss(content_weight, "l2")`` or ``VGGContentLoss(content_weight)``."""
        if self.content == "vgg":
            from ganlab.tricks.perceptual import VGGContentLoss  # torchvision only where VGG is asked for

            return [VGGContentLoss(self.content_weight)]
        return [ReconstructionLoss(self.content_weight, "l2")]


class SRGANDiscriminator(Discriminator):
    r"""The SRGAN discriminator (Ledig et al. 2017, fig. 4)::

        x ─ conv3x3 (w) ─ LReLU ─ [conv3x3 ─ BN ─ LReLU] x 7 ─ flatten ─ Dense(hidden) ─ LReLU = φ(x) ─ Dense(1) = D(x)

    The seven blocks have ``w, 2w, 2w, 4w, 4w, 8w, 8w`` channels and strides ``2, 1, 2, 1, 2, 1, 2``
    (k3n64s2 ... k3n512s2 at w = 64); LeakyReLU slopes are 0.2. With padding 1 a stride-2 layer
    takes side ``n`` to ``ceil(n/2)``, so the final map is ``ceil(resolution/16)`` wide (28 -> 2,
    32 -> 2, 64 -> 4, 96 -> 6 as in the paper) and is flattened whole, as in the paper, into the
    dense layer. The paper's final sigmoid is left to the loss: D returns raw scores.

    Shapes: ``(N, channels + extra_input_channels, resolution, resolution)`` ``->`` features
    ``φ(x)`` ``(N, hidden)`` ``->`` scores ``(N, 1)``.

    Args:
        channels: image channels.
        resolution: side of the high-resolution images.
        width: channels of the first layer w (64 in the paper).
        hidden: units of the dense layer, ``feature_dim`` (1024 in the paper).
        extra_input_channels: label planes joined to the input (``model.conditioning=concat``).

    Example:
        >>> import torch
        >>> d = SRGANDiscriminator(channels=1, resolution=28, width=4, hidden=16)
        >>> d(torch.zeros(2, 1, 28, 28)).shape
        torch.Size([2, 1])
    """

    def __init__(
        self,
        channels: Annotated[int, AtLeast(1)] = 1,
        resolution: Annotated[int, AtLeast(1)] = 28,
        width: Annotated[int, AtLeast(1)] = 64,
        hidden: Annotated[int, AtLeast(1)] = 1024,
        extra_input_channels: Annotated[int, AtLeast(0)] = 0,
    ) -> None:
        super().__init__()
        self.extra_input_channels = int(extra_input_channels)
        layers: list[nn.Module] = [nn.Conv2d(channels + extra_input_channels, width, 3, padding=1), nn.LeakyReLU(0.2)]
        side, inputs = int(resolution), width
        for multiple, stride in _DISCRIMINATOR_BLOCKS:
            outputs = multiple * width
            layers += [
                nn.Conv2d(inputs, outputs, 3, stride=stride, padding=1, bias=False),
                nn.BatchNorm2d(outputs),
                nn.LeakyReLU(0.2),
            ]
            side, inputs = (side + stride - 1) // stride, outputs
        self.convolutional = nn.Sequential(*layers)
        self.dense = nn.Sequential(nn.Flatten(), nn.Linear(inputs * side * side, hidden), nn.LeakyReLU(0.2))
        self.feature_dim = int(hidden)
        self.head = nn.Linear(self.feature_dim, 1)
        init_normal(self)

    def features(self, x: Tensor) -> Tensor:
        return self.dense(self.convolutional(x))
