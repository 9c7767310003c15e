"""Hinge GAN loss (Lim & Ye 2017; Miyato et al. 2018)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ganlab.losses.base import GANLoss, as_float32


class HingeLoss(GANLoss):
    r"""The hinge version of the adversarial loss (Lim & Ye 2017, "Geometric GAN"; Miyato et al. 2018).

    .. math::
        L_D = \mathbb{E}_x[\max(0, 1 - D(x))] + \mathbb{E}_z[\max(0, 1 + D(G(z)))],
        \qquad
        L_G = -\mathbb{E}_z[D(G(z))]

    ``D`` is the raw critic output: real samples are pushed above +1, fakes below -1, and samples
    already beyond the margin stop contributing to D's gradient.
    """

    def discriminator_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        real_logits, fake_logits = as_float32(real_logits, fake_logits)
        return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()

    def generator_loss(self, fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        (fake_logits,) = as_float32(fake_logits)
        return -fake_logits.mean()
