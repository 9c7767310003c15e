r"""pix2pix (Isola et al. 2017): a U-Net generator and a PatchGAN discriminator for paired image-to-image translation.

The conditional GAN maps an input image :math:`x` (the batch's ``"source"``, domain A) to an
output :math:`G(x, z)` in domain B and is trained against the paired target :math:`y` (the
batch's ``"real"``) with

.. math:: G^* = \arg\min_G \max_D \; \mathcal L_{cGAN}(G, D) + \lambda\, \mathbb E\lVert y - G(x, z)\rVert_1

(paper eq. 4, λ = 100): the L1 term (:class:`~ganlab.tricks.reconstruction.ReconstructionLoss`,
which :meth:`UNetGenerator.implied_tricks` brings along) gets the low frequencies right and the
discriminator, which judges ``N x N`` patches, the high ones. The noise :math:`z` is the
generator's dropout, kept on at test time; the latent code is empty (``latent_dim = 0``).

The PatchGAN's receptive field, the patch each output score judges, follows from the convolution
arithmetic (:func:`receptive_field`): 16, 34, 70 px for 1, 2, 3 stride-2 layers; the paper's
default is the 70x70 PatchGAN at 256 px, and :func:`default_n_layers` keeps that ratio at other
resolutions.
"""

from __future__ import annotations

from typing import Annotated

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganlab.errors import GanlabError
from ganlab.models.base import Discriminator, Generator, init_normal
from ganlab.schema import AtLeast, NonNegative, OneOf, Probability
from ganlab.tricks.base import Trick
from ganlab.tricks.reconstruction import ReconstructionLoss

# The paper's choice: a 70x70 patch on 256x256 images.
PAPER_PATCH_RATIO = 70 / 256


def _halvings(resolution: int) -> int:
    """How often ``resolution`` halves with even sides: 28 -> 2, 32 -> 5, 256 -> 8."""
    count, side = 0, int(resolution)
    while side > 0 and side % 2 == 0:
        side, count = side // 2, count + 1
    return count


def unet_depth(resolution: int, depth: int | None = None) -> int:
    """The U-Net's number of halvings: ``depth`` checked, or as many as ``resolution`` allows with even sides.

    28 -> 2 (28 -> 14 -> 7), 32 -> 5, 256 -> 8 (the paper's 8-block encoder, down to 1x1).

    Raises:
        GanlabError: a depth the resolution does not allow, or a resolution that does not halve at all.
    """
    most = _halvings(resolution)
    if depth is None:
        if most == 0:
            raise GanlabError(
                f"the U-Net cannot halve {resolution} px (an odd side): use an even dataset.resolution, e.g. 28 or 32"
            )
        return most
    if not 1 <= int(depth) <= most:
        raise GanlabError(
            f"model.generator.depth={depth} does not fit {resolution} px: the U-Net halves the side depth times "
            f"and {resolution} px allows 1 to {most} (or leave model.generator.depth=null for {most})"
        )
    return int(depth)


