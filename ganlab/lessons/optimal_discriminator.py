"""Lesson ``optimal_discriminator``: against a fixed G, D learns p/(p+q), and the game's value is -log 4 + 2 JSD."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ganlab.lessons.base import Check, Lab, Lesson, Result


def jensen_shannon(p: Tensor, q: Tensor, x: Tensor) -> float:
    """:math:`\\mathrm{JSD}(p\\|q) = \\frac12 \\mathrm{KL}(p\\|m) + \\frac12 \\mathrm{KL}(q\\|m)`, m = (p+q)/2, by
    the trapezoid rule over the grid ``x`` (densities on it)."""
    m = (p + q) / 2
    term = lambda a: torch.where(a > 0, a * torch.log(a / m.clamp_min(1e-300)), torch.zeros_like(a))  # noqa: E731
    return float(torch.trapezoid(0.5 * term(p) + 0.5 * term(q), x))


def game_value(p: Tensor, q: Tensor, d: Tensor, x: Tensor) -> float:
    """:math:`V(D) = \\int p \\log D + \\int q \\log(1 - D)` by the trapezoid rule over ``x``."""
    d = d.double().clamp(1e-12, 1 - 1e-12)
    return float(torch.trapezoid(p * torch.log(d) + q * torch.log1p(-d), x))


class OptimalDiscriminator(Lesson):
    """A location-scale G held fixed (its learning rate 0) at q = N(mean, std²) against the bimodal p; D trains.

    Checks: the learned D is within ``max_error`` of D* = p/(p+q) on average under (p+q)/2; its odds D/(1-D)
    follow p/q where both densities have mass (mean |log-odds error| weighted by min(p, q), at most
    ``max_log_odds_error``); V(D*) by quadrature equals the formula to 1e-4 (the grid's error); and V(D)
    is at most V(D*) = -log 4 + 2 JSD(p||q) and within ``max_value_gap`` of it.

    Args:
        steps: D's training steps (``full_steps`` at the full scale).
        mean, std: the fixed generator's q.
        max_error, max_log_odds_error, max_value_gap: the checks' tolerances.
        common: Lesson's arguments.
    """

    claim = (
        "For a fixed generator density q the best discriminator is D*(x) = p(x) / (p(x) + q(x)) "
        "(Goodfellow et al. 2014, Proposition 1), so D/(1 - D) estimates the density ratio p/q, and at D* the "
        "value of the game is -log 4 + 2 JSD(p || q) (Theorem 1)."
    )

    def __init__(self, steps: int = 1500, full_steps: int = 6000, mean: float = 0.5, std: float = 1.0,
                 max_error: float = 0.05, max_log_odds_error: float = 0.3, max_value_gap: float = 0.05,
                 **common) -> None:  # fmt: skip
        super().__init__(**common)
        self.steps = self.at_scale(steps, full_steps)
        self.mean, self.std = float(mean), float(std)
        self.max_error, self.max_log_odds_error, self.max_value_gap = max_error, max_log_odds_error, max_value_gap

    def run(self, lab: Lab) -> Result:
        lab.train("fixed_q", "model=location_scale", "dataset=bimodal1d", "loss=gan", "optim.generator.lr=0.0",
                  f"model.generator.mean={self.mean}", f"model.generator.std={self.std}",
                  f"generator_steps={self.steps}", f"callbacks.samples.every_n_steps={self.steps}")  # fmt: skip
        module, datamodule = lab.restore("fixed_q")
        low, high = datamodule.distribution.window
        x = torch.linspace(low, high, 2001, dtype=torch.float64)
        p = datamodule.distribution.density(x)
        q = torch.exp(-0.5 * ((x - self.mean) / self.std) ** 2) / (self.std * math.sqrt(2 * math.pi))
        with torch.no_grad():
            logit = module.discriminator(x.float().unsqueeze(1)).double().flatten()
        d, d_star = torch.sigmoid(logit), p / (p + q)
        weight = (p + q) / 2
        error = float(torch.trapezoid(weight * (d - d_star).abs(), x))
        # the ratio can only be learned where both p and q put samples: weigh by their overlap min(p, q)
        overlap = torch.minimum(p, q) / torch.trapezoid(torch.minimum(p, q), x)
        log_odds_error = float(torch.trapezoid(overlap * (logit - torch.log(p / q)).abs(), x))
        jsd = jensen_shannon(p, q, x)
        optimum, at_d_star, learned = -math.log(4) + 2 * jsd, game_value(p, q, d_star, x), game_value(p, q, d, x)
        numbers = {"mean_abs_error_to_d_star": error, "mean_abs_log_odds_error": log_odds_error, "jsd": jsd,
                   "value_formula": optimum, "value_at_d_star": at_d_star, "value_learned": learned}  # fmt: skip
        checks = [
            Check("The learned D is D* = p/(p+q).", f"mean |D - D*| under (p+q)/2 = {error:.4f} "
                  f"(tolerance {self.max_error})", error <= self.max_error),
            Check("D/(1-D) estimates p/q.", f"mean |log(D/(1-D)) - log(p/q)| over the overlap min(p, q) = "
                  f"{log_odds_error:.3f} (tolerance {self.max_log_odds_error})",
                  log_odds_error <= self.max_log_odds_error),
            Check("V(D*) = -log 4 + 2 JSD(p||q).", f"quadrature {at_d_star:.6f} against the formula {optimum:.6f}",
                  abs(at_d_star - optimum) < 1e-4),
            Check("No D beats D*, and the learned one comes close.", f"V(D) = {learned:.4f}, V(D*) = {optimum:.4f}",
                  optimum - self.max_value_gap <= learned <= optimum + 1e-6),
        ]  # fmt: skip
        return Result(numbers=numbers, figures={"discriminator": _figure(x, p, q, d, d_star, logit)}, checks=checks)


def _figure(x: Tensor, p: Tensor, q: Tensor, d: Tensor, d_star: Tensor, logit: Tensor) -> Tensor:
    from matplotlib.figure import Figure

    from ganlab.plotting import figure_image

    fig = Figure(figsize=(10, 3.6), dpi=100)
    left, right = fig.subplots(1, 2)
    left.plot(x, p, color="black", label="p (data)")
    left.plot(x, q, color="tab:blue", label="q (fixed G)")
    twin = left.twinx()
    twin.plot(x, d, color="tab:red", lw=2, label="learned D")
    twin.plot(x, d_star, color="tab:red", ls="--", label="D* = p/(p+q)")
    twin.set(ylim=(0, 1), ylabel="D")
    left.set(xlabel="x", ylabel="density", title="D against the optimal D*")
    left.legend(loc="upper left", fontsize=8)
    twin.legend(loc="upper right", fontsize=8)
    shown = (p + q) > 1e-3
    right.plot(x[shown], torch.log(p / q)[shown], color="black", label="log p/q")
    right.plot(x[shown], logit[shown], color="tab:red", label="log D/(1-D)")
    right.set(xlabel="x", title="the odds of D estimate the density ratio")
    right.legend(fontsize=8)
    fig.tight_layout()
    return figure_image(fig)
