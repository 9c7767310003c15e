"""Densities estimated from samples, and the optimal discriminator they imply."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def kernel_density(samples: Tensor, x: Tensor, chunk: int = 4096) -> Tensor:
    r"""Gaussian kernel density estimate of ``samples`` at the points ``x``, in float64.

    .. math::
        \hat q(x) = \frac{1}{n} \sum_i \prod_{k=1}^d \mathcal N(x_k; s_{ik}, h_k^2), \qquad
        h_k = \hat\sigma_k\, n^{-1/(d+4)}

    (Scott's rule, per axis). Shapes: ``samples`` ``(n, d)`` and ``x`` ``(m, d)``, or both 1-D for
    :math:`d = 1`; returns ``(m,)``. ``x`` is taken ``chunk`` points at a time, so memory stays at
    ``chunk x n`` whatever ``m``.
    """
    samples = samples.double().reshape(len(samples), -1)
    x = x.double().reshape(len(x), samples.shape[1])
    n, dim = samples.shape
    bandwidth = samples.std(0).clamp_min(1e-3) * n ** (-1 / (dim + 4))
    normaliser = n * torch.prod(bandwidth * math.sqrt(2 * math.pi))
    scaled = samples / bandwidth
    blocks = [torch.cdist(block / bandwidth, scaled).pow(2).mul(-0.5).exp().sum(1) for block in x.split(chunk)]
    return torch.cat(blocks) / normaliser


def optimal_discriminator(p: Tensor, q: Tensor) -> Tensor:
    """:math:`D^*(x) = p / (p + q)`, the best discriminator against a fixed generator density ``q``
    (Goodfellow et al. 2014, proposition 1); 1/2 where both densities vanish."""
    total = p + q
    return torch.where(total > 0, p / total.clamp_min(1e-300), torch.full_like(total, 0.5))
