"""The interface every adversarial loss implements."""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn

Critic = Callable[[Tensor], Tensor]
"""The discriminator as a function of its input alone (conditioning already bound)."""


class GANLoss:
    """An adversarial objective, written as the two losses that the two players minimise.

    Subclasses implement :meth:`discriminator_loss` and :meth:`generator_loss` on raw
    discriminator outputs (logits, or critic values for Wasserstein losses) of shape ``(N, 1)``,
    ``(N,)`` or ``(N, ...)`` for several scores per sample (LAPGAN's one per pyramid level, a
    PatchGAN's map), averaged over all of them. They may add a regulariser that needs the
    discriminator itself in :meth:`penalty` (a gradient penalty, say), and act on the
    discriminator after each of its updates in :meth:`after_discriminator_step` (weight
    clipping). The training step calls all of these; it never asks which loss it has.
    """

    supports_soft_labels: bool = False
    """Set by losses whose discriminator classifies with labels (1 real, 0 fake): their
    :meth:`discriminator_loss` then also accepts per-sample ``real_targets`` and ``fake_targets`` in
    [0, 1], which label smoothing and noisy labels change."""

    generator_needs_real_logits: bool = False
    """Set by losses whose generator loss also compares with D(real) (the relativistic ones); the
    training step computes D(real) in the generator step only for them."""

    scores_are_logits: bool = False
    """Set by losses whose discriminator output is a logit, :math:`D(x) = \\sigma(\\ell(x))` the probability that
    ``x`` is real (the minimax and non-saturating games); pictures and diagnoses then read D as a probability.
    Other losses' scores (critic values, least-squares targets, hinge margins) are shown raw."""

    def discriminator_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        """Scalar loss the discriminator minimises."""
        raise NotImplementedError

    def generator_loss(self, fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        """Scalar loss the generator minimises; ``real_logits`` is given when
        :attr:`generator_needs_real_logits` is set, and ``None`` otherwise."""
        raise NotImplementedError

    def penalty(self, critic: Critic, real: Tensor, fake: Tensor) -> Tensor:
        """Extra discriminator loss term that needs the discriminator; zero by default.

        Args:
            critic: the discriminator as a function of its input.
            real: a batch of real samples, shape ``(N, ...)``.
            fake: a batch of generated samples (detached), same shape.
        """
        return real.new_zeros(())

    def after_discriminator_step(self, discriminator: nn.Module) -> None:
        """Called after each optimiser step of the discriminator; does nothing by default."""

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({fields})"


def as_float32(*logits: Tensor) -> tuple[Tensor, ...]:
    """Losses are computed in float32 even when the networks run in bf16/fp16 autocast."""
    return tuple(x.float() for x in logits)


def per_sample(targets: Tensor, logits: Tensor) -> Tensor:
    """Per-sample ``targets`` of shape ``(N,)`` spread over every score of logits shaped ``(N, ...)``."""
    return targets.float().reshape(-1, *([1] * (logits.dim() - 1))).expand_as(logits)