class PersistentDropout(nn.Module):
    """Dropout that stays on in eval mode: pix2pix's noise ``z`` (the paper applies dropout at test time too)."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = float(p)

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, training=True)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def _encoder_block(c_in: int, c_out: int, norm: bool) -> nn.Sequential:
    """``Ck``: Conv 4x4 stride 2 -> [BatchNorm] -> LeakyReLU(0.2)."""
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=not norm)]
    if norm:
        layers.append(nn.BatchNorm2d(c_out))
    layers.append(nn.LeakyReLU(0.2, True))
    return nn.Sequential(*layers)


def _decoder_block(c_in: int, c_out: int, dropout: float) -> nn.Sequential:
    """``CDk`` (``Ck`` without dropout): ConvTranspose 4x4 stride 2 -> BatchNorm -> [Dropout] -> ReLU."""
    layers: list[nn.Module] = [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out)]
    if dropout > 0:
        layers.append(PersistentDropout(dropout))
    layers.append(nn.ReLU(True))
    return nn.Sequential(*layers)


class UNetGenerator(Generator):
    r"""pix2pix's U-Net: an encoder-decoder whose decoder also gets the mirrored encoder maps.

    ::

        source -> e_0 -> e_1 -> ... -> e_{d-1}                        encoder: Ck, side halving per block
                   |      |               |
                   |      |               +-> u_0 -> [e_{d-2}; u_0] -> u_1 -> ... decoder: CDk/Ck, side doubling
                   |      +-----------------------------------------> [e_1; u_{d-3}] -> u_{d-2}
                   +-----------------------------------------------------------------> [e_0; u_{d-2}]
                                                                                     -> ConvT 4x4 s2 -> tanh

    Encoder block ``i`` (``Ck``: Conv 4x4 stride 2 -> BatchNorm -> LeakyReLU(0.2)) has
    ``width·min(2^i, 8)`` channels; the first has no norm (the paper), nor has the innermost (the
    reference implementation: at 256 px its map is 1x1, whose batch statistics at the paper's
    batch size 1 are a single value). Decoder block ``k`` (``CDk``: ConvTranspose 4x4 stride 2 ->
    BatchNorm -> Dropout -> ReLU) produces as many channels as the encoder map it is then joined
    with; dropout only in the innermost ``min(3, depth - 1)`` decoder blocks. At 256 px with the
    defaults this is the paper's C64-C128-C256-C512-C512-C512-C512-C512 /
    CD512-CD1024-CD1024-C1024-C1024-C512-C256-C128.

    The dropout is the paper's noise ``z`` and stays ON in eval mode (``F.dropout(...,
    training=True)``): the paper applies dropout at test time, so two calls on the same input
    differ; ``dropout=0`` makes the generator deterministic. The latent code is empty
    (``latent_dim = 0``) and ``forward`` ignores it. A source of another size than ``resolution``
    is resized to it (bilinear).

    Shapes: ``z (N, 0)``, ``source (N, source_channels, h, w)`` -> ``(N, channels, resolution,
    resolution)`` in [-1, 1].

    Args:
        source_channels: channels of the input images (domain A).
        channels: channels of the output images (domain B).
        resolution: output side; must halve ``depth`` times with even sides.
        width: channels of the first encoder block ("ngf"; 64 in the paper).
        depth: encoder blocks (halvings); ``None``: as many as the resolution allows (28 -> 2, 32 -> 5,
            256 -> 8).
        dropout: dropout probability of the innermost decoder blocks (0.5 in the paper).
        l1_weight: λ of the implied L1 reconstruction term (100 in the paper; 0 leaves it out).

    Example:
        >>> g = UNetGenerator(source_channels=1, channels=3, resolution=28, width=8)
        >>> g(g.sample_latent(2), source=torch.rand(2, 1, 28, 28) * 2 - 1).shape
        torch.Size([2, 3, 28, 28])
    """

    condition_keys = ("source",)

    def __init__(
        self,
        source_channels: Annotated[int, AtLeast(1)] = 3,
        channels: Annotated[int, AtLeast(1)] = 3,
        resolution: Annotated[int, AtLeast(1)] = 256,
        width: Annotated[int, AtLeast(1)] = 64,
        depth: Annotated[int | None, AtLeast(1, nullable=True)] = None,
        dropout: Annotated[float, Probability] = 0.5,
        l1_weight: Annotated[float, NonNegative] = 100.0,
    ) -> None:
        super().__init__(0)
        self.condition_keys = ("source",)
        if not 0.0 <= dropout < 1.0:
            raise GanlabError(f"model.generator.dropout={dropout} must be in [0, 1)")
        self.source_channels = int(source_channels)
        self.channels = int(channels)
        self.resolution = int(resolution)
        self.depth = unet_depth(resolution, depth)
        self.l1_weight = float(l1_weight)
        chans = [width * min(2**i, 8) for i in range(self.depth)]
        inputs = [self.source_channels, *chans[:-1]]
        innermost = self.depth - 1
        self.encoder = nn.ModuleList(
            _encoder_block(c_in, c_out, norm=0 < i < innermost)
            for i, (c_in, c_out) in enumerate(zip(inputs, chans, strict=True))
        )
        # Decoder block k starts from encoder level j = depth-1-k (alone for k = 0, joined with the
        # previous decoder output after that) and ends at level j-1's size and channels.
        self.decoder = nn.ModuleList(
            _decoder_block(
                chans[-1] if k == 0 else 2 * chans[innermost - k],
                chans[innermost - k - 1],
                dropout if k < 3 else 0.0,
            )
            for k in range(innermost)
        )
        self.output = nn.Sequential(
            nn.ConvTranspose2d(2 * chans[0] if self.depth > 1 else chans[0], self.channels, 4, 2, 1), nn.Tanh()
        )
        init_normal(self)

    def forward(self, z: Tensor, source: Tensor | None = None) -> Tensor:
        if source is None:
            raise ValueError("UNetGenerator translates images: pass source=(N, source_channels, h, w)")
        x = source
        if x.shape[-2:] != (self.resolution, self.resolution):
            x = F.interpolate(x, size=(self.resolution, self.resolution), mode="bilinear", align_corners=False)
        skips = []
        for block in self.encoder:
            x = block(x)
            skips.append(x)
        x = skips.pop()
        for block in self.decoder:
            x = torch.cat([skips.pop(), block(x)], dim=1)
        return self.output(x)

    def implied_tricks(self) -> list[Trick]:
        """``[ReconstructionLoss(l1_weight, "l1")]``: the paper's λ‖y - G(x, z)‖₁; none when ``l1_weight`` is 0."""
        return [ReconstructionLoss(self.l1_weight, "l1")] if self.l1_weight else []


