"""Fully connected generator and discriminator (Goodfellow et al. 2014)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Annotated

from torch import Tensor, nn

from ganlab.models.base import Discriminator, Generator, init_normal, with_onehot
from ganlab.schema import AtLeast, OneOf, Positive

_ACTIVATIONS = {"identity": nn.Identity, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


def _hidden_stack(
    in_dim: int, hidden_dims: Sequence[int], activation: type[nn.Module], batch_norm: bool
) -> tuple[nn.Sequential, int]:
    layers: list[nn.Module] = []
    for width in hidden_dims:
        layers.append(nn.Linear(in_dim, width))
        if batch_norm:
            layers.append(nn.BatchNorm1d(width))
        layers.append(activation())
        in_dim = width
    return nn.Sequential(*layers), in_dim


class MLPGenerator(Generator):
    """``z -> [Linear -> (BatchNorm) -> ReLU] x L -> Linear -> output activation -> reshape``.

    Shapes: ``(N, latent_dim) -> (N, *data_shape)``; 2-D points use ``data_shape=[2]`` and the
    identity output, flattened images ``[C, H, W]`` and ``tanh`` (images live in [-1, 1]).

    Args:
        latent_dim: size of z.
        data_shape: shape of one sample.
        hidden_dims: width of each hidden layer.
        batch_norm: batch norm after each hidden linear layer.
        output_activation: ``identity``, ``tanh`` or ``sigmoid``.
        init_std: std of the N(0, std) weight initialisation; ``None`` keeps PyTorch's default.
        num_classes: classes of the ``label`` input, joined to z as one-hot (Mirza & Osindero 2014);
            0 for an unconditional generator.
    """

    def __init__(
        self,
        latent_dim: Annotated[int, AtLeast(1)],
        data_shape: Sequence[int],
        hidden_dims: Sequence[int] = (128, 128, 128),
        batch_norm: bool = False,
        output_activation: Annotated[str, OneOf(*_ACTIVATIONS)] = "identity",
        init_std: Annotated[float | None, Positive(nullable=True)] = None,
        num_classes: Annotated[int, AtLeast(0)] = 0,
    ) -> None:
        super().__init__(latent_dim, num_classes)
        self.data_shape = tuple(int(d) for d in data_shape)
        body, width = _hidden_stack(self.latent_dim + self.num_classes, hidden_dims, nn.ReLU, batch_norm)
        self.net = nn.Sequential(body, nn.Linear(width, math.prod(self.data_shape)), _ACTIVATIONS[output_activation]())
        if init_std is not None:
            init_normal(self, init_std)

    def forward(self, z: Tensor, label: Tensor | None = None) -> Tensor:
        return self.net(with_onehot(z, label, self.num_classes)).view(z.shape[0], *self.data_shape)


class Maxout(nn.Module):
    r"""Maxout unit (Goodfellow et al. 2013): :math:`h_i(x) = \max_{j \le k} (W x + b)_{ij}`.

    Shapes: ``(N, in_features) -> (N, out_features)``; the linear map has ``out_features * pieces`` outputs.
    """

    def __init__(self, in_features: int, out_features: int, pieces: int) -> None:
        super().__init__()
        self.out_features, self.pieces = int(out_features), int(pieces)
        self.linear = nn.Linear(in_features, self.out_features * self.pieces)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(x).view(x.shape[0], self.out_features, self.pieces).amax(dim=2)


class MLPDiscriminator(Discriminator):
    """``x -> flatten -> [Linear -> LeakyReLU(0.2)] x L (= φ(x)) -> Linear -> logit``; ``(N, *data_shape) -> (N, 1)``.

    With ``maxout_pieces`` the hidden layers are maxout units instead (the GAN and PacGAN papers'
    discriminator for 2-D mixtures).

    Args:
        data_shape: shape of one sample.
        hidden_dims: width of each hidden layer.
        init_std: std of the N(0, std) weight initialisation; ``None`` keeps PyTorch's default.
        maxout_pieces: k of :class:`Maxout` hidden layers; ``None`` for LeakyReLU layers.
        extra_input_channels: input features beyond the sample's (one-hot labels of ``concat`` conditioning).
    """

    def __init__(
        self,
        data_shape: Sequence[int],
        hidden_dims: Sequence[int] = (128, 128, 128),
        init_std: Annotated[float | None, Positive(nullable=True)] = None,
        maxout_pieces: Annotated[int | None, AtLeast(1, nullable=True)] = None,
        extra_input_channels: Annotated[int, AtLeast(0)] = 0,
    ) -> None:
        super().__init__()
        in_dim = math.prod(int(d) for d in data_shape) + extra_input_channels
        if maxout_pieces:
            widths = [in_dim, *hidden_dims]
            body: nn.Module = nn.Sequential(*(Maxout(a, b, maxout_pieces) for a, b in itertools.pairwise(widths)))
            width = widths[-1]
        else:
            body, width = _hidden_stack(in_dim, hidden_dims, lambda: nn.LeakyReLU(0.2), batch_norm=False)
        self.body = nn.Sequential(nn.Flatten(), body)
        self.feature_dim = width
        self.head = nn.Linear(width, 1)
        if init_std is not None:
            init_normal(self, init_std)

    def features(self, x: Tensor) -> Tensor:
        return self.body(x)
