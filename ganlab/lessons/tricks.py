"""Lesson ``tricks``: five stabilisation tricks against the plain GAN, on the ring of 8 Gaussians and on MNIST."""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from ganlab.doctor import read_scalars
from ganlab.lessons.base import Check, Lab, Lesson, Result
from ganlab.plotting import figure_image, read_png

if TYPE_CHECKING:
    from ganlab.data.base import GANDataModule
    from ganlab.module import GANModule

#: the tricks compared with the plain GAN (``tricks=[]``, "baseline"), in the figures' order
TRICKS = ("label_smoothing", "noisy_labels", "replay_buffer", "feature_matching", "historical_averaging")
RUNS = ("baseline", *TRICKS)
#: each dataset's model: ganlab's defaults on the ring (an MLP, nsgan; its picture the samples alone, lighter than
#: the game view with D's field), DCGAN on MNIST (nsgan)
DATASETS = {"ring8": ("callbacks.samples.game=false",), "mnist": ("model=dcgan", "dataset=mnist")}
#: the runs whose D is scored sample by sample after training, for the label tricks' checks
LABEL_RUNS = ("baseline", "label_smoothing", "noisy_labels")


def optimal_discriminator(p: Tensor, q: Tensor, real_target: float, fake_target: float) -> Tensor:
    r"""The D that minimises the cross-entropy with soft targets, pointwise: a mean of the two targets.

    With target :math:`t_r` for real samples (density :math:`p`) and :math:`t_f` for fakes (:math:`q`), D's
    expected loss at x is :math:`-p(t_r \log D + (1-t_r)\log(1-D)) - q(t_f \log D + (1-t_f)\log(1-D))`,
    minimised by

    .. math:: D^*(x) = \frac{t_r\,p(x) + t_f\,q(x)}{p(x) + q(x)} \in [t_f, t_r].

    Goodfellow et al. (2014) is :math:`t_r = 1, t_f = 0`. One-sided label smoothing (Salimans et al. 2016,
    section 3.4) is :math:`t_r = 1 - \varepsilon`: D never exceeds :math:`1 - \varepsilon`. Labels flipped with
    probability :math:`f` have expected targets :math:`t_r = 1 - f, t_f = f`: D stays in :math:`[f, 1 - f]`.
    """
    return (real_target * p + fake_target * q) / (p + q)


def pixel_scoring(num_samples: int) -> tuple[str, ...]:
    """Overrides that make an MNIST training score its final generator on ``num_samples`` samples with FID and
    precision/recall in pixel space (no Inception, slow on a CPU), into its ``metrics.json``: the final
    evaluation of ``ganlab train`` is ``ganlab eval`` without another process to start."""
    return ("final_eval=true", "metrics=[fid,precision_recall]", "feature_extractor=pixels",
            f"dataset.eval_samples={num_samples}")  # fmt: skip


def step_overrides(steps: int) -> tuple[str, ...]:
    """``generator_steps=steps``, about 50 logged points (the series the checks read) and one sample picture, at
    the end (the pictures in between would cost time and show in no figure)."""
    return (f"generator_steps={steps}", f"trainer.log_every_n_steps={max(1, steps // 50)}",
            f"callbacks.samples.every_n_steps={steps}")  # fmt: skip


def pixel_metrics(run_dir: Path) -> dict[str, float]:
    """The pixel-space scores a run trained with :func:`pixel_scoring` wrote to its ``metrics.json``."""
    metrics = json.loads((run_dir / "metrics.json").read_text())["metrics"]
    return {"fid_pixels": metrics["fid"], "recall_pixels": metrics["recall"], "precision_pixels": metrics["precision"]}


