"""The original GAN game of Goodfellow et al. (2014) and its non-saturating variant."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ganlab.losses.base import GANLoss, as_float32, per_sample


class MinimaxLoss(GANLoss):
    r"""The minimax game, with the *saturating* generator loss (Goodfellow et al. 2014).

    .. math::
        \min_G \max_D \; \mathbb{E}_x[\log D(x)] + \mathbb{E}_z[\log(1 - D(G(z)))],
        \qquad D = \sigma(\ell)

    With logits :math:`\ell`, :math:`-\log\sigma(\ell) = \mathrm{softplus}(-\ell)` and
    :math:`-\log(1-\sigma(\ell)) = \mathrm{softplus}(\ell)`, so

    - discriminator: :math:`L_D = \mathbb{E}[\mathrm{softplus}(-\ell_r)] + \mathbb{E}[\mathrm{softplus}(\ell_f)]`
    - generator: :math:`L_G = \mathbb{E}[\log(1-\sigma(\ell_f))] = -\mathbb{E}[\mathrm{softplus}(\ell_f)]`

    The generator's gradient vanishes when D confidently rejects fakes (early training), which is
    why this loss is kept: to show the failure the non-saturating loss fixes.

    Example:
        >>> loss = MinimaxLoss()
        >>> d = loss.discriminator_loss(torch.zeros(4, 1), torch.zeros(4, 1))  # 2 log 2
    """

    supports_soft_labels = True
    scores_are_logits = True

    def discriminator_loss(
        self,
        real_logits: Tensor,
        fake_logits: Tensor,
        real_targets: Tensor | None = None,
        fake_targets: Tensor | None = None,
    ) -> Tensor:
        """With soft targets t the log loss is the cross-entropy -t log D - (1 - t) log(1 - D) per sample."""
        real_logits, fake_logits = as_float32(real_logits, fake_logits)
        real_targets = torch.ones_like(real_logits) if real_targets is None else per_sample(real_targets, real_logits)
        fake_targets = torch.zeros_like(fake_logits) if fake_targets is None else per_sample(fake_targets, fake_logits)
        return F.binary_cross_entropy_with_logits(real_logits, real_targets) + F.binary_cross_entropy_with_logits(
            fake_logits, fake_targets
        )

    def generator_loss(self, fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        (fake_logits,) = as_float32(fake_logits)
        return -F.softplus(fake_logits).mean()


class NonSaturatingLoss(MinimaxLoss):
    r"""The non-saturating GAN loss (Goodfellow et al. 2014, section 3).

    The discriminator loss is the minimax one; the generator maximises
    :math:`\mathbb{E}_z[\log D(G(z))]` instead of minimising :math:`\mathbb{E}_z[\log(1-D(G(z)))]`:

    .. math:: L_G = -\mathbb{E}[\log\sigma(\ell_f)] = \mathbb{E}[\mathrm{softplus}(-\ell_f)]

    Same fixed point, strong gradients when D rejects the fakes.
    """

    def generator_loss(self, fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        (fake_logits,) = as_float32(fake_logits)
        return F.softplus(-fake_logits).mean()
