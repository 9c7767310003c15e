"""The field view of 2-D games: what GameView computes, the densities drawn, the picture, the animation, and
the user's own 2-D points."""

from __future__ import annotations

import functools
import math

import pytest
import torch
from hydra.utils import instantiate
from PIL import Image
from torch import Tensor, nn

from ganlab.animation import evenly_thinned, write_animation
from ganlab.data.density import kernel_density
from ganlab.data.points2d import Points2DDataModule
from ganlab.data.toy2d import Grid, Ring, SwissRoll, Toy2DDataModule
from ganlab.errors import GanlabError
from ganlab.game_view import GameView
from ganlab.losses import MinimaxLoss, NonSaturatingLoss, RelativisticAverageLoss, WassersteinLoss
from ganlab.models.base import Discriminator
from ganlab.models.mlp import MLPDiscriminator, MLPGenerator
from ganlab.module import GANModule
from ganlab.plotting import mass_levels, save_png, square_grid
from ganlab.tricks.packing import Packing


class LinearCritic(Discriminator):
    """D(x) = w·x + b, whose input gradient is w everywhere."""

    feature_dim = 2

    def __init__(self, weight: tuple[float, float], bias: float = 0.0) -> None:
        super().__init__()
        self.head = nn.Linear(2, 1)
        with torch.no_grad():
            self.head.weight.copy_(torch.tensor([weight]))
            self.head.bias.fill_(bias)

    def features(self, x: Tensor) -> Tensor:
        return x


def game(loss, discriminator: Discriminator | None = None, latent_dim: int = 2, tricks=()) -> GANModule:
    adam = functools.partial(torch.optim.Adam, lr=1e-3)
    return GANModule(
        generator=MLPGenerator(latent_dim=latent_dim, data_shape=[2], hidden_dims=[8]),
        discriminator=discriminator or LinearCritic((1.0, -2.0), bias=0.5),
        loss=loss,
        generator_optimizer=adam,
        discriminator_optimizer=adam,
        tricks=list(tricks),
    )


POINTS = torch.tensor([[0.0, 0.0], [1.0, 2.0], [-1.5, 0.5]])
W = torch.tensor([1.0, -2.0])


def logits(points: Tensor) -> Tensor:
    return points @ W + 0.5


@pytest.mark.parametrize(
    ("loss", "force_scale"),
    [
        # L_G = -mean softplus(l): -N dL/dx_i = sigmoid(l_i) w, vanishing where D rejects the fake
        (MinimaxLoss(), lambda lf: torch.sigmoid(lf)),
        # L_G = mean softplus(-l): -N dL/dx_i = sigmoid(-l_i) w, strongest where D rejects it
        (NonSaturatingLoss(), lambda lf: torch.sigmoid(-lf)),
        # L_G = -mean D: the same pull w on every fake
        (WassersteinLoss(), lambda lf: torch.ones_like(lf)),
    ],
)
def test_the_pull_on_each_fake_is_minus_the_gradient_of_the_run_loss(loss, force_scale):
    view = GameView(game(loss))
    pull = view.generator_pull(POINTS, real=torch.zeros(3, 2))
    expected = force_scale(logits(POINTS)).unsqueeze(1) * W
    torch.testing.assert_close(pull, expected)


def test_the_pull_of_a_relativistic_loss_uses_the_real_scores():
    # RaSGAN's L_G = mean softplus(-(l_f - mean l_r)) + mean softplus(l_r - mean l_f): the second term moves
    # the fakes too, through mean l_f: -N dL/dx_i = (sigmoid(-(l_i - m_r)) + mean_j sigmoid(l_rj - m_f)) w
    real = torch.tensor([[2.0, 0.0], [0.0, -1.0]])
    view = GameView(game(RelativisticAverageLoss("nsgan")))
    fake_scores, real_scores = logits(POINTS), logits(real)
    first = torch.sigmoid(-(fake_scores - real_scores.mean()))
    second = torch.sigmoid(real_scores - fake_scores.mean()).mean()
    torch.testing.assert_close(view.generator_pull(POINTS, real), (first + second).unsqueeze(1) * W)


def test_scores_are_probabilities_only_for_logit_losses():
    assert GameView(game(NonSaturatingLoss())).scores_are_probabilities
    torch.testing.assert_close(GameView(game(MinimaxLoss())).score(POINTS), torch.sigmoid(logits(POINTS)))
    raw = GameView(game(WassersteinLoss()))
    assert not raw.scores_are_probabilities
    torch.testing.assert_close(raw.score(POINTS), logits(POINTS))


