"""Latent-space walks and latent vector arithmetic (Radford et al. 2016): what the generator does between codes."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Annotated

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor

from ganlab.console import console
from ganlab.data.base import GANDataModule
from ganlab.errors import GanlabError
from ganlab.metrics.base import Findings, LatentProbe
from ganlab.plotting import image_grid
from ganlab.schema import AtLeast, NonNegative

if TYPE_CHECKING:
    from ganlab.module import GANModule

# Below this, |sin Ω| leaves the slerp weights numerically meaningless; slerp and lerp then differ by O(Ω²).
_PARALLEL = 1e-4
# Cells of a labelled grid are upscaled (nearest neighbour, by a whole factor) to at least this many pixels.
_MIN_CELL = 64
# make_grid's default border between cells, in pixels.
_PAD = 2


def lerp(a: Tensor, b: Tensor, t: Tensor | float) -> Tensor:
    r"""Linear interpolation :math:`\mathrm{lerp}(a, b; t) = (1 - t)\,a + t\,b`, exact at ``t = 0`` and ``t = 1``.

    Args:
        a: start vectors ``(..., D)``.
        b: end vectors, the shape of ``a``.
        t: weights in [0, 1], a number or a tensor broadcastable to ``a.shape[:-1]``; ``a`` of shape
            ``(W, 1, D)`` with ``t`` of shape ``(S,)`` gives ``(W, S, D)``, ``S`` points on each of ``W`` paths.
    """
    t = torch.as_tensor(t, dtype=a.dtype, device=a.device)[..., None]
    return torch.lerp(a, b, t)


def slerp(a: Tensor, b: Tensor, t: Tensor | float) -> Tensor:
    r"""Spherical linear interpolation (Shoemake 1985), as White (2016) recommends for Gaussian latent codes.

    .. math::
        \Omega = \arccos\frac{a^\top b}{\lVert a\rVert\,\lVert b\rVert}, \qquad
        \mathrm{slerp}(a, b; t) = \frac{\sin((1 - t)\,\Omega)}{\sin\Omega}\,a + \frac{\sin(t\,\Omega)}{\sin\Omega}\,b

    For ``a`` and ``b`` of equal norm the path is the great-circle arc between them, at constant
    norm and with the angle to ``a`` equal to :math:`t\,\Omega`; a linear path instead cuts through
    the low-norm interior, where a Gaussian prior puts almost no mass ("Sampling generative
    networks", White 2016). Where :math:`\sin\Omega \approx 0` (``a`` and ``b`` parallel or
    antiparallel, so no unique arc exists) it falls back to :func:`lerp`.

    Args:
        a: start vectors ``(..., D)``.
        b: end vectors, the shape of ``a``.
        t: weights in [0, 1], broadcast as in :func:`lerp`.
    """
    t = torch.as_tensor(t, dtype=a.dtype, device=a.device)[..., None]
    cosine = F.cosine_similarity(a, b, dim=-1, eps=1e-12)[..., None].clamp(-1.0, 1.0)
    omega = torch.arccos(cosine)
    sin_omega = torch.sin(omega)
    parallel = sin_omega.abs() < _PARALLEL
    safe = torch.where(parallel, torch.ones_like(sin_omega), sin_omega)
    arc = torch.sin((1 - t) * omega) / safe * a + torch.sin(t * omega) / safe * b
    return torch.where(parallel, torch.lerp(a, b, t), arc)


INTERPOLATIONS: dict[str, Callable[[Tensor, Tensor, Tensor | float], Tensor]] = {"linear": lerp, "spherical": slerp}


def generate_images(module: GANModule, z: Tensor, probe: str, per_class: int = 1) -> Tensor:
    """``G(z)`` on the CPU, ``(N, C, H, W)`` in [-1, 1]; refuses generators of 2-D points, which have no pictures.

    A class-conditional generator draws the classes in turn, ``per_class`` consecutive codes each
    (a walk of ``per_class`` steps keeps one class, so only z changes along it).
    """
    condition = None
    if module.generator.num_classes:
        condition = {"label": (torch.arange(len(z)) // per_class) % module.generator.num_classes}
    samples = module.generate(z, condition).cpu()
    if samples.ndim != 4:
        raise GanlabError(
            f"{probe} needs an image dataset, but this generator makes samples of shape {tuple(samples.shape[1:])}: "
            f"use {probe} on a run trained with dataset=mnist, fashion_mnist or cifar10"
        )
    return samples


def labelled_grid(images: Tensor, nrow: int, labels: Sequence[str | None]) -> Tensor:
    """Tile ``(N, C, H, W)`` images in [-1, 1] like :func:`~ganlab.plotting.image_grid`, with a label in each
    cell's top-left corner (white on black, PIL ``ImageDraw``); cells under ``_MIN_CELL`` pixels are upscaled
    so the labels stay legible. ``None`` labels leave a cell bare."""
    scale = math.ceil(_MIN_CELL / min(images.shape[-2:]))
    if scale > 1:
        images = F.interpolate(images.float(), scale_factor=scale, mode="nearest")
    grid = image_grid(images, nrow=nrow)
    height, width = images.shape[-2:]
    canvas = Image.fromarray((grid.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=max(10, min(height, width) // 5))
    for index, label in enumerate(labels):
        if label is None:
            continue
        row, col = divmod(index, nrow)
        x, y = _PAD + col * (width + _PAD), _PAD + row * (height + _PAD)
        *_, right, bottom = draw.textbbox((x + 2, y + 1), label, font=font)
        draw.rectangle((x, y, right + 2, bottom + 2), fill=(0, 0, 0))
        draw.text((x + 2, y + 1), label, fill=(255, 255, 255), font=font)
    return torch.from_numpy(np.asarray(canvas).copy()).permute(2, 0, 1).float() / 255.0


class LatentWalk(LatentProbe):
    r"""Latent-space walks (Radford et al. 2016, §6.1): :math:`G(\mathrm{interp}(z_a, z_b; t))` for
    :math:`t = 0, \tfrac{1}{S-1}, \dots, 1`, between pairs of random codes :math:`z_a, z_b \sim p(z)`.

    Smooth transitions suggest the generator has learned a continuous representation; sharp jumps
    or images that stay identical for several steps suggest memorisation or collapsed regions. One
    figure per mode (``interpolation_linear.png``, ``interpolation_spherical.png``, see :func:`lerp`
    and :func:`slerp`): one row per walk, ``steps`` columns, the first and last columns being
    :math:`G(z_a)` and :math:`G(z_b)`. Every mode walks between the same pairs, drawn from a generator
    seeded with the eval seed, so the figures compare the paths and repeat from run to run.

    Args:
        num_walks: rows: pairs of endpoints.
        steps: images per walk, endpoints included (at least 2).
        modes: ``linear`` and/or ``spherical`` (one name alone is a list of one).
    """

    def __init__(
        self,
        num_walks: Annotated[int, AtLeast(1)] = 8,
        steps: Annotated[int, AtLeast(1)] = 10,
        modes: Sequence[str] = ("linear", "spherical"),
    ) -> None:
        self.num_walks, self.steps = int(num_walks), int(steps)
        self.modes = [modes] if isinstance(modes, str) else [str(mode) for mode in modes]
        if self.num_walks < 1 or self.steps < 2:
            raise GanlabError(
                f"interpolation needs num_walks >= 1 and steps >= 2 (the two endpoints), got "
                f"num_walks={self.num_walks}, steps={self.steps}"
            )
        unknown = [mode for mode in self.modes if mode not in INTERPOLATIONS]
        if unknown or not self.modes:
            raise GanlabError(
                f"interpolation modes {self.modes} are not a non-empty list of {sorted(INTERPOLATIONS)}: "
                "set e.g. metrics.interpolation.modes=spherical"
            )

    def codes(self, module: GANModule, seed: int) -> dict[str, Tensor]:
        """The walks' latent codes by mode, ``(num_walks, steps, latent_dim)``, between the endpoints drawn with
        ``seed`` (the same endpoints for every mode)."""
        rng = torch.Generator().manual_seed(seed)
        start = module.generator.sample_latent(self.num_walks, rng=rng)[:, None]
        end = module.generator.sample_latent(self.num_walks, rng=rng)[:, None]
        t = torch.linspace(0.0, 1.0, self.steps)
        return {mode: INTERPOLATIONS[mode](start, end, t) for mode in self.modes}

    def run(self, module: GANModule, datamodule: GANDataModule, seed: int) -> Findings:
        figures = {}
        for mode, z in self.codes(module, seed).items():
            # row-major: walk after walk
            walks = generate_images(module, z.flatten(0, 1), "interpolation", per_class=self.steps)
            figures[f"interpolation_{mode}"] = image_grid(walks, self.steps)
        return Findings(figures=figures)


class LatentArithmetic(LatentProbe):
    r"""Latent vector arithmetic (Radford et al. 2016, §6.3): :math:`z = \sum_g s_g\,\bar z_g`, the signed
    sum of the mean codes :math:`\bar z_g` of chosen groups of samples, and :math:`G(z)`.

    The paper's example is "smiling woman" - "neutral woman" + "neutral man" = "smiling man"
    (``signs=[1, -1, 1]``), averaging three samples per concept because single codes were unstable.
    The candidates are ``num_candidates`` codes drawn from a generator seeded with the eval seed,
    so index ``i`` means the same sample in every run with that seed (with the default 64 they are
    also the codes of ``samples.png``). With ``groups=None`` the probe draws them as a numbered grid,
    ``arithmetic_candidates.png``, to choose groups from; with groups it also draws
    ``arithmetic.png``: one row per group (its mean-code image, then its members by index) and a
    result row: :math:`G(z)`, then ``num_neighbours`` images of :math:`G(z + \epsilon)` with
    :math:`\epsilon \sim U[-\text{noise\_scale}, \text{noise\_scale}]^D` per coordinate, the paper's
    uniform noise of scale 0.25 (seeded, so the row repeats). A result that persists across its
    neighbours shows a direction in latent space rather than a lucky code.

    Args:
        groups: lists of candidate indices, e.g. ``[[1, 5, 9], [2, 7], [3, 4]]``; ``None``: only the grid.
        signs: one weight :math:`s_g` per group.
        num_candidates: codes to number and choose from.
        num_neighbours: noisy copies of the result code.
        noise_scale: half-width of the uniform noise added to the result code.
    """

    def __init__(
        self,
        groups: Sequence[Sequence[int]] | None = None,
        signs: Sequence[float] = (1.0, -1.0, 1.0),
        num_candidates: Annotated[int, AtLeast(1)] = 64,
        num_neighbours: Annotated[int, AtLeast(1)] = 8,
        noise_scale: Annotated[float, NonNegative] = 0.25,
    ) -> None:
        self.num_candidates, self.num_neighbours = int(num_candidates), int(num_neighbours)
        self.noise_scale = float(noise_scale)
        self.signs = [float(sign) for sign in signs]
        if self.num_candidates < 1 or self.num_neighbours < 0:
            raise GanlabError(
                f"arithmetic needs num_candidates >= 1 and num_neighbours >= 0, got {self.num_candidates} and "
                f"{self.num_neighbours}"
            )
        self.groups = None if groups is None else [self._indices(group, number) for number, group in enumerate(groups)]
        if self.groups is None:
            return
        if not self.groups:
            raise GanlabError(
                "arithmetic groups is an empty list: give lists of sample numbers, e.g. "
                "'metrics.arithmetic.groups=[[1,5,9],[2,7],[3,4]]', or null for the numbered grid alone"
            )
        if len(self.signs) != len(self.groups):
            example = ",".join("-1" if number % 2 else "1" for number in range(len(self.groups)))
            raise GanlabError(
                f"arithmetic has {len(self.groups)} groups but {len(self.signs)} signs: give one sign per group, "
                f"e.g. 'metrics.arithmetic.signs=[{example}]'"
            )

    def _indices(self, group: Sequence[int], number: int) -> list[int]:
        try:
            indices = list(group)
        except TypeError:
            indices = []
        if not indices:
            raise GanlabError(
                f"arithmetic group {number} is {group!r}, not a non-empty list of sample numbers: "
                "write groups as lists, e.g. 'metrics.arithmetic.groups=[[1,5,9],[2,7],[3,4]]'"
            )
        bad = [i for i in indices if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < self.num_candidates]
        if bad:
            raise GanlabError(
                f"arithmetic group {number} has sample numbers {bad} outside 0..{self.num_candidates - 1}: "
                "choose them from arithmetic_candidates.png (or raise metrics.arithmetic.num_candidates)"
            )
        return indices

    def combine(self, candidates: Tensor) -> Tensor:
        r"""The result code :math:`\sum_g s_g\,\bar z_g`, shape ``(latent_dim,)``."""
        if self.groups is None:
            raise GanlabError("arithmetic has no groups to combine: set 'metrics.arithmetic.groups=[[...],...]'")
        means = torch.stack([candidates[group].mean(dim=0) for group in self.groups])
        return (torch.tensor(self.signs, dtype=means.dtype)[:, None] * means).sum(dim=0)

    def run(self, module: GANModule, datamodule: GANDataModule, seed: int) -> Findings:
        # The candidates come first from a fresh seeded stream, so index i means the same code whatever the groups.
        rng = torch.Generator().manual_seed(seed)
        z = module.generator.sample_latent(self.num_candidates, rng=rng)
        images = generate_images(module, z, "arithmetic")
        columns = max(1, math.isqrt(len(z)))
        figures = {"arithmetic_candidates": labelled_grid(images, columns, [str(i) for i in range(len(z))])}
        if self.groups is None:
            console.print(
                "arithmetic: no groups chosen: pick sample numbers from arithmetic_candidates.png and rerun with "
                "the same seed and e.g. 'metrics.arithmetic.groups=[[1,5,9],[2,7],[3,4]]'",
                highlight=False,
            )
            return Findings(figures=figures)
        figures["arithmetic"] = self._figure(module, z, images, rng)
        return Findings(figures=figures)

    def _figure(self, module: GANModule, z: Tensor, images: Tensor, rng: torch.Generator) -> Tensor:
        """Rows: per group its mean-code image then its members; last, the result then its noisy neighbours."""
        groups = self.groups or []
        result = self.combine(z)
        noise = (torch.rand(self.num_neighbours, z.shape[1], generator=rng) * 2 - 1) * self.noise_scale
        means = torch.stack([z[group].mean(dim=0) for group in groups])
        made = generate_images(module, torch.cat([means, result[None], result[None] + noise]), "arithmetic")
        columns = 1 + max(self.num_neighbours, *(len(group) for group in groups))
        blank = torch.ones_like(images[:1])
        cells: list[Tensor] = []
        labels: list[str | None] = []
        for number, (group, sign) in enumerate(zip(groups, self.signs, strict=True)):
            empty = columns - 1 - len(group)
            cells += [made[number : number + 1], images[group], blank.expand(empty, -1, -1, -1)]
            labels += [f"{_signed(sign)}mean", *(str(i) for i in group), *[None] * empty]
        result_row = made[len(groups) :]
        cells += [result_row, blank.expand(columns - len(result_row), -1, -1, -1)]
        labels += ["=", *[None] * (columns - 1)]
        return labelled_grid(torch.cat(cells), columns, labels)


def _signed(sign: float) -> str:
    """``+``, ``-``, or the weight itself (``+0.5x``) in a row label; ASCII, which every PIL font has."""
    if abs(sign) == 1:
        return "+" if sign > 0 else "-"
    return f"{sign:+g}x"
