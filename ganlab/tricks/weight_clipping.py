"""Weight clipping of the discriminator, usable with any loss."""

from __future__ import annotations

from typing import Annotated

from ganlab.losses.wasserstein import clip_weights
from ganlab.schema import Positive
from ganlab.tricks.base import StepContext, Trick


class WeightClipping(Trick):
    """Clamp every discriminator parameter to ``[-clip_value, clip_value]`` after each D step.

    The Lipschitz device of WGAN (Arjovsky et al. 2017), detached from its loss so that it can be
    tried with any objective; ``loss=wgan`` already clips.

    Args:
        clip_value: the bound c, 0.01 in the WGAN paper.
    """

    def __init__(self, clip_value: Annotated[float, Positive] = 0.01) -> None:
        self.clip_value = float(clip_value)

    def after_discriminator_step(self, context: StepContext) -> None:
        clip_weights(context.module.discriminator, self.clip_value)
