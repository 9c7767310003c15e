"""1-D mixtures with exact densities, the optimal discriminator, the location-scale generator, 1-D W1, and a 1-D run."""

from __future__ import annotations

import json
import math

import pytest
import torch
from hydra.utils import instantiate

from ganlab.data.density import kernel_density, optimal_discriminator
from ganlab.data.toy1d import GaussianMixture1D, Toy1DDataModule
from ganlab.errors import GanlabError
from ganlab.game_view import GameView
from ganlab.metrics import Wasserstein1D
from ganlab.models.location_scale import LocationScaleGenerator
from ganlab.module import GANModule

BIMODAL = GaussianMixture1D(means=[-2.0, 2.0], stds=[0.5, 0.5], weights=[0.7, 0.3])


def test_the_mixture_density_is_the_weighted_normal_sum_and_its_samples_follow_it():
    x = torch.linspace(-8, 8, 16001)
    assert torch.trapezoid(BIMODAL.density(x), x).item() == pytest.approx(1.0, abs=1e-6)
    normal = 1 / (0.5 * math.sqrt(2 * math.pi))  # each component's peak height
    assert BIMODAL.density(torch.tensor([-2.0])).item() == pytest.approx(0.7 * normal, rel=1e-6)
    drawn = BIMODAL.sample_labelled(20000, torch.Generator().manual_seed(0))
    assert drawn["real"].shape == (20000, 1)
    assert (drawn["label"] == 0).double().mean().item() == pytest.approx(0.7, abs=0.01)
    assert drawn["real"].mean().item() == pytest.approx(0.7 * -2 + 0.3 * 2, abs=0.03)
    with pytest.raises(GanlabError, match="as many stds"):
        GaussianMixture1D(means=[0.0, 1.0], stds=[1.0])


def test_the_optimal_discriminator_and_the_kernel_density():
    p, q = torch.tensor([0.2, 0.3, 0.0, 0.0]), torch.tensor([0.2, 0.1, 0.4, 0.0])
    assert optimal_discriminator(p, q).tolist() == pytest.approx([0.5, 0.75, 0.0, 0.5])
    samples = torch.randn(4000, generator=torch.Generator().manual_seed(1))
    x = torch.linspace(-6, 6, 2001)
    estimate = kernel_density(samples, x)
    assert torch.trapezoid(estimate, x).item() == pytest.approx(1.0, abs=1e-3)
    assert estimate[1000].item() == pytest.approx(1 / math.sqrt(2 * math.pi), rel=0.05)  # N(0, 1) at 0


def test_the_location_scale_generator_is_mu_plus_sigma_z_and_learns_both():
    generator = LocationScaleGenerator(data_shape=[1], mean=1.5, std=0.5)
    z = torch.tensor([[-1.0], [0.0], [2.0]])
    assert generator(z).flatten().tolist() == pytest.approx([1.0, 1.5, 2.5])
    generator(z).sum().backward()
    assert generator.mean.grad.item() == 3.0 and generator.log_std.grad.item() == pytest.approx(0.5 * 1.0)
    with pytest.raises(GanlabError, match="must be > 0"):
        LocationScaleGenerator(data_shape=[1], std=0.0)


def test_wasserstein1_of_a_shifted_copy_is_the_shift():
    class Real:
        def real_samples(self, num, split):
            return torch.arange(num, dtype=torch.float32).reshape(num, 1)

    metric = Wasserstein1D()
    metric.prepare(Real(), 100, None)
    metric.update(torch.arange(100, dtype=torch.float32) + 0.25)
    values = metric.compute()
    assert values["wasserstein1"].item() == pytest.approx(0.25, abs=1e-9)
    assert values["mean"].item() == pytest.approx(49.75)


def test_the_1d_picture_draws_d_and_d_star_when_given_the_game(compose_train):
    data = Toy1DDataModule(BIMODAL, num_train=1000, num_test=1000)
    data.setup("fit")
    fake = torch.randn(500, 1)
    module = GANModule.from_config(compose_train("model=location_scale", "dataset=bimodal1d"))
    plain, game = data.render(fake), data.render_game(fake, None, GameView(module))
    assert plain.shape == game.shape and plain.shape[0] == 3
    assert not torch.equal(plain, game)  # the D and D* curves and their axis are drawn


@pytest.mark.slow
def test_a_location_scale_run_on_1d_data_writes_its_pictures_and_moments(run_ganlab, tmp_path):
    run = tmp_path / "run"
    run_ganlab("train", "model=location_scale", "dataset=bimodal1d", "generator_steps=30", f"hydra.run.dir={run}")
    metrics = json.loads((run / "metrics.json").read_text())["metrics"]
    assert set(metrics) == {"wasserstein1", "mean", "std"} and metrics["std"] > 0
    assert (run / "samples" / "step_000030.png").is_file()


@pytest.mark.parametrize(
    ("dataset", "weights"), [("gaussian1d", [1.0]), ("mixture1d", [0.5, 0.5]), ("bimodal1d", [0.7, 0.3])]
)
def test_each_1d_dataset_config_builds_its_mixture(compose_train, dataset, weights):
    datamodule = instantiate(compose_train(f"dataset={dataset}").dataset.datamodule)
    assert datamodule.name == dataset
    assert datamodule.distribution.weights.tolist() == pytest.approx(weights)
