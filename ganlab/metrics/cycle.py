"""Cycle reconstruction error of a two-way translator (CycleGAN): how much of an image survives a round trip."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import torch

from ganlab.data.base import GANDataModule
from ganlab.errors import GanlabError
from ganlab.metrics.base import Findings, LatentProbe
from ganlab.schema import AtLeast

if TYPE_CHECKING:
    from ganlab.module import GANModule


class CycleReconstruction(LatentProbe):
    r"""The round-trip errors of both domains.

    .. math::
        \text{cycle\_l1\_a} = \mathbb E\lVert F(G(a)) - a\rVert_1, \qquad
        \text{cycle\_l1\_b} = \mathbb E\lVert G(F(b)) - b\rVert_1

    Mean absolute pixel errors in [-1, 1] (0: the round trip returns the image exactly; the loss
    CycleGAN trains with, Zhu et al. 2017, eq. 2) over the first ``num_examples`` test examples of
    each domain, through the network that draws samples (the EMA copy, where there is one).

    Args:
        num_examples: test images per domain.
        batch_size: images per forward pass.
    """

    def __init__(
        self, num_examples: Annotated[int, AtLeast(1)] = 500, batch_size: Annotated[int, AtLeast(1)] = 100
    ) -> None:
        self.num_examples, self.batch_size = int(num_examples), int(batch_size)

    @torch.no_grad()
    def run(self, module: GANModule, datamodule: GANDataModule, seed: int) -> Findings:
        generator = module.sampling_generator
        if not (hasattr(generator, "a_to_b") and hasattr(generator, "b_to_a")):
            raise GanlabError("the cycle metric needs a model that translates both ways (model=cyclegan)")
        examples = datamodule.examples(self.num_examples)
        errors = {"a": torch.zeros((), dtype=torch.float64), "b": torch.zeros((), dtype=torch.float64)}
        was_training = generator.training
        generator.eval()
        try:
            for start in range(0, len(examples["source"]), self.batch_size):
                a = examples["source"][start : start + self.batch_size].to(module.device)
                b = examples["real"][start : start + self.batch_size].to(module.device)
                errors["a"] += (generator.b_to_a(generator.a_to_b(a)) - a).abs().flatten(1).mean(1).sum().cpu()
                errors["b"] += (generator.a_to_b(generator.b_to_a(b)) - b).abs().flatten(1).mean(1).sum().cpu()
        finally:
            generator.train(was_training)
        count = len(examples["source"])
        return Findings({f"cycle_l1_{domain}": float(total) / count for domain, total in errors.items()})
