"""Lesson ``latent_space``: walks between latent codes are smooth and pass through digits; codes add like concepts."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ganlab.generative import GenerativeModule
from ganlab.lessons.base import Check, Lab, Lesson, Result
from ganlab.metrics import LatentArithmetic, LatentWalk
from ganlab.metrics.classification_accuracy import accuracy, train_classifier
from ganlab.metrics.latent import generate_images, labelled_grid, lerp, slerp
from ganlab.plotting import figure_image

#: the interpolations compared, and the cross-fade in pixel space that a latent walk is not
MODES = ("linear", "spherical")


def ink(images: Tensor) -> Tensor:
    """Each image's mean intensity in [0, 1] (images ``(N, C, H, W)`` in [-1, 1]): thick strokes have more ink."""
    return ((images.flatten(1) + 1) / 2).mean(dim=1)


def step_lengths(walks: Tensor) -> Tensor:
    """The L2 pixel distance between neighbouring images of each walk ``(W, S, C, H, W)``, shape ``(W, S - 1)``."""
    return (walks[:, 1:] - walks[:, :-1]).flatten(2).norm(dim=2)


def midpoint_norms(a: Tensor, b: Tensor) -> dict[str, Tensor]:
    r"""The norm of each pair's midpoint on both paths, over the pair's mean norm, ``(N,)`` for codes ``(N, D)``.

    For independent Gaussian codes in D dimensions :math:`a \perp b` nearly, so the linear midpoint's
    norm is :math:`\cos(\Omega/2)\approx 1/\sqrt2` of theirs, while the great circle keeps it (White 2016).
    """
    scale = (a.norm(dim=1) + b.norm(dim=1)) / 2
    return {mode: path(a, b, 0.5).norm(dim=1) / scale for mode, path in zip(MODES, (lerp, slerp), strict=True)}


def arithmetic_triples(
    labels: Tensor, inks: Tensor, group_size: int, num_classes: int
) -> list[tuple[int, int, list[list[int]]]]:
    """Radford et al.'s "smiling woman - neutral woman + neutral man" on digits: for every ordered pair of
    classes (a, b) with enough candidates, the groups ``[bold a, thin a, thin b]`` of ``group_size`` candidate
    indices each (the boldest and thinnest by :func:`ink`), whose signed sum should be a bold b.

    Args:
        labels: each candidate's class ``(N,)``.
        inks: each candidate's ink ``(N,)``.
        group_size: candidates per group.
        num_classes: the classes.

    Returns:
        ``(a, b, groups)`` for each pair, a before b in class order.
    """
    ranked = {}
    for digit in range(num_classes):
        members = (labels == digit).nonzero().flatten()
        ranked[digit] = members[inks[members].argsort(descending=True)].tolist()  # boldest first
    triples = []
    for a in range(num_classes):
        for b in range(num_classes):
            if a != b and len(ranked[a]) >= 2 * group_size and len(ranked[b]) >= group_size:
                bold_a, thin_a, thin_b = ranked[a][:group_size], ranked[a][-group_size:], ranked[b][-group_size:]
                triples.append((a, b, [bold_a, thin_a, thin_b]))
    return triples


def above_chance(rate: float, chance: float, trials: int, standard_errors: float) -> bool:
    """Whether a success ``rate`` over ``trials`` beats ``chance`` by ``standard_errors`` binomial standard errors."""
    return trials > 0 and rate > chance + standard_errors * math.sqrt(chance * (1 - chance) / trials)


