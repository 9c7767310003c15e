"""Pictures of samples: image grids and 2-D scatter plots, as (3, H, W) tensors in [0, 1]."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor
from torchvision.utils import make_grid

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def image_grid(images: Tensor, nrow: int | None = None) -> Tensor:
    """Tile ``(N, C, H, W)`` images in [-1, 1] into one ``(3, H', W')`` picture in [0, 1]."""
    nrow = nrow or max(1, int(math.sqrt(images.shape[0])))
    grid = make_grid(images.detach().float().cpu(), nrow=nrow, normalize=True, value_range=(-1, 1), pad_value=1.0)
    return grid.clamp(0, 1)


def stack_pictures(pictures: list[Tensor], gap: int = 8) -> Tensor:
    """``(3, H_i, W_i)`` pictures one above the other, centred, on white, ``gap`` pixels apart."""
    width = max(picture.shape[2] for picture in pictures)
    height = sum(picture.shape[1] for picture in pictures) + gap * (len(pictures) - 1)
    canvas = torch.ones(3, height, width)
    top = 0
    for picture in pictures:
        left = (width - picture.shape[2]) // 2
        canvas[:, top : top + picture.shape[1], left : left + picture.shape[2]] = picture
        top += picture.shape[1] + gap
    return canvas


def samples_outside(samples: Tensor, limits: float) -> int:
    """How many ``(N, 2)`` samples fall outside the square view ``[-limits, limits]²``."""
    return int((samples.detach().abs() > limits).any(dim=1).sum())


def scatter_image(
    samples: Tensor,
    centers: Tensor | None = None,
    reference: Tensor | None = None,
    limits: float | None = None,
    title: str | None = None,
) -> Tensor:
    """Scatter plot of ``(N, 2)`` samples over the true mode centres and a faint real sample.

    Returns:
        ``(3, H, W)`` float tensor in [0, 1], ready for TensorBoard or :func:`save_png`.
    """
    from matplotlib.figure import Figure

    points = samples.detach().float().cpu().numpy()
    fig = Figure(figsize=(4, 4), dpi=100)
    ax = fig.add_subplot()
    if reference is not None:
        ref = reference.detach().float().cpu().numpy()
        ax.scatter(ref[:, 0], ref[:, 1], s=2, c="0.75", label="real", rasterized=True)
    ax.scatter(points[:, 0], points[:, 1], s=2, c="tab:blue", alpha=0.6, label="generated", rasterized=True)
    if centers is not None:
        c = centers.detach().cpu().numpy()
        ax.scatter(c[:, 0], c[:, 1], s=40, marker="x", c="tab:red", label="mode centres")
    if limits is not None:
        ax.set_xlim(-limits, limits)
        ax.set_ylim(-limits, limits)
        outside = samples_outside(samples, limits)
        if outside:
            # A generator that drifted away would otherwise show as an empty plot.
            note = f"{outside} of {len(points)} generated samples outside this view"
            ax.text(0.5, 0.98, note, transform=ax.transAxes, ha="center", va="top", fontsize=8, color="tab:red")
    ax.set_aspect("equal")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.06), ncol=3, fontsize=7, markerscale=2, frameon=False)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return figure_image(fig)


def square_grid(limits: float, size: int) -> Tensor:
    """``size²`` points evenly spaced over ``[-limits, limits]²``, ``(size², 2)``, row by row from the bottom.

    Values computed on them reshape to ``(size, size)`` images with rows = y and columns = x.
    """
    ticks = torch.linspace(-limits, limits, size)
    ys, xs = torch.meshgrid(ticks, ticks, indexing="ij")
    return torch.stack([xs.flatten(), ys.flatten()], dim=1)


#: the longest arrow of the field view, as a fraction of the window's width (the others to the same scale)
ARROW_LENGTH = 0.08


def field_image(
    samples: Tensor,
    limits: float,
    reference: Tensor | None = None,
    density: Tensor | None = None,
    scores: Tensor | None = None,
    scores_are_probabilities: bool = True,
    pull: Tensor | None = None,
    manifold: Tensor | None = None,
    title: str | None = None,
    max_arrows: int = 250,
) -> Tensor:
    """The field view of a 2-D GAN (after GAN Lab, Kahng et al. 2018) over the window ``[-limits, limits]²``.

    Args:
        samples: ``(N, 2)`` generated points.
        reference: ``(M, 2)`` real points, drawn faintly.
        density: the real density on a square grid of the window (:func:`square_grid` order), drawn as the
            contours of its highest-density regions holding 50%, 90% and 99% of the mass (:func:`mass_levels`).
        scores: D on a square grid of the window: a heat map, a probability in [0, 1] (green: D says real,
            purple: fake) or a raw score (colours span its 2nd to 98th percentile).
        pull: ``(N, 2)`` the force of G's loss on each fake (:meth:`~ganlab.game_view.GameView.generator_pull`),
            drawn as arrows on up to ``max_arrows`` of them; lengths are scaled together so the longest spans
            ``ARROW_LENGTH`` of the window, and the scale is written in the legend.
        manifold: ``(2, lines, points, 2)`` G's image of a noise grid's lines, drawn as a warped mesh.

    Returns:
        ``(3, H, W)`` float tensor in [0, 1].
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 4.6), dpi=100)
    ax = fig.add_subplot()
    window = (-limits, limits, -limits, limits)
    if scores is not None:
        values = scores.detach().float().cpu().numpy()
        if scores_are_probabilities:
            low, high, label = 0.0, 1.0, "D(x), the probability that x is real"
        else:
            low, high = np.percentile(values, [2, 98])
            label = "D(x), raw score"
        heat = ax.imshow(values, origin="lower", extent=window, cmap="PRGn", vmin=low, vmax=high, alpha=0.75,
                         interpolation="bilinear")  # fmt: skip
        fig.colorbar(heat, ax=ax, fraction=0.046, pad=0.03).set_label(label, fontsize=8)
    if reference is not None:
        ref = reference.detach().float().cpu().numpy()
        ax.scatter(ref[:, 0], ref[:, 1], s=1, c="0.55", alpha=0.5, label="real", rasterized=True)
    if density is not None:
        grid = density.detach().float().cpu().numpy()
        levels = mass_levels(grid)
        if levels:
            ticks = np.linspace(-limits, limits, grid.shape[0])
            ax.contour(ticks, ticks, grid, levels=levels, colors="black", linewidths=0.6, alpha=0.8)
            ax.plot([], [], color="black", lw=0.6, label="real: 50, 90, 99% regions")
    if manifold is not None:
        lines = manifold.detach().float().cpu().numpy().reshape(-1, manifold.shape[2], 2)
        for line in lines:
            ax.plot(line[:, 0], line[:, 1], color="tab:orange", lw=0.5, alpha=0.7)
        ax.plot([], [], color="tab:orange", lw=0.8, label="G(noise grid)")
    points = samples.detach().float().cpu().numpy()
    ax.scatter(points[:, 0], points[:, 1], s=3, c="tab:blue", alpha=0.7, label="generated", rasterized=True)
    if pull is not None:
        _draw_pull(ax, points, pull.detach().float().cpu().numpy(), limits, max_arrows)
    ax.set(xlim=(-limits, limits), ylim=(-limits, limits), aspect="equal")
    outside = samples_outside(samples, limits)
    if outside:  # a generator that drifted away would otherwise show as an empty plot
        note = f"{outside} of {len(points)} generated samples outside this view"
        ax.text(0.5, 0.98, note, transform=ax.transAxes, ha="center", va="top", fontsize=8, color="tab:red")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.06), ncol=3, fontsize=7, markerscale=2, frameon=False)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return figure_image(fig)


