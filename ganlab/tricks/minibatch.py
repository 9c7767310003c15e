"""Discriminator layers that let D see statistics of the whole minibatch, against mode collapse."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import torch
from torch import Tensor, nn

from ganlab.schema import AtLeast
from ganlab.tricks.base import Trick
from ganlab.tricks.layers import insert_before_output, weight_layers

if TYPE_CHECKING:
    from ganlab.module import GANModule


class MinibatchStdDevLayer(nn.Module):
    """Appends the mean over features of the per-feature standard deviation across groups of samples
    as one more feature (vectors) or constant channel (feature maps); Karras et al. 2018, section 3."""

    def __init__(self, group_size: int = 4) -> None:
        super().__init__()
        self.group_size = int(group_size)

    def forward(self, x: Tensor) -> Tensor:
        n = x.shape[0]
        group = max(g for g in range(1, min(self.group_size, n) + 1) if n % g == 0)
        grouped = x.reshape(group, n // group, *x.shape[1:])  # samples i, i + n/g, ... share a group
        std = (grouped.var(dim=0, unbiased=False) + 1e-8).sqrt()
        stat = std.flatten(1).mean(dim=1)  # (n / group,)
        stat = stat.repeat(group)  # back to one value per sample, in the grouped order
        return stat.view(n, 1, *([1] * (x.dim() - 2))).expand(n, 1, *x.shape[2:])


class MinibatchStdDev(Trick):
    """Minibatch standard deviation (Karras et al. 2018): D's output layer also sees how varied the batch is.

    A batch of collapsed fakes has a small standard deviation that real batches do not, so D can
    detect collapse and G is pushed to vary its samples. Inserted before D's output layer (one
    extra input feature or channel, zero-initialised).

    Args:
        group_size: samples per group whose statistic is shared (4 in the paper).
    """

    scores_single_samples = False

    def __init__(self, group_size: Annotated[int, AtLeast(1)] = 4) -> None:
        self.group_size = int(group_size)

    def setup(self, module: GANModule) -> None:
        insert_before_output(module.discriminator, MinibatchStdDevLayer(self.group_size), extra=1)


class MinibatchDiscriminationLayer(nn.Module):
    r"""Salimans et al. 2016, section 3.2: with features :math:`f(x_i) \in \mathbb R^A` and a learned
    tensor :math:`T \in \mathbb R^{A\times B\times C}`, :math:`M_i = f(x_i) T \in \mathbb R^{B\times C}`,
    :math:`c_b(x_i, x_j) = \exp(-\lVert M_{i,b} - M_{j,b}\rVert_{L_1})` and
    :math:`o(x_i)_b = \sum_{j\ne i} c_b(x_i, x_j)`: B closeness scores of each sample to the rest of
    its batch, appended to its features."""

    def __init__(self, in_features: int, num_kernels: int = 16, kernel_dim: int = 8) -> None:
        super().__init__()
        self.num_kernels, self.kernel_dim = int(num_kernels), int(kernel_dim)
        self.T = nn.Parameter(torch.randn(in_features, num_kernels * kernel_dim) * 0.1)

    def forward(self, features: Tensor) -> Tensor:
        m = (features.flatten(1) @ self.T).view(-1, self.num_kernels, self.kernel_dim).transpose(0, 1)  # (B, N, C)
        # cdist never materialises the (N, N, B, C) differences: 6 times faster at N = 256 on a CPU
        l1 = torch.cdist(m, m, p=1)  # (B, N, N)
        return (torch.exp(-l1).sum(dim=2) - 1.0).T  # drop j = i, where exp(0) = 1


class MinibatchDiscrimination(Trick):
    """Minibatch discrimination (Salimans et al. 2016): D's output layer also sees how close each sample
    is to the others in its batch, which exposes a collapsed generator.

    Inserted before D's output layer on the features entering it (``num_kernels`` extra inputs).

    Args:
        num_kernels: B, the number of closeness scores.
        kernel_dim: C, the dimension each is computed in.
    """

    scores_single_samples = False

    def __init__(
        self, num_kernels: Annotated[int, AtLeast(1)] = 16, kernel_dim: Annotated[int, AtLeast(1)] = 8
    ) -> None:
        self.num_kernels, self.kernel_dim = int(num_kernels), int(kernel_dim)

    def setup(self, module: GANModule) -> None:
        _, output = weight_layers(module.discriminator)[-1]
        in_features = output.in_features if isinstance(output, nn.Linear) else output.in_channels
        layer = _PerPosition(MinibatchDiscriminationLayer(in_features, self.num_kernels, self.kernel_dim))
        insert_before_output(module.discriminator, layer, extra=self.num_kernels)


class _PerPosition(nn.Module):
    """Applies a layer on (N, A) vectors to (N, A) inputs, or to the spatial mean of (N, A, H, W) maps
    (its scores then become constant channels)."""

    def __init__(self, layer: MinibatchDiscriminationLayer) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, features: Tensor) -> Tensor:
        if features.dim() == 2:
            return self.layer(features)
        pooled = features.mean(dim=tuple(range(2, features.dim())))
        scores = self.layer(pooled)
        return scores.view(*scores.shape, *([1] * (features.dim() - 2))).expand(-1, -1, *features.shape[2:])
