"""Lesson ``vae_vs_gan``: with the same decoder, the VAE's samples are blurred averages and the GAN's are sharp."""

from __future__ import annotations

from torch import Tensor

from ganlab.lessons.base import Check, Lab, Lesson, Result
from ganlab.metrics import AverageOfNeighbours
from ganlab.plotting import read_png, stack_pictures

#: the runs: name -> (overrides, the short label of its column in the average-five figure)
MODELS: dict[str, tuple[tuple[str, ...], str]] = {
    "vae_mse": (("model=vae",), "VAE mse"),
    "vae_bce": (("model=vae", "model.reconstruction=bce"), "VAE bce"),
    "dcgan": (("model=dcgan",), "GAN near"),
}
METRICS = "metrics=[fid,sharpness,average_neighbours]"


class VAEvsGAN(Lesson):
    """``model=vae`` (MSE and BCE reconstruction) against ``model=dcgan``, whose generator is the VAE's decoder.

    Each run trains ``steps`` steps of batch 64 on MNIST and is scored by ``ganlab eval`` on ``num_samples``
    samples: FID, sharpness (variance of the Laplacian, as a ratio to the real test digits') and the
    "average five" (each test digit's 10 nearest training digits averaged, against each VAE's reconstruction
    and the GAN's nearest sample). Checks: the GAN's samples are sharper and have a lower FID than either
    VAE's; the MSE VAE's reconstructions are as blurred as a neighbour average: their sharpness is nearer the
    average's than the real digits'.

    Args:
        steps: generator steps of each run (``full_steps`` at the full scale).
        num_samples: generated samples each evaluation scores (``full_samples`` at the full scale); FID
            compares them with as many test digits.
        seed: the runs' seed.
        common: Lesson's arguments.
    """

    claim = (
        "A VAE's pixel-wise reconstruction loss makes its decoder output the mean of every image that fits a "
        "code, so its samples and reconstructions are blurred, like an average of neighbouring digits; a GAN "
        "with the same decoder is judged by a discriminator instead and draws sharp digits (Goodfellow 2016, "
        "section 3; Larsen et al. 2016)."
    )

    def __init__(self, steps: int = 600, full_steps: int = 2000, num_samples: int = 250, full_samples: int = 1000,
                 seed: int = 1, **common) -> None:  # fmt: skip
        super().__init__(**common)
        self.steps = self.at_scale(steps, full_steps)
        self.num_samples = self.at_scale(num_samples, full_samples, tiny=16)
        self.seed = int(seed)

    def run(self, lab: Lab) -> Result:
        scores, grids = {}, []
        for name, (overrides, _) in MODELS.items():
            run = lab.train(name, *overrides, "dataset=mnist", f"generator_steps={self.steps}", f"seed={self.seed}",
                            f"callbacks.samples.every_n_steps={self.steps}")  # fmt: skip
            scores[name] = lab.eval(name, f"num_samples={self.num_samples}", METRICS)
            grids.append(read_png(run / "samples" / f"step_{self.steps:06d}.png"))
        numbers = {}
        for name, found in scores.items():
            numbers.update({f"{name}_fid": found["fid"], f"{name}_sharpness": found["laplacian_var_ratio"]})
        numbers.update({key: scores["vae_mse"][key] for key in ("average_sharpness", "reconstruction_sharpness")})
        gan, vaes = scores["dcgan"], ("vae_mse", "vae_bce")
        mse_recon, average = numbers["reconstruction_sharpness"], numbers["average_sharpness"]
        listed = {key: ", ".join(f"{name} {numbers[f'{name}_{key}']:{form}}" for name in MODELS)
                  for key, form in (("fid", ".1f"), ("sharpness", ".2f"))}  # fmt: skip
        checks = [
            Check("The GAN's samples are sharper than either VAE's (variance of the Laplacian, / real digits').",
                  listed["sharpness"],
                  all(gan["laplacian_var_ratio"] > scores[vae]["laplacian_var_ratio"] for vae in vaes)),
            Check("The GAN's FID is lower than either VAE's.",
                  f"{listed['fid']} ({self.num_samples} samples)",
                  all(gan["fid"] < scores[vae]["fid"] for vae in vaes)),
            Check("The MSE VAE reconstructs a digit as blurred as the average of its 10 nearest training digits: "
                  "its sharpness is nearer the average's than the real digit's (1).",
                  f"reconstruction {mse_recon:.2f}, average {average:.2f}",
                  abs(mse_recon - average) < abs(mse_recon - 1)),
        ]  # fmt: skip
        restored = {label: lab.restore(name) for name, (_, label) in MODELS.items()}
        five = average_five(restored, self.seed, self.num_samples)
        return Result(numbers=numbers, figures={"samples": stack_pictures(grids), "average_five": five}, checks=checks)


def average_five(restored: dict[str, tuple], seed: int, num_samples: int) -> Tensor:
    """Test digit | mean of its 10 nearest training digits | each VAE's reconstruction | the GAN's nearest sample.

    Args:
        restored: column label -> ``(module, datamodule)``, VAEs and GANs (a module with ``reconstruct`` is a VAE).
        seed: the latent samples' seed.
        num_samples: the generated samples the nearest sample is picked from.
    """
    probe = AverageOfNeighbours(num_images=8, k=10, num_samples=num_samples)
    columns: list = []
    for label, (module, datamodule) in restored.items():
        found = probe.columns(module, datamodule, seed)
        columns = columns or found[:2]  # the test digits and their neighbours' mean: the same for every run
        _, key, images = found[2] if hasattr(module, "reconstruct") else found[-1]
        columns.append((label, key, images))
    return probe.figure(columns)
