"""Lesson ``minimax``: the saturating generator loss stalls where the non-saturating one does not."""

from __future__ import annotations

import torch
from torch import Tensor

from ganlab.doctor import read_scalars
from ganlab.landscape import generator_landscape, landscape_figure
from ganlab.lessons.base import Check, Lab, Lesson, Result
from ganlab.losses import MinimaxLoss, NonSaturatingLoss
from ganlab.plotting import figure_image, read_png, stack_pictures

LOSSES = ("gan", "nsgan")


class Minimax(Lesson):
    """The landscape of both generator losses, and ``loss=gan`` against ``loss=nsgan`` on MNIST (DCGAN).

    Checks: the saturating loss's slope against D's logit at D(G(z)) = 0.01 is under 5% of the
    non-saturating one's (mathematics: sigmoid(l) against 1 - sigmoid(l)); and in the runs, G's mean gradient norm over
    the first ``early_steps`` steps is larger with ``nsgan`` than with ``gan``.

    Args:
        steps: generator steps of each run at the default scale; ``full_steps`` with ``lesson.scale=full``.
        early_steps: the steps whose gradient norms are compared.
        common: Lesson's arguments (name, title, lectures, cost, scale).
    """

    claim = (
        "Early in training D rejects the fakes, D(G(z)) is near 0, and the saturating loss log(1 - D(G(z))) "
        "is flat there: G receives almost no gradient. The non-saturating loss -log D(G(z)) has the same fixed "
        "point but a strong gradient exactly there, so G learns."
    )

    def __init__(self, steps: int = 300, full_steps: int = 2000, early_steps: int = 100, **common) -> None:
        super().__init__(**common)
        self.steps = self.at_scale(steps, full_steps)
        self.early_steps = int(early_steps)

    def run(self, lab: Lab) -> Result:
        slopes = {name: generator_landscape(loss, torch.tensor([0.01]))[1].abs().item()
                  for name, loss in zip(LOSSES, (MinimaxLoss(), NonSaturatingLoss()), strict=True)}  # fmt: skip
        series, grids = {}, []
        for name in LOSSES:
            run = lab.train(name, "model=dcgan", "dataset=mnist", f"loss={name}", f"generator_steps={self.steps}",
                            "trainer.log_every_n_steps=5", f"callbacks.samples.every_n_steps={self.steps}")  # fmt: skip
            series[name] = read_scalars(run / "tensorboard")
            grids.append(read_png(run / "samples" / f"step_{self.steps:06d}.png"))
        early = {name: _mean(series[name]["train/g_grad_norm"], self.early_steps) for name in LOSSES}
        d_fake = {name: _mean(series[name]["train/D_fake_prob"], self.early_steps) for name in LOSSES}
        numbers = {
            "slope_gan_at_0.01": slopes["gan"],
            "slope_nsgan_at_0.01": slopes["nsgan"],
            **{f"g_grad_norm_first_{self.early_steps}_{name}": early[name] for name in LOSSES},
            **{f"d_fake_first_{self.early_steps}_{name}": d_fake[name] for name in LOSSES},
        }
        ratio = slopes["gan"] / slopes["nsgan"]
        checks = [
            Check("At D(G(z)) = 0.01 the saturating loss's slope is under 5% of the non-saturating one's.",
                  f"{slopes['gan']:.4f} against {slopes['nsgan']:.4f} ({ratio:.1%})", ratio < 0.05),
            Check(f"Over the first {self.early_steps} steps G's gradient is larger with nsgan than with gan.",
                  f"mean gradient norm {early['nsgan']:.3g} (nsgan) against {early['gan']:.3g} (gan)",
                  early["nsgan"] > early["gan"]),
        ]  # fmt: skip
        landscape = landscape_figure({"gan": MinimaxLoss(), "nsgan": NonSaturatingLoss()})
        figures = {"landscape": landscape, "gradients": _gradient_figure(series), "samples": stack_pictures(grids)}
        return Result(numbers=numbers, figures=figures, checks=checks)


def _mean(points: list[tuple[int, float]], steps: int) -> float:
    values = [value for step, value in points if step <= steps]
    return sum(values) / max(len(values), 1)


def _gradient_figure(series: dict) -> Tensor:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.4), dpi=100)
    norms, beliefs = fig.subplots(1, 2)
    for name, colour in zip(LOSSES, ("black", "tab:red"), strict=True):
        steps, values = zip(*series[name]["train/g_grad_norm"], strict=True)
        norms.plot(steps, values, color=colour, label=f"loss={name}")
        steps, values = zip(*series[name]["train/D_fake_prob"], strict=True)
        beliefs.plot(steps, values, color=colour, label=f"loss={name}")
    norms.set(title="G's gradient norm", xlabel="generator step", yscale="log")
    beliefs.set(title="D(G(z)), D's belief the fakes are real", xlabel="generator step", ylim=(0, 1))
    for axis in (norms, beliefs):
        axis.legend(fontsize=8)
        axis.grid(alpha=0.3)
    fig.tight_layout()
    return figure_image(fig)
