"""Losses that swing periodically with growing amplitude: the players circle instead of converging."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ganlab.diagnosis.base import Finding, Rule, Series, arrays, points


class Oscillation(Rule):
    r"""A loss oscillates with a period and an amplitude that grows.

    Simultaneous or alternating gradient steps on a game need not converge: on the Dirac-GAN, an
    unregularised GAN or WGAN circles its equilibrium and spirals outward (Mescheder et al. 2018,
    "Which training methods for GANs do actually converge?", section 2). In the logs this is a
    loss that is periodic with a swing that grows, unlike the aperiodic noise of a healthy run.

    Over the last ``window`` logged points of each watched loss, with a straight-line trend removed:

    - periodic: the series repeats after ``P`` points (an autocorrelation of at least
      ``min_autocorrelation`` at lag ``P``, and at most ``-min_autocorrelation`` half a period later:
      :func:`dominant_period`), and the window holds at least ``min_cycles`` periods;
    - growing: the standard deviation of the last third of the window is at least
      ``min_growth`` times that of the first third.

    Args:
        signals: the losses to watch.
        window: logged points looked at (48: 1,200 generator steps at the default logging interval).
        min_cycles: full periods the window must hold; 3, so that two bumps are no period.
        min_autocorrelation: the autocorrelation required at the period (and its negative at half
            the period); 0.5. Over the 32 or more point pairs of a lag up to a third of 48 points,
            white noise has an autocorrelation with a standard deviation of about 0.18, so each
            condition is about 3 of those; a swinging loss scores 0.7-0.95.
        min_growth: the factor by which the swing must have grown across the window; 1.5.
    """

    name = "oscillation"

    def __init__(
        self,
        signals: Sequence[str] = ("train/d_loss", "train/g_loss"),
        window: int = 48,
        min_cycles: float = 3.0,
        min_autocorrelation: float = 0.5,
        min_growth: float = 1.5,
    ) -> None:
        self.signals = tuple(signals)
        self.window = int(window)
        self.min_cycles = float(min_cycles)
        self.min_autocorrelation = float(min_autocorrelation)
        self.min_growth = float(min_growth)

    def check(self, series: Series) -> Finding | None:
        for signal in self.signals:
            steps, values = arrays(series, signal, self.window)
            if len(values) < self.window or not np.isfinite(values).all():
                continue
            period = dominant_period(values, int(len(values) // self.min_cycles), self.min_autocorrelation)
            if period is None:
                continue
            third = len(values) // 3
            residual = detrended(values)
            growth = residual[-third:].std() / max(residual[:third].std(), 1e-12)
            if growth < self.min_growth:
                continue
            start, end = int(steps[0]), int(steps[-1])
            period_steps = period * (end - start) / (len(steps) - 1)
            swing = (np.ptp(residual[:third]), np.ptp(residual[-third:]))
            return Finding(
                self.name,
                end,
                f"oscillation: {signal} swings with a period of about {period_steps:.0f} steps and a swing that grew "
                f"{growth:.2g}-fold (peak to peak, trend removed: {swing[0]:.3g} -> {swing[1]:.3g}) "
                f"over steps {start}-{end}",
                "the players circle the equilibrium instead of reaching it: lower optim.lr, "
                "use Adam with betas [0.0, 0.9] or [0.5, 0.999], or regularise D (tricks=[r1], loss=wgan_gp)",
                {signal: _extremes(steps, values, third)},
            )
        return None


def detrended(values: np.ndarray) -> np.ndarray:
    """``values`` minus their least-squares straight line."""
    index = np.arange(len(values))
    slope, intercept = np.polyfit(index, values, 1)
    return values - (slope * index + intercept)


def autocorrelation(values: np.ndarray, lag: int) -> float:
    """The Pearson correlation of ``values`` with themselves ``lag`` points later (0 where either part is constant)."""
    head, tail = values[:-lag], values[lag:]
    scale = head.std() * tail.std()
    return float(((head - head.mean()) * (tail - tail.mean())).mean() / scale) if scale > 0 else 0.0


def dominant_period(values: np.ndarray, max_period: int, min_autocorrelation: float) -> int | None:
    """The shortest lag ``P <= max_period`` at which the detrended ``values`` repeat, or ``None``.

    ``P`` is the first local maximum of the autocorrelation that reaches ``min_autocorrelation``, and
    half a period later the series must be in antiphase: an autocorrelation at ``P / 2`` of at most
    ``-min_autocorrelation``. Noise passes both only by a rare chance; a swinging loss scores near
    +1 and -1.
    """
    residual = detrended(values)
    correlation = [autocorrelation(residual, lag) for lag in range(1, max_period + 2)]
    for lag in range(2, max_period + 1):
        here = correlation[lag - 1]
        if here >= min_autocorrelation and correlation[lag - 2] <= here >= correlation[lag]:
            half = correlation[max(1, round(lag / 2)) - 1]
            return lag if half <= -min_autocorrelation else None
    return None


def _extremes(steps: np.ndarray, values: np.ndarray, third: int) -> list[tuple[int, float]]:
    """The lowest and highest points of the first and of the last ``third`` points: the swing then and now."""
    picked = set()
    for part in (slice(0, third), slice(len(values) - third, len(values))):
        offset = part.start
        picked |= {offset + int(np.argmin(values[part])), offset + int(np.argmax(values[part]))}
    keep = sorted(picked)
    return points(steps[keep], values[keep])
