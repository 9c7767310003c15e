"""Lesson ``divergences``: forward KL covers the modes, reverse KL seeks one, fitted with a two-parameter generator."""

from __future__ import annotations

import json
import math

import torch
from torch import Tensor

from ganlab.lessons.base import Check, Lab, Lesson, Result

#: the f-GAN divergences compared, and their names in the pictures
DIVERGENCES = {"kl": "forward KL", "reverse_kl": "reverse KL", "jensen_shannon": "Jensen-Shannon"}


class Divergences(Lesson):
    """G(z) = mu + sigma z fitted by f-GAN with each divergence to the bimodal 0.7 N(-2, 0.5²) + 0.3 N(2, 0.5²).

    Checks, from each run's final mean and std: forward KL's sigma is wider than reverse KL's (covering
    against seeking), forward KL's sigma reaches ``min_cover`` of the target's std, and reverse KL's mu lies
    within one component std of a mode.

    Args:
        steps: generator steps of each run (``full_steps`` at the full scale).
        min_cover: forward KL's sigma at least this share of the target's std.
        common: Lesson's arguments.
    """

    claim = (
        "Minimising the forward KL(p || q) makes q cover every mode of p (a wide q, between the modes); "
        "minimising the reverse KL(q || p) makes q seek one mode and ignore the rest (Nowozin et al. 2016, "
        "section 3; Theis et al. 2016). With a single Gaussian the preference shows in two numbers, mu and sigma."
    )

    def __init__(self, steps: int = 2000, full_steps: int = 8000, min_cover: float = 0.8, **common) -> None:
        super().__init__(**common)
        self.steps = self.at_scale(steps, full_steps)
        self.min_cover = float(min_cover)

    def run(self, lab: Lab) -> Result:
        fitted = {}
        for divergence in DIVERGENCES:
            run = lab.train(divergence, "model=location_scale", "dataset=bimodal1d", "loss=fgan",
                            f"loss.divergence={divergence}", f"generator_steps={self.steps}",
                            f"callbacks.samples.every_n_steps={self.steps}")  # fmt: skip
            metrics = json.loads((run / "metrics.json").read_text())["metrics"]
            fitted[divergence] = (metrics["mean"], metrics["std"], metrics["wasserstein1"])
        _, datamodule = lab.restore("kl")
        target = datamodule.distribution
        weights, means = target.weights, target.means
        target_mean = float((weights * means).sum())
        target_std = math.sqrt(float((weights * (target.stds**2 + means**2)).sum()) - target_mean**2)
        numbers = {"target_mean": target_mean, "target_std": target_std}
        for divergence, (mu, sigma, w1) in fitted.items():
            numbers.update({f"{divergence}_mu": mu, f"{divergence}_sigma": sigma, f"{divergence}_w1": w1})
        kl_sigma, (rkl_mu, rkl_sigma, _) = fitted["kl"][1], fitted["reverse_kl"]
        to_mode = float((means - rkl_mu).abs().min())
        mode_width = float(target.stds.min())
        checks = [
            Check("Forward KL fits a wider Gaussian than reverse KL.",
                  f"sigma {kl_sigma:.2f} (forward) against {rkl_sigma:.2f} (reverse)", kl_sigma > rkl_sigma),
            Check(f"Forward KL covers both modes: its sigma reaches {self.min_cover:.0%} of the target's std.",
                  f"sigma {kl_sigma:.2f} against the target's {target_std:.2f}",
                  kl_sigma >= self.min_cover * target_std),
            Check("Reverse KL settles on a mode: its mu within one component std of a mode's mean.",
                  f"mu {rkl_mu:.2f}, {to_mode:.2f} from the nearest mode (component std {mode_width:.2f})",
                  to_mode <= mode_width),
        ]  # fmt: skip
        return Result(numbers=numbers, figures={"fits": _figure(target, fitted)}, checks=checks)


def _figure(target, fitted: dict[str, tuple[float, float, float]]) -> Tensor:
    from matplotlib.figure import Figure

    from ganlab.plotting import figure_image

    low, high = target.window
    x = torch.linspace(low, high, 600, dtype=torch.float64)
    fig = Figure(figsize=(7, 3.6), dpi=100)
    ax = fig.add_subplot()
    ax.fill_between(x, target.density(x), color="0.85", label="target p")
    for (divergence, (mu, sigma, _)), colour in zip(fitted.items(), ("tab:blue", "tab:red", "tab:green"), strict=True):
        q = torch.exp(-0.5 * ((x - mu) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))
        ax.plot(x, q, color=colour, lw=2, label=f"{DIVERGENCES[divergence]}: mu {mu:.2f}, sigma {sigma:.2f}")
    ax.set(xlabel="x", ylabel="density", title="one Gaussian fitted to two modes by each divergence")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return figure_image(fig)
