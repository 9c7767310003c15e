"""Least squares GAN (Mao et al. 2017)."""

from __future__ import annotations

from torch import Tensor

from ganlab.losses.base import GANLoss, as_float32, per_sample


class LeastSquaresLoss(GANLoss):
    r"""LSGAN: least-squares targets instead of the log loss (Mao et al. 2017, eq. 2).

    .. math::
        L_D = \tfrac12\,\mathbb{E}_x[(D(x) - b)^2] + \tfrac12\,\mathbb{E}_z[(D(G(z)) - a)^2],
        \qquad
        L_G = \tfrac12\,\mathbb{E}_z[(D(G(z)) - c)^2]

    ``D`` is the raw, unbounded discriminator output. ``a`` is the fake target, ``b`` the real
    target and ``c`` the value the generator wants D to believe for fakes. The 0-1 coding
    (a, b, c) = (0, 1, 1) is the default; with b - c = 1 and b - a = 2 (e.g. -1, 1, 0) the game
    minimises the Pearson chi-squared divergence.

    Args:
        a: discriminator target for fake samples.
        b: discriminator target for real samples.
        c: generator target for fake samples.
    """

    def __init__(self, a: float = 0.0, b: float = 1.0, c: float = 1.0) -> None:
        self.a, self.b, self.c = float(a), float(b), float(c)

    supports_soft_labels = True

    def discriminator_loss(
        self,
        real_logits: Tensor,
        fake_logits: Tensor,
        real_targets: Tensor | None = None,
        fake_targets: Tensor | None = None,
    ) -> Tensor:
        """A soft label t in [0, 1] means the regression target a + t (b - a): b for 1, a for 0."""
        real_logits, fake_logits = as_float32(real_logits, fake_logits)
        real_goal = self.b if real_targets is None else self._goal(real_targets, real_logits)
        fake_goal = self.a if fake_targets is None else self._goal(fake_targets, fake_logits)
        return 0.5 * ((real_logits - real_goal) ** 2).mean() + 0.5 * ((fake_logits - fake_goal) ** 2).mean()

    def _goal(self, targets: Tensor, logits: Tensor) -> Tensor:
        return self.a + per_sample(targets, logits) * (self.b - self.a)

    def generator_loss(self, fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        (fake_logits,) = as_float32(fake_logits)
        return 0.5 * ((fake_logits - self.c) ** 2).mean()
