r"""CycleGAN's cycle-consistency and identity losses: translating there and back again gives the input."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ganlab.errors import GanlabError
from ganlab.tricks.base import StepContext, Trick


class CycleConsistency(Trick):
    r"""``L_G += λ·L_cyc (+ μ·λ·L_identity)`` for a pair of translators :math:`G: A \to B`, :math:`F: B \to A`.

    .. math::
        L_{cyc} = \mathbb E_a \lVert F(G(a)) - a\rVert_1 + \mathbb E_b \lVert G(F(b)) - b\rVert_1
        \qquad L_{identity} = \mathbb E_b \lVert G(b) - b\rVert_1 + \mathbb E_a \lVert F(a) - a\rVert_1

    :math:`L_{cyc}` is the cycle-consistency loss of Zhu et al. 2017, eq. (2), weighted by λ (10 in
    the paper); :math:`L_{identity}`, from the paper's section 5.2 (after Taigman et al. 2017), asks
    each translator to leave an image of its target domain unchanged, which keeps the colours of
    photo<->painting translations, weighted by ``identity_weight·λ`` (the paper's 0.5λ). Each norm is a mean
    over pixels, as the reference implementation's ``L1Loss``. The identity term needs both
    domains to have the same channels (a translator takes images of one domain only) and is left
    out otherwise, or when ``identity_weight`` is 0.

    With ``A`` the batch's ``"source"`` and ``B`` its ``"real"`` entry (as loaded), the generator's
    output in this step is ``[G(a); F(b)]`` along the channels (``CycleGANGenerator``), and the
    generator holds the translators as ``a_to_b`` (:math:`G`) and ``b_to_a`` (:math:`F`). The terms
    are logged as ``train/g_cycle`` and ``train/g_identity``.

    Args:
        weight: λ.
        identity_weight: the identity term's weight relative to λ.

    Example:
        >>> trick = CycleConsistency(weight=10.0, identity_weight=0.5)  # the paper's settings
    """

    def __init__(self, weight: float = 10.0, identity_weight: float = 0.5) -> None:
        if weight < 0 or identity_weight < 0:
            raise GanlabError(
                "cycle-consistency weights must not be negative, "
                f"got weight={weight}, identity_weight={identity_weight}"
            )
        self.weight = float(weight)
        self.identity_weight = float(identity_weight)

    def generator_terms(self, context: StepContext) -> dict[str, Tensor]:
        generator = context.module.generator
        if not (hasattr(generator, "a_to_b") and hasattr(generator, "b_to_a")):
            raise GanlabError(
                f"the cycle-consistency loss needs a pair of translators (model=cyclegan); "
                f"{type(generator).__name__} has none"
            )
        source, target = context.batch["source"].float(), context.batch["real"].float()
        fake_b, fake_a = context.generated.float().split([target.shape[1], source.shape[1]], dim=1)
        cycle = F.l1_loss(generator.b_to_a(fake_b), source) + F.l1_loss(generator.a_to_b(fake_a), target)
        terms = {"cycle": self.weight * cycle}
        if self.identity_weight > 0 and source.shape[1] == target.shape[1]:
            identity = F.l1_loss(generator.a_to_b(target), target) + F.l1_loss(generator.b_to_a(source), source)
            terms["identity"] = self.identity_weight * self.weight * identity
        return terms
