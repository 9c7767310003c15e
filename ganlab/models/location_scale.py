"""The location-scale generator: two parameters, so what a divergence prefers can be read off as numbers."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated

import torch
from torch import Tensor, nn

from ganlab.errors import GanlabError
from ganlab.models.base import Generator
from ganlab.schema import NonNegative


class LocationScaleGenerator(Generator):
    r""":math:`G(z) = \mu + \sigma \odot z` with :math:`z \sim \mathcal{N}(0, I)`: a Gaussian, two parameters a dim.

    Fitted to a bimodal target, a mode-covering divergence (forward KL) drives :math:`\sigma` wide to
    span both modes, a mode-seeking one (reverse KL) settles :math:`\mu` on one mode with a narrow
    :math:`\sigma` (Nowozin et al. 2016, section 3; Theis et al. 2016). :math:`\sigma = \exp(s)` keeps it positive.

    Shapes: ``(N, prod(data_shape)) -> (N, *data_shape)``.

    Args:
        data_shape: shape of one sample, ``[1]`` for 1-D data.
        mean: the initial :math:`\mu`.
        std: the initial :math:`\sigma` (> 0).
    """

    def __init__(self, data_shape: Sequence[int], mean: float = 0.0, std: Annotated[float, NonNegative] = 1.0) -> None:
        self.data_shape = tuple(int(d) for d in data_shape)
        super().__init__(latent_dim=math.prod(self.data_shape))
        if std <= 0:
            raise GanlabError(f"model.generator.std={std} must be > 0: it is the initial standard deviation")
        self.mean = nn.Parameter(torch.full((self.latent_dim,), float(mean)))
        self.log_std = nn.Parameter(torch.full((self.latent_dim,), math.log(std)))

    @property
    def std(self) -> Tensor:
        return self.log_std.exp()

    def forward(self, z: Tensor) -> Tensor:
        return (self.mean + self.std * z).reshape(len(z), *self.data_shape)
