"""Lesson ``architectures``: DCGAN, LAPGAN's coarse-to-fine chain, StyleGAN's style mixing, BigGAN's truncation."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import torch
from torch import Tensor

from ganlab.diagnosis.probes import mean_pairwise_distance
from ganlab.lessons.base import Check, Lab, Lesson, Result
from ganlab.metrics import PrecisionRecall
from ganlab.models.base import with_onehot
from ganlab.models.lapgan import LAPGANGenerator, gaussian_pyramid, laplacian_pyramid, upsample
from ganlab.models.stylegan import StyleGANGenerator
from ganlab.plotting import figure_image, image_grid, read_png

MODELS = ("dcgan", "lapgan", "stylegan", "biggan")


def _spectrum(images: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Energy ``|FFT|²`` of each image, ``(N, H, W)`` (channels summed, each image's mean removed), with the
    frequencies ``f_y``, ``f_x`` of each coefficient in cycles per pixel."""
    flat = images.double().flatten(0, -4) if images.dim() > 3 else images.double()[:, None]
    power = torch.fft.fft2(flat - flat.mean(dim=(-2, -1), keepdim=True)).abs().square().sum(dim=1)
    fy, fx = torch.meshgrid(torch.fft.fftfreq(power.shape[-2]), torch.fft.fftfreq(power.shape[-1]), indexing="ij")
    return power, fy, fx


def band_energy(images: Tensor, cutoff: float = 0.25) -> tuple[Tensor, Tensor]:
    """``(energy above the cutoff, total energy)`` of each of ``(N, C, H, W)`` images, each ``(N,)``.

    A grid of half the side represents :math:`|f_x|, |f_y| \\le 1/4` cycles per (fine) pixel, so the
    energy with :math:`\\max(|f_x|, |f_y|) >` ``cutoff`` = 1/4 is what a level of a Laplacian pyramid
    adds over the level below it. Each image's mean is removed first (the background level carries no
    structure).
    """
    power, fy, fx = _spectrum(images)
    above = torch.maximum(fx.abs(), fy.abs()) > cutoff
    return power[:, above].sum(dim=1), power.flatten(1).sum(dim=1)


def band_share(images: Tensor, cutoff: float = 0.25) -> float:
    """Share of all the images' spectral energy above ``cutoff`` cycles per pixel (:func:`band_energy`)."""
    above, total = band_energy(images, cutoff)
    return float(above.sum() / total.sum())


def spectral_centroid(images: Tensor) -> float:
    """Energy-weighted mean radial frequency :math:`\\sqrt{f_x^2 + f_y^2}` in cycles per pixel (means removed)."""
    power, fy, fx = _spectrum(images)
    power = power.sum(dim=0)
    return float((power * (fx.square() + fy.square()).sqrt()).sum() / power.sum())


@torch.no_grad()
def lapgan_chain(generator: LAPGANGenerator, z: Tensor, label: Tensor | None = None) -> tuple[list, list]:
    """The coarse-to-fine chain behind ``G(z)`` (Denton et al. 2015): ``([Ĩ_0, ..., Ĩ_K], [h̃_0, ..., h̃_{K-1}])``.

    :math:`\\tilde I_K = G_K(z_K)`, then :math:`\\tilde I_k = u(\\tilde I_{k+1}) + \\tilde h_k` with the
    residual :math:`\\tilde h_k = G_k(z_k, u(\\tilde I_{k+1}))`; finest first, as the pyramid functions
    order levels. ``G(z)`` is ``Ĩ_0`` clipped to [-1, 1].
    """
    coarse_code, noise = generator._codes(z)
    side = generator.sides[-1]
    image = generator.coarse(with_onehot(coarse_code, label, generator.num_classes))
    images, residuals = [image.view(-1, generator.channels, side, side)], []
    for level in reversed(range(generator.levels - 1)):
        low = upsample(images[0])
        image = generator._refine(level, low, noise[level], label)
        images.insert(0, image)
        residuals.insert(0, image - low)
    return images, residuals


