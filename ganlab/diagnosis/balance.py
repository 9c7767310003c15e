"""The balance of the two players: D winning so that G's gradient vanishes, and D at chance."""

from __future__ import annotations

import math

import numpy as np

from ganlab.diagnosis.base import Finding, Rule, Series, points, recent, running_median


class VanishingGradient(Rule):
    r"""D wins and G's gradient vanishes: D(G(z)) near 0 while G's gradient norm has fallen.

    The saturating minimax loss :math:`\log(1 - \sigma(\ell))` has slope :math:`-\sigma(\ell) =
    -D(G(z))` in the logit (Goodfellow et al. 2014, section 3): once D confidently rejects the
    fakes, the gradient that reaches G is scaled by D(G(z)) itself, and G stalls. Read from the mean
    of :math:`\sigma(\ell)` over D's fake batch (``train/D_fake_prob``), which only losses whose
    scores are logits log; for critic losses (WGAN, hinge, least squares) the rule does not apply.

    Fires when the median of the latest ``patience`` logged D(G(z)) values is at most
    ``max_d_fake`` and the median of the latest ``patience`` G gradient norms is at most their peak
    over the last ``window`` generator steps (a running median of ``patience`` points, so one spike
    is no peak) divided by ``min_fall``.

    Args:
        max_d_fake: D(G(z)) at or below which D "rejects" the fakes. 0.05: the saturating slope is
            then at most 1/20 of the non-saturating loss's (:math:`1 - D(G(z)) \ge 0.95`).
        min_fall: the factor by which G's gradient norm must have fallen from its peak; 10, an
            order of magnitude, which ordinary noise in the norm (a factor 2-3 between logging
            steps in ganlab's runs) does not reach.
        window: generator steps the peak is looked for in; 1,000.
        patience: logged points a value must hold for (the median of the latest ``patience``).
    """

    name = "vanishing_gradient"
    signals = ("train/D_fake_prob", "train/g_grad_norm")

    def __init__(self, max_d_fake: float = 0.05, min_fall: float = 10.0, window: int = 1000, patience: int = 3) -> None:
        self.max_d_fake = float(max_d_fake)
        self.min_fall = float(min_fall)
        self.window = int(window)
        self.patience = int(patience)

    def check(self, series: Series) -> Finding | None:
        d_steps, d_fake, _ = recent(series, "train/D_fake_prob", self.window)
        g_steps, g_norm, _ = recent(series, "train/g_grad_norm", self.window)
        if min(len(d_fake), len(g_norm)) < 2 * self.patience:
            return None
        smooth = running_median(g_norm, self.patience)
        peak_at = int(np.argmax(smooth))
        peak, now = smooth[peak_at], np.median(g_norm[-self.patience :])
        d_now = np.median(d_fake[-self.patience :])
        if not (d_now <= self.max_d_fake and now * self.min_fall <= peak):
            return None
        start = int(g_steps[peak_at + self.patience // 2])
        d_then = d_fake[d_steps <= start][-1] if (d_steps <= start).any() else d_fake[0]
        end = int(g_steps[-1])
        return Finding(
            self.name,
            end,
            f"D is winning: D(G(z)) fell from {d_then:.3g} to {d_now:.3g} and G's gradient norm from "
            f"{peak:.3g} to {now:.3g} over steps {start}-{end}",
            "the saturating loss log(1 - D(G(z))) gives G no gradient once D rejects the fakes: use loss=nsgan "
            "(with loss=gan), or weaken D (optim.n_critic=1, a lower optim.discriminator.lr)",
            # the peak and the latest points, whose medians the message gives
            {
                "train/D_fake_prob": _at(d_steps, d_fake, (start, *d_steps[-self.patience :])),
                "train/g_grad_norm": _at(g_steps, g_norm, (start, *g_steps[-self.patience :])),
            },
        )


class DiscriminatorAtChance(Rule):
    r"""D cannot tell real from fake: the separation of its scores stays near zero (or below).

    The separation is the sensitivity index of signal detection theory,

    .. math:: d' = \frac{\bar s_{real} - \bar s_{fake}}{\sqrt{(\mathrm{var}\, s_{real} + \mathrm{var}\, s_{fake})/2}}

    over D's raw scores in its last step of each logged batch (``train/D_separation``). It has no
    unit, so one threshold serves logits, critic values (WGAN's critic gap :math:`\bar s_{real} -
    \bar s_{fake}` is the numerator) and least-squares or hinge scores alike. Two Gaussian score
    distributions with separation :math:`d'` are told apart by the best threshold with accuracy
    :math:`\Phi(d'/2)`: 55% at :math:`d' = 0.25`, chance at 0; a negative :math:`d'` means G's
    samples score as more real than the data. A D at chance passes G no information.

    Fires when the median separation over the last ``window`` generator steps is at most
    ``max_separation``, once the run has been logging for that long (D starts at chance).

    Args:
        max_separation: the separation at or below which D counts as at chance; 0.25, a best
            accuracy of 55%. Healthy ganlab runs stay above 0.7 after their first logged step
            (docs/diagnosis.md).
        window: generator steps the separation must stay low for; 200 (8 logged points at the
            default interval), so that G winning one round is no finding.
    """

    name = "discriminator_at_chance"
    signals = ("train/D_separation",)

    def __init__(self, max_separation: float = 0.25, window: int = 200) -> None:
        self.max_separation = float(max_separation)
        self.window = int(window)

    def check(self, series: Series) -> Finding | None:
        steps, separation, full = recent(series, "train/D_separation", self.window)
        if not full:
            return None
        median = float(np.median(separation))
        if not median <= self.max_separation:
            return None
        start, end = int(steps[0]), int(steps[-1])
        fooled = " (G's samples score as more real than the data)" if median < 0 else ""
        return Finding(
            self.name,
            end,
            f"D is at chance: the separation d' of its scores on real and fake samples was {median:.3g}{fooled} "
            f"over steps {start}-{end} (at most {self.max_separation:g}: a best accuracy of "
            f"{_accuracy(self.max_separation):.0%})",
            "G learns nothing from a D that cannot tell: strengthen D (a higher optim.discriminator.lr, "
            "optim.n_critic=2 to 5) and drop what blinds it (instance noise, strong label smoothing)",
            {"train/D_separation": points(steps, separation)},
        )


def _accuracy(separation: float) -> float:
    """Φ(d'/2), the best accuracy of a threshold between two equal-variance Gaussians ``d'`` apart."""
    return 0.5 * (1 + math.erf(separation / 2 / math.sqrt(2)))


def _at(steps: np.ndarray, values: np.ndarray, wanted: tuple[int, ...]) -> list[tuple[int, float]]:
    """The points logged at the ``wanted`` steps."""
    keep = np.isin(steps, wanted)
    return points(steps[keep], values[keep])
