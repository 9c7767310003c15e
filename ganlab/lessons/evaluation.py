"""Lesson ``evaluation``: FID's bias with the sample count, 1-NN accuracy, and the memorisation check, measured."""

from __future__ import annotations

import math
from itertools import pairwise
from pathlib import Path

import torch
from torch import Tensor

from ganlab.evaluate import score
from ganlab.generative import GenerativeModule
from ganlab.lessons.base import Check, Lab, Lesson, Result
from ganlab.metrics import InceptionFeatures
from ganlab.metrics.features import extract, real_features
from ganlab.metrics.nearest_neighbours import one_nn_accuracy
from ganlab.plotting import figure_image, read_png

#: the two generators compared: a few steps of DCGAN, and many
GENERATORS = ("weak", "better")
#: a generated sample nearer its nearest training image than this quantile of the test digits' distances is a copy
COPY_QUANTILE = 0.01
#: the pixel-space metrics of each generator, as ``ganlab eval metrics=[nn1,memorization] feature_extractor=pixels``
PIXEL_METRICS = {
    "nn1": {
        "_target_": "ganlab.metrics.OneNearestNeighbourAccuracy",
        "feature_extractor": {"_target_": "ganlab.metrics.Flatten"},
    },
    "memorization": {
        "_target_": "ganlab.metrics.Memorization",
        "feature_extractor": {"_target_": "ganlab.metrics.Flatten"},
        "copy_quantile": COPY_QUANTILE,
    },
}


def fid(real: Tensor, fake: Tensor) -> float:
    r"""The Fréchet distance of :class:`~ganlab.metrics.FrechetInceptionDistance` between feature sets ``(n, D)``
    and ``(m, D)``, through their Gram matrix: exact, and fast where the sets are smaller than the dimension.

    .. math::
        \mathrm{FID} = \lVert\mu_r - \mu_g\rVert^2 + \mathrm{Tr}\,\Sigma_r + \mathrm{Tr}\,\Sigma_g
        - 2\,\mathrm{Tr}(\Sigma_r\Sigma_g)^{1/2}

    With :math:`A = (X_r - \mu_r)/\sqrt{n - 1}` and :math:`B = (X_g - \mu_g)/\sqrt{m - 1}` (so the
    unbiased covariances are :math:`A^\top A` and :math:`B^\top B`), the non-zero eigenvalues of
    :math:`\Sigma_r\Sigma_g = A^\top A B^\top B` are those of :math:`(AB^\top)(AB^\top)^\top`, so
    :math:`\mathrm{Tr}(\Sigma_r\Sigma_g)^{1/2}` is the sum of the singular values of the ``(n, m)``
    matrix :math:`AB^\top`. The metric's own ``compute`` takes the eigenvalues of the ``(D, D)`` product
    instead, which for Inception's D = 2048 costs minutes on a loaded 2-core CPU; the lesson scores a
    dozen FIDs, so it takes this route (tests/test_lesson_evaluation.py checks that both agree).
    """
    real, fake = real.double(), fake.double()
    a = (real - real.mean(0)) / math.sqrt(len(real) - 1)
    b = (fake - fake.mean(0)) / math.sqrt(len(fake) - 1)
    means = (real.mean(0) - fake.mean(0)).square().sum()
    return float(means + a.square().sum() + b.square().sum() - 2 * torch.linalg.svdvals(a @ b.T).sum())


def nn1_accuracy(real: Tensor, fake: Tensor) -> float:
    """Leave-one-out 1-NN two-sample accuracy (Lopez-Paz & Oquab 2017): the mean of both sets' accuracies."""
    on_real, on_fake = one_nn_accuracy(real.double(), fake.double())
    return float((on_real + on_fake) / 2)


def nn1_null(n: int) -> tuple[float, float]:
    r"""The 1-NN accuracy of two sets of ``n`` samples from one distribution: its mean and standard error.

    Leaving a point out, its nearest neighbour is any of the other :math:`2n - 1` points with equal
    chance, :math:`n - 1` of them from its own set, so the expected accuracy is
    :math:`(n - 1) / (2n - 1) = \tfrac12 - \tfrac{1}{4n - 2}`, and the binomial standard error of a
    mean over :math:`2n` points is :math:`\tfrac12 / \sqrt{2n}` (the neighbours' labels are not quite
    independent; this is the usual approximation).
    """
    return (n - 1) / (2 * n - 1), 0.5 / math.sqrt(2 * n)