@torch.no_grad()
def style_mixes(generator: StyleGANGenerator, z_a: Tensor, z_b: Tensor, crossover: int) -> tuple[Tensor, ...]:
    """Sources A, sources B and their mixes ``(len(z_a), len(z_b), C, H, W)`` (Karras et al. 2019, section 3.1).

    Mix ``(i, j)`` takes A's :math:`w` in the synthesis layers before ``crossover`` and B's from it
    on (:meth:`StyleGANGenerator.mix_styles`). Every image draws its own per-pixel noise, so no
    image shares its stochastic detail with a source.
    """
    w_a, w_b = generator.mapping(z_a), generator.mapping(z_b)
    a = generator.synthesize(w_a[:, None].expand(-1, generator.num_layers, -1))
    b = generator.synthesize(w_b[:, None].expand(-1, generator.num_layers, -1))
    mixes = [generator.synthesize(generator.mix_styles(w.expand(len(w_b), -1), w_b, crossover)) for w in w_a]
    return a, b, torch.stack(mixes)


def coarse_and_fine(images: Tensor, levels: int = 3) -> tuple[Tensor, Tensor]:
    """Two features of ``(N, C, H, W)`` images in [-1, 1]: coarse structure, the top of the Gaussian pyramid
    (7x7 at 28 px, flattened, ``(N, 49)``); fine detail, the share of each image's energy above the
    half-side grid's Nyquist frequency (:func:`band_energy`, ``(N, 1)``): how sharp its strokes are,
    whatever their shape and however much ink there is."""
    coarse = gaussian_pyramid(images, levels)[-1].flatten(1)
    above, total = band_energy(images)
    return coarse, (above / total.clamp_min(1e-12))[:, None].float()


def mixing_distances(a: Tensor, b: Tensor, mixes: Tensor) -> dict[str, float]:
    """Mean distances of each mix to its two sources in the coarse and the fine feature (:func:`coarse_and_fine`),
    and the share of mixes nearer A (coarse) and nearer B (fine)."""
    n_a, n_b = mixes.shape[:2]
    (ca, fa), (cb, fb), (cm, fm) = (coarse_and_fine(x) for x in (a, b, mixes.flatten(0, 1)))
    cm, fm = cm.view(n_a, n_b, -1), fm.view(n_a, n_b, -1)
    distance = {
        "coarse_to_a": (cm - ca[:, None]).norm(dim=-1), "coarse_to_b": (cm - cb[None]).norm(dim=-1),
        "fine_to_a": (fm - fa[:, None]).norm(dim=-1), "fine_to_b": (fm - fb[None]).norm(dim=-1),
    }  # fmt: skip
    found = {name: float(value.mean()) for name, value in distance.items()}
    found["coarse_nearer_a"] = float((distance["coarse_to_a"] < distance["coarse_to_b"]).double().mean())
    found["fine_nearer_b"] = float((distance["fine_to_b"] < distance["fine_to_a"]).double().mean())
    return found


