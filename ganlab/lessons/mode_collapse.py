"""Lesson ``mode_collapse``: the nsgan baseline against five anti-collapse methods on the ring and the grid."""

from __future__ import annotations

import json
import os
import statistics
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from torch import Tensor

from ganlab.errors import GanlabError
from ganlab.lessons.base import Check, Lab, Lesson, Result
from ganlab.plotting import read_png

#: the final metrics compared (conf/metrics/modes.yaml), with their names in the table
METRICS = {"modes_covered": "modes", "hq_fraction": "HQ %", "reverse_kl": "rKL"}


class ModeCollapse(Lesson):
    """``loss=nsgan`` on ``dataset=ring8`` and ``dataset=grid25`` against unrolled GAN, minibatch
    discrimination, packing, several generators and a gradient penalty, each over several seeds.

    Every run is scored at its end by the VEEGAN/PacGAN protocol (``ganlab/metrics/modes.py``, 2,500 samples):
    a sample is high quality (HQ) within 3 std of its nearest mode centre, a mode is covered when at least one
    HQ sample is nearest to it, and the reverse KL is KL(p̂ || uniform) of the share p̂ of samples nearest to
    each mode. The mean and sample std over seeds of each are the lesson's table.

    Checks: the baseline's mean modes covered is below the number of modes on at least one dataset (it
    collapses at all), and each other method covers, on average over seeds, at least as many modes as the
    baseline on every dataset and more on at least one (it counters the collapse, not only keeps level).

    Args:
        methods: name -> the overrides of its runs (``conf/lesson/mode_collapse.yaml`` lists the six).
        baseline: the method the others are compared with.
        datasets: the 2-D mixtures (the tiny scale keeps the first).
        steps: generator steps of every run (``full_steps`` with ``lesson.scale=full``).
        seeds: seeds per method and dataset (``full_seeds`` at the full scale; one at the tiny scale).
        pictures: field views per row of the figure, evenly spaced over training.
        workers: trainings run at once, each on one thread (``OMP_NUM_THREADS=1`` unless already set).
        common: Lesson's arguments.
    """

    claim = (
        "A GAN generator trained with the non-saturating loss on a mixture of well-separated modes tends to "
        "collapse: it puts its samples on a few modes (or hops between them) and misses the rest. Unrolling D "
        "(Metz et al. 2017), minibatch discrimination (Salimans et al. 2016), packing (PacGAN, Lin et al. 2018), "
        "several generators (MAD-GAN, Ghosh et al. 2018) and a gradient penalty on D (R1, Mescheder et al. 2018) "
        "each counter it, so they cover at least as many modes as the plain GAN."
    )

    def __init__(self, methods: Mapping[str, Sequence[str]], baseline: str = "nsgan",
                 datasets: Sequence[str] = ("ring8", "grid25"), steps: int = 800, full_steps: int = 3000,
                 seeds: int = 3, full_seeds: int = 3, pictures: int = 4, workers: int = 2,
                 **common) -> None:  # fmt: skip
        super().__init__(**common)
        self.methods = {name: list(overrides) for name, overrides in methods.items()}
        if baseline not in self.methods:
            raise GanlabError(f"lesson mode_collapse: baseline {baseline!r} is not one of the methods")
        self.baseline = baseline
        # the tiny scale checks that the lesson runs, on one mixture: the other takes the same path
        self.datasets = list(datasets)[: self.at_scale(len(datasets), len(datasets), tiny=1)]
        self.steps = self.at_scale(steps, full_steps)
        self.seeds = list(range(1, self.at_scale(seeds, full_seeds, tiny=1) + 1))
        self.picture_every = max(1, self.steps // int(pictures))
        self.workers = int(workers)

    def run(self, lab: Lab) -> Result:
        jobs = [(method, dataset, seed) for method in self.methods for dataset in self.datasets for seed in self.seeds]
        with _one_thread_each(), ThreadPoolExecutor(self.workers) as pool:
            runs = dict(zip(jobs, pool.map(lambda job: self._train(lab, *job), jobs), strict=True))
        final = {job: json.loads((run / "metrics.json").read_text())["metrics"] for job, run in runs.items()}
        numbers, table = {}, {}
        for dataset in self.datasets:
            numbers[f"{dataset}_num_modes"] = final[self.baseline, dataset, self.seeds[0]]["num_modes"]
            for method in self.methods:
                for key in METRICS:
                    values = [final[method, dataset, seed][key] for seed in self.seeds]
                    mean, std = statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0
                    table[method, dataset, key] = (mean, std)
                    numbers[f"{dataset}_{method}_{key}_mean"], numbers[f"{dataset}_{method}_{key}_std"] = mean, std
        figures = {f"field_views_{dataset}": self._field_views(runs, dataset) for dataset in self.datasets}
        figures["table"] = self._table_figure(table)
        return Result(numbers=numbers, figures=figures, checks=self._checks(table, numbers))

    def _train(self, lab: Lab, method: str, dataset: str, seed: int) -> Path:
        return lab.train(f"{dataset}-{method}-seed{seed}", f"dataset={dataset}", *self.methods[method],
                         f"seed={seed}", f"generator_steps={self.steps}",
                         f"callbacks.samples.every_n_steps={self.picture_every}")  # fmt: skip

    def _checks(self, table: dict, numbers: dict[str, float]) -> list[Check]:
        def modes(method: str) -> str:
            return ", ".join(
                f"{table[method, d, 'modes_covered'][0]:.3g} of {numbers[f'{d}_num_modes']:.0f} ({d}; "
                f"HQ {table[method, d, 'hq_fraction'][0]:.1%}, reverse KL {table[method, d, 'reverse_kl'][0]:.2f})"
                for d in self.datasets
            )

        base = self.baseline
        misses = [d for d in self.datasets if table[base, d, "modes_covered"][0] < numbers[f"{d}_num_modes"]]
        checks = [
            Check(f"The {base} baseline collapses: on at least one mixture its mean modes covered over "
                  f"{len(self.seeds)} seed(s) is below the number of modes.", f"{base}: {modes(base)}",
                  bool(misses)),
        ]  # fmt: skip
        for method in self.methods:
            if method == base:
                continue
            means = [(table[method, d, "modes_covered"][0], table[base, d, "modes_covered"][0]) for d in self.datasets]
            holds = all(ours >= theirs for ours, theirs in means) and any(ours > theirs for ours, theirs in means)
            checks.append(Check(f"{method} counters it: on average it covers at least as many modes as {base} on "
                                "every mixture, and more on at least one.",
                                f"{method}: {modes(method)}; {base}: {modes(base)}", holds))  # fmt: skip
        return checks

    def _field_views(self, runs: dict, dataset: str) -> Tensor:
        """One row per method (its first seed's run): the field views at ``pictures`` steps over training."""
        from matplotlib.figure import Figure

        from ganlab.plotting import figure_image

        steps = sorted({*range(self.picture_every, self.steps + 1, self.picture_every), self.steps})
        # 1.4 inches at 80 dpi a picture: the pictures' own text is then too small to read, but D's map and the
        # fakes are not, and the PNG of six rows stays under 300 KB
        fig = Figure(figsize=(1.4 * len(steps) + 0.3, 1.3 * len(self.methods) + 0.4), dpi=80)
        axes = fig.subplots(len(self.methods), len(steps), squeeze=False)
        for row, method in zip(axes, self.methods, strict=True):
            samples = runs[method, dataset, self.seeds[0]] / "samples"
            for ax, step in zip(row, steps, strict=True):
                picture = read_png(samples / f"step_{step:06d}.png")
                ax.imshow(picture.permute(1, 2, 0).numpy(), interpolation="antialiased")
                ax.set(xticks=[], yticks=[])
                for spine in ax.spines.values():
                    spine.set_visible(False)
            row[0].set_ylabel(method, fontsize=8)
        for ax, step in zip(axes[0], steps, strict=True):
            ax.set_title(f"step {step}", fontsize=8)
        fig.suptitle(f"{dataset}, seed {self.seeds[0]}: D's map, the fakes (blue) and their pull (red)", fontsize=9)
        fig.tight_layout(pad=0.3, h_pad=0.2, w_pad=0.2, rect=(0, 0, 1, 0.97))
        return figure_image(fig)

    def _table_figure(self, table: dict) -> Tensor:
        """The mean ± std over seeds of modes / HQ / reverse KL, one row per method, as PacGAN's Table 1."""
        from matplotlib.figure import Figure

        from ganlab.plotting import figure_image

        columns = [(d, key) for d in self.datasets for key in METRICS]
        header = ["method", *(f"{d} {METRICS[key]}" for d, key in columns)]
        cells = [
            [method, *(_plus_minus(*table[method, d, key], percent=key == "hq_fraction") for d, key in columns)]
            for method in self.methods
        ]
        fig = Figure(figsize=(1.8 + 1.05 * len(columns), 0.3 * (len(self.methods) + 2)), dpi=100)
        ax = fig.add_axes((0.01, 0.01, 0.98, 0.98 - 0.3 / fig.get_figheight()))
        ax.axis("off")
        widths = [1.8, *(1.05,) * len(columns)]
        grid = ax.table([header, *cells], colWidths=[w / sum(widths) for w in widths], bbox=(0, 0, 1, 1),
                        cellLoc="center")  # fmt: skip
        grid.auto_set_font_size(False)
        grid.set_fontsize(8)
        fig.suptitle(f"mean ± std over {len(self.seeds)} seed(s), {self.steps} generator steps each", fontsize=9,
                     y=1 - 0.05 / fig.get_figheight(), va="top")  # fmt: skip
        return figure_image(fig)


def _plus_minus(mean: float, std: float, percent: bool = False) -> str:
    return f"{100 * mean:.1f} ± {100 * std:.1f}" if percent else f"{mean:.3g} ± {std:.2g}"


@contextmanager
def _one_thread_each() -> Iterator[None]:
    """Runs started inside see ``OMP_NUM_THREADS=1`` unless the user set it: an MLP on 2-D points gains nothing
    from a second thread, and two parallel runs with two threads each oversubscribe two cores (measured: about
    three times the CPU time per run)."""
    previous = os.environ.get("OMP_NUM_THREADS")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        yield
    finally:
        if previous is None:
            del os.environ["OMP_NUM_THREADS"]
