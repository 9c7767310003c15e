"""Stabilisation tricks, combined with ``tricks=[a,b]``; each plugs in through :class:`Trick`."""

from ganlab.tricks.base import StepContext, Trick

__all__ = ["StepContext", "Trick"]
