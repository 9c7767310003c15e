"""Gradient norms of a discriminator at given points, the ingredient of every gradient penalty."""

from __future__ import annotations

import torch
from torch import Tensor

from ganlab.losses.base import Critic


def critic_gradient_norms(critic: Critic, points: Tensor) -> Tensor:
    r""":math:`\lVert \nabla_x D(x) \rVert_2` at each of ``points`` (shape ``(N, ...)`` → ``(N,)``).

    The graph is kept (``create_graph=True``) so that a penalty on these norms trains D. Autocast is
    off: the second-order graph is numerically fragile in half precision.
    """
    points = points.detach().float().requires_grad_(True)
    with torch.autocast(device_type=points.device.type, enabled=False):
        scores = critic(points)
    (grads,) = torch.autograd.grad(scores.sum(), points, create_graph=True)
    return grads.flatten(1).norm(2, dim=1)
