"""Lesson ``vanishing_gradients``: on disjoint supports D becomes perfect and G's gradient vanishes; noise helps."""

from __future__ import annotations

import json
import statistics

from torch import Tensor

from ganlab.doctor import read_scalars
from ganlab.lessons.base import Check, Lab, Lesson, Result
from ganlab.plotting import figure_image, read_png, stack_pictures

#: the two runs: the saturating game as it is, and the same game with instance noise on what D sees
RUNS = ("plain", "instance_noise")
#: the data, N(2, 0.5²), set in the runs' overrides so that the gap is measured from it
DATA_MEAN, DATA_STD = 2.0, 0.5


class VanishingGradients(Lesson):
    """G(z) = mu + sigma z starting ``gap`` away from N(2, 0.5²), ``loss=gan``, with and without instance noise.

    Arjovsky & Bottou (2017, Theorems 2.4 and 2.6): when the supports of p and q are disjoint a perfect D
    exists, and with the saturating loss E[log(1 - D(G(z)))] the gradient G receives goes to 0 as D
    approaches it. Adding N(0, s²) to real and fake samples makes both supports the whole line, so the
    optimal D is no longer perfect and G's gradient stays alive (Sønderby et al. 2017).

    Checks: in the plain run D separates the two almost perfectly (mean D(real) - D(fake) over the last
    half above ``min_separation``); G's median gradient norm over the last half is ``min_gradient_ratio``
    times larger with noise; and the noisy G closes at least ``min_progress_ratio`` times more of the gap
    than the plain one.

    Args:
        steps: generator steps of each run (``full_steps`` at the full scale).
        gap: the distance from G's starting mean to the data's mean, in units of x.
        noise_std: the instance noise's starting std (annealed linearly to 0 over the run).
        common: Lesson's arguments.
    """

    claim = (
        "When the real and generated distributions have disjoint supports, D can separate them perfectly, "
        "and as D approaches that perfect D the saturating generator loss log(1 - D(G(z))) gives G a gradient "
        "that goes to 0: G stops learning. Instance noise, N(0, s²) added to every sample D sees, makes the "
        "supports overlap, so D cannot be perfect and G keeps receiving a gradient (Arjovsky & Bottou 2017; "
        "Sønderby et al. 2017)."
    )

    def __init__(self, steps: int = 1500, full_steps: int = 6000, gap: float = 6.0, noise_std: float = 2.0,
                 min_separation: float = 0.98, min_gradient_ratio: float = 10.0, min_progress_ratio: float = 5.0,
                 **common) -> None:  # fmt: skip
        super().__init__(**common)
        self.steps = self.at_scale(steps, full_steps)
        self.gap, self.noise_std = float(gap), float(noise_std)
        self.min_separation, self.min_gradient_ratio = float(min_separation), float(min_gradient_ratio)
        self.min_progress_ratio = float(min_progress_ratio)

    def run(self, lab: Lab) -> Result:
        series, pictures, final_mean = {}, [], {}
        every = max(self.steps // 20, 1)
        start = DATA_MEAN - self.gap
        noise = ("tricks=[instance_noise]", f"tricks.instance_noise.std={self.noise_std}")
        tricks = {"plain": (), "instance_noise": noise}
        for name in RUNS:
            run = lab.train(name, "model=location_scale", "dataset=gaussian1d", "loss=gan", *tricks[name],
                            f"dataset.datamodule.distribution.means=[{DATA_MEAN}]",
                            f"dataset.datamodule.distribution.stds=[{DATA_STD}]",
                            f"model.generator.mean={start}", "model.generator.std=0.5",
                            f"generator_steps={self.steps}", f"trainer.log_every_n_steps={every}",
                            f"callbacks.metrics.every_n_steps={every}", "callbacks.metrics.num_samples=2000",
                            f"callbacks.samples.every_n_steps={self.steps}")  # fmt: skip
            series[name] = read_scalars(run / "tensorboard")
            pictures.append(read_png(run / "samples" / f"step_{self.steps:06d}.png"))
            final_mean[name] = json.loads((run / "metrics.json").read_text())["metrics"]["mean"]
        late = [step for step, _ in series["plain"]["train/g_grad_norm"] if step > self.steps // 2]
        grad = {name: _median_after(series[name]["train/g_grad_norm"], late[0]) for name in RUNS}
        real, fake = (_median_after(series["plain"][f"train/D_{kind}_prob"], late[0]) for kind in ("real", "fake"))
        progress = {name: (final_mean[name] - start) / self.gap for name in RUNS}
        numbers = {
            "start_mean": start,
            "plain_d_real_last_half": real,
            "plain_d_fake_last_half": fake,
            **{f"{name}_g_grad_norm_last_half": grad[name] for name in RUNS},
            **{f"{name}_final_mean": final_mean[name] for name in RUNS},
            **{f"{name}_gap_closed": progress[name] for name in RUNS},
        }
        gradient_ratio = grad["instance_noise"] / max(grad["plain"], 1e-30)
        progress_ratio = progress["instance_noise"] / max(abs(progress["plain"]), 1e-6)
        checks = [
            Check(f"Without noise D separates the disjoint supports almost perfectly: median D(real) - D(fake) "
                  f"over the last half above {self.min_separation}.",
                  f"D(real) {real:.4f}, D(fake) {fake:.2e}", real - fake > self.min_separation),
            Check(f"Without noise G's gradient vanishes: with instance noise it is at least "
                  f"{self.min_gradient_ratio:g} times larger over the last half.",
                  f"median gradient norm {grad['instance_noise']:.3g} (noise) against {grad['plain']:.3g} (plain), "
                  f"{gradient_ratio:.3g} times", gradient_ratio >= self.min_gradient_ratio),
            Check(f"With instance noise G keeps learning: it closes at least {self.min_progress_ratio:g} times more of "
                  f"the gap to the data than without.",
                  f"{progress['instance_noise']:.1%} of the gap (noise) against {progress['plain']:.1%} (plain)",
                  progress_ratio >= self.min_progress_ratio),
        ]  # fmt: skip
        figures = {"gradients": _figure(series), "samples": stack_pictures(pictures)}
        return Result(numbers=numbers, figures=figures, checks=checks)


def _median_after(points: list[tuple[int, float]], first: int) -> float:
    return statistics.median(value for step, value in points if step >= first)


def _figure(series: dict) -> Tensor:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 3.4), dpi=100)
    norms, beliefs, means = fig.subplots(1, 3)
    for name, colour in zip(RUNS, ("black", "tab:red"), strict=True):
        label = name.replace("_", " ")
        norms.plot(*zip(*series[name]["train/g_grad_norm"], strict=True), color=colour, label=label)
        beliefs.plot(*zip(*series[name]["train/D_fake_prob"], strict=True), color=colour, label=f"D(G(z)), {label}")
        means.plot(*zip(*series[name]["val/mean"], strict=True), color=colour, label=label)
    means.axhline(DATA_MEAN, color="tab:green", ls="--", label="the data's mean")
    norms.set(title="G's gradient norm", xlabel="generator step", yscale="log")
    beliefs.set(title="D's belief the fakes are real", xlabel="generator step", ylim=(-0.02, 1.02))
    means.set(title="G's mean, mu", xlabel="generator step")
    for axis in (norms, beliefs, means):
        axis.legend(fontsize=8)
        axis.grid(alpha=0.3)
    fig.tight_layout()
    return figure_image(fig)
