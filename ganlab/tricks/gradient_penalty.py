"""Gradient penalties on the discriminator that work with any loss: R1, R2 and DRAGAN."""

from __future__ import annotations

from typing import Annotated

import torch
from torch import Tensor

from ganlab.errors import GanlabError
from ganlab.losses.penalties import critic_gradient_norms
from ganlab.schema import NonNegative, OneOf, Positive
from ganlab.tricks.base import StepContext, Trick


class GradientPenalty(Trick):
    r"""A gradient penalty added to D's loss, at real, fake or perturbed real points.

    - ``r1`` (Mescheder et al. 2018, eq. 9): :math:`\frac{\gamma}{2}\,\mathbb{E}_{x\sim P}\lVert\nabla D(x)\rVert^2`,
      zero-centred on the data: it makes the game locally convergent at the equilibrium.
    - ``r2`` (same paper): :math:`\frac{\gamma}{2}\,\mathbb{E}_{x\sim Q}\lVert\nabla D(x)\rVert^2`, on the fakes.
    - ``dragan`` (Kodali et al. 2017): :math:`\lambda\,\mathbb{E}(\lVert\nabla D(\hat x)\rVert - 1)^2` at
      :math:`\hat x = x + (1-\alpha)\,c\,\mathrm{std}(x)\,u`, :math:`\alpha \sim U[0,1]` per sample,
      :math:`u \sim U[0,1]^d`: the WGAN-GP penalty moved to a neighbourhood of the data, where the
      paper locates the sharp gradients of mode collapse.

    The points are what D sees in its step (after instance noise, say). Gradient norms come from
    :func:`~ganlab.losses.penalties.critic_gradient_norms`, as for ``loss=wgan_gp``.

    Args:
        kind: ``r1``, ``r2`` or ``dragan``.
        weight: :math:`\gamma` for R1/R2 (10 is common for images, 0.1 to 1 for small data),
            :math:`\lambda` for DRAGAN (10 in the paper).
        perturbation: DRAGAN's :math:`c`, 0.5 in the paper.
    """

    KINDS = ("r1", "r2", "dragan")

    def __init__(
        self,
        kind: Annotated[str, OneOf(*GradientPenalty.KINDS)] = "r1",
        weight: Annotated[float, NonNegative] = 10.0,
        perturbation: Annotated[float, Positive] = 0.5,
    ) -> None:
        if kind not in self.KINDS:
            raise GanlabError(f"unknown gradient penalty {kind!r}: use r1, r2 or dragan")
        self.kind = kind
        self.weight = float(weight)
        self.perturbation = float(perturbation)

    def penalty(self, critic, real: Tensor, fake: Tensor) -> Tensor:
        """The penalty for ``critic`` at this batch (no gradient flows into ``real``/``fake``)."""
        if self.kind == "r1":
            return 0.5 * self.weight * (critic_gradient_norms(critic, real) ** 2).mean()
        if self.kind == "r2":
            return 0.5 * self.weight * (critic_gradient_norms(critic, fake) ** 2).mean()
        real = real.detach()
        alpha = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), device=real.device)
        perturbed = real + (1 - alpha) * self.perturbation * real.std() * torch.rand_like(real)
        return self.weight * ((critic_gradient_norms(critic, perturbed) - 1.0) ** 2).mean()

    def discriminator_terms(self, context: StepContext) -> dict[str, Tensor]:
        discriminator, condition = context.module.discriminator, context.condition
        value = self.penalty(lambda x: discriminator(x, **condition), context.real, context.fake)
        return {f"{self.kind}_penalty": value}
