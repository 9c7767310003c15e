"""NaN risk: D's scores grown to where floating point gives out, or a logged value already non-finite."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ganlab.diagnosis.base import Finding, Rule, Series, arrays, points


class NaNRisk(Rule):
    r"""D's largest score magnitude stays at or above ``max_score``, or a watched value is not finite.

    ``train/D_max_abs`` is :math:`\max |s|` over D's scores on the real and the fake batch of its
    last step in each logged batch. Large scores are where training turns non-finite:

    - under ``bf16-mixed`` (ganlab's default where the hardware has bf16) D's last layer computes in
      bfloat16, whose 8-bit significand resolves values between 32 and 64 only to steps of 0.25,
      and between 64 and 128 to 0.5: score differences of order 1, which the losses live on,
      drown in rounding;
    - :math:`\exp(s)` overflows float32 at :math:`s > 88.7` (float16 at 11.1), and f-GAN's KL and
      :math:`\chi^2` conjugates compute it;
    - for logits, :math:`\sigma(50) = 1 - 2\cdot 10^{-22}`: such samples give D no gradient
      however wrong they are.

    Healthy ganlab runs stay below 12 (docs/diagnosis.md). The rule also fires at once on a
    non-finite value in any watched signal (gradient norms are logged after the step that
    produced them, one step before the loss turns NaN and training stops).

    Args:
        max_score: the score magnitude at or above which the run is at risk; 50.
        patience: consecutive logged points the magnitude must stay there, so that one wild batch is no finding.
        signals: the signals checked for non-finite values (``train/D_max_abs`` first).
    """

    name = "nan_risk"

    def __init__(
        self,
        max_score: float = 50.0,
        patience: int = 3,
        signals: Sequence[str] = (
            "train/D_max_abs",
            "train/d_loss",
            "train/g_loss",
            "train/d_grad_norm",
            "train/g_grad_norm",
        ),
    ) -> None:
        self.max_score = float(max_score)
        self.patience = int(patience)
        self.signals = tuple(signals)

    def check(self, series: Series) -> Finding | None:
        for signal in self.signals:
            steps, values = arrays(series, signal, 1)
            if len(values) and not np.isfinite(values[-1]):
                return Finding(
                    self.name,
                    int(steps[-1]),
                    f"NaN: {signal} is {values[-1]} at step {steps[-1]}",
                    _REMEDY,
                    {signal: points(steps, values)},
                )
        steps, scores = arrays(series, "train/D_max_abs", self.patience)
        if len(scores) < self.patience or not (scores >= self.max_score).all():
            return None
        start, end = int(steps[0]), int(steps[-1])
        return Finding(
            self.name,
            end,
            f"NaN risk: D's scores reached |D| = {scores.max():.3g} (at least {self.max_score:g} "
            f"over steps {start}-{end}), "
            "where bf16 rounds them to steps of 0.25 or more, sigmoid saturates and exp() nears overflow",
            _REMEDY,
            {"train/D_max_abs": points(steps, scores)},
        )


_REMEDY = (
    "keep D's scores small: lower optim.lr, clip gradients (optim.gradient_clip_val=1.0), constrain D "
    "(tricks=[spectral_norm], tricks=[r1]), or compute in float32 (trainer.precision=32-true)"
)
