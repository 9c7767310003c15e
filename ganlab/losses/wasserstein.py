"""Wasserstein GAN with gradient penalty (Gulrajani et al. 2017)."""

from __future__ import annotations

import torch
from torch import Tensor

from ganlab.losses.base import Critic, GANLoss, as_float32


class WassersteinGPLoss(GANLoss):
    r"""WGAN-GP: the Wasserstein-1 critic with a gradient penalty (Gulrajani et al. 2017, alg. 1).

    .. math::
        L_D = \mathbb{E}_z[D(G(z))] - \mathbb{E}_x[D(x)]
              + \lambda\,\mathbb{E}_{\hat x}\big[(\lVert\nabla_{\hat x} D(\hat x)\rVert_2 - 1)^2\big],
        \qquad
        L_G = -\mathbb{E}_z[D(G(z))]

    where :math:`\hat x = \epsilon x + (1-\epsilon) G(z)`, :math:`\epsilon \sim U[0, 1]` per sample.
    The one-sided variant penalises only gradients above 1: :math:`\max(0, \lVert\nabla\rVert - 1)^2`.
    The paper uses no batch norm in the critic (the penalty is per sample) and 5 critic steps per
    generator step (``optim.n_critic=5``).

    Args:
        gp_weight: :math:`\lambda`, 10 in the paper.
        one_sided: penalise only gradient norms above 1.
    """

    def __init__(self, gp_weight: float = 10.0, one_sided: bool = False) -> None:
        self.gp_weight = float(gp_weight)
        self.one_sided = bool(one_sided)

    def discriminator_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        real_logits, fake_logits = as_float32(real_logits, fake_logits)
        return fake_logits.mean() - real_logits.mean()

    def generator_loss(self, fake_logits: Tensor) -> Tensor:
        (fake_logits,) = as_float32(fake_logits)
        return -fake_logits.mean()

    def penalty(self, critic: Critic, real: Tensor, fake: Tensor) -> Tensor:
        eps_shape = (real.shape[0],) + (1,) * (real.dim() - 1)
        eps = torch.rand(eps_shape, device=real.device, dtype=real.dtype)
        interpolates = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
        # autocast off: the penalty's second-order graph is numerically fragile in half precision.
        with torch.autocast(device_type=real.device.type, enabled=False):
            scores = critic(interpolates.float())
        (grads,) = torch.autograd.grad(scores.sum(), interpolates, create_graph=True)
        excess = grads.flatten(1).norm(2, dim=1) - 1.0
        if self.one_sided:
            excess = excess.clamp(min=0.0)
        return self.gp_weight * (excess**2).mean()