# -------------------------------------------------------------------------------------------- PatchGAN


def receptive_field(n_layers: int) -> int:
    """Side of the input patch one PatchGAN score sees: 16, 34, 70, 142, 286 for 1..5 stride-2 layers; 1 for 0.

    Going back from one output pixel, each 4x4 convolution of stride ``s`` maps a field ``r`` to
    ``s·(r - 1) + 4``: the final and the stride-1 convolution give 4 and 7, then each stride-2 layer
    ``2r + 2``. ``n_layers = 0`` is the paper's 1x1 PixelGAN.
    """
    if n_layers < 0:
        raise GanlabError(f"model.discriminator.n_layers={n_layers} must be at least 0")
    if n_layers == 0:
        return 1
    field = 1 + 3 + 3
    for _ in range(n_layers):
        field = 2 * field + 2
    return field


def _map_side(resolution: int, n_layers: int) -> int:
    """The output side by the convolution arithmetic ``(s + 2·pad - k) // stride + 1``; < 1 for too small an input."""
    if n_layers == 0:
        return int(resolution)
    side = int(resolution)
    for stride in [2] * n_layers + [1, 1]:
        side = (side + 2 - 4) // stride + 1
        if side < 1:
            return side
    return side


def patch_map_side(resolution: int, n_layers: int) -> int:
    """Side of the PatchGAN's score map on ``resolution x resolution`` inputs: 30 for the paper's 256 px, 3 layers.

    Each stride-2 layer maps ``s`` to ``s // 2``, the stride-1 layer and the final convolution
    each take 1 off (4x4 kernels, padding 1); the 1x1 PixelGAN (``n_layers = 0``) keeps the side.

    Raises:
        GanlabError: a resolution too small for ``n_layers`` (a map side below 1).
    """
    side = _map_side(resolution, n_layers)
    if side < 1:
        raise GanlabError(
            f"model.discriminator.n_layers={n_layers} is too deep for {resolution} px (the score map would be empty): "
            "lower model.discriminator.n_layers or leave it null"
        )
    return side


def default_n_layers(resolution: int) -> int:
    """The ``n_layers`` in 1..3 whose patch covers the fraction of the image closest to the paper's 70/256.

    28 and 32 px -> 1 (16x16 patches), 64 px -> 1, 128 px -> 2 (34x34), 256 px -> 3 (70x70). The
    1x1 PixelGAN (``n_layers = 0``) is never picked: it only judges colour, so it must be asked for.
    """
    fitting = [n for n in (1, 2, 3) if _map_side(resolution, n) >= 1]
    if not fitting:
        raise GanlabError(f"a PatchGAN needs at least 6 px, got {resolution}: raise dataset.resolution")
    return min(fitting, key=lambda n: abs(receptive_field(n) / resolution - PAPER_PATCH_RATIO))


_NORMS = {
    "batch": nn.BatchNorm2d,
    # Without affine parameters, as CycleGAN's reference implementation.
    "instance": nn.InstanceNorm2d,
    "none": lambda channels: nn.Identity(),
}


def _norm(kind: str, channels: int) -> nn.Module:
    if kind not in _NORMS:
        raise GanlabError(f"model.discriminator.norm={kind} is not an option: use one of {', '.join(_NORMS)}")
    return _NORMS[kind](channels)


