"""f-GAN: variational divergence minimisation (Nowozin et al. 2016)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

import torch
import torch.nn.functional as F
from torch import Tensor

from ganlab.errors import GanlabError
from ganlab.losses.base import GANLoss, as_float32
from ganlab.schema import OneOf


@dataclass(frozen=True)
class Divergence:
    r"""One row of Nowozin et al. (2016), Tables 1, 2 and 6.

    Attributes:
        generator_fn: :math:`f(u)`, with :math:`D_f(P\|Q) = \int q(x) f(p(x)/q(x))\,dx`.
        activation: output activation :math:`g_f(v)`, mapping the critic's raw output into
            the domain of :math:`f^*`.
        conjugate_of_activation: :math:`f^*(g_f(v))`, written out so that it is stable for any ``v``.
    """

    generator_fn: Callable[[Tensor], Tensor]
    activation: Callable[[Tensor], Tensor]
    conjugate_of_activation: Callable[[Tensor], Tensor]


LOG2 = math.log(2.0)

DIVERGENCES: dict[str, Divergence] = {
    # KL: f(u) = u log u, g_f(v) = v, f*(t) = exp(t - 1)
    "kl": Divergence(lambda u: u * torch.log(u), lambda v: v, lambda v: torch.exp(v - 1.0)),
    # Reverse KL: f(u) = -log u, g_f(v) = -exp(-v), f*(t) = -1 - log(-t)  =>  f*(g_f(v)) = v - 1
    "reverse_kl": Divergence(lambda u: -torch.log(u), lambda v: -torch.exp(-v), lambda v: v - 1.0),
    # Pearson chi^2: f(u) = (u - 1)^2, g_f(v) = v, f*(t) = t^2/4 + t
    "pearson": Divergence(lambda u: (u - 1.0) ** 2, lambda v: v, lambda v: 0.25 * v**2 + v),
    # Squared Hellinger: f(u) = (sqrt(u) - 1)^2, g_f(v) = 1 - exp(-v), f*(t) = t / (1 - t)  =>  exp(v) - 1
    "squared_hellinger": Divergence(
        lambda u: (torch.sqrt(u) - 1.0) ** 2, lambda v: 1.0 - torch.exp(-v), lambda v: torch.expm1(v)
    ),
    # Jensen-Shannon: f(u) = -(u + 1) log((1 + u)/2) + u log u, g_f(v) = log 2 - log(1 + exp(-v)),
    # f*(t) = -log(2 - exp(t))  =>  softplus(v) - log 2
    "jensen_shannon": Divergence(
        lambda u: -(u + 1.0) * torch.log((1.0 + u) / 2.0) + u * torch.log(u),
        lambda v: LOG2 - F.softplus(-v),
        lambda v: F.softplus(v) - LOG2,
    ),
    # GAN: f(u) = u log u - (u + 1) log(u + 1), g_f(v) = -log(1 + exp(-v)), f*(t) = -log(1 - exp(t))
    #  =>  softplus(v)
    "gan": Divergence(
        lambda u: u * torch.log(u) - (u + 1.0) * torch.log(u + 1.0),
        lambda v: -F.softplus(-v),
        lambda v: F.softplus(v),
    ),
}


class FDivergenceLoss(GANLoss):
    r"""f-GAN (Nowozin et al. 2016): the variational lower bound of an f-divergence as a game.

    With critic output :math:`V(x)`, output activation :math:`g_f` and Fenchel conjugate :math:`f^*`:

    .. math::
        F(V) = \mathbb{E}_{x\sim P}[g_f(V(x))] - \mathbb{E}_{x\sim Q}[f^*(g_f(V(x)))]
        \;\le\; D_f(P\,\|\,Q)

    The discriminator maximises :math:`F` (``L_D = -F``). The generator (Q) minimises it: the
    saddle-point loss is :math:`L_G = -\mathbb{E}_Q[f^*(g_f(V(G(z))))]`; the paper's alternative
    ("heuristic", section 3.2) is :math:`L_G = -\mathbb{E}_Q[g_f(V(G(z)))]`, which for ``gan``
    is the non-saturating loss.

    Args:
        divergence: ``kl``, ``reverse_kl``, ``pearson``, ``squared_hellinger``,
            ``jensen_shannon`` or ``gan`` (Nowozin et al., Table 2).
        generator_update: ``saddle`` or ``heuristic``.
    """

    def __init__(
        self,
        divergence: Annotated[str, OneOf(*DIVERGENCES)] = "jensen_shannon",
        generator_update: Annotated[str, OneOf("saddle", "heuristic")] = "heuristic",
    ) -> None:
        if divergence not in DIVERGENCES:
            raise GanlabError(f"unknown f-divergence {divergence!r}: use one of {', '.join(DIVERGENCES)}")
        if generator_update not in ("saddle", "heuristic"):
            raise GanlabError(f"unknown generator_update {generator_update!r}: use saddle or heuristic")
        self.divergence = divergence
        self.generator_update = generator_update
        self._f = DIVERGENCES[divergence]

    def variational_bound(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        """:math:`F(V)`, the estimate of :math:`D_f(P\\|Q)` the critic pushes up."""
        real_logits, fake_logits = as_float32(real_logits, fake_logits)
        return self._f.activation(real_logits).mean() - self._f.conjugate_of_activation(fake_logits).mean()

    def discriminator_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return -self.variational_bound(real_logits, fake_logits)

    def generator_loss(self, fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        (fake_logits,) = as_float32(fake_logits)
        if self.generator_update == "saddle":
            return -self._f.conjugate_of_activation(fake_logits).mean()
        return -self._f.activation(fake_logits).mean()
