"""The VAE: its objective against hand-computed values, the seam that picks the module, training, resume, eval."""

from __future__ import annotations

import json
import math

import lightning as L
import pytest
import torch
from hydra.utils import instantiate

from ganlab.errors import GanlabError
from ganlab.generative import module_class
from ganlab.losses.elbo import gaussian_kl, negative_elbo, reconstruction_nll
from ganlab.metrics import AverageOfNeighbours
from ganlab.module import GANModule
from ganlab.vae import VAEModule
from tests.helpers import fit

SMALL = ("model.decoder.width=8", "model.encoder.body.width=8", "dataset.download=false")


def test_the_kl_to_the_standard_normal():
    # KL(N(mu, s^2) || N(0, 1)) = (mu^2 + s^2 - 1 - log s^2) / 2 per dimension
    mean = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    log_variance = torch.tensor([[0.0, math.log(4.0)], [0.0, 0.0]])
    expected = torch.tensor([0.5 + 0.5 * (4 - 1 - math.log(4)), 0.0])
    torch.testing.assert_close(gaussian_kl(mean, log_variance), expected)


def test_the_reconstruction_terms_on_grey_levels():
    target = torch.tensor([[[-1.0, 1.0], [0.0, 1.0]]]).unsqueeze(0)  # grey levels 0, 1, 0.5, 1
    off = target + 0.2  # grey levels off by 0.1 each
    assert reconstruction_nll(target, target, "mse").item() == pytest.approx(0.0)
    assert reconstruction_nll(off, target, "mse").item() == pytest.approx(4 * 0.1**2)
    ones = torch.ones(1, 1, 2, 2)
    predicted = torch.full((1, 1, 2, 2), 0.8)  # grey level 0.9 where the target is 1
    assert reconstruction_nll(predicted, ones, "bce").item() == pytest.approx(-4 * math.log(0.9), rel=1e-5)
    with pytest.raises(GanlabError, match="use one of mse, bce"):
        reconstruction_nll(target, target, "l1")


def test_beta_weighs_the_kl_term():
    assert negative_elbo(torch.tensor([2.0, 4.0]), torch.tensor([1.0, 3.0]), beta=0.5).item() == pytest.approx(4.0)


def test_the_model_config_names_the_module_it_trains(compose_train):
    assert module_class(compose_train("model=dcgan", "dataset=mnist", *SMALL[2:])) is GANModule
    assert module_class(compose_train("model=mlp")) is GANModule
    cfg = compose_train("model=vae", "dataset=mnist", *SMALL)
    assert module_class(cfg) is VAEModule
    assert "loss" not in cfg and cfg.optim.n_critic == 0
    # the decoder is the DCGAN generator of the same size as model=dcgan's
    vae = VAEModule.from_config(compose_train("model=vae", "dataset=mnist", "dataset.download=false"))
    gan = GANModule.from_config(compose_train("model=dcgan", "dataset=mnist", "dataset.download=false"))
    assert type(vae.generator) is type(gan.generator)
    assert [p.shape for p in vae.generator.parameters()] == [p.shape for p in gan.generator.parameters()]


def test_a_vae_trains_and_its_loss_falls(compose_train):
    cfg = compose_train("model=vae", "dataset=mnist", *SMALL, "generator_steps=40", "trainer.log_every_n_steps=1")
    first = {}

    class Record(L.Callback):
        def on_train_batch_end(self, trainer, module, *args):
            if module.generator_steps == 1:
                first.update({k: float(v) for k, v in trainer.callback_metrics.items()})

    trainer, module = fit(cfg, callbacks=[Record()])
    assert module.generator_steps == 40 and trainer.global_step == 40
    last = trainer.callback_metrics
    assert {"train/reconstruction", "train/kl", "train/loss"} <= set(last)
    assert float(last["train/reconstruction"]) < 0.7 * first["train/reconstruction"]
    assert float(last["train/loss"]) == pytest.approx(float(last["train/reconstruction"] + last["train/kl"]), rel=1e-4)
    picture = module.sample_picture(module.generator.sample_latent(16), trainer.datamodule)
    grid = trainer.datamodule.render(module.generate(module.generator.sample_latent(16)).cpu(), 4)
    assert picture.shape[2] == grid.shape[2] and picture.shape[1] > grid.shape[1]  # two more rows below


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model.reconstruction=l1"], "model.reconstruction='l1'"),
        (["model.beta=-1"], "model.beta=-1"),
        (["tricks=[ema]"], "GAN training tricks"),
        (["model.conditioning=concat"], "model=vae is unconditional"),
    ],
)
def test_bad_vae_settings_are_refused_in_one_line(run_ganlab, overrides, message):
    result = run_ganlab("train", "model=vae", "dataset=mnist", *SMALL, *overrides, expect=2)
    assert message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_a_vae_run_resumes_and_is_scored_by_ganlab_eval(run_ganlab, tmp_path):
    run = tmp_path / "vae"
    common = ("train", "model=vae", "dataset=mnist", *SMALL, "callbacks.samples.every_n_steps=10")
    run_ganlab(*common, "generator_steps=10", f"hydra.run.dir={run}")
    run_ganlab(*common, "generator_steps=20", f"ckpt_path={run}/checkpoints/last.ckpt")
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["ganlab"]["generator_steps"] == 20
    assert (run / "samples" / "step_000020.png").is_file()
    run_ganlab("eval", f"ckpt={run}", "metrics=[sharpness,average_neighbours]", "num_samples=64",
               "metrics.average_neighbours.num_samples=64", "metrics.average_neighbours.num_train=500")  # fmt: skip
    report = json.loads((run / "checkpoints" / "last_eval" / "metrics.json").read_text())["metrics"]
    assert report["laplacian_var_real"] > 0 and report["laplacian_var"] >= 0
    assert {"average_sharpness", "reconstruction_sharpness", "nearest_sample_sharpness"} <= set(report)
    assert (run / "checkpoints" / "last_eval" / "average_neighbours.png").is_file()


def test_the_mean_of_neighbours_is_blurrier_than_the_digit_it_stands_for(compose_train):
    cfg = compose_train("model=vae", "dataset=mnist", *SMALL)
    module = VAEModule.from_config(cfg)
    datamodule = instantiate(cfg.dataset.datamodule)
    datamodule.setup("fit")
    findings = AverageOfNeighbours(num_images=4, k=10, num_samples=16, num_train=1000).run(module, datamodule, 0)
    assert findings.values["average_sharpness"] < 0.8  # the average of ten fives is a smeared five
    assert 0 < findings.values["average_mse"] < findings.values["nearest_sample_mse"]  # an untrained G is far off
    assert findings.figures["average_neighbours"].shape[0] == 3


@pytest.mark.slow
def test_a_vae_sweep_over_beta_is_one_report(run_ganlab, tmp_path):
    sweep = tmp_path / "sweep"
    run_ganlab("train", "-m", "model=vae", "dataset=mnist", *SMALL, "model.beta=0.5,4", "generator_steps=5",
               "logger=none", "final_eval=true", "dataset.eval_samples=64", "metrics=[sharpness]",
               f"hydra.sweep.dir={sweep}")  # fmt: skip
    betas = [torch.load(sweep / str(job) / "checkpoints" / "last.ckpt", weights_only=True)["ganlab"]["run"]["config"]
             ["model"]["beta"] for job in (0, 1)]  # fmt: skip
    assert betas == [0.5, 4.0]
    table = run_ganlab("report", str(sweep)).stdout
    assert "model.beta" in table and "laplacian_var" in table