@torch.no_grad()
def beliefs(module: GANModule, datamodule: GANDataModule, num: int, seed: int = 0) -> tuple[Tensor, Tensor]:
    """D(x) = sigmoid(logit) on ``num`` real test samples and on ``num`` fakes (latents seeded with ``seed``).

    D runs in training mode on batches of the training batch size, pure real or pure fake, as in its own
    training steps: its batch norm (DCGAN's) then normalises with batch statistics, so these are the beliefs
    that training met (in eval mode the running statistics would give another D).
    """
    real = datamodule.real_samples(num, split="test")
    fake = module.generate(module.generator.sample_latent(num, rng=torch.Generator().manual_seed(seed)))
    discriminator = module.discriminator.train()
    batches = lambda x: x.split(datamodule.batch_size)  # noqa: E731
    return tuple(torch.cat([discriminator(b).float().sigmoid().flatten() for b in batches(x)]) for x in (real, fake))


def late_mean(points: Sequence[tuple[int, float]], after: int) -> float:
    """The mean of a logged series over the steps after ``after`` (NaN when none were logged there)."""
    values = [value for step, value in points if step > after]
    return statistics.fmean(values) if values else float("nan")


class Tricks(Lesson):
    """Baseline, label smoothing, noisy labels, replay buffer, feature matching, historical averaging: a run each
    on ring8 (MLP, nsgan, ganlab's demo) and on MNIST (DCGAN, nsgan), ``seeds`` seeds each, the tricks at their
    defaults but for the two label parameters. Numbers are means over seeds.

    Checks. The label tricks, against the optimal D's range (:func:`optimal_discriminator`), after training, on
    real test samples and on fakes (:func:`beliefs`): with smoothing, the ``quantile`` of D(real) is at most
    1 - smoothing; with flipped labels, the ``quantile`` of D(real) is at most 1 - f and the 1 - ``quantile`` of
    D(fake) at least f; and over the second half of training (the TensorBoard series ``train/D_real_prob``)
    smoothing's mean D(real) is below the baseline's. The three tricks against collapse, each dataset: at least as
    many ring modes as the baseline with a reverse KL no higher; on MNIST a pixel-space recall (the share of real
    test digits inside the generated samples' k-NN manifold) no lower.

    Args:
        ring_steps, mnist_steps: generator steps of each run (``full_*`` at the full scale).
        seeds: seeds of each run (``full_seeds`` at the full scale).
        eval_samples: MNIST samples scored at the end of each run, and real and fake samples D is scored on.
        smoothing: the label smoothing trick's epsilon.
        flip_probability: the noisy labels trick's flip probability.
        quantile: the share of real samples whose D the bounds must hold for (a learned D is not the optimal
            one: its tail may pass the bound on a few samples).
        common: Lesson's arguments.
    """

    claim = (
        "Salimans et al. (2016) and GAN practice offer tricks against an over-confident D and against collapse. "
        "One-sided label smoothing (real target 1 - eps) makes the optimal D (1 - eps) p / (p + q): D(real) "
        "can no longer approach 1. Flipping a share f of D's labels puts the optimal D in [f, 1 - f]. A replay "
        "buffer of past fakes (Shrivastava et al. 2017) lets D keep penalising regions G has left, historical "
        "averaging (a pull towards the mean of past parameters, after fictitious play) damps the players' "
        "oscillation, and feature matching (G matches the mean of D's features on real data) gives G a "
        "statistic to match instead of the current D's verdict, so G cannot overtrain on (collapse onto) what "
        "the current D likes: all three should keep at least as much of the data's modes as the plain GAN."
    )

    def __init__(self, ring_steps: int = 3000, full_ring_steps: int = 6000, mnist_steps: int = 400,
                 full_mnist_steps: int = 2000, seeds: int = 1, full_seeds: int = 3, eval_samples: int = 1000,
                 full_eval_samples: int = 1000, smoothing: float = 0.1, flip_probability: float = 0.05,
                 quantile: float = 0.99, **common) -> None:  # fmt: skip
        super().__init__(**common)
        self.steps = {
            "ring8": self.at_scale(ring_steps, full_ring_steps),
            "mnist": self.at_scale(mnist_steps, full_mnist_steps),
        }
        self.seeds = self.at_scale(seeds, full_seeds, tiny=1)
        self.eval_samples = self.at_scale(eval_samples, full_eval_samples, tiny=100)
        self.smoothing, self.flip_probability, self.quantile = float(smoothing), float(flip_probability), quantile

    def _overrides(self, dataset: str, run: str, seed: int) -> list[str]:
        scoring = pixel_scoring(self.eval_samples) if dataset == "mnist" else ()
        overrides = [*DATASETS[dataset], *scoring, *step_overrides(self.steps[dataset]), f"seed={seed}"]
        if run != "baseline":
            overrides.append(f"tricks=[{run}]")
        if run == "label_smoothing":
            overrides.append(f"tricks.label_smoothing.smoothing={self.smoothing}")
        if run == "noisy_labels":
            overrides.append(f"tricks.noisy_labels.flip_probability={self.flip_probability}")
        return overrides

    def run(self, lab: Lab) -> Result:
        per_seed: dict[str, dict[str, list[float]]] = {}  # "<dataset>_<run>" -> metric -> one value per seed
        samples: dict[str, dict[str, Tensor]] = {run: {} for run in RUNS}
        series: dict[str, list[tuple[int, float]]] = {}  # D(real) in training, seed 1
        scored: dict[str, Tensor] = {}  # D(real) on the test samples after training, seed 1
        for dataset in DATASETS:
            for run in RUNS:
                for seed in range(1, self.seeds + 1):
                    name = f"{dataset}_{run}_seed{seed}"
                    run_dir = lab.train(name, *self._overrides(dataset, run, seed))
                    scalars = read_scalars(run_dir / "tensorboard")
                    values = {"d_real": late_mean(scalars["train/D_real_prob"], self.steps[dataset] // 2),
                              **self._scores(dataset, run_dir)}  # fmt: skip
                    if run in LABEL_RUNS:
                        real, fake = beliefs(*lab.restore(name), self.eval_samples)
                        values["d_real_top"] = torch.quantile(real, self.quantile).item()
                        values["d_fake_bottom"] = torch.quantile(fake, 1 - self.quantile).item()
                        scored.setdefault(f"{dataset}_{run}", real)
                    for metric, value in values.items():
                        per_seed.setdefault(f"{dataset}_{run}", {}).setdefault(metric, []).append(value)
                    if seed == 1:
                        samples[run][dataset] = read_png(run_dir / "samples" / f"step_{self.steps[dataset]:06d}.png")
                        series[f"{dataset}_{run}"] = scalars["train/D_real_prob"]
        means = {key: {metric: statistics.fmean(v) for metric, v in metrics.items()}
                 for key, metrics in per_seed.items()}  # fmt: skip
        numbers = {f"{key}_{metric}": value for key, metrics in means.items() for metric, value in metrics.items()}
        bounds = (self.smoothing, self.flip_probability)
        figures = {"samples": _samples_figure(samples, self.steps), "metrics": _metrics_figure(means),
                   "confidence": _confidence_figure(series, scored, self.steps, *bounds)}  # fmt: skip
        return Result(numbers=numbers, figures=figures, checks=self._checks(means))

    @staticmethod
    def _scores(dataset: str, run_dir: Path) -> dict[str, float]:
        """The final evaluation of a run: the ring's own metrics, MNIST's in pixel space."""
        if dataset == "mnist":
            return pixel_metrics(run_dir)
        metrics = json.loads((run_dir / "metrics.json").read_text())["metrics"]
        return {"modes": metrics["modes_covered"], "hq": metrics["hq_fraction"], "reverse_kl": metrics["reverse_kl"]}

    def _checks(self, means: Mapping[str, Mapping[str, float]]) -> list[Check]:
        count = f"{self.seeds} seed{'s' if self.seeds > 1 else ''}"
        top, bottom = f"{self.quantile:.0%} quantile", f"{1 - self.quantile:.0%} quantile"
        # the optimal D's extremes, where only data (q = 0) or only fakes (p = 0) are: the range D should keep to
        only_data, only_fakes = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
        ceiling = float(optimal_discriminator(only_data, only_fakes, 1 - self.smoothing, 0.0)[0])
        high, low = optimal_discriminator(only_data, only_fakes, 1 - self.flip_probability, self.flip_probability)
        high, low = float(high), float(low)
        of = lambda run, metric: {d: means[f"{d}_{run}"][metric] for d in DATASETS}  # noqa: E731
        smoothed, plain = of("label_smoothing", "d_real_top"), of("baseline", "d_real_top")
        noisy_real, noisy_fake = of("noisy_labels", "d_real_top"), of("noisy_labels", "d_fake_bottom")
        plain_fake = of("baseline", "d_fake_bottom")
        trained, trained_plain = of("label_smoothing", "d_real"), of("baseline", "d_real")
        checks = [
            Check(f"With one-sided label smoothing ({self.smoothing:g}) D(real) stays at most {ceiling:g}: the "
                  f"{top} of D over real test samples, on both datasets.",
                  ", ".join(f"{smoothed[d]:.3f} ({d}; baseline {plain[d]:.3f})" for d in DATASETS) + f" ({count})",
                  all(smoothed[d] <= ceiling for d in DATASETS)),
            Check("Label smoothing makes D less confident on real data than the baseline's D during training, on "
                  "both datasets.",
                  "mean D(real) over the second half of training " + ", ".join(
                      f"{trained[d]:.3f} against {trained_plain[d]:.3f} ({d})" for d in DATASETS),
                  all(trained[d] < trained_plain[d] for d in DATASETS)),
            Check(f"With {self.flip_probability:.0%} of D's labels flipped, D stays within [{low:g}, {high:g}]: the "
                  f"{top} of D(real) at most {high:g} and the {bottom} of D(fake) at least {low:g}, on both "
                  "datasets.",
                  ", ".join(f"{noisy_real[d]:.3f} and {noisy_fake[d]:.3f} ({d}; baseline {plain[d]:.3f} and "
                            f"{plain_fake[d]:.3g})" for d in DATASETS) + f" ({count})",
                  all(noisy_real[d] <= high and noisy_fake[d] >= low for d in DATASETS)),
        ]  # fmt: skip
        base_ring, base_mnist = means["ring8_baseline"], means["mnist_baseline"]
        for trick in ("replay_buffer", "feature_matching", "historical_averaging"):
            ring, mnist = means[f"ring8_{trick}"], means[f"mnist_{trick}"]
            checks += [
                Check(f"{trick} covers the ring at least as well as the baseline: as many modes or more, reverse KL "
                      "no higher.",
                      f"modes {ring['modes']:.3g} against {base_ring['modes']:.3g}, reverse KL "
                      f"{ring['reverse_kl']:.3f} against {base_ring['reverse_kl']:.3f} ({count})",
                      ring["modes"] >= base_ring["modes"] and ring["reverse_kl"] <= base_ring["reverse_kl"]),
                Check(f"{trick} covers MNIST at least as well as the baseline: pixel-space recall no lower.",
                      f"recall {mnist['recall_pixels']:.3f} against {base_mnist['recall_pixels']:.3f} (pixel FID "
                      f"{mnist['fid_pixels']:.1f} against {base_mnist['fid_pixels']:.1f}; {count})",
                      mnist["recall_pixels"] >= base_mnist["recall_pixels"]),
            ]  # fmt: skip
        return checks


def picture_table(pictures: Mapping[str, Mapping[str, Tensor]], columns: Sequence[str], cell: float = 2.3,
                  titles: Mapping[str, str] | None = None) -> Tensor:  # fmt: skip
    """Pictures in a table: a row per key of ``pictures`` (labelled on the left), a column per name in ``columns``
    (titled with ``titles`` or the name); a missing picture leaves its cell blank with a note."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(0.6 + cell * len(columns), 0.8 + cell * len(pictures)), dpi=70, layout="constrained")
    axes = fig.subplots(len(pictures), len(columns), squeeze=False)
    for row, (label, cells) in zip(axes, pictures.items(), strict=True):
        for axis, column in zip(row, columns, strict=True):
            axis.set(xticks=[], yticks=[])
            if column in cells:
                axis.imshow(cells[column].permute(1, 2, 0).numpy(), interpolation="antialiased")
            else:
                axis.text(0.5, 0.5, "no samples", ha="center", va="center", transform=axis.transAxes, fontsize=8)
        row[0].set_ylabel(label, fontsize=9)
    for axis, column in zip(axes[0], columns, strict=True):
        axis.set_title((titles or {}).get(column, column), fontsize=9)
    return figure_image(fig)


def _samples_figure(samples: dict[str, dict[str, Tensor]], steps: Mapping[str, int]) -> Tensor:
    titles = {dataset: f"{dataset}, step {count}" for dataset, count in steps.items()}
    return picture_table(samples, list(DATASETS), cell=2.2, titles=titles)


def _metrics_figure(means: Mapping[str, Mapping[str, float]]) -> Tensor:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 5.6), dpi=80)
    panels = [("ring8", "modes", "ring8: modes covered (of 8)"), ("ring8", "reverse_kl", "ring8: reverse KL (0 best)"),
              ("mnist", "fid_pixels", "MNIST: FID in pixel space (low best)"),
              ("mnist", "recall_pixels", "MNIST: recall in pixel space (high best)")]  # fmt: skip
    for axis, (dataset, metric, title) in zip(fig.subplots(2, 2).flat, panels, strict=True):
        values = [means[f"{dataset}_{run}"][metric] for run in RUNS]
        axis.bar(range(len(RUNS)), values, color=["0.5", *["tab:blue"] * len(TRICKS)])
        axis.set_title(title, fontsize=9)
        axis.set_xticks(range(len(RUNS)), ["base", "smooth", "noisy", "replay", "f. match", "hist. avg"], fontsize=8)
        axis.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return figure_image(fig)


def _confidence_figure(series: Mapping[str, list[tuple[int, float]]], scored: Mapping[str, Tensor],
                       steps: Mapping[str, int], smoothing: float, flip: float) -> Tensor:  # fmt: skip
    """Top: D(real) during training; bottom: D over the real test samples after training; with the bounds."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 6), dpi=80)
    axes = fig.subplots(2, 2)
    colours = dict(zip(LABEL_RUNS, ("0.3", "tab:blue", "tab:orange"), strict=True))
    for (during, after), dataset in zip(axes.T, DATASETS, strict=True):
        for run, colour in colours.items():
            points = series[f"{dataset}_{run}"]
            during.plot([s for s, _ in points], [v for _, v in points], color=colour, lw=1.2, label=run)
            after.hist(scored[f"{dataset}_{run}"].numpy(), bins=50, range=(0, 1), histtype="step", color=colour,
                       lw=1.5, label=run)  # fmt: skip
        for axis in (during, after):
            line = axis.axhline if axis is during else axis.axvline
            line(1 - smoothing, color="tab:blue", ls="--", lw=1, label=f"1 - smoothing = {1 - smoothing:g}")
            line(1 - flip, color="tab:orange", ls=":", lw=1, label=f"1 - flip = {1 - flip:g}")
            axis.legend(fontsize=7, loc="lower right" if axis is during else "upper left")
            axis.grid(alpha=0.3)
        during.axvline(steps[dataset] / 2, color="0.7", lw=0.8)
        during.set(title=f"{dataset}: mean D(real) in training batches", xlabel="generator step", ylim=(0, 1.02))
        after.set(title=f"{dataset}: D(x) on real test samples after training", xlabel="D(x)", ylabel="samples",
                  yscale="log")  # fmt: skip
        for axis in (during, after):
            axis.title.set_fontsize(9)
    fig.tight_layout()
    return figure_image(fig)
