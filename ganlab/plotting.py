"""Pictures of samples: image grids and 2-D scatter plots, as (3, H, W) tensors in [0, 1]."""

from __future__ import annotations

import math
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
