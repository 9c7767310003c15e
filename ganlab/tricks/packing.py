"""PacGAN: the discriminator judges m samples at once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import torch
from torch import Tensor

from ganlab.errors import GanlabError
from ganlab.schema import AtLeast
from ganlab.tricks.base import Trick
from ganlab.tricks.layers import replace_layer, weight_layers, with_more_inputs

if TYPE_CHECKING:
    from ganlab.module import GANModule


def pack(samples: Tensor, m: int) -> Tensor:
    """``(N, C, ...)`` → ``(N/m, m·C, ...)``: each group of m consecutive samples joined along dim 1."""
    n = samples.shape[0]
    if n % m:
        raise GanlabError(f"packing: batch size {n} is not a multiple of m = {m}; change dataset.datamodule.batch_size")
    return samples.reshape(n // m, m * samples.shape[1], *samples.shape[2:])


class Packing(Trick):
    r"""PacGAN (Lin et al. 2018): D sees m samples, all real or all fake, concatenated, and scores them jointly.

    A packed discriminator effectively compares product distributions :math:`P^m` and
    :math:`Q^m`, which magnifies the difference a missing mode makes, so mode collapse is penalised
    much more strongly (the paper's Theorem 3). D's first layer takes m times as many inputs
    (features or channels); there are N/m decisions per batch of N.

    Args:
        m: samples per pack (2 to 4 in the paper).
    """

    scores_single_samples = False
    batch_multiple_of = "m"

    def __init__(self, m: Annotated[int, AtLeast(1)] = 2) -> None:
        self.m = int(m)

    def setup(self, module: GANModule) -> None:
        if module.discriminator.condition_keys:
            raise GanlabError("packing works with unconditional discriminators only")
        name, first = weight_layers(module.discriminator)[0]
        inputs = first.in_features if hasattr(first, "in_features") else first.in_channels
        packed = with_more_inputs(first, (self.m - 1) * inputs)
        with torch.no_grad():  # start as the average of the old layer's response to each sample of the pack
            packed.weight.copy_(first.weight.repeat(1, self.m, *([1] * (first.weight.dim() - 2))) / self.m)
        replace_layer(module.discriminator, name, packed)

    def discriminator_inputs(self, real: Tensor, fake: Tensor, module: GANModule) -> tuple[Tensor, Tensor]:
        return pack(real, self.m), pack(fake, self.m)

    def generator_step_inputs(self, real: Tensor, fake: Tensor, module: GANModule) -> tuple[Tensor, Tensor]:
        return pack(real, self.m), pack(fake, self.m)
