"""Lesson ``image_to_image``: pix2pix, CycleGAN and SRGAN on the MNIST tasks, each against its trivial baseline."""

from __future__ import annotations

import torch
from torch import Tensor

from ganlab.lessons.architectures import _cell_centres
from ganlab.lessons.base import Check, Lab, Lesson, Result
from ganlab.metrics.paired import baseline
from ganlab.plotting import figure_image, image_grid


def ink(images: Tensor) -> Tensor:
    """The ink of each ``(N, C, H, W)`` image in [-1, 1]: its mean brightness in [0, 1] (0 is a blank page).

    Thin (eroded) and thick (dilated) digits differ most in it, whatever the digit, so it tells the
    two domains of ``dataset=mnist_thickness`` apart without pairing any image with another.
    """
    return images.float().add(1).div(2).flatten(1).mean(dim=1)


def mean_abs_change(before: Tensor, after: Tensor) -> float:
    """Mean absolute pixel difference per image, averaged (pixels in [-1, 1], as ``cycle_l1_*`` counts them)."""
    return float((after - before).abs().flatten(1).mean(dim=1).mean())


def toward(statistic_in: float, statistic_out: float, target: float) -> bool:
    """Whether a translation moved a domain statistic towards the target domain's: ``|out - t| < |in - t|``."""
    return abs(statistic_out - target) < abs(statistic_in - target)


