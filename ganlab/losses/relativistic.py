"""Relativistic average GANs (Jolicoeur-Martineau 2019)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import torch.nn.functional as F
from torch import Tensor

from ganlab.errors import GanlabError
from ganlab.losses.base import GANLoss, as_float32
from ganlab.schema import OneOf

# For each variant: the penalty on a relativistic logit that should be "more real" (target side +1)
# and on one that should be "more fake" (target side -1); Jolicoeur-Martineau 2019, section 4.3.
RELATIVISTIC_VARIANTS: dict[str, tuple[Callable[[Tensor], Tensor], Callable[[Tensor], Tensor]]] = {
    "nsgan": (lambda x: F.softplus(-x), F.softplus),  # -log sigmoid(x), -log(1 - sigmoid(x))
    "lsgan": (lambda x: (x - 1.0) ** 2, lambda x: (x + 1.0) ** 2),
    "hinge": (lambda x: F.relu(1.0 - x), lambda x: F.relu(1.0 + x)),
}


class RelativisticAverageLoss(GANLoss):
    r"""RaGAN: D judges whether a real sample is more realistic than the average fake, and vice versa.

    With raw critic output :math:`C` and the relativistic average logits

    .. math::
        \tilde D(x_r) = C(x_r) - \mathbb{E}_{x_f}[C(x_f)], \qquad
        \tilde D(x_f) = C(x_f) - \mathbb{E}_{x_r}[C(x_r)],

    and a variant's pair of penalties :math:`(\phi_+, \phi_-)`, the two players minimise

    .. math::
        L_D = \mathbb{E}_{x_r}[\phi_+(\tilde D(x_r))] + \mathbb{E}_{x_f}[\phi_-(\tilde D(x_f))],
        \qquad
        L_G = \mathbb{E}_{x_f}[\phi_+(\tilde D(x_f))] + \mathbb{E}_{x_r}[\phi_-(\tilde D(x_r))]

    - ``nsgan`` (RaSGAN): :math:`\phi_+(x) = -\log\sigma(x) = \mathrm{softplus}(-x)`,
      :math:`\phi_-(x) = -\log(1-\sigma(x)) = \mathrm{softplus}(x)`
    - ``lsgan`` (RaLSGAN): :math:`\phi_+(x) = (x-1)^2`, :math:`\phi_-(x) = (x+1)^2`
    - ``hinge`` (RaHingeGAN): :math:`\phi_+(x) = \max(0, 1-x)`, :math:`\phi_-(x) = \max(0, 1+x)`

    Unlike the other losses the generator's loss involves real samples, so the generator step also
    computes :math:`C(x_r)` (:attr:`generator_needs_real_logits`). Batch means stand in for the
    expectations inside :math:`\tilde D`, one per score where D gives several per sample.

    Args:
        variant: ``nsgan``, ``lsgan`` or ``hinge``.

    Example:
        >>> loss = RelativisticAverageLoss("nsgan")
        >>> d = loss.discriminator_loss(torch.zeros(4, 1), torch.zeros(4, 1))  # 2 log 2
    """

    generator_needs_real_logits = True

    def __init__(self, variant: Annotated[str, OneOf(*RELATIVISTIC_VARIANTS)] = "nsgan") -> None:
        if variant not in RELATIVISTIC_VARIANTS:
            raise GanlabError(
                f"unknown relativistic variant {variant!r}: use one of {', '.join(RELATIVISTIC_VARIANTS)}"
            )
        self.variant = variant
        self._more_real, self._more_fake = RELATIVISTIC_VARIANTS[variant]

    def _game(self, winner_logits: Tensor, loser_logits: Tensor) -> Tensor:
        """The loss of the player who wants ``winner`` judged more real than ``loser``."""
        winner_logits, loser_logits = as_float32(winner_logits, loser_logits)
        winner_relative = winner_logits - loser_logits.mean(dim=0)
        loser_relative = loser_logits - winner_logits.mean(dim=0)
        return self._more_real(winner_relative).mean() + self._more_fake(loser_relative).mean()

    def discriminator_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return self._game(real_logits, fake_logits)

    def generator_loss(self, fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        if real_logits is None:
            raise ValueError("the relativistic generator loss needs D's outputs on real samples")
        return self._game(fake_logits, real_logits)
