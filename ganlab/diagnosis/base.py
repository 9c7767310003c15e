"""What a diagnosis rule is: a test over logged time series that finds one failure, stated as one line.

The live callback (:class:`~ganlab.callbacks.Diagnosis`) and ``ganlab doctor`` feed the same rules
the same series, one logging step at a time (:func:`replay`), so both report the same findings at
the same steps.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import numpy as np

Point = tuple[int, float]
"""One logged value: ``(generator step, value)``."""

Series = Mapping[str, Sequence[Point]]
"""Logged signals by name (``train/d_loss``, ...), each in step order."""


@dataclass(frozen=True)
class Finding:
    """A failure one rule saw: what, since when, the usual remedy, and the logged points it rests on.

    Attributes:
        rule: the rule's name (``vanishing_gradient``, ...).
        step: the generator step at which the rule first held.
        message: what was seen, with the numbers (``D(G(z)) fell to 0.002 ...``).
        remedy: what usually helps, with the overrides to try.
        evidence: the points the decision rests on, by signal: ``{name: [(step, value), ...]}``.
    """

    rule: str
    step: int
    message: str
    remedy: str
    evidence: dict[str, list[Point]] = field(default_factory=dict)

    def line(self) -> str:
        """The one plain line both the callback and the doctor print."""
        return f"diagnosis: step {self.step}: {self.message}; {self.remedy}"

    def evidence_lines(self) -> list[str]:
        """One line per signal: the steps and values the finding is based on."""
        return [
            f"{name}: " + ", ".join(f"step {step} {_number(value)}" for step, value in points)
            for name, points in self.evidence.items()
        ]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "line": self.line()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        evidence = {name: [(int(s), float(v)) for s, v in points] for name, points in data["evidence"].items()}
        return cls(str(data["rule"]), int(data["step"]), str(data["message"]), str(data["remedy"]), evidence)


class Rule:
    """One failure to look for in a run's logged series.

    Subclasses name the signals they read (:attr:`signals`; the callback records those) and
    implement :meth:`check`, which sees every point logged up to now and returns a
    :class:`Finding` when the failure shows, ``None`` otherwise (including when a signal it reads
    was not logged: such a rule does not apply to the run). Thresholds are constructor arguments.
    """

    name: ClassVar[str]
    signals: tuple[str, ...] = ()

    def check(self, series: Series) -> Finding | None:
        raise NotImplementedError

    def applies(self, logged: Iterable[str]) -> bool:
        """Whether a run that logged the signals ``logged`` can show this failure: it logged all of :attr:`signals`."""
        return set(self.signals) <= set(logged)

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({fields})"


def arrays(series: Series, name: str, last: int) -> tuple[np.ndarray, np.ndarray]:
    """Steps and values of the ``last`` points of one signal as arrays (empty where it was not logged).

    Rules look at a bounded window of recent points, so checking after every logged step stays
    cheap however long the run.
    """
    return _as_arrays(series.get(name, ())[-last:])


def recent(series: Series, name: str, steps: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """The points of one signal logged within ``steps`` generator steps of its latest, as arrays.

    Also returns whether the signal was logged that long: whether it has a point at or before the
    window's start, so that a window is not judged before it has filled (the first steps of a run).
    """
    points = series.get(name, ())
    if not points:
        return *_as_arrays(()), False
    start = points[-1][0] - steps
    first = len(points)
    while first > 0 and points[first - 1][0] > start:
        first -= 1
    return *_as_arrays(points[first:]), first > 0


def _as_arrays(points: Sequence[Point]) -> tuple[np.ndarray, np.ndarray]:
    steps = np.fromiter((s for s, _ in points), dtype=np.int64, count=len(points))
    values = np.fromiter((v for _, v in points), dtype=np.float64, count=len(points))
    return steps, values


def running_median(values: np.ndarray, width: int) -> np.ndarray:
    """The median of each run of ``width`` consecutive values (``len(values) - width + 1`` of them): spikes drop out."""
    if len(values) < width:
        return np.empty(0)
    return np.median(np.lib.stride_tricks.sliding_window_view(values, width), axis=1)


def steps_of(series: Series) -> list[int]:
    """Every step at which some signal was logged, in order."""
    return sorted({step for points in series.values() for step, _ in points})


def diagnose(rules: Iterable[Rule], series: Series, found: Iterable[str] = ()) -> list[Finding]:
    """The findings of the rules not yet in ``found`` (names) on ``series``, in the rules' order."""
    done = set(found)
    findings = []
    for rule in rules:
        if rule.name not in done and (finding := rule.check(series)) is not None:
            findings.append(finding)
    return findings


def replay(rules: Sequence[Rule], series: Series) -> list[Finding]:
    """What the live callback said during the run: the rules checked after each logged step, each finding once.

    Costs one check per rule and logged step; a rule that held stops being checked.
    """
    findings: list[Finding] = []
    prefix: dict[str, list[Point]] = {name: [] for name in series}
    cursor = dict.fromkeys(series, 0)
    for step in steps_of(series):
        for name, points in series.items():
            while cursor[name] < len(points) and points[cursor[name]][0] <= step:
                prefix[name].append(points[cursor[name]])
                cursor[name] += 1
        findings += diagnose(rules, prefix, (f.rule for f in findings))
        if len(findings) == len(rules):
            break
    return findings


def _number(value: float) -> str:
    return f"{value:.3g}" if math.isfinite(value) else str(value)


def points(steps: np.ndarray, values: np.ndarray) -> list[Point]:
    """Arrays of steps and values back as ``(step, value)`` points."""
    return [(int(s), float(v)) for s, v in zip(steps, values, strict=True)]
