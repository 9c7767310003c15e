"""What the training step needs from any generator and discriminator."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

if TYPE_CHECKING:
    from ganlab.tricks.base import Trick


class Generator(nn.Module):
    """A generator maps latent codes ``z`` of shape ``(N, latent_dim)`` to samples.

    ``condition_keys`` names the batch entries the network consumes as keyword arguments in
    training (LAPGAN's per-level generators also take the real batch, ``"real"``, for its coarser
    images). A generator built with ``num_classes > 0`` is class-conditional: it takes ``label``
    (``(N,)`` class indices) and each architecture uses it its paper's way (joined to z,
    conditional batch norm, ...). Unconditional generators consume nothing, so a labelled dataset
    still trains them.
    """

    condition_keys: tuple[str, ...] = ()
    adversarial_weight: float = 1.0
    """Factor on G's adversarial loss (SRGAN's 1e-3 next to its content loss); 0 trains G on the
    terms its architecture brings alone (SRResNet pre-training), and D is then not trained."""

    def __init__(self, latent_dim: int, num_classes: int = 0) -> None:
        super().__init__()
        self.latent_dim = int(latent_dim)
        self.num_classes = int(num_classes)
        if self.num_classes > 0:
            self.condition_keys = ("label",)
        # The truncation trick at sampling time (``ganlab eval truncation=0.5``); None while training.
        self.truncation: float | None = None

    def sample_latent(self, num: int, device: torch.device | str = "cpu", rng: torch.Generator | None = None) -> Tensor:
        """Latent codes, shape ``(num, latent_dim)``: standard normal, or truncated where :attr:`truncation` is set.

        Truncation (Brock et al. 2019): entries with ``|z_i| > truncation`` are redrawn until they
        fall inside, trading diversity for fidelity. Architectures that truncate elsewhere
        (StyleGAN's ψ in w space) override this.
        """
        z = torch.randn(num, self.latent_dim, device=device, generator=rng)
        if self.truncation is not None:
            if self.truncation <= 0:
                raise ValueError(f"truncation={self.truncation} must be positive (smaller: closer to the mode)")
            outside = z.abs() > self.truncation
            while outside.any():
                z[outside] = torch.randn(int(outside.sum()), device=device, generator=rng)
                outside = z.abs() > self.truncation
        return z

    def grid_condition(self, num: int) -> tuple[int, dict[str, Tensor], int | None]:
        """How a picture of at most ``num`` samples is laid out: ``(samples, condition, samples per row)``.

        Unconditional: all ``num``, no condition, a square-ish grid. Class-conditional: one row per
        class, ``num // num_classes`` samples each (at least one), so rows compare classes and
        columns compare latent codes.
        """
        if not self.num_classes:
            return num, {}, None
        per_class = max(1, num // self.num_classes)
        labels = torch.arange(self.num_classes).repeat_interleave(per_class)
        return len(labels), {"label": labels}, per_class

    def implied_tricks(self) -> list[Trick]:
        """Loss terms the architecture brings with it (BigGAN's orthogonal regularisation): added to the tricks."""
        return []

    @property
    def translates(self) -> bool:
        """Whether the generator maps input images (the batch's ``"source"``) rather than noise alone."""
        return "source" in self.condition_keys

    def translation_columns(self, batch: Mapping[str, Tensor]) -> list[Tensor]:
        """The columns of a translation picture for the examples in ``batch``: input | output | target.

        Called without gradients on the network in eval mode (the EMA copy, where there is one).
        """
        source = batch["source"]
        output = self(self.sample_latent(len(source), device=source.device), source=source)
        return [source, output, batch["real"]]

    def discriminator_view(self, batch: Mapping[str, Tensor]) -> Tensor:
        """The real samples D compares with this generator's training output: the batch's ``"real"``.

        A generator whose training output is not a plain sample (LAPGAN's stack of pyramid levels,
        CycleGAN's pair of translations) returns the batch in the same form.
        """
        return batch["real"]

    def default_condition(self, num: int, device: torch.device | str = "cpu") -> dict[str, Tensor]:
        """Labels for ``num`` samples drawn without a batch: classes in turn, ``i mod num_classes``.

        Evaluation therefore scores every class equally often and deterministically; an
        unconditional generator needs nothing.
        """
        if not self.num_classes:
            return {}
        return {"label": torch.arange(num, device=device) % self.num_classes}


class Discriminator(nn.Module):
    """A discriminator maps samples to one raw score (logit or critic value) each, shape ``(N, 1)``.

    Architectures define :meth:`features`, ``φ(x)`` of shape ``(N, feature_dim)``, and ``head``, the
    layer from ``φ(x)`` to the score: ``D(x) = head(φ(x))``. Class conditioning attaches there
    (a projection term, an auxiliary classifier; :mod:`ganlab.models.conditioning`). Built with
    ``extra_input_channels = k``, a discriminator takes ``k`` more input channels (or features,
    for flat data): the one-hot label planes of input conditioning.
    """

    condition_keys: tuple[str, ...] = ()
    feature_dim: int
    head: nn.Module
    single_stream: bool = True
    """The input enters through one first weight layer and the score leaves through one last one:
    the tricks that rebuild those layers (packing, minibatch discrimination, ...) rely on it."""

    def features(self, x: Tensor) -> Tensor:
        """``φ(x)``: ``(N, *sample_shape) -> (N, feature_dim)``."""
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))

    def implied_tricks(self) -> list[Trick]:
        """Loss terms the architecture brings with it (ACGAN's auxiliary classification loss)."""
        return []


def stride2_layers(resolution: int) -> tuple[int, int]:
    """Split ``resolution`` into ``base * 2**k`` with the most stride-2 layers ``k`` and ``base >= 4``.

    28 -> (7, 2), 32 -> (4, 3), 64 -> (4, 4). Returns ``(base, k)``.

    Raises:
        ValueError: if the resolution needs a base feature map larger than 8 (e.g. 36).
    """
    base, k = int(resolution), 0
    while base % 2 == 0 and base // 2 >= 4:
        base, k = base // 2, k + 1
    if k == 0 or base > 8:
        raise ValueError(
            f"cannot build resolution {resolution}: use a size base*2^k with base in 4..8, "
            "e.g. 28, 32 or 64 (set dataset.resolution)"
        )
    return base, k


def init_normal(module: nn.Module, std: float = 0.02) -> None:
    """DCGAN initialisation (Radford et al. 2016): weights ~ N(0, std); norm scales ~ N(1, std)."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(layer.weight, 0.0, std)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif (
            isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm)) and layer.weight is not None
        ):
            nn.init.normal_(layer.weight, 1.0, std)
            nn.init.zeros_(layer.bias)


def with_onehot(z: Tensor, label: Tensor | None, num_classes: int) -> Tensor:
    """``[z; onehot(label)]`` for a class-conditional generator (``num_classes > 0``), else ``z`` itself."""
    if not num_classes:
        return z
    if label is None:
        raise ValueError("this generator is class-conditional: pass label=(N,) class indices")
    return torch.cat([z, torch.nn.functional.one_hot(label, num_classes).to(z.dtype)], dim=1)
