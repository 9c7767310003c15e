"""Exploding gradients: a player's gradient norm jumps by orders of magnitude within a short stretch."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ganlab.diagnosis.base import Finding, Rule, Series, recent, running_median


class ExplodingGradients(Rule):
    """A gradient norm rises to ``factor`` times its recent floor.

    The floor is the lowest running median (over ``smoothing`` points, so that one dip to near
    zero is no floor) of the points logged in the ``window`` generator steps before the latest;
    the rule fires on a latest point of ``train/d_grad_norm`` or ``train/g_grad_norm`` at or above
    ``factor`` times that floor. Measured against a short window, slow drifts over a long run do
    not count, while a spike or a blow-up of the kind that ends in a non-finite loss does. The
    norms are the players' whole-gradient L2 norms after clipping (``optim.gradient_clip_val``),
    as logged.

    Args:
        signals: the gradient norms to watch.
        factor: the rise that counts as an explosion; 100, two orders of magnitude. In ganlab's
            healthy ring runs the norms rise by at most 15-35 times their floor within such a
            window (docs/diagnosis.md).
        window: generator steps before the latest point that the floor is taken over; 500.
        smoothing: points of the running median that sets the floor.
    """

    name = "exploding_gradients"

    def __init__(
        self,
        signals: Sequence[str] = ("train/d_grad_norm", "train/g_grad_norm"),
        factor: float = 100.0,
        window: int = 500,
        smoothing: int = 3,
    ) -> None:
        self.signals = tuple(signals)
        self.factor = float(factor)
        self.window = int(window)
        self.smoothing = int(smoothing)

    def check(self, series: Series) -> Finding | None:
        for signal in self.signals:
            steps, norms, _ = recent(series, signal, self.window)
            floors = running_median(norms[:-1], self.smoothing)
            if len(floors) == 0 or not np.isfinite(norms[-1]):
                continue  # non-finite norms are the NaN rule's
            lowest = int(np.argmin(floors))
            floor, now = float(floors[lowest]), float(norms[-1])
            if not now >= self.factor * max(floor, 1e-12):
                continue
            start, end = int(steps[lowest + self.smoothing // 2]), int(steps[-1])
            player = "G" if "g_grad" in signal else "D"
            return Finding(
                self.name,
                end,
                f"exploding gradients: {player}'s gradient norm rose from {floor:.3g} to {now:.3g} "
                f"({now / max(floor, 1e-12):.3g}-fold) over steps {start}-{end}",
                "a step this large throws the weights far off: clip gradients (optim.gradient_clip_val=1.0), "
                "lower optim.lr, or constrain D (tricks=[spectral_norm], loss=wgan_gp)",
                {signal: [(start, floor), (end, now)]},
            )
        return None
