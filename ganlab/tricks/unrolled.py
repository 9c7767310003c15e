"""Unrolled GAN: the generator optimises against the discriminator as it will be k steps from now."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import torch
from torch import Tensor
from torch.func import functional_call

from ganlab.losses.base import Critic
from ganlab.schema import AtLeast
from ganlab.tricks.base import StepContext, Trick

Params = dict[str, Tensor]


class Unrolled(Trick):
    r"""Unrolled GAN (Metz et al. 2017).

    G's loss is evaluated with the discriminator parameters :math:`\theta_D^k` reached by k further
    discriminator updates from the current :math:`\theta_D^0`,

    .. math:: \theta_D^{i+1} = \theta_D^i - \eta\,\mathrm{step}\big(\nabla_{\theta_D} L_D(\theta_G, \theta_D^i)\big),
        \qquad L_G^{\text{unrolled}} = L_G(\theta_G, \theta_D^k(\theta_G)),

    and the gradient flows through the k updates (``create_graph=True``), so G anticipates how D
    will react to it, which discourages collapsing onto the mode D currently favours. The unrolled
    updates use D's own optimiser: Adam with its current moment estimates, as in the paper's code,
    or, for any other optimiser, gradient descent with its learning rate. Every unrolled update
    uses this generator step's real and fake batch (the fakes keep G's graph). The real D is not
    changed; ``steps=0`` is exactly the plain generator step.

    Args:
        steps: k, the number of unrolled discriminator updates (5 to 10 in the paper).
    """

    def __init__(self, steps: Annotated[int, AtLeast(1)] = 5) -> None:
        self.steps = int(steps)

    def generator_step_critic(self, critic: Critic, context: StepContext) -> Critic:
        if self.steps == 0:
            return critic
        module = context.module
        discriminator = module.discriminator
        optimizer = module.optimizers()[1]
        optimizer = getattr(optimizer, "optimizer", optimizer)
        originals = dict(discriminator.named_parameters())
        # Lightning switches D's parameters off in G's step; the unrolled copies need gradients.
        params = {name: p.detach().requires_grad_(True) for name, p in originals.items()}
        update = unrolled_update(optimizer, originals)

        def unrolled_critic(weights: Params) -> Critic:
            return lambda x: functional_call(discriminator, weights, (x,), context.condition)

        for _ in range(self.steps):
            step_critic = unrolled_critic(params)
            d_loss = module.loss.discriminator_loss(step_critic(context.real), step_critic(context.fake))
            d_loss = d_loss + module.loss.penalty(step_critic, context.real, context.fake)
            grads = torch.autograd.grad(d_loss, list(params.values()), create_graph=True)
            params = update(params, dict(zip(params, grads, strict=True)))
        return unrolled_critic(params)


def unrolled_update(optimizer: torch.optim.Optimizer, originals: Params) -> Callable[[Params, Params], Params]:
    """A differentiable version of one step of ``optimizer`` on the parameters ``originals`` names."""
    group = optimizer.param_groups[0]
    lr = float(group["lr"])
    if not isinstance(optimizer, torch.optim.Adam):
        return lambda params, grads: {name: p - lr * grads[name] for name, p in params.items()}
    beta1, beta2 = group["betas"]
    eps = group["eps"]
    state = {name: optimizer.state.get(p, {}) for name, p in originals.items()}
    moments = {
        name: (s.get("exp_avg", torch.zeros_like(p)), s.get("exp_avg_sq", torch.zeros_like(p)), float(s.get("step", 0)))
        for (name, p), s in zip(originals.items(), state.values(), strict=True)
    }

    def adam(params: Params, grads: Params) -> Params:
        updated = {}
        for name, p in params.items():
            m, v, step = moments[name]
            m = beta1 * m + (1 - beta1) * grads[name]
            v = beta2 * v + (1 - beta2) * grads[name] ** 2
            step += 1
            moments[name] = (m, v, step)
            m_hat, v_hat = m / (1 - beta1**step), v / (1 - beta2**step)
            # the tiny shift keeps sqrt's derivative finite where v is exactly zero
            updated[name] = p - lr * m_hat / ((v_hat + 1e-16).sqrt() + eps)
        return updated

    return adam
