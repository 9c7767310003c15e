"""Historical averaging: each player is pulled towards the average of its own past parameters."""

from __future__ import annotations

from typing import Annotated, Any

import torch
from torch import Tensor, nn

from ganlab.schema import NonNegative
from ganlab.tricks.base import StepContext, Trick


class HistoricalAveraging(Trick):
    r"""Historical averaging (Salimans et al. 2016, section 3.3).

    Each player adds :math:`w\,\lVert\theta - \frac1t\sum_{i=1}^t \theta_i\rVert^2` to its loss, where
    :math:`\theta_i` are its parameters after each of its past updates (the initial ones count as
    :math:`\theta_1`). The running mean is kept exactly, as a cumulative average. Inspired by
    fictitious play, the penalty damps the orbiting that gradient descent shows on games like
    :math:`xy`.

    Args:
        weight: :math:`w`, for both players.
    """

    def __init__(self, weight: Annotated[float, NonNegative] = 1.0) -> None:
        self.weight = float(weight)
        self.means: dict[str, list[Tensor]] = {}
        self.counts: dict[str, int] = {}

    def setup(self, module: nn.Module) -> None:
        for player in ("generator", "discriminator"):
            self._record(player, getattr(module, player))

    @torch.no_grad()
    def _record(self, player: str, network: nn.Module) -> None:
        params = [p.detach() for p in network.parameters()]
        if player not in self.means:
            self.means[player] = [p.clone() for p in params]
            self.counts[player] = 1
            return
        self.counts[player] += 1
        for mean, p in zip(self.means[player], params, strict=True):
            mean.add_((p.to(mean.device) - mean) / self.counts[player])

    def penalty(self, player: str, network: nn.Module) -> Tensor:
        """:math:`w \\lVert\\theta - \\bar\\theta\\rVert^2` for ``network`` (the graph reaches its parameters)."""
        params = list(network.parameters())
        means = self.means[player] = [m.to(p.device) for m, p in zip(self.means[player], params, strict=True)]
        return self.weight * sum(((p - m) ** 2).sum() for p, m in zip(params, means, strict=True))

    def discriminator_terms(self, context: StepContext) -> dict[str, Tensor]:
        return {"historical_average": self.penalty("discriminator", context.module.discriminator)}

    def generator_terms(self, context: StepContext) -> dict[str, Tensor]:
        return {"historical_average": self.penalty("generator", context.module.generator)}

    def after_discriminator_step(self, context: StepContext) -> None:
        self._record("discriminator", context.module.discriminator)

    def after_generator_step(self, context: StepContext) -> None:
        self._record("generator", context.module.generator)

    def state_dict(self) -> dict[str, Any]:
        return {"means": {k: [m.cpu() for m in v] for k, v in self.means.items()}, "counts": dict(self.counts)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state:
            self.means = {k: [m.clone() for m in v] for k, v in state["means"].items()}
            self.counts = dict(state["counts"])
