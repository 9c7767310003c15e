"""``ganlab doctor RUN_DIR``: the live diagnosis, replayed over a finished run's TensorBoard logs.

The run's logged scalars go through the rules of :mod:`ganlab.diagnosis` one logging step at a
time, as the ``diagnosis`` callback saw them during training, so the doctor prints the findings the
run printed (and those of a run trained without the callback), each with the logged steps and
values it is based on. The rules are the run's own (``callbacks.diagnosis.rules`` in its
``.hydra/config.yaml``, as tuned or dropped there), else ganlab's defaults. A multirun directory
is diagnosed job by job.

Exit status: 0 when no rule found a problem, 1 when some did, 2 on an error (no such directory,
no TensorBoard logs).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from ganlab.console import console
from ganlab.diagnosis import Finding, Point, Rule, replay
from ganlab.errors import GanlabError

TENSORBOARD = "tensorboard"


def read_scalars(log_dir: Path) -> dict[str, list[Point]]:
    """Every scalar in the event files of ``log_dir``, by tag, in step order.

    A resumed run appends to the same files; TensorBoard drops what was logged after the step a
    resume went back to, as the resumed run's own series did.
    """
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(log_dir), size_guidance={"scalars": 0})
    events.Reload()
    return {tag: sorted((int(e.step), float(e.value)) for e in events.Scalars(tag)) for tag in events.Tags()["scalars"]}


def default_rules_config() -> DictConfig:
    """The rules ``conf/callbacks/default.yaml`` gives the diagnosis callback."""
    from ganlab.config import config_dir

    return OmegaConf.load(Path(config_dir()) / "callbacks" / "default.yaml").diagnosis.rules


def rules_for(run_dir: Path) -> list[Rule]:
    """The run's own diagnosis rules (from ``.hydra/config.yaml``), else the defaults; dropped ones stay dropped."""
    from hydra.utils import instantiate

    config = run_dir / ".hydra" / "config.yaml"
    node = OmegaConf.select(OmegaConf.load(config), "callbacks.diagnosis.rules") if config.is_file() else None
    if node is None:
        node = default_rules_config()
    return [instantiate(rule) for rule in node.values() if rule is not None]


def run_dirs(path: Path) -> list[Path]:
    """The run directories ``path`` stands for: itself, or every job of a multirun directory.

    Raises:
        GanlabError: ``path`` is missing or holds no run with TensorBoard logs.
    """
    if not path.is_dir():
        raise GanlabError(f"no such directory: {path} (give a run directory, e.g. outputs/<date>/<time>)")
    if path.name == TENSORBOARD and any(path.glob("events.out.tfevents.*")):
        return [path.parent]
    if (path / TENSORBOARD).is_dir():
        return [path]
    if (path / ".hydra").is_dir():
        raise GanlabError(
            f"{path} has no TensorBoard logs ({TENSORBOARD}/): the run was made with logger=none, so nothing was "
            "logged to diagnose; train with the default logger=tensorboard"
        )
    jobs = sorted((hydra.parent for hydra in path.rglob(".hydra") if hydra.is_dir()), key=_job_order)
    if not jobs:
        raise GanlabError(
            f"{path} holds no ganlab run: give a run directory (with {TENSORBOARD}/ and .hydra/) or a multirun "
            "directory of them, e.g. outputs/multirun/<date>/<time>"
        )
    if not any((job / TENSORBOARD).is_dir() for job in jobs):
        raise GanlabError(f"no job under {path} has TensorBoard logs: the sweep was run with logger=none")
    return jobs


def _job_order(job: Path) -> tuple[int, str]:
    # a multirun's jobs are numbered 0, 1, ..., 10: in number order, not 0, 1, 10, 2
    return (int(job.name), "") if job.name.isdigit() else (1 << 30, str(job))


def diagnose_run(run_dir: Path) -> list[Finding]:
    """Replay the run's rules over its logs and print what they find (or that they find nothing)."""
    log_dir = run_dir / TENSORBOARD
    if not log_dir.is_dir():
        say(f"{run_dir}: no TensorBoard logs (logger=none), not diagnosed")
        return []
    series = read_scalars(log_dir)
    rules = rules_for(run_dir)
    train_steps = sorted({step for name, points in series.items() if name.startswith("train/") for step, _ in points})
    if not train_steps:
        raise GanlabError(f"{log_dir} holds no train/ scalars: the run stopped before its first logging step")
    findings = replay(rules, series)
    unchecked = [rule.name for rule in rules if not rule.applies(series)]
    span = f"{len(train_steps)} logged steps (generator steps {train_steps[0]}-{train_steps[-1]})"
    if not findings:
        say(f"no problem found in {span} of {run_dir}")
    for finding in findings:
        say(finding.line())
        for line in finding.evidence_lines():
            say(f"    based on {line}")
    if unchecked:
        say(f"not checked, their signals were not logged: {', '.join(unchecked)}")
    return findings


def say(text: str) -> None:
    """Print ``text`` as it is: its brackets (``tricks=[r1]``) are no markup, and a line stays one line."""
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def main(argv: Sequence[str]) -> None:
    """``ganlab doctor RUN_DIR``: exit 0 when healthy, 1 when some rule found a problem."""
    parser = argparse.ArgumentParser(
        prog="ganlab doctor",
        description=__doc__.split("\n\n")[0],
        epilog="exit status: 0 no problem found, 1 some problem found, 2 an error",
    )
    parser.add_argument("run_dir", type=Path, help="a run directory (outputs/<date>/<time>) or a multirun directory")
    args = parser.parse_args(list(argv))
    jobs = run_dirs(args.run_dir)
    found = False
    for job in jobs:
        if len(jobs) > 1:
            say(f"\n{job}:")
        found |= bool(diagnose_run(job))
    if found:
        raise SystemExit(1)
