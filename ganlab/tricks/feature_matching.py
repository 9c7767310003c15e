"""Feature matching: the generator matches the mean of an intermediate discriminator feature."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import torch
from torch import Tensor

from ganlab.errors import GanlabError
from ganlab.schema import NonNegative
from ganlab.tricks.base import StepContext, Trick
from ganlab.tricks.layers import weight_layers

if TYPE_CHECKING:
    from ganlab.module import GANModule


class FeatureMatching(Trick):
    r"""Feature matching (Salimans et al. 2016, section 3.1).

    .. math:: L_{FM} = w\,\lVert \mathbb{E}_{x\sim P} f(x) - \mathbb{E}_z f(G(z)) \rVert_2^2

    with :math:`f` an intermediate activation of D: G is asked to match the statistics of real data
    in D's feature space rather than to maximise D's output, a target that does not move as fast as
    D does. The paper replaces G's adversarial loss with it; here it is added to G's loss with weight
    ``w`` (raise ``w`` to make it dominate).

    Args:
        weight: :math:`w`.
        layer: name of D's submodule whose output is :math:`f` (see ``discriminator.named_modules()``);
            ``None`` takes the input of D's output layer, i.e. its last hidden features.
    """

    def __init__(self, weight: Annotated[float, NonNegative] = 1.0, layer: str | None = None) -> None:
        self.weight = float(weight)
        self.layer = layer
        self._captured: list[Tensor] = []

    def setup(self, module: GANModule) -> None:
        discriminator = module.discriminator
        if self.layer is None:
            _, output = weight_layers(discriminator)[-1]
            output.register_forward_pre_hook(lambda _, inputs: self._captured.append(inputs[0]))
            return
        names = [name for name, _ in discriminator.named_modules() if name]
        if self.layer not in names:
            raise GanlabError(f"feature_matching: D has no layer {self.layer!r}; choose one of {', '.join(names)}")
        discriminator.get_submodule(self.layer).register_forward_hook(lambda *args: self._captured.append(args[2]))

    def _features(self, context: StepContext, samples: Tensor) -> Tensor:
        self._captured.clear()
        context.module.discriminator(samples, **context.condition)
        return self._captured[-1].flatten(1).float()

    def generator_terms(self, context: StepContext) -> dict[str, Tensor]:
        with torch.no_grad():
            real_mean = self._features(context, context.real).mean(dim=0)
        fake_mean = self._features(context, context.fake).mean(dim=0)
        self._captured.clear()
        return {"feature_matching": self.weight * ((real_mean - fake_mean) ** 2).sum()}

    def after_discriminator_step(self, context: StepContext) -> None:
        self._captured.clear()  # D's own step also ran the hook; keep no graph alive
