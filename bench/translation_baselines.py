"""FID of the trivial translation on each built-in image-to-image task: the number a model's FID must beat.

For ``mnist_edges``, ``mnist_thickness`` and ``mnist_superres`` (x2 and x4) the test inputs go
through :func:`ganlab.metrics.paired.baseline` (the input itself, or its bicubic upsampling) and
are scored with the FID that ``ganlab eval`` computes for a translation model's outputs: Inception
pool features of ``--samples`` translations against as many test targets (domain B).

Usage::

    GANLAB_DATA_DIR=../shared/data TORCH_HOME=../shared/torch \\
        python bench/translation_baselines.py --samples 1000 --out bench/results/translation_baselines
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from ganlab.config import config_dir, register_resolvers
from ganlab.metrics import FrechetInceptionDistance
from ganlab.metrics.paired import baseline

TASKS = {
    "mnist_edges": ["dataset=mnist_edges"],
    "mnist_thickness": ["dataset=mnist_thickness"],
    "mnist_superres x2": ["dataset=mnist_superres", "dataset.scale=2"],
    "mnist_superres x4": ["dataset=mnist_superres", "dataset.scale=4"],
}


def baseline_fid(overrides: list[str], samples: int, cache_dir: Path) -> dict[str, float]:
    register_resolvers()
    data_dir = os.environ.get("GANLAB_DATA_DIR", "../shared/data")
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose("train", overrides=[f"paths.data_dir={data_dir}", *overrides])
    datamodule = instantiate(cfg.dataset.datamodule)
    examples = datamodule.examples(samples)
    metric = FrechetInceptionDistance(real_split="test")
    metric.prepare(datamodule, len(examples["real"]), cache_dir)
    for start in range(0, len(examples["real"]), 250):
        part = slice(start, start + 250)
        metric.update(baseline(examples["source"][part], examples["real"][part]))
    return {"fid_baseline": float(metric.compute()["fid"]), "samples": len(examples["real"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--out", default="bench/results/translation_baselines")
    args = parser.parse_args()
    cache = Path(os.environ.get("GANLAB_CACHE_DIR") or tempfile.mkdtemp(prefix="ganlab-baselines-"))
    rows = {task: baseline_fid(overrides, args.samples, cache) for task, overrides in TASKS.items()}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"torch_threads": torch.get_num_threads(), "rows": rows}, indent=2))
    lines = ["| task | trivial translation | FID vs the test targets | samples |", "| --- | --- | ---: | ---: |"]
    for task, row in rows.items():
        kind = "bicubic upsampling" if "superres" in task else "input copied"
        lines.append(f"| {task} | {kind} | {row['fid_baseline']:.1f} | {row['samples']} |")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
