"""Tricks on the discriminator's labels: one-sided label smoothing and noisy (flipped) labels."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import torch
from torch import Tensor

from ganlab.schema import Probability
from ganlab.tricks.base import Trick

if TYPE_CHECKING:
    from ganlab.module import GANModule


class LabelSmoothing(Trick):
    r"""Label smoothing (Salimans et al. 2016, section 3.4).

    D's target for real samples becomes :math:`1 - \varepsilon` instead of 1, so D stops being rewarded
    for ever more confident logits on real data. One-sided by default: smoothing the fake target to
    :math:`\varepsilon` as well (``two_sided=True``) moves the optimal discriminator to
    :math:`D^*(x) = ((1-\varepsilon) p(x) + \varepsilon q(x)) / (p(x) + q(x))`, which keeps rewarding
    fakes where there is no data, the reason the paper smooths the real side only.

    Needs a loss with labels (``gan``, ``nsgan``, ``lsgan``); for LSGAN a label t means the target
    :math:`a + t(b - a)`.

    Args:
        smoothing: :math:`\varepsilon`, 0.1 in common use.
        two_sided: also raise the fake target from 0 to :math:`\varepsilon`.
    """

    def __init__(self, smoothing: Annotated[float, Probability] = 0.1, two_sided: bool = False) -> None:
        self.smoothing = float(smoothing)
        self.two_sided = bool(two_sided)

    def discriminator_labels(
        self, real_labels: Tensor, fake_labels: Tensor, module: GANModule
    ) -> tuple[Tensor, Tensor]:
        real_labels = real_labels * (1.0 - self.smoothing)
        if self.two_sided:
            fake_labels = fake_labels + self.smoothing * (1.0 - fake_labels)
        return real_labels, fake_labels


class NoisyLabels(Trick):
    """Noisy labels: each of D's labels is flipped (real ↔ fake) with probability ``flip_probability``.

    A regulariser from GAN practice (Salimans et al. 2016 discuss label noise with smoothing; the
    "ganhacks" list popularised flipping): D cannot become fully confident when some of its targets
    are wrong. Flips are drawn from torch's global generator, so a seeded run repeats them.

    Args:
        flip_probability: chance that each label is flipped, e.g. 0.05.
    """

    def __init__(self, flip_probability: Annotated[float, Probability] = 0.05) -> None:
        self.flip_probability = float(flip_probability)

    def discriminator_labels(
        self, real_labels: Tensor, fake_labels: Tensor, module: GANModule
    ) -> tuple[Tensor, Tensor]:
        return self._flip(real_labels), self._flip(fake_labels)

    def _flip(self, labels: Tensor) -> Tensor:
        flipped = torch.rand(labels.shape, device=labels.device) < self.flip_probability
        return torch.where(flipped, 1.0 - labels, labels)
