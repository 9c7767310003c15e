"""What a lesson is: a lecture's claim, the ordinary ganlab runs that test it, the measured numbers, a computed verdict.

A lesson (one module in ``ganlab/lessons/`` plus one YAML in ``conf/lesson/``) trains and scores with the real
``ganlab train`` / ``ganlab eval`` through a :class:`Lab`, in run directories under its own folder, so every run
is an ordinary run (TensorBoard, checkpoints, ``ganlab doctor``) and an interrupted lesson resumes. Its
:meth:`Lesson.run` returns a :class:`Result`: numbers, figures, and :class:`Check` s whose ``holds`` is computed
from the numbers; the verdict is that of the checks, never written by hand.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import Tensor

from ganlab.errors import GanlabError

#: tiny: seconds, for the test suite (its numbers mean nothing); default: minutes on 2 CPU cores; full: longer
SCALES = ("tiny", "default", "full")


@dataclass
class Check:
    """One claim tested against a measurement: what the lecture says, what was measured, whether it holds."""

    claim: str
    measured: str
    holds: bool


@dataclass
class Result:
    """What a lesson found: named numbers, figures (``(3, H, W)`` in [0, 1]) by file stem, and its checks."""

    numbers: dict[str, float] = field(default_factory=dict)
    figures: dict[str, Tensor] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        """``agrees`` when every check holds, else ``does not agree``."""
        return "agrees" if self.checks and all(check.holds for check in self.checks) else "does not agree"


class Lab:
    """Runs ordinary ganlab commands for one lesson, each in a run directory of its own under ``root``.

    A run's directory is ``runs/<name>-<hash of its overrides>``, so a finished command leaves a
    ``.lesson-done`` marker and is not run again, while the same run asked with other settings (another
    ``lesson.steps``, another scale) is a new run, never a stale one; an unfinished training continues from
    its checkpoint (``resume=auto``). Every command is recorded for the lesson's page.

    Args:
        root: the lesson's folder; runs go to ``root/runs/``.
        overrides: extra overrides for every training.
    """

    def __init__(self, root: Path, overrides: tuple[str, ...] = ()) -> None:
        self.root = Path(root)
        self.overrides = tuple(overrides)
        self.commands: list[str] = []
        self._run_dirs: dict[str, Path] = {}

    def run_dir(self, name: str) -> Path:
        """The directory of the run this lesson trained as ``name``."""
        if name not in self._run_dirs:
            raise GanlabError(f"lesson run {name!r} has not been trained in this lesson: call Lab.train first")
        return self._run_dirs[name]

    def train(self, name: str, *overrides: str) -> Path:
        """``ganlab train *overrides`` in ``runs/<name>-<hash>``; returns that run directory."""
        settings = (*overrides, *self.overrides)
        digest = hashlib.sha1("\0".join(settings).encode()).hexdigest()[:8]
        run = self._run_dirs[name] = self.root / "runs" / f"{name}-{digest}"
        self._ganlab(run / ".lesson-done", "train", *settings, f"hydra.run.dir={run}", "resume=auto")
        return run

    def eval(self, name: str, *overrides: str) -> dict[str, float]:
        """``ganlab eval ckpt=runs/<name> *overrides``; returns its metrics."""
        run = self.run_dir(name)
        out = run / "lesson_eval"
        self._ganlab(out / ".lesson-done", "eval", f"ckpt={run}", f"out_dir={out}", *overrides)
        return json.loads((out / "metrics.json").read_text())["metrics"]

    def restore(self, name: str):
        """The trained module of ``runs/<name>`` in eval mode, on the CPU, with its data module."""
        from hydra.utils import instantiate
        from omegaconf import OmegaConf

        from ganlab.evaluate import restore

        data_dir = os.environ.get("GANLAB_DATA_DIR", "./data")
        paths = OmegaConf.create(
            {"data_dir": data_dir, "log_dir": str(self.root), "cache_dir": None, "output_dir": "."}
        )
        _, _, trained, module = restore(self.run_dir(name), paths, "cpu")
        return module, instantiate(trained.dataset.datamodule)

    def _ganlab(self, done: Path, *args: str) -> None:
        self.commands.append(shlex.join(["ganlab", *args]))
        if done.exists():
            return
        finished = subprocess.run([sys.executable, "-m", "ganlab", *args], capture_output=True, text=True)
        if finished.returncode:
            last = (finished.stderr.strip().splitlines() or ["no message"])[-1]
            raise GanlabError(f"a lesson run failed: {shlex.join(['ganlab', *args])}: {last}")
        done.parent.mkdir(parents=True, exist_ok=True)
        done.touch()


class Lesson:
    """One lecture's demonstration. Subclasses set :attr:`claim` and implement :meth:`run`.

    Args:
        name: the lesson's name, as in ``conf/lesson``.
        title: its heading.
        lectures: the lectures it comes from.
        cost: the default scale's wall time on 2 CPU cores, for ``ganlab lesson --list``.
        scale: ``tiny`` (seconds, for tests), ``default`` (minutes) or ``full`` (the longer version).
    """

    claim: str = ""

    def __init__(
        self, name: str, title: str, lectures: list[str], cost: str, chapter: int, scale: str = "default"
    ) -> None:
        if scale not in SCALES:
            raise GanlabError(f"lesson.scale={scale!r}: use one of {', '.join(SCALES)}")
        self.name, self.title, self.lectures, self.cost, self.scale = name, title, list(lectures), cost, scale
        self.chapter = int(chapter)

    def at_scale(self, default: int, full: int, tiny: int = 8) -> int:
        """The count for this lesson's scale: ``default``, ``full`` or ``tiny``."""
        return {"tiny": tiny, "default": default, "full": full}[self.scale]

    def run(self, lab: Lab) -> Result:
        raise NotImplementedError

    def describe(self) -> Mapping[str, Any]:
        return {"name": self.name, "title": self.title, "lectures": self.lectures, "claim": self.claim}