class ImageToImage(Lesson):
    """pix2pix on ``mnist_edges``, CycleGAN on ``mnist_thickness``, SRResNet then SRGAN on ``mnist_superres``.

    Checks, on the test split: pix2pix's and SRGAN's (and SRResNet's) PSNR and SSIM against the
    targets beat the trivial translation's (the edge map copied; bicubic upsampling); CycleGAN,
    trained without pairs, moves the ink of each domain towards the other's (thin digits get
    thicker, thick ones thinner) and its round trips return closer to the input than the
    translation took it away (``cycle_l1_a`` below the mean change ``|G(a) - a|``, and for B).

    Args:
        steps: generator steps of each run (``full_steps`` at the full scale); ``srgan`` counts the
            steps after it starts from the ``srresnet`` run, as the SRGAN paper does.
        models: each run's size overrides (its widths, blocks, batch size), by run name.
        superres_scale: the super-resolution factor (``dataset.scale``: 2 or 4 at 28 px).
        examples: test examples the metrics score and the ink is measured on (``tiny_examples`` at the
            tiny scale); ``shown`` of them are drawn.
        common: Lesson's arguments.
    """

    claim = (
        "A conditional GAN translates images: pix2pix (Isola et al. 2017) learns a paired mapping with an "
        "adversarial loss plus L1, CycleGAN (Zhu et al. 2017) learns one from unpaired domains by asking the two "
        "translations to undo each other, and SRGAN (Ledig et al. 2017), started from SRResNet, learns "
        "super-resolution. Each must beat its trivial baseline: the input itself, or bicubic upsampling."
    )

    def __init__(self, steps: dict, full_steps: dict, models: dict, superres_scale: int = 4, examples: int = 1000,
                 tiny_examples: int = 16, shown: int = 8, **common) -> None:  # fmt: skip
        super().__init__(**common)
        self.steps = {run: self.at_scale(int(steps[run]), int(full_steps[run]), tiny=2) for run in steps}
        self.models = {run: list(overrides) for run, overrides in models.items()}
        self.superres_scale = int(superres_scale)
        self.examples = self.at_scale(int(examples), int(examples), tiny=int(tiny_examples))
        self.shown = min(int(shown), self.examples)

    def _train(self, lab: Lab, run: str, *overrides: str):
        steps = self.steps[run]
        return lab.train(run, *self.models[run], *overrides, f"generator_steps={steps}", f"checkpoint_every={steps}",
                         f"callbacks.samples.every_n_steps={steps}", "callbacks.samples.animation=false")  # fmt: skip

    def run(self, lab: Lab) -> Result:
        superres = ("dataset=mnist_superres", f"dataset.scale={self.superres_scale}")
        self._train(lab, "pix2pix", "model=pix2pix", "dataset=mnist_edges")
        self._train(lab, "cyclegan", "model=cyclegan", "dataset=mnist_thickness")
        srresnet = self._train(lab, "srresnet", "model=srresnet", *superres)
        self._train(lab, "srgan", "model=srgan", *superres, f"init_generator={srresnet}")
        scored = f"num_samples={self.examples}"
        metrics = {run: lab.eval(run, "metrics=[psnr_ssim]", scored) for run in ("pix2pix", "srresnet", "srgan")}
        metrics["cyclegan"] = lab.eval("cyclegan", "metrics=[psnr_ssim,cycle]", scored,
                                       f"metrics.cycle.num_examples={self.examples}")  # fmt: skip
        numbers = {f"{run}_{name}": value for run, found in metrics.items() for name, value in found.items()}
        checks = [self._beats(metrics[run], label, trivial) for run, label, trivial in (
            ("pix2pix", "pix2pix (edges -> digit)", "the edge map copied"),
            ("srresnet", f"SRResNet (x{self.superres_scale})", "bicubic upsampling"),
            ("srgan", f"SRGAN (x{self.superres_scale}, from SRResNet)", "bicubic upsampling"),
        )]  # fmt: skip
        rows, found, cycle_checks = self._cyclegan(lab, metrics["cyclegan"])
        numbers |= found
        checks += cycle_checks
        panels = {
            "pix2pix: edges -> digit": self._paired(lab, ["pix2pix"], None),
            "CycleGAN: thin -> thick (unpaired)": rows,
            f"SRResNet and SRGAN: x{self.superres_scale}": self._paired(lab, ["srresnet", "srgan"], "bicubic"),
        }
        return Result(numbers=numbers, figures={"translations": _figure(panels)}, checks=checks)

    @staticmethod
    def _beats(found: dict, label: str, trivial: str) -> Check:
        psnr, ssim, psnr0, ssim0 = (found[name] for name in ("psnr", "ssim", "psnr_baseline", "ssim_baseline"))
        return Check(f"{label} beats {trivial} on the test pairs in PSNR and SSIM.",
                     f"PSNR {psnr:.2f} dB against {psnr0:.2f}, SSIM {ssim:.3f} against {ssim0:.3f}",
                     psnr > psnr0 and ssim > ssim0)  # fmt: skip

    @torch.no_grad()
    def _paired(self, lab: Lab, runs: list[str], trivial: str | None) -> list[tuple[str, Tensor]]:
        """Rows input | each run's output | target | the trivial translation (``None``: the input itself), for the
        first shown test examples."""
        rows = []
        for run in runs:
            module, datamodule = lab.restore(run)
            examples = datamodule.examples(self.shown)
            torch.manual_seed(0)  # pix2pix's dropout stays on at test time
            rows.append(
                (run, module.generate(module.generator.sample_latent(self.shown), {"source": examples["source"]}))
            )
        source, target = examples["source"], examples["real"]
        if trivial is None:
            return [("input (identity)", source), *rows, ("target", target)]
        shown = torch.nn.functional.interpolate(source, size=target.shape[-2:], mode="nearest")
        return [("input", shown), *rows, ("target", target), (trivial, baseline(source, target))]

    @torch.no_grad()
    def _cyclegan(self, lab: Lab, found: dict) -> tuple[list, dict, list[Check]]:
        module, datamodule = lab.restore("cyclegan")
        generator = module.sampling_generator.eval()
        examples = datamodule.examples(self.examples)
        a, b = examples["source"], examples["real"]
        fake_b, fake_a = generator.a_to_b(a), generator.b_to_a(b)
        inks = {name: float(ink(x).mean()) for name, x in (("a", a), ("b", b), ("g_a", fake_b), ("f_b", fake_a))}
        change = {"a": mean_abs_change(a, fake_b), "b": mean_abs_change(b, fake_a)}
        numbers = {**{f"cyclegan_ink_{name}": value for name, value in inks.items()},
                   "cyclegan_change_a": change["a"], "cyclegan_change_b": change["b"]}  # fmt: skip
        cycle_a, cycle_b = found["cycle_l1_a"], found["cycle_l1_b"]
        checks = [
            Check("CycleGAN, trained without pairs, translates towards the other domain: G makes thin digits' ink "
                  "nearer the thick domain's, F makes thick digits' ink nearer the thin domain's.",
                  f"ink (mean brightness) thin {inks['a']:.3f} -> G {inks['g_a']:.3f}, thick {inks['b']:.3f} -> F "
                  f"{inks['f_b']:.3f}",
                  toward(inks["a"], inks["g_a"], inks["b"]) and toward(inks["b"], inks["f_b"], inks["a"])),
            Check("Its round trips undo the translation: |F(G(a)) - a| is below |G(a) - a|, and |G(F(b)) - b| below "
                  "|F(b) - b| (so the translation is neither a copy nor a loss of the input).",
                  f"cycle {cycle_a:.3f} against change {change['a']:.3f} (A), {cycle_b:.3f} against "
                  f"{change['b']:.3f} (B)", cycle_a < change["a"] and cycle_b < change["b"]),
        ]  # fmt: skip
        shown = slice(0, self.shown)
        rows = [("input (identity)", a[shown]), ("G(a)", fake_b[shown]),
                ("target (thick)", b[shown]), ("F(G(a))", generator.b_to_a(fake_b[shown]))]  # fmt: skip
        return rows, numbers, checks


def _figure(panels: dict[str, list[tuple[str, Tensor]]]) -> Tensor:
    """One panel per task: a row per kind of image (input, outputs, target, trivial translation), examples across."""
    from matplotlib.figure import Figure

    heights = [len(rows) for rows in panels.values()]
    fig = Figure(figsize=(5.6, 0.47 * sum(heights) + 0.4 * len(panels) + 0.2), dpi=100, layout="constrained")
    axes = fig.subplots(len(panels), 1, gridspec_kw={"height_ratios": heights})
    for ax, (title, rows) in zip(axes, panels.items(), strict=True):
        per_row = rows[0][1].shape[0]
        ax.imshow(image_grid(torch.cat([images for _, images in rows]), per_row).permute(1, 2, 0).numpy())
        side = rows[0][1].shape[-1]
        ax.set_yticks(_cell_centres(len(rows), side), [name for name, _ in rows], fontsize=8)
        ax.set_xticks([])
        ax.set_title(title, fontsize=9)
        for spine in ax.spines.values():
            spine.set_visible(False)
    return figure_image(fig)
