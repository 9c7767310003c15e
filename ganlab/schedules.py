"""Learning-rate schedules that the optimiser configs name (``optim=adam_linear_decay``)."""

from __future__ import annotations

from typing import Annotated

from ganlab.schema import AtLeast, Probability


class LinearDecay:
    """The factor on the learning rate at step ``t``: 1 until ``start``, then linearly down to 0 at ``total``.

    CycleGAN (Zhu et al. 2017, section 7) keeps the rate for the first half of training and decays
    it linearly to zero over the second: ``start = total / 2``. A ``torch.optim.lr_scheduler.LambdaLR``
    factor, stepped once per generator step; an object rather than a closure so that the
    scheduler's state (and a resumed run) keeps it.

    Args:
        total: steps of the whole run (``generator_steps``).
        start_fraction: fraction of ``total`` after which the decay starts.

    Example:
        >>> decay = LinearDecay(total=100)
        >>> decay(0), decay(50), decay(75), decay(100)
        (1.0, 1.0, 0.5, 0.0)
    """

    def __init__(self, total: Annotated[int, AtLeast(1)], start_fraction: Annotated[float, Probability] = 0.5) -> None:
        self.total = int(total)
        self.start = round(self.total * float(start_fraction))

    def __call__(self, step: int) -> float:
        if step <= self.start:
            return 1.0
        return max(0.0, 1.0 - (step - self.start) / max(1, self.total - self.start))
