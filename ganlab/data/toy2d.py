"""Two-dimensional toy distributions: the classic mode-collapse benchmarks, generated in memory."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated

import torch
from torch import Tensor

from ganlab.data.base import GANDataModule, TensorDictDataset
from ganlab.data.density import kernel_density
from ganlab.plotting import field_image, scatter_image, square_grid
from ganlab.schema import AtLeast, NonNegative, Positive

if TYPE_CHECKING:
    from ganlab.game_view import GameView


class GaussianMixture2D:
    """An equal-weight mixture of isotropic Gaussians with known centres.

    Args:
        centers: ``(K, 2)`` mode centres.
        std: per-axis standard deviation of every mode.
    """

    def __init__(self, centers: Tensor, std: float) -> None:
        self.centers = centers.float()
        self.std = float(std)

    def sample(self, num: int, rng: torch.Generator) -> Tensor:
        """``(num, 2)`` samples, modes drawn uniformly."""
        return self.sample_labelled(num, rng)["real"]

    def sample_labelled(self, num: int, rng: torch.Generator) -> dict[str, Tensor]:
        """``{"real": (num, 2) samples, "label": (num,) index of the mode each was drawn from}``."""
        modes = torch.randint(len(self.centers), (num,), generator=rng)
        return {"real": self.centers[modes] + self.std * torch.randn(num, 2, generator=rng), "label": modes}

    def density(self, points: Tensor) -> Tensor:
        r""":math:`p(x) = \frac1K \sum_k \mathcal N(x; \mu_k, \sigma^2 I)` at ``(M, 2)`` points, ``(M,)`` float64."""
        squared = torch.cdist(points.double(), self.centers.double()).pow(2)
        return torch.exp(-0.5 * squared / self.std**2).mean(1) / (2 * math.pi * self.std**2)

    @property
    def extent(self) -> float:
        """Half-width of a square that holds the mixture with a margin, for plots."""
        return float(self.centers.abs().max()) * 1.3 + 6 * self.std


class Ring(GaussianMixture2D):
    """``num_modes`` Gaussians evenly spaced on a circle: means ``radius·(cos 2πk/K, sin 2πk/K)``.

    The PacGAN/VEEGAN ring: 8 modes, radius 1, std 0.01.
    """

    def __init__(
        self,
        num_modes: Annotated[int, AtLeast(1)] = 8,
        radius: Annotated[float, Positive] = 1.0,
        std: Annotated[float, Positive] = 0.01,
    ) -> None:
        angles = 2 * math.pi * torch.arange(num_modes, dtype=torch.float64) / num_modes
        super().__init__(radius * torch.stack([angles.cos(), angles.sin()], dim=1), std)


class Grid(GaussianMixture2D):
    """``side x side`` Gaussians on a square lattice centred at 0 with the given spacing.

    The PacGAN/VEEGAN grid: 5 x 5 means on {-4, -2, 0, 2, 4}^2, std 0.05.
    """

    def __init__(
        self,
        side: Annotated[int, AtLeast(1)] = 5,
        spacing: Annotated[float, Positive] = 2.0,
        std: Annotated[float, Positive] = 0.05,
    ) -> None:
        ticks = (torch.arange(side, dtype=torch.float64) - (side - 1) / 2) * spacing
        xs, ys = torch.meshgrid(ticks, ticks, indexing="ij")
        super().__init__(torch.stack([xs.flatten(), ys.flatten()], dim=1), std)


class SwissRoll:
    """The 2-D Swiss roll: ``t ~ U[1.5π, 4.5π]``, ``x = (t cos t, t sin t)·scale`` plus Gaussian noise.

    A continuous manifold with no modes to count; plots show how well G follows it.
    """

    centers = None

    def __init__(self, noise: Annotated[float, NonNegative] = 0.25, scale: Annotated[float, Positive] = 0.25) -> None:
        self.noise = float(noise)
        self.scale = float(scale)

    def sample(self, num: int, rng: torch.Generator) -> Tensor:
        t = 1.5 * math.pi * (1 + 2 * torch.rand(num, generator=rng))
        points = torch.stack([t * t.cos(), t * t.sin()], dim=1)
        return self.scale * (points + self.noise * torch.randn(num, 2, generator=rng))

    def density(self, points: Tensor, steps: int = 1_000) -> Tensor:
        r""":math:`p(x) = \mathbb E_t\, \mathcal N(x; s\,(t\cos t, t\sin t), (s\nu)^2 I)` at ``(M, 2)`` points,
        ``(M,)``: the expectation over :math:`t \sim U[1.5\pi, 4.5\pi]` by the midpoint rule on ``steps`` values
        of t (by default at most 0.033 apart on the roll, half the noise's width)."""
        t = 1.5 * math.pi * (1 + 2 * (torch.arange(steps, dtype=torch.float64) + 0.5) / steps)
        curve = (self.scale * torch.stack([t * t.cos(), t * t.sin()], dim=1)).float()
        width = self.scale * self.noise
        kernels = [
            torch.cdist(block.float(), curve).pow(2).mul(-0.5 / width**2).exp().mean(1) for block in points.split(4096)
        ]
        return torch.cat(kernels) / (2 * math.pi * width**2)

    @property
    def extent(self) -> float:
        return 4.5 * math.pi * self.scale * 1.15


NO_POINTWISE_SCORES = "\n(D judges several samples jointly: it has no value at one point to map)"


class Toy2DDataModule(GANDataModule):
    """Samples of a 2-D distribution drawn once, in memory, with a fixed data seed.

    Args:
        distribution: a :class:`GaussianMixture2D` or :class:`SwissRoll`.
        num_train: training set size (PacGAN: 100,000).
        num_test: held-out set size.
        batch_size: per-process batch size.
        data_seed: seed of the draw, independent of the training seed so all runs share data.
        name: the dataset's name, as in ``conf/dataset``.
    """

    def __init__(
        self,
        distribution: GaussianMixture2D | SwissRoll,
        num_train: Annotated[int, AtLeast(1)] = 100_000,
        num_test: Annotated[int, AtLeast(1)] = 10_000,
        batch_size: Annotated[int, AtLeast(1)] = 100,
        data_seed: int = 0,
        name: str = "toy2d",
    ) -> None:
        super().__init__(batch_size=batch_size)
        self.distribution = distribution
        self.num_train, self.num_test = int(num_train), int(num_test)
        self.data_seed = int(data_seed)
        self.name = name
        self._density_grid: Tensor | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        rng = torch.Generator().manual_seed(self.data_seed)
        # mixtures label each sample with its mode, for class-conditional models; the Swiss roll has no classes
        draw = getattr(self.distribution, "sample_labelled", None)
        if draw is None:
            self.train_set = TensorDictDataset({"real": self.distribution.sample(self.num_train, rng)})
            self.test_set = TensorDictDataset({"real": self.distribution.sample(self.num_test, rng)})
        else:
            self.train_set = TensorDictDataset(draw(self.num_train, rng))
            self.test_set = TensorDictDataset(draw(self.num_test, rng))

    #: the field view's grids: D's scores on ``FIELD_GRID²`` points, the real density on ``DENSITY_GRID²``
    FIELD_GRID = 100
    DENSITY_GRID = 300

    def render_game(self, samples: Tensor, per_row: int | None, view: GameView | None) -> Tensor:
        """The field view: D over the plane, the real density's contours, the fakes and the pull on each,
        and G's image of a noise grid where the latent space is 2-D (see :func:`~ganlab.plotting.field_image`)."""
        if view is None:
            return self.render(samples, per_row)
        limits = self.distribution.extent
        scores = None
        if view.has_pointwise_scores:
            scores = view.score(square_grid(limits, self.FIELD_GRID)).reshape(self.FIELD_GRID, self.FIELD_GRID)
        return field_image(
            samples,
            limits=limits,
            reference=self.real_samples(2_000),
            density=self.real_density_grid(),
            scores=scores,
            scores_are_probabilities=view.scores_are_probabilities,
            pull=view.generator_pull(samples, self.real_samples(len(samples), split="train")),
            manifold=view.latent_grid(),
            title=f"generator step {view.step}" + ("" if view.has_pointwise_scores else NO_POINTWISE_SCORES),
        )

    def real_density_grid(self) -> Tensor:
        """The real density on ``DENSITY_GRID²`` points of the plot window, ``(rows = y, columns = x)``.

        The distribution's own (exact for mixtures, by quadrature for the Swiss roll); a kernel density estimate
        of 4,000 training samples for data without one.
        Computed once: the data do not change during a run.
        """
        if self._density_grid is None:
            points = square_grid(self.distribution.extent, self.DENSITY_GRID)
            exact = getattr(self.distribution, "density", None)
            values = exact(points) if exact else kernel_density(self.real_samples(4_000, split="train"), points)
            self._density_grid = values.reshape(self.DENSITY_GRID, self.DENSITY_GRID).float()
        return self._density_grid

    def render(self, samples: Tensor, per_row: int | None = None) -> Tensor:
        return scatter_image(
            samples,
            centers=self.distribution.centers,
            reference=self.real_samples(2_000),
            limits=self.distribution.extent,
        )
