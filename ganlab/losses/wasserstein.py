"""Wasserstein GANs: the critic with weight clipping (Arjovsky et al. 2017) or a gradient penalty
(Gulrajani et al. 2017)."""

from __future__ import annotations

from typing import Annotated

import torch
from torch import Tensor, nn

from ganlab.losses.base import Critic, GANLoss, as_float32
from ganlab.losses.penalties import critic_gradient_norms
from ganlab.schema import NonNegative, Positive


@torch.no_grad()
def clip_weights(network: nn.Module, clip_value: float) -> None:
    """Clamp every parameter of ``network`` to ``[-clip_value, clip_value]`` in place."""
    for parameter in network.parameters():
        parameter.clamp_(-clip_value, clip_value)


class WassersteinLoss(GANLoss):
    r"""WGAN: the Kantorovich-Rubinstein dual of the Wasserstein-1 distance (Arjovsky et al. 2017, alg. 1).

    .. math::
        W_1(P, Q) = \sup_{\lVert f\rVert_L \le 1} \mathbb{E}_{x\sim P}[f(x)] - \mathbb{E}_{x\sim Q}[f(x)],
        \qquad
        L_D = \mathbb{E}_z[D(G(z))] - \mathbb{E}_x[D(x)], \qquad L_G = -\mathbb{E}_z[D(G(z))]

    ``D`` is the raw critic output. The Lipschitz constraint is enforced crudely, by clamping every
    critic weight to :math:`[-c, c]` after each critic update, so ``D`` ranges over K-Lipschitz
    functions for some K set by ``c`` and the architecture. The paper: ``c = 0.01``, RMSProp with
    lr 5e-5, 5 critic steps per generator step (``optim=rmsprop``, which ``loss=wgan`` selects).

    Args:
        clip_value: :math:`c`; ``None`` disables clipping (the bare critic loss).
    """

    def __init__(self, clip_value: Annotated[float | None, Positive(nullable=True)] = 0.01) -> None:
        self.clip_value = None if clip_value is None else float(clip_value)

    def discriminator_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        real_logits, fake_logits = as_float32(real_logits, fake_logits)
        return fake_logits.mean() - real_logits.mean()

    def generator_loss(self, fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        (fake_logits,) = as_float32(fake_logits)
        return -fake_logits.mean()

    def after_discriminator_step(self, discriminator: nn.Module) -> None:
        if self.clip_value is not None:
            clip_weights(discriminator, self.clip_value)


class WassersteinGPLoss(WassersteinLoss):
    r"""WGAN-GP: the Wasserstein critic with a gradient penalty instead of clipping (Gulrajani et al. 2017, alg. 1).

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

    def __init__(self, gp_weight: Annotated[float, NonNegative] = 10.0, one_sided: bool = False) -> None:
        super().__init__(clip_value=None)
        self.gp_weight = float(gp_weight)
        self.one_sided = bool(one_sided)

    def penalty(self, critic: Critic, real: Tensor, fake: Tensor) -> Tensor:
        eps_shape = (real.shape[0],) + (1,) * (real.dim() - 1)
        eps = torch.rand(eps_shape, device=real.device, dtype=real.dtype)
        excess = critic_gradient_norms(critic, eps * real.detach() + (1 - eps) * fake.detach()) - 1.0
        if self.one_sided:
            excess = excess.clamp(min=0.0)
        return self.gp_weight * (excess**2).mean()
