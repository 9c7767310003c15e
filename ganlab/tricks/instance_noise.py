"""Instance noise: D sees real and fake samples through Gaussian noise that fades out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import torch
from torch import Tensor

from ganlab.errors import GanlabError
from ganlab.schema import AtLeast, NonNegative, OneOf
from ganlab.tricks.base import Trick

if TYPE_CHECKING:
    from ganlab.module import GANModule


class InstanceNoise(Trick):
    r"""Instance noise (Arjovsky & Bottou 2017, section 3; Sønderby et al. 2017, section 5).

    Both distributions D compares are convolved with :math:`\mathcal N(0, \sigma_t^2 I)`: their
    supports then overlap, so the divergence D estimates is finite and its gradient informative even
    when data and samples lie on disjoint low-dimensional manifolds. The noise is added to what D
    sees in both players' steps (in G's step it is part of G's graph), and :math:`\sigma_t`
    anneals to 0 over ``anneal_steps`` generator steps:

    - ``linear``: :math:`\sigma_t = \sigma_0 \max(0, 1 - t/T)`
    - ``constant``: :math:`\sigma_t = \sigma_0` (no annealing)

    Args:
        std: :math:`\sigma_0`, in data units (images lie in [-1, 1]).
        anneal_steps: :math:`T`, generator steps until the noise is gone.
        schedule: ``linear`` or ``constant``.
    """

    SCHEDULES = ("linear", "constant")

    def __init__(
        self,
        std: Annotated[float, NonNegative] = 0.1,
        anneal_steps: Annotated[int, AtLeast(0)] = 2000,
        schedule: Annotated[str, OneOf(*InstanceNoise.SCHEDULES)] = "linear",
    ) -> None:
        if schedule not in self.SCHEDULES:
            raise GanlabError(f"unknown instance noise schedule {schedule!r}: use linear or constant")
        self.std = float(std)
        self.anneal_steps = int(anneal_steps)
        self.schedule = schedule

    def sigma(self, generator_step: int) -> float:
        """:math:`\\sigma_t` at generator step ``t``."""
        if self.schedule == "constant":
            return self.std
        return self.std * max(0.0, 1.0 - generator_step / max(1, self.anneal_steps))

    def _noisy(self, real: Tensor, fake: Tensor, module: GANModule) -> tuple[Tensor, Tensor]:
        sigma = self.sigma(module.generator_steps)
        if sigma == 0.0:
            return real, fake
        return real + sigma * torch.randn_like(real), fake + sigma * torch.randn_like(fake)

    def discriminator_inputs(self, real: Tensor, fake: Tensor, module: GANModule) -> tuple[Tensor, Tensor]:
        return self._noisy(real, fake, module)

    def generator_step_inputs(self, real: Tensor, fake: Tensor, module: GANModule) -> tuple[Tensor, Tensor]:
        return self._noisy(real, fake, module)