def mass_levels(density: np.ndarray, masses: tuple[float, ...] = (0.5, 0.9, 0.99)) -> list[float]:
    """The density levels whose superlevel sets hold ``masses`` of a gridded density's total, ascending.

    The region ``{x: p(x) >= level}`` is the smallest that holds that much probability (a highest-density
    region), whatever the shape of the density; levels that coincide (a density too narrow for the grid) are
    dropped, and none are returned for a density that is zero everywhere.
    """
    values = np.sort(density.ravel())[::-1]
    total = values.sum()
    if not total > 0:
        return []
    cumulative = np.cumsum(values) / total
    found = {float(values[min(np.searchsorted(cumulative, mass), len(values) - 1)]) for mass in masses}
    return sorted(level for level in found if level > 0)


def _draw_pull(ax, points: np.ndarray, pull: np.ndarray, limits: float, max_arrows: int) -> None:
    every = max(1, math.ceil(len(points) / max_arrows))
    at, force = points[::every], pull[::every]
    norms = np.linalg.norm(force, axis=1)
    longest = float(norms.max()) if len(norms) else 0.0
    if not np.isfinite(longest) or longest == 0:
        ax.plot([], [], " ", label="no pull on the fakes (∇L_G = 0)")
        return
    scale = ARROW_LENGTH * 2 * limits / longest  # window units per unit of force
    ax.quiver(at[:, 0], at[:, 1], force[:, 0] * scale, force[:, 1] * scale, angles="xy", scale_units="xy", scale=1,
              color="tab:red", width=0.004, alpha=0.85)  # fmt: skip
    ax.plot([], [], color="tab:red", label=f"-∇L_G on fakes (longest {longest:.2g})")


def figure_image(fig: Figure) -> Tensor:
    """Draw a matplotlib ``Figure`` (Agg, no window) into a ``(3, H, W)`` float tensor in [0, 1].

    ``H x W`` is the figure size in inches times its dpi.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    return torch.from_numpy(rgba[..., :3].copy()).permute(2, 0, 1).float() / 255.0


def save_png(image: Tensor, path: str) -> None:
    """Write a ``(3, H, W)`` image in [0, 1] to ``path``."""
    from torchvision.utils import save_image

    save_image(image, path)


def read_png(path: str | Path) -> Tensor:
    """The ``(3, H, W)`` image in [0, 1] that :func:`save_png` wrote to ``path`` (alpha dropped)."""
    from torchvision.io import read_image

    return read_image(str(path))[:3].float() / 255