def test_a_packed_discriminator_has_no_map_but_still_pulls_every_fake():
    module = game(NonSaturatingLoss(), MLPDiscriminator(data_shape=[2], hidden_dims=[8]), tricks=[Packing(m=2)])
    view = GameView(module)
    assert not view.has_pointwise_scores
    fakes = torch.randn(6, 2, generator=torch.Generator().manual_seed(0))
    pull = view.generator_pull(fakes, real=torch.randn(6, 2))
    assert pull.shape == (6, 2) and (pull.norm(dim=1) > 0).all()


def test_the_latent_grid_is_the_image_of_the_noise_plane_and_only_exists_for_2d_noise():
    module = game(NonSaturatingLoss())
    lines = GameView(module).latent_grid(lines=5, points_per_line=7)
    assert lines.shape == (2, 5, 7, 2)
    z = torch.stack([torch.linspace(-3, 3, 7), torch.full((7,), -3.0)], dim=1)  # the line z2 = -3
    torch.testing.assert_close(lines[0, 0], module.generate(z))
    z = torch.stack([torch.full((7,), 1.5), torch.linspace(-3, 3, 7)], dim=1)  # the line z1 = 1.5
    torch.testing.assert_close(lines[1, 3], module.generate(z))
    assert GameView(game(NonSaturatingLoss(), latent_dim=16)).latent_grid() is None


def test_mass_levels_are_the_highest_density_regions_of_a_gaussian():
    # standard normal in 2-D: the region {p >= level} holding mass m is the disc of radius r with
    # 1 - exp(-r^2/2) = m, so its level is exp(-r^2/2) / (2 pi) = (1 - m) / (2 pi)
    points = square_grid(6.0, 601)
    density = (torch.exp(-0.5 * points.pow(2).sum(1)) / (2 * math.pi)).reshape(601, 601).numpy()
    levels = mass_levels(density, masses=(0.5, 0.9))
    assert levels == pytest.approx([0.1 / (2 * math.pi), 0.5 / (2 * math.pi)], rel=0.01)
    assert mass_levels(density * 0) == []


@pytest.mark.parametrize("distribution", [Ring(), Grid(), SwissRoll()], ids=["ring", "grid", "swissroll"])
def test_each_2d_distribution_has_a_density_that_integrates_to_one(distribution):
    limits = distribution.extent
    size = 401 if isinstance(distribution, SwissRoll) else 801  # cells at most a third of a mode's width
    points = square_grid(limits, size)
    cell = (2 * limits / (size - 1)) ** 2
    density = distribution.density(points).double()
    assert density.sum().item() * cell == pytest.approx(1.0, abs=0.02)
    drawn = distribution.sample(2000, torch.Generator().manual_seed(0))
    assert distribution.density(drawn).min() > density.max() * 1e-4  # samples fall where the density is


def test_the_ring_density_at_a_centre():
    ring = Ring(num_modes=8, std=0.01)
    peak = 1 / (8 * 2 * math.pi * 0.01**2)
    assert ring.density(torch.tensor([[1.0, 0.0]])).item() == pytest.approx(peak, rel=1e-6)