def mann_whitney_null(m: int, n: int) -> float:
    r"""The standard error of :math:`U / mn` when both samples come from one distribution (no ties):
    :math:`\sqrt{(m + n + 1) / (12 m n)}`, around 1/2."""
    return math.sqrt((m + n + 1) / (12 * m * n))


def generated(module: GenerativeModule, num: int, seed: int, batch_size: int = 500) -> Tensor:
    """``num`` samples from the seeded latent stream ``ganlab eval`` draws, in its batches (the same samples)."""
    rng = torch.Generator().manual_seed(seed)
    batches = []
    for start in range(0, num, batch_size):
        z = module.generator.sample_latent(min(batch_size, num - start), rng=rng)
        batches.append(module.generate(z).cpu())
    return torch.cat(batches)


class Evaluation(Lesson):
    """A weak DCGAN (``weak_steps``) against a better one (``better_steps``) on MNIST, by FID, 1-NN and memorisation.

    FID (Inception pool-2048 features, the test split as the real side, ``N`` real against ``N``
    generated as ``ganlab eval num_samples=N`` scores) at ``N = max/8, max/4, max/2, max`` for two
    halves of the real test digits (the same distribution), the better generator, and the weak one
    (up to ``max/2``); the 1-NN two-sample accuracy (leave-one-out) in Inception features (``max/2``
    samples a side) and in pixels (``pixel_samples`` a side, and two disjoint halves of the training
    digits as the real-against-real reference); the memorisation metric in pixels
    (:class:`~ganlab.metrics.Memorization`: nearest-training distances of generated samples against
    those of held-out test digits).

    Checks: FID of real against real is above 0 and falls at every doubling of ``N``; so does the
    better generator's; real against real 1-NN is within ``standard_errors`` of its expected
    (n - 1)/(2n - 1) in both spaces; the weak generator's 1-NN is at least ``poor_nn1``; the better
    generator scores better on FID, both 1-NNs and the memorisation ratio (nearer 1); and its samples
    are not copies: the share within the copy threshold at most ``max_copy_factor`` times the test
    digits' own, and ``closer`` at most 1/2 + ``standard_errors`` standard errors.

    Args:
        weak_steps, better_steps: generator steps of each run (``full_better_steps`` at the full scale).
        max_fid_samples: the largest N of the FID curve (``full_max_fid_samples`` at the full scale).
        pixel_samples: generated samples for the pixel-space 1-NN and memorisation (at most the test split).
        poor_nn1: the 1-NN accuracy a poor generator reaches at least.
        standard_errors: how many standard errors from the null a "no difference" check allows.
        max_copy_factor: the better generator's copy rate at most this many times ``copy_quantile``.
        seed: the latent stream of the generated samples (0, as ``ganlab eval``).
        cache_dir: where real Inception features are cached (``paths.cache_dir``, shared with ``ganlab eval``).
        common: Lesson's arguments.
    """

    claim = (
        "FID is a biased estimator: with few samples it is too large, and it falls as the sample count grows, so "
        "FIDs compare only at the same N (Binkowski et al. 2018; Chong & Forsyth 2020). The 1-NN two-sample test "
        "(Lopez-Paz & Oquab 2017) scores 50% when both sets come from one distribution and tends to 100% for a "
        "poor generator. A better generator scores better on every metric, and a GAN does not copy its training "
        "images: its samples are no closer to the nearest training image than held-out real images are "
        "(Goodfellow et al. 2014, Fig. 2)."
    )

    def __init__(self, weak_steps: int = 50, better_steps: int = 800, full_better_steps: int = 3000,
                 max_fid_samples: int = 400, full_max_fid_samples: int = 1000, pixel_samples: int = 1000,
                 poor_nn1: float = 0.95, standard_errors: float = 3.0, max_copy_factor: float = 3.0, seed: int = 0,
                 cache_dir: str | None = None, **common) -> None:  # fmt: skip
        super().__init__(**common)
        self.steps = {"weak": self.at_scale(weak_steps, weak_steps, tiny=4),
                      "better": self.at_scale(better_steps, full_better_steps)}  # fmt: skip
        self.max_fid_samples = self.at_scale(max_fid_samples, full_max_fid_samples, tiny=16)
        self.pixel_samples = self.at_scale(pixel_samples, pixel_samples, tiny=16)
        self.poor_nn1, self.standard_errors = float(poor_nn1), float(standard_errors)
        self.max_copy_factor, self.seed = float(max_copy_factor), int(seed)
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else None

    def run(self, lab: Lab) -> Result:
        modules, grids = {}, {}
        for name in GENERATORS:
            steps = self.steps[name]
            run = lab.train(name, "model=dcgan", "dataset=mnist", f"generator_steps={steps}",
                            f"callbacks.samples.every_n_steps={steps}")  # fmt: skip
            modules[name], datamodule = lab.restore(name)
            grids[name] = read_png(run / "samples" / f"step_{steps:06d}.png")
        datamodule.setup("test")
        top = self.max_fid_samples
        counts = [top // 8, top // 4, top // 2, top]
        numbers: dict[str, float] = {}

        # Inception features: the real test digits once (cached, as ganlab eval caches them), each generator once
        inception = InceptionFeatures()
        real = real_features(datamodule, inception, top, "test", self.cache_dir)
        sizes = {"weak": top // 2, "better": top}
        fake = {name: extract(inception, generated(modules[name], sizes[name], self.seed), 100) for name in GENERATORS}
        half = len(real) // 2
        curves = {"real vs real": {n: fid(real[:n], real[half : half + n]) for n in counts if n <= half}}
        curves |= {name: {n: fid(real[:n], fake[name][:n]) for n in counts if n <= sizes[name]} for name in GENERATORS}
        for curve, values in curves.items():
            numbers |= {f"fid_{curve.replace(' ', '_')}_{n}": value for n, value in values.items()}

        # 1-NN: real against real (halves of the test features; halves of the training digits in pixels)
        nn1 = {("real vs real", "inception"): nn1_accuracy(real[:half], real[half : 2 * half])}
        nn1 |= {(name, "inception"): nn1_accuracy(real[:half], fake[name][:half]) for name in GENERATORS}
        train = datamodule.real_samples(len(datamodule.train_set), split="train").flatten(1)
        pixel_half = len(train) // 2
        nn1[("real vs real", "pixels")] = nn1_accuracy(train[:pixel_half], train[pixel_half : 2 * pixel_half])
        pixel = {}
        for name in GENERATORS:
            pixel[name] = score(modules[name], datamodule, PIXEL_METRICS, self.pixel_samples, 500, self.seed,
                                self.cache_dir)  # fmt: skip
            nn1[(name, "pixels")] = pixel[name].values["nn1_accuracy"]
        numbers |= {f"nn1_{who.replace(' ', '_')}_{space}": value for (who, space), value in nn1.items()}
        memorisation = ("ratio", "copies", "closer", "nn_median", "test_nn_median")
        for name in GENERATORS:
            numbers |= {f"memorization_{name}_{key}": pixel[name].values[f"memorization_pixel_{key}"]
                        for key in memorisation}  # fmt: skip

        checks = self._checks(curves, nn1, numbers, half, pixel_half, top)
        figures = {
            "fid_and_nn1": _metrics_figure(curves, nn1),
            "samples": _samples_figure(datamodule, grids, self.steps),
            "memorization": pixel["better"].figures["memorization"],
            "memorization_distances": pixel["better"].figures["memorization_distances"],
        }
        return Result(numbers=numbers, figures=figures, checks=checks)

    def _checks(self, curves: dict, nn1: dict, numbers: dict, half: int, pixel_half: int, top: int) -> list[Check]:
        def falling(curve: dict[int, float]) -> bool:
            values = list(curve.values())
            return all(later < earlier for earlier, later in pairwise(values))

        def shown(curve: dict[int, float]) -> str:
            return ", ".join(f"{value:.1f} (N={n})" for n, value in curve.items())

        real_curve, better_curve = curves["real vs real"], curves["better"]
        null = {"inception": nn1_null(half), "pixels": nn1_null(pixel_half)}
        near_half = {space: abs(nn1[("real vs real", space)] - mean) <= self.standard_errors * se
                     for space, (mean, se) in null.items()}  # fmt: skip
        compared = top // 2
        better_everywhere = {
            f"FID at N={compared}": (curves["better"][compared], curves["weak"][compared]),
            "1-NN (Inception)": (nn1[("better", "inception")], nn1[("weak", "inception")]),
            "1-NN (pixels)": (nn1[("better", "pixels")], nn1[("weak", "pixels")]),
            "|log memorisation ratio|": tuple(abs(math.log(numbers[f"memorization_{name}_ratio"]))
                                              for name in ("better", "weak")),
        }  # fmt: skip
        copies, closer = numbers["memorization_better_copies"], numbers["memorization_better_closer"]
        copy_quantile = COPY_QUANTILE
        closer_bound = 0.5 + self.standard_errors * mann_whitney_null(self.pixel_samples, self.pixel_samples)
        return [
            Check("For two halves of the real test digits (one distribution: the true FID is about 0) FID is "
                  "above 0 and falls at every doubling of N.", shown(real_curve),
                  falling(real_curve) and min(real_curve.values()) > 0),
            Check("The better generator's FID falls with N too: compare FIDs at the same N only.",
                  shown(better_curve), falling(better_curve)),
            Check(f"Real against real, 1-NN accuracy is 50% (expected (n-1)/(2n-1), within "
                  f"{self.standard_errors:g} standard errors).",
                  "; ".join(f"{space}: {nn1[('real vs real', space)]:.3f} against {mean:.3f} +- "
                            f"{self.standard_errors * se:.3f} ({n} a side)"
                            for (space, (mean, se)), n in zip(null.items(), (half, pixel_half), strict=True)),
                  all(near_half.values())),
            Check(f"A poor generator's 1-NN accuracy tends to 100% (at least {self.poor_nn1:.0%}).",
                  f"weak ({self.steps['weak']} steps): {nn1[('weak', 'inception')]:.3f} (Inception), "
                  f"{nn1[('weak', 'pixels')]:.3f} (pixels)",
                  min(nn1[("weak", "inception")], nn1[("weak", "pixels")]) >= self.poor_nn1),
            Check("The better generator scores better on every metric (lower is better in each).",
                  "; ".join(f"{what}: {b:.3g} against {w:.3g}" for what, (b, w) in better_everywhere.items()),
                  all(b < w for b, w in better_everywhere.values())),
            Check(f"The better generator does not copy training images: at most {self.max_copy_factor:g}x the "
                  f"test digits' {copy_quantile:.0%} copy rate, and no closer to the training set than test digits "
                  f"(closer <= {closer_bound:.3f}).",
                  f"copies {copies:.1%}, closer {closer:.3f}, ratio {numbers['memorization_better_ratio']:.3f}",
                  copies <= self.max_copy_factor * copy_quantile and closer <= closer_bound),
        ]  # fmt: skip


def _metrics_figure(curves: dict[str, dict[int, float]], nn1: dict[tuple[str, str], float]) -> Tensor:
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch
    from matplotlib.ticker import NullFormatter

    colours = {"real vs real": "0.4", "weak": "tab:red", "better": "tab:blue"}
    fig = Figure(figsize=(10, 3.8), dpi=100)
    left, right = fig.subplots(1, 2)
    for curve, values in curves.items():
        left.plot(list(values), list(values.values()), "o-", color=colours[curve], label=curve)
    left.set(xscale="log", yscale="log", xlabel="samples N, real and generated", ylabel="FID",
             title="FID against the sample count")  # fmt: skip
    left.set_xticks(list(curves["better"]), [str(n) for n in curves["better"]])
    left.xaxis.set_minor_formatter(NullFormatter())
    left.legend(fontsize=8)
    left.grid(alpha=0.3, which="both")
    shades = {"inception": 0.9, "pixels": 0.45}
    for offset, (space, alpha) in zip((-0.2, 0.2), shades.items(), strict=True):
        bars = right.bar([i + offset for i in range(len(colours))], [nn1[(who, space)] for who in colours],
                         width=0.38, color=list(colours.values()), alpha=alpha)  # fmt: skip
        right.bar_label(bars, fmt="%.3f", fontsize=7)
    right.axhline(0.5, color="black", ls="--", lw=1)
    right.set_xticks(range(len(colours)), list(colours))
    right.set(ylim=(0, 1.12), ylabel="1-NN accuracy", title="1-NN two-sample accuracy (0.5: indistinguishable)")
    names = {"inception": "Inception features", "pixels": "pixels"}
    proxies = [Patch(color="0.3", alpha=alpha, label=names[space]) for space, alpha in shades.items()]
    right.legend(handles=proxies, fontsize=7, loc="upper left")
    fig.tight_layout()
    return figure_image(fig)


def _samples_figure(datamodule, grids: dict[str, Tensor], steps: dict[str, int]) -> Tensor:
    from matplotlib.figure import Figure

    real = datamodule.render(datamodule.real_samples(64, split="test"), 8)
    pictures = {"real test digits": real, **{f"{name} ({steps[name]} steps)": grids[name] for name in GENERATORS}}
    fig = Figure(figsize=(9, 3.4), dpi=100)
    for axis, (title, picture) in zip(fig.subplots(1, 3), pictures.items(), strict=True):
        axis.imshow(picture.permute(1, 2, 0).numpy(), interpolation="nearest")
        axis.set_title(title, fontsize=9)
        axis.axis("off")
    fig.tight_layout()
    return figure_image(fig)
