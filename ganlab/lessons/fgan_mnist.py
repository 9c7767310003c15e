"""Lesson ``fgan_mnist``: f-GAN's divergences each train a DCGAN on MNIST (Nowozin et al. 2016, Figure 2)."""

from __future__ import annotations

import math

from ganlab.doctor import read_scalars
from ganlab.errors import GanlabError
from ganlab.lessons.base import Check, Lab, Lesson, Result
from ganlab.lessons.tricks import late_mean, picture_table, pixel_metrics, pixel_scoring, step_overrides
from ganlab.plotting import read_png

#: the divergences trained (``loss=fgan loss.divergence=NAME``), and their names in the figure
DIVERGENCES = {"kl": "KL", "reverse_kl": "reverse KL", "squared_hellinger": "squared Hellinger",
               "jensen_shannon": "Jensen-Shannon"}  # fmt: skip
MNIST = ("model=dcgan", "dataset=mnist")


class FGANMnist(Lesson):
    """DCGAN on MNIST trained with ``loss=fgan`` and each divergence (the paper's generator update, -E g_f(V(G(z)))),
    the same seed and steps, scored in pixel space on ``eval_samples`` samples; and the generator they all start
    from, scored the same way (a run with G's learning rate 0: the initial weights).

    Checks: every run trains to its last step with finite losses; every divergence's pixel-space FID is at most
    ``max_untrained_share`` of the untrained generator's; and each is within a factor ``max_ratio`` of the best
    divergence's (similar samples).

    Args:
        steps: generator steps of each run (``full_steps`` at the full scale).
        eval_samples: samples scored (the test split has 1,000 digits).
        max_untrained_share: "clearly better than untrained": FID at most this share of the untrained one's.
        max_ratio: "similar": each FID at most this factor times the lowest one.
        common: Lesson's arguments.
    """

    claim = (
        "f-GAN (Nowozin et al. 2016) turns every f-divergence into a GAN objective through its variational bound "
        "F(V) = E_p[g_f(V)] - E_q[f*(g_f(V))]; on MNIST (their Figure 2) the Kullback-Leibler, reverse KL, "
        "squared Hellinger and Jensen-Shannon objectives all train a usable generator, with similar-looking "
        "samples: the choice of divergence matters less than the architecture at this scale."
    )

    def __init__(self, steps: int = 600, full_steps: int = 3000, eval_samples: int = 1000,
                 full_eval_samples: int = 1000, max_untrained_share: float = 0.5, max_ratio: float = 2.0,
                 **common) -> None:  # fmt: skip
        super().__init__(**common)
        self.steps = self.at_scale(steps, full_steps)
        self.eval_samples = self.at_scale(eval_samples, full_eval_samples, tiny=100)
        self.max_untrained_share, self.max_ratio = float(max_untrained_share), float(max_ratio)

    def _common(self, steps: int) -> tuple[str, ...]:
        return (*MNIST, *pixel_scoring(self.eval_samples), *step_overrides(steps))

    def run(self, lab: Lab) -> Result:
        # the generator at its initial weights: one step with G's learning rate 0 (a run of 0 steps writes no
        # checkpoint or samples); the same seed as the f-GAN runs, so the same initial G
        untrained = lab.train("untrained", *self._common(1), "optim.generator.lr=0.0")
        scores = {"untrained": pixel_metrics(untrained)}
        grids = {"untrained": read_png(untrained / "samples" / "step_000001.png")}
        failures: dict[str, str] = {}
        for divergence in DIVERGENCES:
            try:
                run = lab.train(divergence, *self._common(self.steps), "loss=fgan", f"loss.divergence={divergence}")
            except GanlabError as error:  # a non-finite loss stops a run: that is a finding, not a crash
                failures[divergence] = str(error).split(": ", 2)[-1][:160]  # after "a lesson run failed: <command>"
                continue
            grids[divergence] = read_png(run / "samples" / f"step_{self.steps:06d}.png")
            # -L_D = F(V), the critic's estimate of (a lower bound on) D_f(P || Q), over the second half
            bound = -late_mean(read_scalars(run / "tensorboard")["train/d_adversarial"], self.steps // 2)
            scores[divergence] = {**pixel_metrics(run), "bound": bound}
        numbers = {f"{name}_{metric}": value for name, metrics in scores.items() for metric, value in metrics.items()}
        trained = {d: scores[d]["fid_pixels"] for d in DIVERGENCES if d in scores}
        finite = {d: d in trained and math.isfinite(trained[d]) for d in DIVERGENCES}
        base = scores["untrained"]["fid_pixels"]
        best = min((fid for d, fid in trained.items() if finite[d]), default=math.nan)
        listed = ", ".join(f"{DIVERGENCES[d]} {fid:.1f}" for d, fid in trained.items())
        checks = [
            Check("Every divergence trains to the last step with finite losses and scores.",
                  ", ".join(f"{DIVERGENCES[d]}: {'finite' if finite[d] else failures.get(d, 'non-finite FID')}"
                            for d in DIVERGENCES), all(finite.values())),
            Check(f"Every divergence's generator is clearly better than the untrained one: pixel FID at most "
                  f"{self.max_untrained_share:g} of the untrained generator's.",
                  f"{listed}; untrained {base:.1f}",
                  all(finite.values()) and all(fid <= self.max_untrained_share * base for fid in trained.values())),
            Check(f"The divergences give similar samples: every pixel FID within a factor {self.max_ratio:g} of "
                  "the lowest.", f"{listed}; the highest is {max(trained.values(), default=math.nan) / best:.2f} "
                  "times the lowest", all(finite.values()) and max(trained.values()) <= self.max_ratio * best),
        ]  # fmt: skip
        titles = {"untrained": f"untrained G (step 0 weights)\npixel FID {base:.0f}"}
        titles.update({d: f"{DIVERGENCES[d]}, step {self.steps}\npixel FID {fid:.0f}" for d, fid in trained.items()})
        figure = picture_table({"MNIST samples": grids}, ["untrained", *DIVERGENCES], cell=2.4, titles=titles)
        return Result(numbers=numbers, figures={"samples": figure}, checks=checks)
