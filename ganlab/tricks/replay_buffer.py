"""A replay buffer of past fakes for the discriminator (the CycleGAN image pool)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import torch
from torch import Tensor

from ganlab.schema import AtLeast, Probability
from ganlab.tricks.base import Trick

if TYPE_CHECKING:
    from ganlab.module import GANModule


class ReplayBuffer(Trick):
    r"""D also sees fakes from earlier generators (Shrivastava et al. 2017, section 2.3; Zhu et al. 2017).

    A pool of up to ``size`` past generated samples. In each discriminator step every fake sample
    goes into the pool while it is filling; once it is full, with probability ``replay_probability``
    the sample is swapped for a random stored one (which D sees instead), and the new fake takes
    that slot; otherwise D sees the new fake. D thereby keeps penalising regions the generator has
    left, which discourages the generator from returning to them (mode oscillation). The generator's
    own step always uses fresh fakes. CycleGAN uses ``size=50, replay_probability=0.5``.

    Args:
        size: pool capacity in samples.
        replay_probability: chance that a fake is replaced by a stored one once the pool is full.
    """

    def __init__(
        self, size: Annotated[int, AtLeast(1)] = 50, replay_probability: Annotated[float, Probability] = 0.5
    ) -> None:
        self.size = int(size)
        self.replay_probability = float(replay_probability)
        self.pool: Tensor | None = None
        self.filled = 0

    @torch.no_grad()
    def mix(self, fake: Tensor) -> Tensor:
        """The batch D sees: ``fake`` with some samples replaced from the pool (which is updated)."""
        fake = fake.detach()
        if self.pool is None:
            self.pool = fake.new_empty((self.size, *fake.shape[1:]))
        self.pool = self.pool.to(fake.device)
        stored = min(self.size - self.filled, fake.shape[0])  # samples that fill the pool pass through
        self.pool[self.filled : self.filled + stored] = fake[:stored]
        self.filled += stored
        out = fake.clone()
        replaced = stored + torch.nonzero(torch.rand(fake.shape[0] - stored) < self.replay_probability).squeeze(1)
        slots = torch.randint(self.size, (replaced.numel(),))
        out[replaced] = self.pool[slots]
        self.pool[slots] = fake[replaced]
        return out

    def discriminator_inputs(self, real: Tensor, fake: Tensor, module: GANModule) -> tuple[Tensor, Tensor]:
        return real, self.mix(fake)

    def state_dict(self) -> dict[str, Any]:
        return {"pool": None if self.pool is None else self.pool.cpu(), "filled": self.filled}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state and state.get("pool") is not None:
            self.pool = state["pool"].clone()
            self.filled = int(state["filled"])