class Architectures(Lesson):
    """DCGAN, LAPGAN, StyleGAN and BigGAN trained briefly on MNIST, each showing what its paper added.

    Checks: LAPGAN's residual at each finer level holds more of its energy above the coarser level's
    Nyquist frequency than the level's image does, and level 1's residual sits at lower frequencies
    than level 0's; StyleGAN's mixes are nearer source A in coarse structure and nearer source B in
    fine detail; BigGAN's sample diversity falls at every tighter truncation while pixel precision
    rises from the untruncated samples to the tightest threshold. Recall is reported, not checked:
    after a short run no real digit lies inside the samples' k-NN balls at any threshold (0 throughout),
    so it cannot show a fall.

    Args:
        steps: generator steps of each model's run at the default scale; ``full_steps`` with
            ``lesson.scale=full``; both map model name to steps.
        widths: channel width of each model's G and D (``model.generator.width``, ...); none for DCGAN.
        recipes: each model's training recipe from its paper (loss, optimiser, tricks), as overrides.
        batch_size: the batch of every run.
        thresholds: BigGAN's truncation thresholds, loosest first (untruncated comes before them).
        crossover: the first StyleGAN layer that takes B's style.
        samples: samples per truncation row, LAPGAN chains and side of the style-mixing grid for the
            numbers (``tiny`` at the tiny scale).
        common: Lesson's arguments.
    """

    claim = (
        "DCGAN (Radford et al. 2016) makes images with strided convolutions and batch norm. LAPGAN (Denton et al. "
        "2015) generates coarse to fine: each level's generator adds the band-pass residual of a Laplacian pyramid, "
        "detail at its own resolution. StyleGAN (Karras et al. 2019) feeds a style w to every layer, so mixing two "
        "latents takes coarse structure from the one fed to the low-resolution layers and fine detail from the one "
        "fed to the high-resolution ones. BigGAN's truncation trick (Brock et al. 2019) samples z from a truncated "
        "normal: tightening it trades diversity for fidelity."
    )

    def __init__(self, steps: dict, full_steps: dict, widths: dict, recipes: dict | None = None, batch_size: int = 64,
                 thresholds: Sequence[float] = (2.0, 1.0, 0.5, 0.25), crossover: int = 3,
                 samples: int = 500, tiny_samples: int = 16, **common) -> None:  # fmt: skip
        super().__init__(**common)
        self.steps = {model: self.at_scale(int(steps[model]), int(full_steps[model]), tiny=2) for model in MODELS}
        self.widths, self.batch_size = dict(widths), int(batch_size)
        self.recipes = {model: list(overrides) for model, overrides in (recipes or {}).items()}
        self.thresholds, self.crossover = [float(t) for t in thresholds], int(crossover)
        self.samples = self.at_scale(int(samples), int(samples), tiny=int(tiny_samples))

    def _train(self, lab: Lab, model: str):
        steps, width = self.steps[model], self.widths.get(model)
        sizes = [f"model.{net}.width={width}" for net in ("generator", "discriminator")] if width else []
        recipe = self.recipes.get(model, [])
        return lab.train(model, f"model={model}", "dataset=mnist", *sizes, *recipe, f"generator_steps={steps}",
                         f"dataset.datamodule.batch_size={self.batch_size}", f"checkpoint_every={steps}",
                         f"callbacks.samples.every_n_steps={steps}", "callbacks.samples.animation=false")  # fmt: skip

    def run(self, lab: Lab) -> Result:
        grids = {model: read_png(self._train(lab, model) / "samples" / f"step_{self.steps[model]:06d}.png")
                 for model in MODELS}  # fmt: skip
        _, datamodule = lab.restore("dcgan")
        datamodule.setup()
        real = datamodule.test_set.tensors["real"][: max(self.samples, 4)]
        numbers, checks, figures = {}, [], {"samples": _samples_figure(grids, self.steps)}
        for part in (self._lapgan, self._stylegan, self._biggan):
            found, tested, figure = part(lab, real)
            numbers.update(found)
            checks += tested
            figures.update(figure)
        return Result(numbers=numbers, figures=figures, checks=checks)

    def _lapgan(self, lab: Lab, real: Tensor) -> tuple[dict, list[Check], dict]:
        module, _ = lab.restore("lapgan")
        generator = module.sampling_generator
        z = generator.sample_latent(self.samples, rng=torch.Generator().manual_seed(0))
        images, residuals = lapgan_chain(generator, z)
        real_residuals = laplacian_pyramid(real, generator.levels)[:-1]
        numbers, checks = {}, []
        for k, residual in enumerate(residuals):
            side = residual.shape[-1]
            share, image_share = band_share(residual), band_share(images[k])
            numbers |= {f"lapgan_level{k}_residual_band_share": share, f"lapgan_level{k}_image_band_share": image_share,
                        f"lapgan_level{k}_real_residual_band_share": band_share(real_residuals[k])}  # fmt: skip
            checks.append(Check(
                f"LAPGAN's level {k} ({side} px) adds detail: its residual holds more of its energy above the "
                f"{side // 2} px level's Nyquist frequency than the level's image does.",
                f"{share:.1%} of the residual's energy against {image_share:.1%} of the image's "
                f"(real residuals: {numbers[f'lapgan_level{k}_real_residual_band_share']:.1%})", share > image_share,
            ))  # fmt: skip
        # the diversity of each level's images: where in the chain the samples come to differ
        numbers |= {f"lapgan_level{k}_image_diversity": mean_pairwise_distance(image) for k, image in enumerate(images)}
        # on the full-resolution grid, as each residual enters the image: level k's band sits an octave below k-1's
        centroids = [spectral_centroid(r) for r in _at_full_size(residuals)]
        numbers |= {f"lapgan_level{k}_residual_centroid": c for k, c in enumerate(centroids)}
        checks.append(Check(
            "Each LAPGAN level adds detail at its own resolution: on the full 28 px grid, the coarser level's "
            "residual sits at lower frequencies than the finer level's.",
            "spectral centroids " + ", ".join(f"level {k} {c:.3f}" for k, c in enumerate(centroids)) + " cycles/px",
            all(coarser < finer for finer, coarser in pairwise(centroids)),
        ))  # fmt: skip
        return numbers, checks, {"lapgan_chain": _chain_figure(images, residuals, count=6)}

    def _stylegan(self, lab: Lab, real: Tensor) -> tuple[dict, list[Check], dict]:
        module, _ = lab.restore("stylegan")
        generator = module.sampling_generator
        side = max(2, int(self.samples**0.5 + 0.5) // 2 * 2)  # side² mixes: about `samples` of them
        torch.manual_seed(0)  # the noise inputs
        z = generator.sample_latent(2 * side, rng=torch.Generator().manual_seed(1))
        a, b, mixes = style_mixes(generator, z[:side], z[side:], self.crossover)
        found = mixing_distances(a, b, mixes)
        numbers = {f"stylegan_mix_{name}": value for name, value in found.items()}
        numbers["stylegan_crossover"] = self.crossover
        layers = generator.num_layers
        checks = [
            Check(f"A style mix (A's w in layers 0-{self.crossover - 1}, B's in {self.crossover}-{layers - 1}) "
                  "keeps A's coarse structure: its 7x7 Gaussian-pyramid top is nearer A's than B's.",
                  f"mean distance {found['coarse_to_a']:.3f} to A against {found['coarse_to_b']:.3f} to B "
                  f"({found['coarse_nearer_a']:.0%} of {side}x{side} mixes nearer A)",
                  found["coarse_to_a"] < found["coarse_to_b"]),
            Check("The mix takes B's fine detail: its share of energy above 1/4 cycle per pixel (stroke sharpness) "
                  "is nearer B's than A's.",
                  f"mean difference {found['fine_to_b']:.4f} to B against {found['fine_to_a']:.4f} to A "
                  f"({found['fine_nearer_b']:.0%} of the mixes nearer B)", found["fine_to_b"] < found["fine_to_a"]),
        ]  # fmt: skip
        shown = min(side, 6)
        figure = _mixing_figure(a[:shown], b[:shown], mixes[:shown, :shown], self.crossover, layers)
        return numbers, checks, {"style_mixing": figure}

    def _biggan(self, lab: Lab, real: Tensor) -> tuple[dict, list[Check], dict]:
        module, _ = lab.restore("biggan")
        generator = module.sampling_generator
        rows, numbers = [], {}
        settings = [None, *self.thresholds]
        diversity, precision, recall = [], [], []
        for threshold in settings:
            for net in (module.generator, generator):
                net.truncation = threshold
            z = generator.sample_latent(self.samples, rng=torch.Generator().manual_seed(0))
            samples = module.generate(z)
            found = PrecisionRecall(k=3).compare(real.flatten(1), samples.flatten(1))
            diversity.append(mean_pairwise_distance(samples))
            precision.append(float(found["precision"]))
            recall.append(float(found["recall"]))
            name = "none" if threshold is None else f"{threshold:g}"
            numbers |= {f"biggan_diversity_truncation_{name}": diversity[-1],
                        f"biggan_precision_truncation_{name}": precision[-1],
                        f"biggan_recall_truncation_{name}": recall[-1]}  # fmt: skip
            rows.append(samples[:10])
        labels = ["none"] + [f"{t:g}" for t in self.thresholds]
        listed = lambda values: ", ".join(f"{v:.3g}" for v in values)  # noqa: E731
        checks = [
            Check("Tightening BigGAN's truncation lowers diversity at every step: the mean pairwise pixel distance "
                  f"falls monotonically over thresholds {', '.join(labels)}.", listed(diversity),
                  all(tighter < looser for looser, tighter in pairwise(diversity))),
            Check(f"Fidelity rises: precision (pixel k-NN, k = 3) at truncation {labels[-1]} is above the "
                  "untruncated samples'.", f"{precision[-1]:.3f} against {precision[0]:.3f} (all: "
                  f"{listed(precision)})", precision[-1] > precision[0]),
        ]  # fmt: skip
        return numbers, checks, {"truncation": _truncation_figure(rows, labels)}


def _at_full_size(residuals: list[Tensor]) -> list[Tensor]:
    """Each level's residual bilinearly upsampled to the finest side, as it enters the image."""
    full = []
    for k, residual in enumerate(residuals):
        for _ in range(k):
            residual = upsample(residual)
        full.append(residual)
    return full


def _grid_axes(picture: Tensor, size: tuple[float, float], title: str):
    """A figure showing one picture without frame; returns ``(figure, axes)`` for labels."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=100)
    ax = fig.add_subplot()
    ax.imshow(picture.permute(1, 2, 0).numpy(), interpolation="nearest")
    ax.set_title(title, fontsize=9)
    for spine in ax.spines.values():
        spine.set_visible(False)
    return fig, ax


def _cell_centres(count: int, side: int = 28, pad: int = 2) -> list[float]:
    """Pixel centres of the cells of an :func:`~ganlab.plotting.image_grid` row or column of ``count`` cells."""
    return [pad + i * (side + pad) + side / 2 for i in range(count)]


def _samples_figure(grids: dict[str, Tensor], steps: dict[str, int]) -> Tensor:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 3.5), dpi=80)  # the four grids at about their own size, a PNG under 300 KB
    for ax, (model, grid) in zip(fig.subplots(1, len(grids)), grids.items(), strict=True):
        ax.imshow(grid.permute(1, 2, 0).numpy(), interpolation="nearest")
        ax.set_title(f"model={model}, {steps[model]} steps", fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    return figure_image(fig)


def _chain_figure(images: list[Tensor], residuals: list[Tensor], count: int) -> Tensor:
    """Rows of samples; columns coarse to fine: Ĩ_K, h̃_{K-1}, Ĩ_{K-1}, ..., h̃_0, Ĩ_0 (residuals scaled to show)."""
    side = images[0].shape[-1]
    big = lambda x: torch.nn.functional.interpolate(x[:count], size=(side, side), mode="nearest")  # noqa: E731
    columns, titles = [big(images[-1])], [f"{images[-1].shape[-1]} px: G_K(z)"]
    for k in reversed(range(len(residuals))):
        residual = residuals[k][:count]
        columns += [big(residual / residual.abs().max().clamp_min(1e-8)), big(images[k].clamp(-1, 1))]
        titles += [f"residual {residual.shape[-1]} px", f"{images[k].shape[-1]} px image"]
    grid = image_grid(torch.stack(columns, dim=1).flatten(0, 1), len(columns))
    fig, ax = _grid_axes(grid, (1.3 * len(columns) + 0.6, 1.3 * count + 0.8),
                         "LAPGAN coarse to fine (residuals: grey = 0, scaled)")  # fmt: skip
    ax.set_xticks(_cell_centres(len(columns)), titles, fontsize=7, rotation=20)
    ax.set_yticks([])
    fig.tight_layout()
    return figure_image(fig)


def _mixing_figure(a: Tensor, b: Tensor, mixes: Tensor, crossover: int, layers: int) -> Tensor:
    """StyleGAN's mixing grid: B sources along the top, A sources down the left, mix (i, j) at row i, column j."""
    blank = torch.ones_like(a[:1])
    rows = [torch.cat([blank, b])] + [torch.cat([a[i : i + 1], mixes[i]]) for i in range(len(a))]
    grid = image_grid(torch.cat(rows), len(b) + 1)
    title = f"style mixing: A's w in layers 0-{crossover - 1}, B's in {crossover}-{layers - 1}"
    fig, ax = _grid_axes(grid, (1.0 * len(b) + 1.8, 1.0 * len(a) + 1.6), title)
    ax.set_xticks(_cell_centres(len(b) + 1), ["", *(f"B{j}" for j in range(len(b)))], fontsize=8)
    ax.set_yticks(_cell_centres(len(a) + 1), ["", *(f"A{i}" for i in range(len(a)))], fontsize=8)
    fig.tight_layout()
    return figure_image(fig)


def _truncation_figure(rows: list[Tensor], labels: list[str]) -> Tensor:
    """One row of BigGAN samples per truncation threshold, the same seeds and classes in every row."""
    per_row = rows[0].shape[0]
    grid = image_grid(torch.cat(rows), per_row)
    fig, ax = _grid_axes(grid, (0.9 * per_row + 1.4, 0.9 * len(rows) + 1.0),
                         "BigGAN truncation: |z_i| <= threshold (classes 0-9, same seed)")  # fmt: skip
    ax.set_xticks([])
    ax.set_yticks(_cell_centres(len(rows)), labels, fontsize=8)
    ax.set_ylabel("threshold", fontsize=8)
    fig.tight_layout()
    return figure_image(fig)
