"""A live diagnosis of the run: the rules of :mod:`ganlab.diagnosis` over the signals as they are logged."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any

import lightning as L
import numpy as np
import torch

from ganlab.console import console
from ganlab.diagnosis import Finding, Point, Rule, diagnose
from ganlab.diagnosis.probes import DiversityProbe, ModesProbe, collapse_probe
from ganlab.schema import AtLeast


class Diagnosis(L.Callback):
    """Watch the logged signals and say, once per rule, in one line with the usual remedy, what goes wrong.

    At every logging step (``trainer.log_every_n_steps`` generator steps) the values in
    ``trainer.callback_metrics`` that the rules read are added to the run's series, and every rule
    that has not spoken yet checks the series. A healthy run prints nothing. Every ``every_n_steps``
    generator steps the callback also measures how much of the data ``G(z_fixed)`` covers
    (:mod:`ganlab.diagnosis.probes`) and logs it as ``diagnosis/<name>`` with the other scalars,
    for the mode-collapse rule here and in ``ganlab doctor``, which replays the same rules over the
    TensorBoard logs afterwards. Only rank 0 watches (its values are the logged ones).

    The findings are also written to ``out_file`` (``<run dir>/diagnosis.json``) at the end of
    training or when it stops on an error; a resumed run keeps the findings of its earlier part.

    Args:
        rules: the rules by name (config: ``callbacks.diagnosis.rules``); ``None`` entries are dropped.
        every_n_steps: generator steps between coverage measurements; 0 or ``None``: none.
        num_samples: size of the fixed latent batch (and of the real reference for diversity).
        seed: seed of the fixed latent batch.
        out_file: where the findings go as JSON; ``None``: nowhere.
    """

    def __init__(
        self,
        rules: Mapping[str, Rule | None] | Iterable[Rule],
        every_n_steps: Annotated[int | None, AtLeast(1, nullable=True)] = 250,
        num_samples: Annotated[int, AtLeast(1)] = 512,
        seed: int = 4321,
        out_file: str | None = None,
    ) -> None:
        listed = rules.values() if isinstance(rules, Mapping) else rules
        self.rules: list[Rule] = [rule for rule in listed if rule is not None]
        self.every_n_steps = int(every_n_steps or 0)
        self.num_samples, self.seed = int(num_samples), int(seed)
        self.out_file = Path(out_file) if out_file else None
        self.signals = sorted({name for rule in self.rules for name in rule.signals})
        self.series: dict[str, list[Point]] = {}
        self.findings: list[Finding] = []
        self._probe: ModesProbe | DiversityProbe | None = None
        self._fixed_z: torch.Tensor | None = None

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not (trainer.is_global_zero and self.every_n_steps) or pl_module.generator.translates:
            return
        self._probe = collapse_probe(trainer.datamodule, self.num_samples)
        rng = torch.Generator().manual_seed(self.seed)
        self._fixed_z = pl_module.generator.sample_latent(self.num_samples, rng=rng)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        if not trainer.is_global_zero:
            return
        step = pl_module.generator_steps
        logged = step % trainer.log_every_n_steps == 0
        if logged:
            # the module logs on these steps only; callback_metrics holds stale values in between
            metrics = trainer.callback_metrics
            self._record(step, {name: float(metrics[name]) for name in self.signals if name in metrics})
        if self._probe is not None and step % self.every_n_steps == 0:
            self._record(step, self._measure(trainer, pl_module, step))
            logged = True
        if logged:
            for finding in diagnose(self.rules, self.series, (f.rule for f in self.findings)):
                self.findings.append(finding)
                console.print(finding.line(), markup=False, highlight=False, soft_wrap=True)

    @torch.no_grad()
    def _measure(self, trainer: L.Trainer, pl_module: L.LightningModule, step: int) -> dict[str, float]:
        assert self._probe is not None and self._fixed_z is not None
        # float32, as TensorBoard stores it, so that ganlab doctor replays the very same numbers
        values = {k: float(np.float32(v)) for k, v in self._probe.measure(pl_module.generate(self._fixed_z)).items()}
        for logger in trainer.loggers:
            logger.log_metrics(values, step=step)
        return values

    def _record(self, step: int, values: Mapping[str, float]) -> None:
        for name, value in values.items():
            self.series.setdefault(name, []).append((step, value))

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._write(trainer, pl_module)

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        self._write(trainer, pl_module)

    def _write(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.out_file is None or not trainer.is_global_zero:
            return
        findings = {f.rule: f.to_dict() for f in self.findings}
        # a run resumed from a checkpoint older than an earlier finding keeps that finding
        for earlier in _read_findings(self.out_file):
            findings.setdefault(earlier["rule"], earlier)
        report = {
            "generator_steps": pl_module.generator_steps,
            "rules": [rule.name for rule in self.rules],
            "findings": sorted(findings.values(), key=lambda f: f["step"]),
        }
        self.out_file.parent.mkdir(parents=True, exist_ok=True)
        partial = self.out_file.with_name(self.out_file.name + ".partial")
        partial.write_text(json.dumps(report, indent=2) + "\n")
        os.replace(partial, self.out_file)

    def state_dict(self) -> dict[str, Any]:
        return {"series": self.series, "findings": [f.to_dict() for f in self.findings]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.series = {name: [(int(s), float(v)) for s, v in points] for name, points in state_dict["series"].items()}
        self.findings = [Finding.from_dict(f) for f in state_dict["findings"]]


def _read_findings(path: Path) -> list[dict[str, Any]]:
    """The findings an earlier ``diagnosis.json`` holds (none if it is missing or unreadable)."""
    try:
        return list(json.loads(path.read_text())["findings"])
    except (OSError, ValueError, KeyError, TypeError):
        return []