class PatchGANDiscriminator(Discriminator):
    r"""pix2pix's N-layer PatchGAN: one logit per overlapping ``receptive_field(n_layers)`` patch.

    ::

        [source;] x -> C64 (Conv 4x4 s2, LeakyReLU 0.2, no norm)
                    -> [Conv 4x4 s2 -> norm -> LeakyReLU] x (n_layers - 1)     channels x2, at most width·8
                    -> Conv 4x4 s1 -> norm -> LeakyReLU                        φ(x), feature_dim channels
                    -> Conv 4x4 s1 to 1 channel                                head: logit map (N, 1, h, w)

    all with padding 1; ``n_layers = 3`` and ``width = 64`` is the paper's 70x70
    C64-C128-C256-C512 discriminator, with a 30x30 score map at 256 px. ``n_layers = 0`` is the
    paper's 1x1 PixelGAN: Conv 1x1 (width) -> LeakyReLU -> Conv 1x1 (2·width) -> norm -> LeakyReLU
    -> Conv 1x1 to 1, one score per pixel. The losses average over the map, so every patch is
    judged real or fake on its own.

    Conditional (``source_channels > 0``, pix2pix): D judges the pair, ``D(cat([source, x], 1))``;
    the source is resized (bilinear) to ``x``'s size where they differ. ``features`` is the last
    hidden *map*, ``(N, feature_dim, h + 1, w + 1)`` (``h, w`` for a PixelGAN), not a flat vector, so conditionings that
    take an inner product with flat features (projection) do not apply.

    Shapes: ``x (N, channels, H, W)`` (and ``source (N, source_channels, h, w)``) -> ``(N, 1,
    patch_map_side(H), patch_map_side(W))``.

    Args:
        channels: channels of the judged images.
        source_channels: channels of the conditioning input image; 0 for an unconditional PatchGAN.
        resolution: input side, for ``n_layers=None`` and the size check.
        width: channels of the first layer ("ndf"; 64 in the paper).
        n_layers: stride-2 layers (3 in the paper, 0 for a PixelGAN); ``None``: :func:`default_n_layers`.
        norm: ``batch`` (pix2pix), ``instance`` (CycleGAN) or ``none``.
        extra_input_channels: input planes after the image (one-hot labels of ``concat`` conditioning).

    Example:
        >>> d = PatchGANDiscriminator(channels=3, source_channels=1, resolution=256, width=8)
        >>> d(torch.zeros(2, 3, 256, 256), source=torch.zeros(2, 1, 256, 256)).shape
        torch.Size([2, 1, 30, 30])
    """

    def __init__(
        self,
        channels: Annotated[int, AtLeast(1)] = 3,
        source_channels: Annotated[int, AtLeast(1)] = 0,
        resolution: Annotated[int, AtLeast(1)] = 256,
        width: Annotated[int, AtLeast(1)] = 64,
        n_layers: Annotated[int | None, AtLeast(1, nullable=True)] = None,
        norm: Annotated[str, OneOf(*_NORMS)] = "batch",
        extra_input_channels: Annotated[int, AtLeast(0)] = 0,
    ) -> None:
        super().__init__()
        self.channels = int(channels)
        self.source_channels = int(source_channels)
        self.extra_input_channels = int(extra_input_channels)
        if self.source_channels:
            self.condition_keys = ("source",)
        self.n_layers = default_n_layers(resolution) if n_layers is None else int(n_layers)
        receptive_field(self.n_layers)
        patch_map_side(resolution, self.n_layers)
        inputs = self.source_channels + self.channels + self.extra_input_channels
        # A norm that subtracts the mean cancels a bias before it.
        bias = norm == "none"
        if self.n_layers == 0:
            self.feature_dim = 2 * width
            layers: list[nn.Module] = [
                nn.Conv2d(inputs, width, 1),
                nn.LeakyReLU(0.2, True),
                nn.Conv2d(width, self.feature_dim, 1, bias=bias),
                _norm(norm, self.feature_dim),
                nn.LeakyReLU(0.2, True),
            ]
            head = nn.Conv2d(self.feature_dim, 1, 1)
        else:
            chans = [width * min(2**i, 8) for i in range(self.n_layers + 1)]
            layers = [nn.Conv2d(inputs, chans[0], 4, 2, 1), nn.LeakyReLU(0.2, True)]
            for i in range(1, self.n_layers + 1):
                stride = 2 if i < self.n_layers else 1
                layers += [
                    nn.Conv2d(chans[i - 1], chans[i], 4, stride, 1, bias=bias),
                    _norm(norm, chans[i]),
                    nn.LeakyReLU(0.2, True),
                ]
            self.feature_dim = chans[-1]
            head = nn.Conv2d(self.feature_dim, 1, 4, 1, 1)
        # registered in forward order: tricks find D's first and last weight layers by it
        self.body = nn.Sequential(*layers)
        self.head = head
        init_normal(self)

    def _joined(self, x: Tensor, source: Tensor | None) -> Tensor:
        if not self.source_channels:
            return x
        if source is None:
            raise ValueError("this PatchGAN is conditional: pass source=(N, source_channels, h, w)")
        if source.shape[-2:] != x.shape[-2:]:
            source = F.interpolate(source, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return torch.cat([source, x], dim=1)

    def features(self, x: Tensor, source: Tensor | None = None) -> Tensor:
        return self.body(self._joined(x, source))

    def forward(self, x: Tensor, source: Tensor | None = None) -> Tensor:
        return self.head(self.features(x, source))
