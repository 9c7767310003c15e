"""One-dimensional Gaussian mixtures with exact densities, and the picture of the 1-D game.

The picture puts on one axis what the lectures draw for a 1-D GAN (Goodfellow et al. 2014, figure 1):
histograms of real and generated samples, the true density :math:`p`, the discriminator
:math:`D(x) = \\sigma(\\ell(x))`, and the optimal discriminator against the current generator,
:math:`D^*(x) = p(x) / (p(x) + \\hat q(x))`, with :math:`\\hat q` a Gaussian kernel density estimate of
the generated samples.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from ganlab.data.density import kernel_density, optimal_discriminator
from ganlab.data.toy2d import Toy2DDataModule
from ganlab.errors import GanlabError

if TYPE_CHECKING:
    from ganlab.game_view import GameView


class GaussianMixture1D:
    r"""A weighted mixture of 1-D Gaussians: :math:`p(x) = \sum_k w_k \mathcal{N}(x; \mu_k, \sigma_k^2)`.

    Samples have shape ``(N, 1)``; ``label`` is the component each was drawn from.

    Args:
        means: :math:`\mu_k`.
        stds: :math:`\sigma_k`, one per component.
        weights: :math:`w_k`, normalised to sum to 1; ``None``: equal weights.
    """

    def __init__(self, means: Sequence[float], stds: Sequence[float], weights: Sequence[float] | None = None) -> None:
        self.means = torch.tensor([float(m) for m in means], dtype=torch.float64)
        self.stds = torch.tensor([float(s) for s in stds], dtype=torch.float64)
        raw = torch.ones(len(self.means), dtype=torch.float64) if weights is None else torch.tensor(weights).double()
        sizes_differ = len(self.stds) != len(self.means) or len(raw) != len(self.means)
        if sizes_differ or (self.stds <= 0).any() or (raw < 0).any():
            raise GanlabError(
                f"a 1-D mixture needs as many stds (> 0) and weights (>= 0) as means: got means {means}, "
                f"stds {stds}, weights {weights}"
            )
        self.weights = raw / raw.sum()

    def sample_labelled(self, num: int, rng: torch.Generator) -> dict[str, Tensor]:
        components = torch.multinomial(self.weights, num, replacement=True, generator=rng)
        noise = torch.randn(num, generator=rng, dtype=torch.float64)
        real = self.means[components] + self.stds[components] * noise
        return {"real": real.float().unsqueeze(1), "label": components}

    def density(self, x: Tensor) -> Tensor:
        """:math:`p(x)` at each point of ``x`` (any shape), in float64."""
        x = x.double().unsqueeze(-1)
        normal = torch.exp(-0.5 * ((x - self.means) / self.stds) ** 2) / (self.stds * math.sqrt(2 * math.pi))
        return (self.weights * normal).sum(-1)

    @property
    def window(self) -> tuple[float, float]:
        """The plotted interval: every component's mean ± 4 std, with a margin."""
        low, high = float((self.means - 4 * self.stds).min()), float((self.means + 4 * self.stds).max())
        margin = 0.1 * (high - low)
        return low - margin, high + margin


class Toy1DDataModule(Toy2DDataModule):
    """Samples of a :class:`GaussianMixture1D`, drawn once in memory (see :class:`Toy2DDataModule`)."""

    def render(self, samples: Tensor, per_row: int | None = None) -> Tensor:
        return self.render_game(samples, per_row, None)

    def render_game(self, samples: Tensor, per_row: int | None, view: GameView | None) -> Tensor:
        """Histograms and :math:`p`; with a ``view`` also D, and :math:`D^*` where D's score is a probability."""
        from matplotlib.figure import Figure

        from ganlab.plotting import figure_image

        low, high = self.distribution.window
        x = torch.linspace(low, high, 400)
        fake = samples.detach().float().cpu().flatten()
        real = self.real_samples(len(fake) or 1).flatten()
        p = self.distribution.density(x)
        fig = Figure(figsize=(6, 3.6), dpi=100)
        ax = fig.add_subplot()
        bins = torch.linspace(low, high, 61).numpy()
        ax.hist(real.numpy(), bins=bins, density=True, color="0.75", label="real samples")
        ax.hist(fake.clamp(low, high).numpy(), bins=bins, density=True, color="tab:blue", alpha=0.5, label="generated")
        ax.plot(x, p, color="black", lw=1.5, label="true density p")
        ax.set(xlim=(low, high), xlabel="x", ylabel="density")
        if view is not None and view.has_pointwise_scores:
            right = ax.twinx()
            belief = view.score(x.unsqueeze(1))
            if view.scores_are_probabilities:
                right.plot(x, belief, color="tab:red", lw=2, label="sigmoid(D's output)")
                best = optimal_discriminator(p, kernel_density(fake, x))
                right.plot(x, best, color="tab:red", lw=1.2, ls="--", label="D*(x) = p / (p + q̂), the GAN optimum")
                right.set(ylim=(0, 1), ylabel="D")
            else:  # critic values and least-squares scores have no optimum of this form
                right.plot(x, belief, color="tab:red", lw=2, label="D's output (raw score)")
                right.set(ylabel="D (raw score)")
            right.legend(loc="upper right", fontsize=7, frameon=False)
        outside = int(((fake < low) | (fake > high)).sum())
        if outside:  # a generator that drifted away would otherwise look like an empty histogram
            ax.set_title(f"{outside} of {len(fake)} generated samples outside this window (drawn at its edges)",
                         fontsize=8, color="tab:red")  # fmt: skip
        ax.legend(loc="upper left", fontsize=7, frameon=False)
        fig.tight_layout()
        return figure_image(fig)
