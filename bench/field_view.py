"""The field view's cost: seconds per sample-grid step, and the default run's wall time with and without it.

Per picture: ``GANModule.sample_picture`` on each 2-D dataset at its default grid size
(``dataset.sample_grid_size``) and the default model, as the plain scatter plot (``game=False``, the
picture before the field view) and as the field view (D's map, density contours, the pull on each fake,
and the noise-grid mesh with ``model.latent_dim=2``); the first field view of a run also computes the real
density grid once, reported apart. Whole run: ``ganlab train`` with no overrides (ring8, 3,000 generator
steps, a picture every 250), as today with the field view and the animation, and with
``callbacks.samples.game=false callbacks.samples.animation=false``; the arms alternate, ``--repeats``
times each. Writes ``field_view.json`` and ``field_view.md`` to ``--out``.

Usage::

    GANLAB_DATA_DIR=../shared/data python bench/field_view.py --out bench/results/field_view
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from ganlab.config import config_dir, register_resolvers
from ganlab.module import GANModule

DATASETS = ("ring8", "grid25", "swissroll")
PLAIN_RUN = ["callbacks.samples.game=false", "callbacks.samples.animation=false"]


def picture_seconds(dataset: str, latent_dim: int, repeats: int) -> dict[str, float]:
    overrides = [f"dataset={dataset}", f"model.latent_dim={latent_dim}", "paths.output_dir=."]
    cfg = compose("train", overrides=overrides)
    module = GANModule.from_config(cfg)
    datamodule = instantiate(cfg.dataset.datamodule)
    datamodule.setup("fit")
    z = module.generator.sample_latent(cfg.dataset.sample_grid_size, rng=torch.Generator().manual_seed(0))

    def timed(game: bool) -> float:
        started = time.perf_counter()
        module.sample_picture(z, datamodule, game=game)
        return time.perf_counter() - started

    first = timed(True)  # includes the real density grid, computed once per run
    field = statistics.median(timed(True) for _ in range(repeats))
    plain = statistics.median(timed(False) for _ in range(repeats))
    return {"plain_s": plain, "field_s": field, "first_field_s": first}


def run_seconds(overrides: list[str], root: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "ganlab", "train", *overrides, f"hydra.run.dir={tempfile.mkdtemp(dir=root)}"],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("bench/results/field_view"))
    parser.add_argument("--repeats", type=int, default=3, help="whole runs per arm")
    parser.add_argument("--picture-repeats", type=int, default=7)
    args = parser.parse_args()
    register_resolvers()
    pictures: dict[str, dict[str, float]] = {}
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        for dataset in DATASETS:
            for latent_dim in (16, 2):
                pictures[f"{dataset}, latent {latent_dim}"] = picture_seconds(dataset, latent_dim, args.picture_repeats)
    runs: dict[str, list[float]] = {"field view (default)": [], "plain pictures": []}
    with tempfile.TemporaryDirectory() as root:
        for _ in range(args.repeats):
            runs["field view (default)"].append(run_seconds([], Path(root)))
            runs["plain pictures"].append(run_seconds(PLAIN_RUN, Path(root)))
    medians = {arm: statistics.median(times) for arm, times in runs.items()}
    ratio = medians["field view (default)"] / medians["plain pictures"]
    result = {"pictures": pictures, "runs": runs, "run_medians": medians, "run_ratio": ratio, "goal": "<= 1.10"}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "field_view.json").write_text(json.dumps(result, indent=2))
    lines = [
        f"# Field view cost ({torch.get_num_threads()} threads)",
        "",
        "| data, latent | plain picture (s) | field view (s) | first field view (s) |",
        "| --- | ---: | ---: | ---: |",
        *(
            f"| {name} | {t['plain_s']:.3f} | {t['field_s']:.3f} | {t['first_field_s']:.3f} |"
            for name, t in pictures.items()
        ),
        "",
        "| default run (ring8, 3,000 steps, 13 pictures) | median wall (s) | all runs (s) |",
        "| --- | ---: | --- |",
        *(f"| {arm} | {medians[arm]:.1f} | {', '.join(f'{t:.1f}' for t in times)} |" for arm, times in runs.items()),
        "",
        f"field view / plain: {ratio:.3f} (goal <= 1.10)",
    ]
    (args.out / "field_view.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
