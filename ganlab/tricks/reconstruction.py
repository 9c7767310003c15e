"""The pixel loss of paired image-to-image models: G's output against the batch's target."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ganlab.errors import GanlabError
from ganlab.tricks.base import StepContext, Trick

DISTANCES = {"l1": F.l1_loss, "l2": F.mse_loss}


class ReconstructionLoss(Trick):
    r"""``L_G += λ·E‖G(x) - y‖``: the generator's output against the paired target ``y``.

    ``l1`` is pix2pix's :math:`\lambda\,\mathbb{E}\lVert y - G(x, z)\rVert_1` with λ = 100 (Isola et
    al. 2017, eq. 3-4), which makes G get the low frequencies right and leaves the adversarial loss
    the high ones; ``l2`` is SRGAN's pixel-wise MSE content loss (Ledig et al. 2017, eq. 4). Both
    are means over pixels. The target is the batch's ``"real"`` entry as loaded and the output G's
    own, before any trick (noise, augmentation) changed either.

    Args:
        weight: λ.
        distance: ``l1`` or ``l2``.
    """

    def __init__(self, weight: float = 100.0, distance: str = "l1") -> None:
        if distance not in DISTANCES:
            raise GanlabError(
                f"reconstruction distance {distance!r} is not an option: use one of {', '.join(DISTANCES)}"
            )
        self.weight = float(weight)
        self.distance = distance

    def generator_terms(self, context: StepContext) -> dict[str, Tensor]:
        target = context.batch["real"]
        return {"reconstruction": self.weight * DISTANCES[self.distance](context.generated.float(), target.float())}