class LatentSpace(Lesson):
    """Latent walks and latent arithmetic of a DCGAN trained ``steps`` steps on MNIST.

    Walks: the ``interpolation`` probe's walks (:meth:`~ganlab.metrics.LatentWalk.codes`, ``num_walks``
    pairs of ``walk_steps`` images, linear and spherical), and, for the numbers, the midpoints of
    ``num_pairs`` random pairs of codes. Arithmetic: the ``arithmetic`` probe's ``num_candidates`` seeded
    codes, classified by a small CNN trained on the real training digits
    (:func:`~ganlab.metrics.classification_accuracy.train_classifier`); for each ordered pair of digits
    (a, b), z = mean(bold a) - mean(thin a) + mean(thin b) over ``group_size`` codes each
    (:meth:`~ganlab.metrics.LatentArithmetic.combine`).

    Checks: no step of a walk is longer than ``max_step`` of the median distance between two independent
    samples; midpoints of latent paths between samples of different digits are classified more confidently
    than the pixel cross-fade of the same two images (paired, by ``standard_errors`` standard errors);
    linear midpoints are 1/sqrt(2) as long as their endpoints (to ``norm_tolerance``), shorter than 99% of
    the prior's codes, and spherical ones keep the norm; G(z) of the arithmetic is classified as b, and
    has more ink than G of the reversed mean(thin a) - mean(bold a) + mean(thin b), more often than chance
    (10% and 50%) by ``standard_errors``.

    Args:
        steps: generator steps of the run (``full_steps`` at the full scale).
        num_walks, walk_steps: the walks drawn and measured (the ``interpolation`` probe's options).
        num_pairs: random pairs of codes whose midpoints and distances are measured.
        num_candidates: codes the arithmetic chooses its groups from (the ``arithmetic`` probe's option).
        group_size: codes averaged per concept (Radford et al. averaged three).
        classifier_epochs: passes of the digit classifier over the 4,000 training digits.
        max_step: the longest walk step allowed, as a share of the median distance between independent samples.
        norm_tolerance: how far the midpoints' norm ratios may be from 1/sqrt(2) and 1.
        standard_errors: by how many standard errors an effect must beat its null.
        seed: the probes' seed (the codes drawn).
        common: Lesson's arguments.
    """

    claim = (
        "Walking in a trained GAN's latent space changes the image smoothly, with no sharp jumps, and every image "
        "on the way is a plausible digit rather than a cross-fade of the two ends: the generator has learned a "
        "continuous map of the data, not a lookup of training images (Radford et al. 2016, section 6.1). "
        "Spherical interpolation is preferred for Gaussian codes because the linear path cuts through the "
        "low-norm interior the prior never samples (White 2016). Latent codes add like concepts: the mean code "
        "of bold 7s minus that of thin 7s plus that of thin 1s gives a bold 1 (section 6.3)."
    )

    def __init__(self, steps: int = 1000, full_steps: int = 3000, num_walks: int = 8, walk_steps: int = 10,
                 num_pairs: int = 256, num_candidates: int = 512, group_size: int = 3, classifier_epochs: int = 3,
                 max_step: float = 0.5, norm_tolerance: float = 0.02, standard_errors: float = 3.0, seed: int = 0,
                 **common) -> None:  # fmt: skip
        super().__init__(**common)
        self.steps = self.at_scale(steps, full_steps)
        self.walk = LatentWalk(num_walks=self.at_scale(num_walks, num_walks, tiny=2), steps=walk_steps)
        self.num_pairs = self.at_scale(num_pairs, 4 * num_pairs, tiny=8)
        self.num_candidates = self.at_scale(num_candidates, 4 * num_candidates, tiny=32)
        self.group_size, self.classifier_epochs = (
            int(group_size),
            self.at_scale(classifier_epochs, classifier_epochs, tiny=1),
        )
        self.max_step, self.norm_tolerance = float(max_step), float(norm_tolerance)
        self.standard_errors, self.seed = float(standard_errors), int(seed)

    def run(self, lab: Lab) -> Result:
        lab.train("dcgan", "model=dcgan", "dataset=mnist", f"generator_steps={self.steps}",
                  f"callbacks.samples.every_n_steps={self.steps}")  # fmt: skip
        module, datamodule = lab.restore("dcgan")
        datamodule.setup("fit")
        train, test = datamodule.train_set.tensors, datamodule.test_set.tensors
        num_classes = int(train["label"].max()) + 1
        classifier = train_classifier(train["real"], train["label"], num_classes, self.seed, self.classifier_epochs)
        numbers = {"classifier_test_accuracy": accuracy(classifier, test["real"], test["label"])}

        with torch.no_grad():
            walks = {mode: generate_images(module, z.flatten(0, 1), "interpolation").unflatten(0, z.shape[:2])
                     for mode, z in self.walk.codes(module, self.seed).items()}  # fmt: skip
            pairs = self._pairs(module, classifier)
            arithmetic = self._arithmetic(module, classifier, num_classes)
        ends = walks["linear"][:, [0, -1]]
        t = torch.linspace(0, 1, self.walk.steps).view(1, -1, 1, 1, 1)
        walks["pixels"] = torch.lerp(ends[:, :1], ends[:, 1:], t)  # the cross-fade between the same two images
        typical = pairs["distance"].median()
        lengths = {mode: step_lengths(walk) for mode, walk in walks.items()}
        steps = {mode: length / typical for mode, length in lengths.items()}  # in units of two samples' distance
        numbers["median_distance_of_independent_samples"] = float(typical)
        for mode in MODES:
            numbers[f"walk_max_step_{mode}"] = float(steps[mode].max())
            numbers[f"walk_mean_step_{mode}"] = float(steps[mode].mean())
            # the pixel cross-fade is the straight line between the ends: how much longer each latent walk is
            detour = lengths[mode].sum(1) / lengths["pixels"].sum(1)
            numbers[f"walk_length_over_cross_fade_{mode}"] = float(detour.mean())
        different = pairs["different"]
        numbers["pairs_of_different_digits"] = int(different.sum())
        for what in ("ends", *MODES, "pixels"):
            numbers[f"confidence_{what}"] = float(pairs[what][different].mean())
        for mode in MODES:  # paired: each latent midpoint against the cross-fade of the same two images
            gap = (pairs[mode] - pairs["pixels"])[different]
            numbers[f"confidence_gap_{mode}"] = float(gap.mean())
            numbers[f"confidence_gap_se_{mode}"] = float(gap.std() / math.sqrt(len(gap))) if len(gap) > 1 else math.inf
            numbers[f"midpoint_norm_ratio_{mode}"] = float(pairs[f"norm_{mode}"].median())
        numbers["prior_share_shorter_than_linear_midpoints"] = pairs["prior_shorter"]
        numbers["arithmetic_pairs"] = len(arithmetic["triples"])
        numbers["arithmetic_class_kept"] = float(arithmetic["kept"].double().mean()) if arithmetic["triples"] else 0.0
        numbers["arithmetic_bolder"] = float(arithmetic["bolder"].double().mean()) if arithmetic["triples"] else 0.0
        for column, what in enumerate(("bold_a", "thin_a", "thin_b", "result", "reversed")):
            inks = arithmetic["inks"][:, column]
            numbers[f"arithmetic_ink_{what}"] = float(inks.mean()) if len(inks) else 0.0
        figures = {
            "walks": _walk_figure(walks, num_shown=min(3, len(walks["linear"]))),
            "walk_steps": _steps_figure(steps, pairs, self.max_step),
            **self._arithmetic_figures(module, datamodule, arithmetic),
        }
        return Result(numbers=numbers, figures=figures, checks=self._checks(numbers))

    def _pairs(self, module: GenerativeModule, classifier: nn.Module) -> dict:
        """Random pairs of codes (the seed after the probes'): their images' distance, the classifier's confidence
        on the ends, on both latent midpoints and on the pixel cross-fade, and the midpoints' norms."""
        rng = torch.Generator().manual_seed(self.seed + 1)
        a, b = module.generator.sample_latent(2 * self.num_pairs, rng=rng).chunk(2)
        x_a, x_b = module.generate(a).cpu(), module.generate(b).cpu()
        found = {"distance": (x_a - x_b).flatten(1).norm(dim=1)}
        confidence, label = (lambda x: classifier(x).softmax(1).max(1)), (lambda x: classifier(x).argmax(1))
        found["different"] = label(x_a) != label(x_b)
        found["ends"] = (confidence(x_a).values + confidence(x_b).values) / 2
        for mode, path in zip(MODES, (lerp, slerp), strict=True):
            found[mode] = confidence(module.generate(path(a, b, 0.5)).cpu()).values
        found["pixels"] = confidence((x_a + x_b) / 2).values
        found |= {f"norm_{mode}": ratio for mode, ratio in midpoint_norms(a, b).items()}
        prior = module.generator.sample_latent(max(10_000, self.num_pairs), rng=rng).norm(dim=1)
        found["prior_shorter"] = float((prior <= lerp(a, b, 0.5).norm(dim=1).median()).double().mean())
        return found

    def _arithmetic(self, module: GenerativeModule, classifier: nn.Module, num_classes: int) -> dict:
        """The arithmetic probe's candidates, classified; the triples of groups; G of each triple's three group
        means, of its result and of the reversed result ``(T, 5, C, H, W)``; whether each result is classified
        as b, and whether it has more ink than the reversed one.

        The reversed result, mean(thin a) - mean(bold a) + mean(thin b), is the control: it has the same norm
        as the result (a sum of three group means is shorter than a prior code, which alone may change the
        strokes), so only the direction bold - thin can make the result the bolder of the two."""
        probe = LatentArithmetic(num_candidates=self.num_candidates)
        reversed_probe = LatentArithmetic(num_candidates=self.num_candidates, signs=[-1, 1, 1])
        z = module.generator.sample_latent(self.num_candidates, rng=torch.Generator().manual_seed(self.seed))
        images = generate_images(module, z, "arithmetic")
        triples = arithmetic_triples(classifier(images).argmax(1), ink(images), self.group_size, num_classes)
        made = torch.zeros(0, 5, *images.shape[1:])
        for _, _, groups in triples:
            probe.groups = reversed_probe.groups = groups
            codes = torch.stack([*(z[group].mean(dim=0) for group in groups), probe.combine(z),
                                 reversed_probe.combine(z)])  # fmt: skip
            made = torch.cat([made, generate_images(module, codes, "arithmetic")[None]])
        targets = torch.tensor([b for _, b, _ in triples], dtype=torch.long)
        result = made[:, 3]
        predicted = classifier(result).argmax(1) if len(result) else targets
        return {"triples": triples, "made": made, "predicted": predicted, "kept": predicted == targets,
                "bolder": ink(result) > ink(made[:, 4]), "inks": ink(made.flatten(0, 1)).view(-1, 5)}  # fmt: skip

    def _checks(self, numbers: dict[str, float]) -> list[Check]:
        se, trials = self.standard_errors, int(numbers["arithmetic_pairs"])
        worst_step = max(numbers[f"walk_max_step_{mode}"] for mode in MODES)
        gaps = {mode: (numbers[f"confidence_gap_{mode}"], numbers[f"confidence_gap_se_{mode}"]) for mode in MODES}
        linear, spherical = numbers["midpoint_norm_ratio_linear"], numbers["midpoint_norm_ratio_spherical"]
        shorter = numbers["prior_share_shorter_than_linear_midpoints"]
        kept, bolder = numbers["arithmetic_class_kept"], numbers["arithmetic_bolder"]
        return [
            Check(f"Walks have no sharp jumps: no step moves the image more than {self.max_step:.0%} of the median "
                  "distance between two independent samples.",
                  ", ".join(f"longest step {numbers[f'walk_max_step_{m}']:.2f}, mean "
                            f"{numbers[f'walk_mean_step_{m}']:.2f} ({m})" for m in MODES),
                  worst_step <= self.max_step),
            Check("Every image on a latent walk is a digit, unlike a cross-fade: between samples of two different "
                  f"digits the classifier is surer of the latent midpoint than of the pixel average (by {se:g} "
                  "standard errors).",
                  "; ".join(f"{mode}: {numbers[f'confidence_{mode}']:.3f} against {numbers['confidence_pixels']:.3f}"
                            f" (gap {gap:.3f} +- {gap_se:.3f})" for mode, (gap, gap_se) in gaps.items())
                  + f", over {int(numbers['pairs_of_different_digits'])} pairs",
                  all(gap > se * gap_se for gap, gap_se in gaps.values())),
            Check(f"The linear path cuts through the low-norm interior: its midpoint is 1/sqrt(2) as long as the "
                  f"ends and shorter than 99% of the prior's codes; the spherical midpoint keeps the norm "
                  f"(ratios to {self.norm_tolerance:g}).",
                  f"median norm ratio {linear:.3f} (linear), {spherical:.3f} (spherical); {shorter:.2%} of prior "
                  "codes as short as the median linear midpoint",
                  abs(linear - 1 / math.sqrt(2)) <= self.norm_tolerance and shorter < 0.01
                  and abs(spherical - 1) <= self.norm_tolerance),
            Check(f"Vector arithmetic works: mean(bold a) - mean(thin a) + mean(thin b) is classified as b, and has "
                  f"more ink than the reversed mean(thin a) - mean(bold a) + mean(thin b), more often than chance "
                  f"(10%, 50%) by {se:g} standard errors.",
                  f"class b {kept:.1%}, bolder {bolder:.1%}, over {trials} ordered pairs of digits",
                  above_chance(kept, 0.1, trials, se) and above_chance(bolder, 0.5, trials, se)),
        ]  # fmt: skip

    def _arithmetic_figures(self, module: GenerativeModule, datamodule, arithmetic: dict) -> dict[str, Tensor]:
        """The arithmetic probe's own figure for one pair (7 and 1 where the candidates allow), and a summary
        of up to ten pairs: the three group means, the result labelled with the classifier's digit, and the
        reversed result (``rev``)."""
        triples, made, predicted = arithmetic["triples"], arithmetic["made"], arithmetic["predicted"]
        if not triples:
            return {}
        shown = next((i for i, (a, b, _) in enumerate(triples) if (a, b) == (7, 1)), 0)
        probe = LatentArithmetic(groups=triples[shown][2], num_candidates=self.num_candidates)
        figures = {"arithmetic": probe.run(module, datamodule, self.seed).figures["arithmetic"]}
        rows = list(range(0, len(triples), max(1, len(triples) // 10)))[:10]
        labels = []
        for row in rows:
            a, b, _ = triples[row]
            labels += [f"+{a} bold", f"-{a} thin", f"+{b} thin", f"={int(predicted[row])}", "rev"]
        figures["arithmetic_pairs"] = labelled_grid(made[rows].flatten(0, 1), 5, labels)
        return figures


def _walk_figure(walks: dict[str, Tensor], num_shown: int) -> Tensor:
    """``num_shown`` walks, each as three rows: linear, spherical, and the pixel cross-fade of the same ends."""
    rows, labels = [], []
    for walk in range(num_shown):
        for mode, label in (("linear", "lin"), ("spherical", "sph"), ("pixels", "fade")):
            rows.append(walks[mode][walk])
            labels += [label, *[None] * (walks[mode].shape[1] - 1)]
    return labelled_grid(torch.cat(rows), walks["linear"].shape[1], labels)


def _steps_figure(steps: dict[str, Tensor], pairs: dict, max_step: float) -> Tensor:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.6), dpi=100)
    left, right = fig.subplots(1, 2)
    colours = {"linear": "tab:blue", "spherical": "tab:green", "pixels": "0.5"}
    for mode, colour in colours.items():
        index = range(1, steps[mode].shape[1] + 1)
        left.plot(index, steps[mode].T.numpy(), color=colour, alpha=0.35, lw=1)
        left.plot(index, steps[mode].mean(0).numpy(), color=colour, lw=2.5, label=f"{mode} (mean)")
    left.axhline(max_step, color="tab:red", ls="--", lw=1, label="a jump (the check's bound)")
    left.set(xlabel="step along the walk", ylabel="step / median distance of two samples",
             title="how far each step of a walk moves the image", ylim=(0, None))  # fmt: skip
    left.legend(fontsize=8)
    left.grid(alpha=0.3)
    different = pairs["different"]
    names = {"ends": "the two samples", "linear": "linear midpoint", "spherical": "spherical midpoint",
             "pixels": "pixel cross-fade"}  # fmt: skip
    for what, name in names.items():
        right.hist(pairs[what][different].numpy(), bins=20, range=(0, 1), histtype="step", lw=2,
                   color=colours.get(what, "black"), label=name)  # fmt: skip
    right.set(xlabel="digit classifier's confidence (max softmax)", ylabel="pairs",
              title=f"midpoints of {int(different.sum())} pairs of different digits")  # fmt: skip
    right.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return figure_image(fig)
