"""The interface every adversarial loss implements."""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor

Critic = Callable[[Tensor], Tensor]
"""The discriminator as a function of its input alone (conditioning already bound)."""


class GANLoss:
    """An adversarial objective, written as the two losses that the two players minimise.

    Subclasses implement :meth:`discriminator_loss` and :meth:`generator_loss` on raw
    discriminator outputs (logits, or critic values for Wasserstein losses) of shape ``(N, 1)``
    or ``(N,)``, and may add a regulariser in :meth:`penalty` that needs the discriminator itself
    (a gradient penalty, say). The training step calls all three; it never asks which loss it has.
    """

    def discriminator_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        """Scalar loss the discriminator minimises."""
        raise NotImplementedError

    def generator_loss(self, fake_logits: Tensor) -> Tensor:
        """Scalar loss the generator minimises."""
        raise NotImplementedError

    def penalty(self, critic: Critic, real: Tensor, fake: Tensor) -> Tensor:
        """Extra discriminator loss term that needs the discriminator; zero by default.

        Args:
            critic: the discriminator as a function of its input.
            real: a batch of real samples, shape ``(N, ...)``.
            fake: a batch of generated samples (detached), same shape.
        """
        return real.new_zeros(())

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"


def as_float32(*logits: Tensor) -> tuple[Tensor, ...]:
    """Losses are computed in float32 even when the networks run in bf16/fp16 autocast."""
    return tuple(x.float() for x in logits)