def test_the_kernel_density_of_2d_samples_integrates_to_one():
    samples = torch.randn(3000, 2, generator=torch.Generator().manual_seed(2))
    points = square_grid(6.0, 201)
    estimate = kernel_density(samples, points, chunk=1000)
    assert estimate.sum().item() * (12 / 200) ** 2 == pytest.approx(1.0, abs=0.01)
    assert estimate[len(points) // 2].item() == pytest.approx(1 / (2 * math.pi), rel=0.1)  # N(0, I) at 0


def inner_background(picture: Tensor) -> float:
    """The fraction of white pixels in a band across the middle of the plot."""
    rows, columns = picture.shape[1:]
    band = picture[:, rows // 2 - 20 : rows // 2 + 20, columns // 4 : columns // 2]
    return (band.min(0).values > 0.97).float().mean().item()


def test_the_field_view_fills_the_plane_with_d_where_the_plain_picture_is_blank(tmp_path):
    data = Toy2DDataModule(Ring(), num_train=4000, num_test=2000)
    # D's boundary (p = 1/2, drawn white) at x = 1, right of the band looked at
    module = game(NonSaturatingLoss(), LinearCritic((3.0, 0.0), bias=-3.0))
    z = module.generator.sample_latent(200, rng=torch.Generator().manual_seed(0))
    plain, field = module.sample_picture(z, data, game=False), module.sample_picture(z, data)
    assert plain.shape[0] == field.shape[0] == 3
    assert inner_background(plain) > 0.5 and inner_background(field) < 0.1
    save_png(field, str(tmp_path / "field.png"))


def test_an_animation_holds_every_frame_thinned_evenly_past_the_limit(tmp_path):
    frames = []
    for step in range(5):
        path = tmp_path / f"step_{step:06d}.png"
        Image.new("RGB", (31, 21), (50 * step, 0, 0)).save(path)
        frames.append(path)
    (written,) = [p for p in write_animation(frames, tmp_path / "samples") if p.suffix == ".gif"]
    with Image.open(written) as gif:
        assert gif.n_frames == 5 and gif.size == (31, 21)
    thinned = evenly_thinned(list(range(1000)), limit=300)
    assert len(thinned) == 300 and thinned[0] == 0 and thinned[-1] == 999
    assert write_animation([], tmp_path / "none") == []


@pytest.mark.slow
def test_a_2d_run_logs_field_views_and_an_animation(compose_train, tmp_path):
    from tests.helpers import fit

    cfg = compose_train("generator_steps=40", "model.latent_dim=2", "dataset=grid25", "loss=wgan_gp")
    out = tmp_path / "samples"
    grid = instantiate(cfg.callbacks.samples, every_n_steps=20, num_samples=300, out_dir=str(out))
    fit(cfg, callbacks=[grid])
    assert sorted(p.name for p in out.iterdir()) == ["samples.gif", "step_000020.png", "step_000040.png"]
    with Image.open(out / "samples.gif") as gif:
        assert gif.n_frames == 2


def write_points(path, points: Tensor) -> None:
    if path.suffix == ".npy":
        import numpy as np

        np.save(path, points.numpy())
    elif path.suffix == ".pt":
        torch.save(points, path)
    else:
        rows = "\n".join(f"{x:.6f},{y:.6f}" for x, y in points.tolist())
        path.write_text("x,y\n" + rows + "\n")


@pytest.mark.parametrize("suffix", [".csv", ".npy", ".pt"])
def test_points_from_a_file_are_split_once_into_train_and_test(tmp_path, suffix):
    # distinct x coordinates, so sorting by x lines the points up even after a round trip through text
    y = torch.randn(500, generator=torch.Generator().manual_seed(3))
    points = torch.stack([torch.linspace(-2, 2, 500), y], dim=1)
    path = tmp_path / f"points{suffix}"
    write_points(path, points)
    data = Points2DDataModule(path, test_fraction=0.2, batch_size=100)
    data.setup("fit")
    train, test = data.train_set.tensors["real"], data.test_set.tensors["real"]
    assert (len(train), len(test)) == (400, 100)
    merged = torch.cat([train, test])
    order = lambda t: t[torch.argsort(t[:, 0])]  # noqa: E731
    torch.testing.assert_close(order(merged), order(points), atol=1e-5, rtol=0)
    assert data.distribution.extent == pytest.approx(float(points.abs().max()) * 1.15, rel=1e-5)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        ("1,2,3\n4,5,6\n", r"shape \(2, 3\)"),
        ("1,2\nnan,5\n", "1 of 2 points are NaN"),
        ("a,b\nhello,world\n", "could not be read"),
    ],
)
def test_a_bad_points_file_is_refused_in_one_line(tmp_path, content, message):
    path = tmp_path / "points.csv"
    if content is not None:
        path.write_text(content)
    with pytest.raises(GanlabError, match=message):
        Points2DDataModule(path, batch_size=1)


def test_fewer_points_than_a_batch_are_refused(tmp_path):
    path = tmp_path / "points.npy"
    write_points(path, torch.randn(50, 2))
    with pytest.raises(GanlabError, match="fewer than one batch of 256"):
        Points2DDataModule(path)


@pytest.mark.slow
def test_the_users_own_points_train_and_draw_a_field_view(run_ganlab, tmp_path):
    path = tmp_path / "moons.csv"
    angles = torch.linspace(0, math.pi, 600)
    upper, lower = torch.stack([angles.cos(), angles.sin()], 1), torch.stack([1 - angles.cos(), 0.5 - angles.sin()], 1)
    write_points(path, torch.cat([upper, lower]))  # two moons
    run = tmp_path / "run"
    run_ganlab("train", "dataset=points2d", f"dataset.path={path}", "generator_steps=30",
               "callbacks.samples.every_n_steps=30", "metrics=[nn1]", f"hydra.run.dir={run}")  # fmt: skip
    assert (run / "samples" / "step_000030.png").is_file()
    assert "nn1_accuracy" in (run / "metrics.json").read_text()
    missing = run_ganlab("train", "dataset=points2d", expect=2).stderr
    assert "dataset.path has no value" in missing
