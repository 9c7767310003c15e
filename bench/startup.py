"""Start-up: how long ``ganlab`` takes to answer ``--help``, ``--cfg job`` and a config error, and to start training.

Each command runs ``--repeats`` times as a fresh process (``python -m ganlab ...``, the median is
reported). "To the first step" is the wall time from launching ``ganlab train`` (the default ring8 run,
or ``experiment=dcgan_mnist``) to the start of its first training batch, stamped by a callback that this
file adds with ``+callbacks.first_step._target_=startup.FirstStepStamp`` (``bench/`` on ``PYTHONPATH``).
Writes ``startup.json`` and ``startup.md`` to ``--out``.

Usage::

    GANLAB_DATA_DIR=../shared/data python bench/startup.py --out bench/results/startup
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import lightning as L

COMMANDS = {
    "ganlab --help": ["--help"],
    "ganlab train --help": ["train", "--help"],
    "ganlab train --cfg job": ["train", "--cfg", "job"],
    "ganlab train model=nope (config error)": ["train", "model=nope"],
}
RUNS = {
    "ganlab train (ring8)": [],
    "ganlab train experiment=dcgan_mnist": ["experiment=dcgan_mnist", "dataset.download=false"],
}


class FirstStepStamp(L.Callback):
    """Writes ``time.time()`` at the start of the first training batch to ``$GANLAB_FIRST_STEP_FILE``, then stops."""

    def on_train_batch_start(self, trainer: L.Trainer, *args: object) -> None:
        Path(os.environ["GANLAB_FIRST_STEP_FILE"]).write_text(repr(time.time()))
        trainer.should_stop = True


def wall(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "ganlab", *args], env=env, capture_output=True)
    return time.perf_counter() - started


def to_first_step(overrides: list[str], env: dict[str, str], root: Path) -> float:
    stamp = root / "first_step"
    run_dir = tempfile.mkdtemp(dir=root)
    env = dict(env, GANLAB_FIRST_STEP_FILE=str(stamp))
    started = time.time()
    subprocess.run(
        [sys.executable, "-m", "ganlab", "train", *overrides, "logger=none", "final_eval=false",
         "+callbacks.first_step._target_=startup.FirstStepStamp", f"hydra.run.dir={run_dir}"],
        env=env, capture_output=True, check=True,
    )  # fmt: skip
    return float(stamp.read_text()) - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("bench/results/startup"))
    args = parser.parse_args()
    bench_dir = str(Path(__file__).resolve().parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([bench_dir, os.environ.get("PYTHONPATH", "")]))
    root = Path(tempfile.mkdtemp(prefix="ganlab-startup-"))
    results = {name: [wall(cmd, env) for _ in range(args.repeats)] for name, cmd in COMMANDS.items()}
    results |= {name: [to_first_step(cmd, env, root) for _ in range(args.repeats)] for name, cmd in RUNS.items()}
    lines = [
        "# ganlab start-up",
        "",
        f"- command: `{' '.join([Path(sys.executable).name, *sys.argv])}`; median of {args.repeats} fresh processes",
        "",
        "| command | seconds (median) | all runs |",
        "|---|---:|---|",
    ]
    for name, times in results.items():
        what = f"{name}: launch to first training step" if name in RUNS else name
        lines.append(f"| {what} | {statistics.median(times):.2f} | {', '.join(f'{t:.2f}' for t in times)} |")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "startup.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out / "startup.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
