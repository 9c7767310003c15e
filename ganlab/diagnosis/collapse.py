"""Mode collapse: the generator's samples cover less and less of the data."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ganlab.diagnosis.base import Finding, Rule, Series, arrays, points

#: the collapse signals the diagnosis callback logs, and how a message names them
COLLAPSE_SIGNALS = {
    "diagnosis/modes_covered": "modes covered",
    "diagnosis/diversity": "sample diversity (mean pairwise pixel distance, generated over real)",
}


class ModeCollapse(Rule):
    """A coverage signal falls to ``max_fraction`` of a substantial peak and stays there.

    The diagnosis callback measures coverage on a fixed latent batch at its own interval
    (:mod:`ganlab.diagnosis.probes`): ``diagnosis/modes_covered`` for data with known mode centres
    (the 2-D mixtures: modes with at least one sample within 3 standard deviations, as the ``modes`` metric counts
    them), ``diagnosis/diversity`` otherwise. Fires when the latest ``patience`` values are all at
    most ``max_fraction`` times the highest value of the ``window`` before them, and that peak was
    at least ``min_modes`` (or ``min_diversity``). A generator that never covered more is not
    flagged: the rule looks for a fall, the signature of collapse during training (Metz et al.
    2017, figure 1: a GAN on the ring hops to one mode at a time), and early training, when G
    covers a mode or two by chance, is no fall.

    Args:
        max_fraction: the share of its peak the signal must fall to; 0.5: half the modes gone
            (8 -> 4 on the ring), or half the spread. Ganlab's healthy ring runs mostly vary by a
            mode or two between measurements, with single dips to half (docs/diagnosis.md), which
            ``patience`` rules out.
        min_modes: the peak of ``diagnosis/modes_covered`` below which a fall means nothing; 4.
        min_diversity: the same for ``diagnosis/diversity``; 0.2, a fifth of the data's spread.
        window: measurements the peak is taken over (20: 5,000 generator steps at the callback's
            default interval of 250).
        patience: consecutive measurements that must stay low, so that one unlucky batch is no finding.
    """

    name = "mode_collapse"
    signals = tuple(COLLAPSE_SIGNALS)

    def __init__(
        self,
        max_fraction: float = 0.5,
        window: int = 20,
        patience: int = 2,
        min_modes: float = 4.0,
        min_diversity: float = 0.2,
    ) -> None:
        self.max_fraction = float(max_fraction)
        self.window = int(window)
        self.patience = int(patience)
        self.min_peak = {"diagnosis/modes_covered": float(min_modes), "diagnosis/diversity": float(min_diversity)}

    def applies(self, logged: Iterable[str]) -> bool:
        """One of the collapse signals suffices (a run has one or the other)."""
        return not set(self.signals).isdisjoint(logged)

    def check(self, series: Series) -> Finding | None:
        for signal, what in COLLAPSE_SIGNALS.items():
            steps, values = arrays(series, signal, self.window + self.patience)
            if len(values) <= self.patience:
                continue
            before, recent = values[: -self.patience], values[-self.patience :]
            peak_at = int(np.argmax(before))
            peak = float(before[peak_at])
            if not (peak >= self.min_peak[signal] and (recent <= self.max_fraction * peak).all()):
                continue
            start, end = int(steps[peak_at]), int(steps[-1])
            return Finding(
                self.name,
                end,
                f"mode collapse: {what} fell from {peak:.3g} to {recent[-1]:.3g} over steps {start}-{end}",
                "G covers less and less of the data: let D see several samples at once (tricks=[packing] or "
                "tricks=[minibatch_stddev]), unroll D (tricks=[unrolled]), or lower optim.generator.lr",
                {signal: points(steps[peak_at:], values[peak_at:])},
            )
        return None
