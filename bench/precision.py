"""Does bf16 cost quality? The old default (fp32, contiguous) against the new one (precision=auto, channels_last).

For each seed, both arms train the same runs with the real CLI and are scored the same way:

- ``ganlab train experiment=dcgan_mnist seed=S`` (DCGAN on MNIST, 2,000 generator steps), then
  ``ganlab eval ckpt=<run> num_samples=1000 "metrics=[fid]"`` (FID of 1,000 samples against the 1,000
  test digits, fp32 Inception), and the same eval with the bf16 Inception
  (``feature_extractor=inception feature_extractor.precision=bf16``) on the same samples;
- ``ganlab train seed=S``: the default demo (MLP GAN on ring8, 3,000 steps), whose final evaluation
  gives modes covered, the high-quality fraction and the reverse KL.

The fp32 arm adds ``trainer.precision=32-true channels_last=false``; the auto arm adds nothing. The arms
alternate per seed so that load on the machine hits both alike; each run's wall time (start-up and
saving included) is recorded. Finally FID between 1,000 train and the 1,000 test digits (real vs real)
in both Inception precisions. Writes ``precision.json`` and ``precision.md`` to ``--out``.

Usage (about 45 minutes on 2 CPU cores)::

    GANLAB_DATA_DIR=../shared/data TORCH_HOME=../shared/torch python bench/precision.py
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
from typing import Any

ARMS: dict[str, list[str]] = {
    "fp32": ["trainer.precision=32-true", "channels_last=false"],
    "auto": [],
}
TASKS: dict[str, list[str]] = {
    "dcgan_mnist": ["experiment=dcgan_mnist", "dataset.download=false"],
    "ring8": [],
}
BF16_INCEPTION = ["feature_extractor=inception", "feature_extractor.precision=bf16"]


def ganlab(*args: str, env: dict[str, str]) -> tuple[float, str]:
    """Run ``python -m ganlab ARGS``: its wall seconds and what it printed (raises with that if it fails)."""
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "ganlab", *args], env=env, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"ganlab {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return time.perf_counter() - started, proc.stdout


def metrics_of(path: Path) -> dict[str, float]:
    return json.loads(path.read_text())["metrics"]


def real_vs_real(num: int) -> dict[str, float]:
    """FID of ``num`` train digits against ``num`` test digits, with fp32 and with bf16 Inception."""
    from torchmetrics.image.fid import _compute_fid

    from ganlab.data.torchvision_images import TorchvisionImages
    from ganlab.metrics.features import InceptionFeatures, real_features
    from ganlab.metrics.fid import mean_and_covariance

    data = TorchvisionImages("torchvision.datasets.MNIST", os.environ["GANLAB_DATA_DIR"], download=False, name="mnist")
    data.setup("fit")
    cache = Path(os.environ["GANLAB_CACHE_DIR"])
    result = {}
    for precision in InceptionFeatures.PRECISIONS:
        extractor = InceptionFeatures(precision=precision)
        stats = []
        for split in ("train", "test"):
            x = real_features(data, extractor, num, split, cache).double()
            stats.append(mean_and_covariance(x.sum(0), x.T @ x, len(x)))
        result[precision] = float(_compute_fid(*stats[0], *stats[1]))
    return result


def summarise(values: list[float]) -> dict[str, float]:
    return {
        "mean": statistics.mean(values),
        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
        "min": min(values),
        "max": max(values),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--samples", type=int, default=1000, help="samples FID is computed on")
    parser.add_argument("--out", type=Path, default=Path("bench/results/precision"))
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="ganlab-precision-"))
    env = dict(os.environ, GANLAB_CACHE_DIR=os.environ.get("GANLAB_CACHE_DIR", str(root / "cache")))
    os.environ["GANLAB_CACHE_DIR"] = env["GANLAB_CACHE_DIR"]
    runs: list[dict[str, Any]] = []
    for seed in args.seeds:
        for task, task_overrides in TASKS.items():
            for arm, arm_overrides in ARMS.items():
                run_dir = root / f"{task}-{arm}-seed{seed}"
                row: dict[str, Any] = {"task": task, "arm": arm, "seed": seed}
                row["train_wall_s"], printed = ganlab(
                    "train", *task_overrides, *arm_overrides, f"seed={seed}", f"hydra.run.dir={run_dir}", env=env
                )
                # ganlab train prints the precision it resolved: "precision: bf16-mixed: why"
                said = next(line for line in printed.splitlines() if line.startswith("precision: "))
                row["precision"] = said.split()[1].rstrip(":")
                if task == "ring8":
                    row.update(metrics_of(run_dir / "metrics.json"))
                else:
                    for name, extra in (("fid", []), ("fid_bf16_inception", BF16_INCEPTION)):
                        out = run_dir / f"eval_{name}"
                        ganlab(
                            "eval", f"ckpt={run_dir}", f"num_samples={args.samples}", "metrics=[fid]",
                            *extra, f"out_dir={out}", env=env,
                        )  # fmt: skip
                        report = json.loads((out / "metrics.json").read_text())
                        row[name] = report["metrics"]["fid"]
                        # after the first eval the real features are cached: this is Inception's own rate
                        row[f"{name}_eval_samples_per_s"] = report["samples_per_s"]
                print(json.dumps(row), flush=True)
                runs.append(row)

    columns = {"dcgan_mnist": ("train_wall_s", "fid", "fid_bf16_inception"),
               "ring8": ("train_wall_s", "modes_covered", "hq_fraction", "reverse_kl")}  # fmt: skip
    summary = {
        task: {
            arm: {c: summarise([r[c] for r in runs if r["task"] == task and r["arm"] == arm]) for c in cols}
            for arm in ARMS
        }
        for task, cols in columns.items()
    }
    reals = real_vs_real(args.samples)
    lines = [
        "# bf16 against fp32: quality and wall time",
        "",
        f"- command: `{' '.join([Path(sys.executable).name, *sys.argv])}`",
        f"- seeds {args.seeds}; fp32 arm: `{' '.join(ARMS['fp32'])}` (the old default); auto arm: the new default",
        f"- FID: {args.samples} samples against the {args.samples} MNIST test digits",
        "",
    ]
    for task, cols in columns.items():
        lines += [f"## {task}", "", "| arm | seed | precision | " + " | ".join(cols) + " |",
                  "|---|---|---|" + "---:|" * len(cols)]  # fmt: skip
        for r in (r for r in runs if r["task"] == task):
            lines.append(f"| {r['arm']} | {r['seed']} | {r['precision']} | " + " | ".join(f"{r[c]:.4g}" for c in cols))
        for arm in ARMS:
            stats = summary[task][arm]
            cells = " | ".join(f"{stats[c]['mean']:.4g} ± {stats[c]['std']:.2g}" for c in cols)
            lines.append(f"| **{arm}** | mean ± std | | {cells} |")
        for c in cols:
            fp32, auto = summary[task]["fp32"][c], summary[task]["auto"][c]
            inside = fp32["min"] <= auto["mean"] <= fp32["max"]
            lines.append(
                f"\n- {c}: auto mean {auto['mean']:.4g} {'inside' if inside else 'OUTSIDE'} the fp32 seed range "
                f"[{fp32['min']:.4g}, {fp32['max']:.4g}]"
            )
        lines.append("")
    lines += [
        "## Inception precision on fixed image sets",
        "",
        f"- real vs real ({args.samples} train vs {args.samples} test digits): fp32 {reals['fp32']:.3f}, "
        f"bf16 {reals['bf16']:.3f}",
    ]
    diffs = [r["fid_bf16_inception"] - r["fid"] for r in runs if r["task"] == "dcgan_mnist"]
    rel = [d / r["fid"] for d, r in zip(diffs, (r for r in runs if r["task"] == "dcgan_mnist"), strict=True)]
    lines.append(
        f"- fakes vs real ({len(diffs)} generators): bf16 - fp32 Inception FID = "
        + ", ".join(f"{d:+.2f}" for d in diffs)
        + f" (relative {min(rel):+.1%} to {max(rel):+.1%})"
    )
    for name in ("fid", "fid_bf16_inception"):
        rates = [r[f"{name}_eval_samples_per_s"] for r in runs if r["task"] == "dcgan_mnist"][1:]
        if rates:
            rate = statistics.median(rates)
            lines.append(f"- `ganlab eval` rate with cached real features, {name}: {rate:.1f} samples/s")
    args.out.mkdir(parents=True, exist_ok=True)
    payload = {"runs": runs, "summary": summary, "real_vs_real": reals, "command": sys.argv}
    (args.out / "precision.json").write_text(json.dumps(payload, indent=2) + "\n")
    (args.out / "precision.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
