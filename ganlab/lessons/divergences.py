"""Lesson ``divergences``: forward KL covers the modes, reverse KL seeks one, fitted with a two-parameter generator."""

from __future__ import annotations

import json
import math

import torch
from torch import Tensor

from ganlab.lessons.base import Check, Lab, Lesson, Result

#: the f-GAN divergences compared, and their names in the pictures
DIVERGENCES = {"kl": "forward KL", "reverse_kl": "reverse KL", "jensen_shannon": "Jensen-Shannon"}
#: the runs' Adam (conf/optim/adam.yaml with bimodal1d's lr), set in their overrides and used by the exact fits
LR, BETAS = 1e-3, (0.5, 0.999)


def _kl(a: Tensor, b: Tensor, x: Tensor) -> Tensor:
    log_ratio = torch.log(a.clamp_min(1e-300)) - torch.log(b.clamp_min(1e-300))
    return torch.trapezoid(torch.where(a > 0, a * log_ratio, 0), x)


def _gaussian(x: Tensor, mu: Tensor | float, sigma: Tensor | float) -> Tensor:
    return torch.exp(-0.5 * ((x - mu) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))


#: each divergence D(p || q) of the target p and the model q by quadrature on a grid x
EXACT = {
    "kl": lambda p, q, x: _kl(p, q, x),
    "reverse_kl": lambda p, q, x: _kl(q, p, x),
    "jensen_shannon": lambda p, q, x: 0.5 * _kl(p, (p + q) / 2, x) + 0.5 * _kl(q, (p + q) / 2, x),
}


def exact_fit(density, divergence: str, steps: int, lr: float = LR, betas: tuple[float, float] = BETAS,
              start: tuple[float, float] = (0.0, 1.0)) -> tuple[float, float]:  # fmt: skip
    """The Gaussian N(mu, sigma²) that Adam reaches minimising the exact ``divergence`` to ``density``.

    The same optimiser, learning rate, start and number of steps as the f-GAN run, but with the divergence
    itself (quadrature on the target's window) instead of the critic's variational estimate of it: what the
    run would do if D were optimal at every step. Returns ``(mu, sigma)``.
    """
    low, high = density.window
    x = torch.linspace(low - 4, high + 4, 2001, dtype=torch.float64)
    p = density.density(x)
    mu = torch.tensor(float(start[0]), dtype=torch.float64, requires_grad=True)
    log_sigma = torch.tensor(math.log(start[1]), dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.Adam([mu, log_sigma], lr=lr, betas=betas)
    for _ in range(steps):
        q = _gaussian(x, mu, log_sigma.exp())
        optimiser.zero_grad()
        EXACT[divergence](p, q, x).backward()
        optimiser.step()
    return float(mu), float(log_sigma.exp())


class Divergences(Lesson):
    """G(z) = mu + sigma z fitted by f-GAN with each divergence to the bimodal 0.7 N(-2, 0.5²) + 0.3 N(2, 0.5²).

    Checks, from each run's final mean and std: forward KL's sigma is wider than reverse KL's (covering
    against seeking), forward KL's sigma reaches ``min_cover`` of the target's std, and reverse KL's mu lies
    within one component std of a mode. Next to each run, :func:`exact_fit` minimises the exact divergence
    with the same Adam from the same start: where a run and its exact fit differ, the disagreement comes
    from the critic's estimate of the divergence, not from the divergence.

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
                            f"loss.divergence={divergence}", f"generator_steps={self.steps}", f"optim.lr={LR}",
                            f"optim.betas=[{BETAS[0]},{BETAS[1]}]",
                            f"callbacks.samples.every_n_steps={self.steps}")  # fmt: skip
            metrics = json.loads((run / "metrics.json").read_text())["metrics"]
            fitted[divergence] = (metrics["mean"], metrics["std"], metrics["wasserstein1"])
        _, datamodule = lab.restore("kl")
        target = datamodule.distribution
        weights, means = target.weights, target.means
        target_mean = float((weights * means).sum())
        target_std = math.sqrt(float((weights * (target.stds**2 + means**2)).sum()) - target_mean**2)
        numbers = {"target_mean": target_mean, "target_std": target_std}
        exact = {divergence: exact_fit(target, divergence, self.steps) for divergence in DIVERGENCES}
        for divergence, (mu, sigma, w1) in fitted.items():
            numbers.update({f"{divergence}_mu": mu, f"{divergence}_sigma": sigma, f"{divergence}_w1": w1})
            exact_mu, exact_sigma = exact[divergence]
            numbers.update({f"{divergence}_exact_mu": exact_mu, f"{divergence}_exact_sigma": exact_sigma})
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
            Check("The exact reverse KL, minimised by the same Adam from the same start, settles on a mode "
                  "(what the run would do with an optimal critic at every step).",
                  f"mu {exact['reverse_kl'][0]:.2f}, sigma {exact['reverse_kl'][1]:.2f}",
                  float((means - exact["reverse_kl"][0]).abs().min()) <= mode_width),
        ]  # fmt: skip
        return Result(numbers=numbers, figures={"fits": _figure(target, fitted, exact)}, checks=checks)


def _figure(target, fitted: dict[str, tuple[float, float, float]], exact: dict[str, tuple[float, float]]) -> Tensor:
    from matplotlib.figure import Figure

    from ganlab.plotting import figure_image

    low, high = target.window
    x = torch.linspace(low, high, 600, dtype=torch.float64)
    fig = Figure(figsize=(7, 3.6), dpi=100)
    ax = fig.add_subplot()
    ax.fill_between(x, target.density(x), color="0.85", label="target p")
    for (divergence, (mu, sigma, _)), colour in zip(fitted.items(), ("tab:blue", "tab:red", "tab:green"), strict=True):
        name = DIVERGENCES[divergence]
        ax.plot(x, _gaussian(x, mu, sigma), color=colour, lw=2, label=f"{name} (f-GAN): mu {mu:.2f}, sigma {sigma:.2f}")
        mu, sigma = exact[divergence]
        ax.plot(x, _gaussian(x, mu, sigma), color=colour, lw=1, ls="--", label=f"exact: mu {mu:.2f}, sigma {sigma:.2f}")
    title = "one Gaussian fitted to two modes (dashed: the exact divergence, same Adam)"
    ax.set(xlabel="x", ylabel="density", title=title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return figure_image(fig)
