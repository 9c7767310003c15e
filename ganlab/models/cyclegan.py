r"""CycleGAN (Zhu et al. 2017): unpaired image-to-image translation by two GANs tied by cycle consistency.

Two translators, :math:`G: A \to B` and :math:`F: B \to A`, and two discriminators, :math:`D_B`
(real B vs :math:`G(a)`) and :math:`D_A` (real A vs :math:`F(b)`), play

.. math::
    \mathcal L = \mathcal L_{GAN}(G, D_B) + \mathcal L_{GAN}(F, D_A)
               + \lambda\, \mathcal L_{cyc}(G, F) \;[+\; 0.5\lambda\, \mathcal L_{identity}(G, F)]

(paper eq. 3, λ = 10, least-squares adversarial losses). ganlab runs both games in one step: the
generator's training output is ``[G(a); F(b)]`` along the channels, the real batch as D sees it
(:meth:`CycleGANGenerator.discriminator_view`) is ``[b; a]``, and the discriminator scores each
half with its own PatchGAN, so every loss averages over both games. That average is half the
paper's sum :math:`\mathcal L_{GAN}(G, D_B) + \mathcal L_{GAN}(F, D_A)`, so the cycle and identity
terms (:class:`~ganlab.tricks.cycle.CycleConsistency`, which come with the generator) are halved
too: ``cycle_weight`` is the paper's λ, with the paper's balance (Adam's steps do not depend on the
overall scale). The paper's history of 50 generated images for D's step (``pool_size``) is the
:class:`~ganlab.tricks.replay_buffer.ReplayBuffer`, also implied; listing ``replay_buffer`` in
``tricks=`` replaces it. Batches hold ``"source"``
(domain A) and ``"real"`` (domain B) images of the same size, unpaired; their channels may differ.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated

import torch
from torch import Tensor, nn

from ganlab.errors import GanlabError
from ganlab.models.base import Discriminator, Generator, init_normal
from ganlab.models.pix2pix import PatchGANDiscriminator
from ganlab.schema import AtLeast, NonNegative
from ganlab.tricks.base import Trick
from ganlab.tricks.cycle import CycleConsistency
from ganlab.tricks.replay_buffer import ReplayBuffer

DIRECTIONS = ("AtoB", "BtoA")


class ResidualBlock(nn.Module):
    """``x + [ReflectionPad 1 -> Conv 3x3 -> IN -> ReLU -> ReflectionPad 1 -> Conv 3x3 -> IN](x)``, same shape."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, bias=False),
            nn.InstanceNorm2d(channels),
            nn.ReLU(True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, bias=False),
            nn.InstanceNorm2d(channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class ResnetTranslator(nn.Module):
    r"""The residual image transformation network of Johnson et al. 2016, as CycleGAN uses it.

    ::

        c7s1-w -> [d(2^i·w)] i = 1..n_downsampling -> R(2^n·w) x n_blocks -> [u(2^i·w)] i = n-1..0 -> c7s1-out, tanh

    with ``c7s1-k`` ReflectionPad 3 -> Conv 7x7 (k) -> InstanceNorm -> ReLU (the last without norm,
    with tanh), ``dk`` Conv 3x3 stride 2 -> IN -> ReLU, ``Rk`` a :class:`ResidualBlock` and ``uk``
    ConvTranspose 3x3 stride 2 -> IN -> ReLU. The paper uses 6 blocks at 128 px and 9 at 256 px.
    Instance norms have no affine parameters and no running statistics, as the reference
    implementation; convolutions before them have no bias (the norm would subtract it).

    Shapes: ``(N, in_channels, H, W) -> (N, out_channels, H, W)`` in [-1, 1], for ``H`` and ``W``
    divisible by ``2^n_downsampling``.

    Args:
        in_channels: channels of the input domain.
        out_channels: channels of the output domain.
        width: channels of the first layer (64 in the paper).
        n_downsampling: stride-2 convolutions (and as many transposed ones).
        n_blocks: residual blocks at the lowest resolution.

    Example:
        >>> net = ResnetTranslator(3, 1, width=8, n_blocks=2)
        >>> net(torch.zeros(2, 3, 32, 32)).shape
        torch.Size([2, 1, 32, 32])
    """

    def __init__(
        self, in_channels: int, out_channels: int, width: int = 64, n_downsampling: int = 2, n_blocks: int = 6
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(in_channels, width, 7, bias=False),
            nn.InstanceNorm2d(width),
            nn.ReLU(True),
        ]
        for i in range(n_downsampling):
            c = width * 2**i
            layers += [nn.Conv2d(c, 2 * c, 3, 2, 1, bias=False), nn.InstanceNorm2d(2 * c), nn.ReLU(True)]
        layers += [ResidualBlock(width * 2**n_downsampling) for _ in range(n_blocks)]
        for i in reversed(range(n_downsampling)):
            c = width * 2**i
            layers += [
                nn.ConvTranspose2d(2 * c, c, 3, 2, 1, output_padding=1, bias=False),
                nn.InstanceNorm2d(c),
                nn.ReLU(True),
            ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(width, out_channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class CycleGANGenerator(Generator):
    r"""The translator pair :math:`G` = ``a_to_b`` and :math:`F` = ``b_to_a`` (:class:`ResnetTranslator`).

    - Training, ``G(z, source=a, real=b)``: ``cat([a_to_b(a), b_to_a(b)], 1)``, fake B then fake A,
      shape ``(N, channels + source_channels, H, W)``, matching :meth:`discriminator_view`.
    - Translation, ``G(z, source=x)``: ``a_to_b(x)`` when :attr:`direction` is ``"AtoB"``,
      ``b_to_a(x)`` when ``"BtoA"``.

    The latent code is empty (``latent_dim = 0``; CycleGAN is deterministic) and ignored. Both
    domains have the side ``resolution``, which must be divisible by 4 (two stride-2 layers).

    Args:
        source_channels: channels of domain A (the batch's ``"source"``).
        channels: channels of domain B (the batch's ``"real"``).
        resolution: image side of both domains.
        width: channels of each translator's first layer.
        n_blocks: residual blocks per translator (6 at 128 px, 9 at 256 px in the paper).
        cycle_weight: λ of the cycle-consistency loss (10 in the paper; 0 leaves the implied term out).
        identity_weight: weight of the identity loss relative to λ (0.5 in the paper; 0: none).
        direction: ``"AtoB"`` or ``"BtoA"``, the translation ``G(z, source=x)`` performs.
        pool_size: generated images kept for D's step, each replayed with probability 0.5 (50 in the
            paper; 0: none).

    Example:
        >>> g = CycleGANGenerator(source_channels=1, channels=3, resolution=28, width=8, n_blocks=2)
        >>> a, b = torch.rand(2, 1, 28, 28), torch.rand(2, 3, 28, 28)
        >>> g(g.sample_latent(2), source=a, real=b).shape
        torch.Size([2, 4, 28, 28])
    """

    def __init__(
        self,
        source_channels: Annotated[int, AtLeast(1)] = 3,
        channels: Annotated[int, AtLeast(1)] = 3,
        resolution: Annotated[int, AtLeast(1)] = 256,
        width: Annotated[int, AtLeast(1)] = 64,
        n_blocks: Annotated[int, AtLeast(1)] = 6,
        cycle_weight: Annotated[float, NonNegative] = 10.0,
        identity_weight: Annotated[float, NonNegative] = 0.5,
        direction: str = "AtoB",
        pool_size: Annotated[int, AtLeast(0)] = 50,
    ) -> None:
        super().__init__(0)
        self.condition_keys = ("source", "real")
        if resolution % 4:
            raise GanlabError(
                f"CycleGAN's translators halve the side twice: dataset.resolution={resolution} must be divisible by 4"
            )
        self.source_channels = int(source_channels)
        self.channels = int(channels)
        self.resolution = int(resolution)
        self.cycle_weight = float(cycle_weight)
        self.identity_weight = float(identity_weight)
        self.pool_size = int(pool_size)
        self.direction = direction
        self.a_to_b = ResnetTranslator(self.source_channels, self.channels, width, n_blocks=n_blocks)
        self.b_to_a = ResnetTranslator(self.channels, self.source_channels, width, n_blocks=n_blocks)
        init_normal(self)

    @property
    def direction(self) -> str:
        """The translation of ``G(z, source=x)``: ``"AtoB"`` (``a_to_b``) or ``"BtoA"`` (``b_to_a``)."""
        return self._direction

    @direction.setter
    def direction(self, value: str) -> None:
        if value not in DIRECTIONS:
            raise GanlabError(f"CycleGAN direction={value!r} is not an option: use one of {', '.join(DIRECTIONS)}")
        self._direction = value

    def forward(self, z: Tensor, source: Tensor | None = None, real: Tensor | None = None) -> Tensor:
        if source is None:
            raise ValueError("CycleGANGenerator translates images: pass source= (and real= in training)")
        if real is not None:
            return torch.cat([self.a_to_b(source), self.b_to_a(real)], dim=1)
        return self.a_to_b(source) if self.direction == "AtoB" else self.b_to_a(source)

    def discriminator_view(self, batch: Mapping[str, Tensor]) -> Tensor:
        """``cat([b, a], 1)``: the real B images, then the real A images, like the training output."""
        return torch.cat([batch["real"], batch["source"]], dim=1)

    def implied_tricks(self) -> list[Trick]:
        """The cycle and identity terms at half ``cycle_weight`` (see the module), and the history pool."""
        tricks: list[Trick] = []
        if self.cycle_weight:
            tricks.append(CycleConsistency(self.cycle_weight / 2, self.identity_weight))
        if self.pool_size:
            tricks.append(ReplayBuffer(self.pool_size, replay_probability=0.5))
        return tricks

    def translation_columns(self, batch: Mapping[str, Tensor]) -> list[Tensor]:
        """Rows A -> B -> A, then rows B -> A -> B: input | translation | translated back."""
        a, b = batch["source"], batch["real"]
        fake_b, fake_a = self.a_to_b(a), self.b_to_a(b)
        columns = [(a, b), (fake_b, fake_a), (self.b_to_a(fake_b), self.a_to_b(fake_a))]
        width = max(self.channels, self.source_channels)  # grey rows next to colour rows are shown in colour
        return [torch.cat([x.expand(-1, width, -1, -1) for x in pair]) for pair in columns]


class DomainScores(nn.Module):
    """ψ of the discriminator pair: each PatchGAN's head on its own share of the joined feature maps.

    ``(N, Σ c_k, h, w) -> (N, 2, h', w')``, the channels split into the sizes ``c_k``.
    """

    def __init__(self, heads: Sequence[nn.Module], sizes: Sequence[int]) -> None:
        super().__init__()
        self.heads = nn.ModuleList(heads)
        self.sizes = [int(size) for size in sizes]

    def forward(self, features: Tensor) -> Tensor:
        parts = features.split(self.sizes, dim=1)
        return torch.cat([head(part) for head, part in zip(self.heads, parts, strict=True)], dim=1)


class CycleGANDiscriminator(Discriminator):
    r"""The pair :math:`D(x) = (D_B(x_B), D_A(x_A))`: two PatchGANs with instance norm, ``(N, 2, h, w)``.

    ::

        x = [x_B; x_A] --split channels--> d_b(x_B) : (N, 1, h, w) -+
                                           d_a(x_A) : (N, 1, h, w) -+-> cat -> (N, 2, h, w)

    :math:`D_B` (``d_b``) judges the first ``channels`` input channels (domain B), :math:`D_A`
    (``d_a``) the last ``source_channels`` (domain A); each is an unconditional
    :class:`~ganlab.models.pix2pix.PatchGANDiscriminator` with ``norm="instance"`` (the paper's
    70x70 PatchGAN at 256 px). :math:`\varphi(x)` joins both hidden maps along the channels and the
    head (:class:`DomainScores`) applies each PatchGAN's head to its own part. Tricks that
    rebuild D's first or last layer do not apply (``single_stream = False``). With
    ``extra_input_channels`` (``concat`` conditioning) the extra planes go to both.

    Args:
        source_channels: channels of domain A.
        channels: channels of domain B.
        resolution: image side of both domains.
        width: channels of each PatchGAN's first layer.
        n_layers: stride-2 layers of each PatchGAN; ``None``: :func:`~ganlab.models.pix2pix.default_n_layers`.
        extra_input_channels: input planes after the two domains' images (one-hot labels).

    Example:
        >>> d = CycleGANDiscriminator(source_channels=1, channels=3, resolution=28, width=8)
        >>> d(torch.zeros(2, 4, 28, 28)).shape
        torch.Size([2, 2, 12, 12])
    """

    single_stream = False

    def __init__(
        self,
        source_channels: Annotated[int, AtLeast(1)] = 3,
        channels: Annotated[int, AtLeast(1)] = 3,
        resolution: Annotated[int, AtLeast(1)] = 256,
        width: Annotated[int, AtLeast(1)] = 64,
        n_layers: Annotated[int | None, AtLeast(1, nullable=True)] = None,
        extra_input_channels: Annotated[int, AtLeast(0)] = 0,
    ) -> None:
        super().__init__()
        self.source_channels = int(source_channels)
        self.channels = int(channels)
        self.extra_input_channels = int(extra_input_channels)
        common = {"resolution": resolution, "width": width, "n_layers": n_layers, "norm": "instance"}
        common["extra_input_channels"] = self.extra_input_channels
        self.d_b = PatchGANDiscriminator(self.channels, **common)
        self.d_a = PatchGANDiscriminator(self.source_channels, **common)
        self.feature_dim = self.d_b.feature_dim + self.d_a.feature_dim
        self.head = DomainScores([self.d_b.head, self.d_a.head], [self.d_b.feature_dim, self.d_a.feature_dim])

    def features(self, x: Tensor) -> Tensor:
        x_b, x_a, extra = x.split([self.channels, self.source_channels, self.extra_input_channels], dim=1)
        return torch.cat(
            [self.d_b.features(torch.cat([x_b, extra], 1)), self.d_a.features(torch.cat([x_a, extra], 1))], 1
        )
