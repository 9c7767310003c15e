"""Diagnosing a GAN run from its logged signals: rules shared by the live callback and ``ganlab doctor``.

Each rule looks for one failure in the series logged so far and states it, once, in one line with
the usual remedy (docs/diagnosis.md lists the rules, their signals, thresholds and remedies).
"""

from ganlab.diagnosis.balance import DiscriminatorAtChance, VanishingGradient
from ganlab.diagnosis.base import Finding, Point, Rule, Series, diagnose, replay
from ganlab.diagnosis.collapse import ModeCollapse
from ganlab.diagnosis.gradients import ExplodingGradients
from ganlab.diagnosis.numerics import NaNRisk
from ganlab.diagnosis.oscillation import Oscillation

__all__ = [
    "DiscriminatorAtChance",
    "ExplodingGradients",
    "Finding",
    "ModeCollapse",
    "NaNRisk",
    "Oscillation",
    "Point",
    "Rule",
    "Series",
    "VanishingGradient",
    "diagnose",
    "replay",
]
