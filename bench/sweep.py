"""Sweep throughput: a 12-job ring8 sweep run one job after another, then with Hydra's joblib launcher.

Both runs are the same ``ganlab train -m seed=1,...,12`` sweep (the default MLP GAN on ring8, final
evaluation on): sequentially with the basic launcher and every core for each job, then
``hydra/launcher=joblib`` with ``--jobs`` parallel processes of one thread each
(``OMP_NUM_THREADS=1``). Reports wall time, jobs/hour and the speed-up, and checks that every job
wrote its ``metrics.json``.

Usage::

    python bench/sweep.py --steps 1000 --jobs 2 --out bench/results/sweep
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_sweep(sweep_dir: Path, num_jobs: int, steps: int, launcher: list[str], env: dict[str, str]) -> float:
    """Wall seconds of one ``ganlab train -m`` sweep of ``num_jobs`` seeds; fails if a job left no metrics."""
    seeds = ",".join(str(seed) for seed in range(1, num_jobs + 1))
    command = [
        sys.executable,
        "-m",
        "ganlab",
        "train",
        "-m",
        f"seed={seeds}",
        f"generator_steps={steps}",
        "logger=none",
        f"hydra.sweep.dir={sweep_dir}",
        *launcher,
    ]
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    elapsed = time.perf_counter() - started
    missing = [job for job in range(num_jobs) if not (sweep_dir / str(job) / "metrics.json").is_file()]
    if missing:
        raise SystemExit(f"jobs {missing} of {sweep_dir} wrote no metrics.json")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-jobs", type=int, default=12)
    parser.add_argument("--steps", type=int, default=1000, help="generator steps per job")
    parser.add_argument("--jobs", type=int, default=os.cpu_count(), help="parallel joblib processes")
    parser.add_argument("--out", default="bench/results/sweep")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="ganlab-sweep-bench-"))
    sequential = run_sweep(root / "sequential", args.num_jobs, args.steps, [], dict(os.environ))
    parallel_env = dict(os.environ, OMP_NUM_THREADS="1")
    joblib = ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={args.jobs}"]
    parallel = run_sweep(root / "joblib", args.num_jobs, args.steps, joblib, parallel_env)

    def per_hour(seconds: float) -> float:
        return round(args.num_jobs * 3600 / seconds, 1)

    result = {
        "what": f"{args.num_jobs}-job ring8 sweep (seeds), {args.steps} generator steps each, final eval on",
        "cpu_count": os.cpu_count(),
        "sequential": {"wall_s": round(sequential, 1), "jobs_per_hour": per_hour(sequential)},
        "joblib": {"n_jobs": args.jobs, "wall_s": round(parallel, 1), "jobs_per_hour": per_hour(parallel)},
        "speedup": round(sequential / parallel, 2),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        f"{result['what']}, {result['cpu_count']} CPU cores.",
        "",
        "| launcher | wall time (s) | jobs/hour |",
        "| --- | --- | --- |",
        f"| basic (one job at a time, all cores) | {result['sequential']['wall_s']} "
        f"| {result['sequential']['jobs_per_hour']} |",
        f"| joblib, n_jobs={args.jobs}, OMP_NUM_THREADS=1 | {result['joblib']['wall_s']} "
        f"| {result['joblib']['jobs_per_hour']} |",
        "",
        f"Speed-up: {result['speedup']}x.",
    ]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
