"""Latent walks and latent arithmetic: the interpolation formulas, the figures' cells, and the ``ganlab eval`` CLI."""

from __future__ import annotations

import inspect
import json
import math

import pytest
import torch
import torch.nn.functional as F
from omegaconf import OmegaConf
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import Tensor

from ganlab.config import config_dir
from ganlab.errors import GanlabError
from ganlab.metrics.latent import LatentArithmetic, LatentWalk, lerp, slerp
from ganlab.metrics.suite import MetricSuite
from ganlab.module import GANModule

SIDE = 28  # MNIST
SCALE = 3  # labelled grids upscale 28-pixel cells to 84 pixels
GROUPS = [[1, 5, 9], [2, 7], [3, 4]]


@pytest.fixture
def mnist_module(compose_train) -> GANModule:
    """A small DCGAN for MNIST whose images vary with z: He-initialised instead of DCGAN's N(0, 0.02)."""
    cfg = compose_train("dataset=mnist", "model=dcgan", "model.generator.width=8", "model.discriminator.width=8")
    module = GANModule.from_config(cfg)
    torch.manual_seed(0)
    for weight in module.generator.parameters():
        if weight.dim() > 1:
            torch.nn.init.kaiming_normal_(weight, nonlinearity="relu")
    return module


def cell(figure: Tensor, row: int, col: int, side: int = SIDE) -> Tensor:
    """One cell of a grid with make_grid's 2-pixel borders, ``(3, side, side)``."""
    y, x = 2 + row * (side + 2), 2 + col * (side + 2)
    return figure[:, y : y + side, x : x + side]


def as_cell(image: Tensor, scale: int = 1) -> Tensor:
    """A generated ``(1, H, W)`` image in [-1, 1] as a figure shows it: ``(3, H·scale, W·scale)`` in [0, 1]."""
    image = F.interpolate(image[None], scale_factor=scale, mode="nearest")[0] if scale > 1 else image
    return ((image + 1) / 2).clamp(0, 1).expand(3, -1, -1)


def below_label(image: Tensor) -> Tensor:
    """The lower half of a labelled cell, which the label in its top-left corner leaves alone."""
    return image[:, image.shape[1] // 2 :]


def test_lerp_endpoints_and_midpoint():
    a, b = torch.randn(2, 7, generator=torch.Generator().manual_seed(0))
    path = lerp(a, b, torch.tensor([0.0, 0.5, 1.0]))
    assert torch.equal(path[0], a) and torch.equal(path[2], b)
    assert torch.allclose(path[1], (a + b) / 2)


def test_slerp_is_the_great_circle_arc_at_constant_norm():
    a, b = torch.randn(2, 50, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    b = b * a.norm() / b.norm()
    t = torch.linspace(0, 1, 11, dtype=torch.float64)
    path = slerp(a, b, t)
    assert path.shape == (11, 50)
    assert torch.allclose(path[0], a) and torch.allclose(path[-1], b)
    assert torch.allclose(path.norm(dim=1), a.norm().expand(11))
    omega = torch.arccos(a @ b / (a.norm() * b.norm()))
    angles = torch.arccos((path @ a / (path.norm(dim=1) * a.norm())).clamp(-1, 1))
    assert torch.allclose(angles, t * omega, atol=1e-6)
    # ...and not the chord: the linear midpoint is shorter by cos(Ω/2).
    assert lerp(a, b, 0.5).norm() == pytest.approx(float(a.norm() * torch.cos(omega / 2)))


def test_slerp_broadcasts_walks_and_falls_back_to_lerp_for_parallel_vectors():
    a, b = torch.randn(2, 4, 1, 9, generator=torch.Generator().manual_seed(2))
    t = torch.linspace(0, 1, 5)
    walks = slerp(a, b, t)
    assert walks.shape == (4, 5, 9)
    assert torch.allclose(walks[3], slerp(a[3, 0], b[3, 0], t))
    for end in (2 * a, -a):  # (anti)parallel: no unique arc
        assert torch.allclose(slerp(a, end, t), lerp(a, end, t))


def test_walk_rows_run_from_g_of_z_a_to_g_of_z_b(mnist_module):
    walks, steps, seed = 3, 5, 7
    figures = LatentWalk(num_walks=walks, steps=steps).run(mnist_module, None, seed).figures
    assert set(figures) == {"interpolation_linear", "interpolation_spherical"}
    rng = torch.Generator().manual_seed(seed)
    z_a, z_b = (
        mnist_module.generator.sample_latent(walks, rng=rng),
        mnist_module.generator.sample_latent(walks, rng=rng),
    )
    for name, interpolate in [("interpolation_linear", lerp), ("interpolation_spherical", slerp)]:
        figure = figures[name]
        assert figure.shape == (3, walks * (SIDE + 2) + 2, steps * (SIDE + 2) + 2)
        for row in range(walks):
            for col, z in [(0, z_a[row]), (steps - 1, z_b[row]), (2, interpolate(z_a[row], z_b[row], 0.5))]:
                expected = as_cell(mnist_module.generate(z[None])[0])
                assert torch.allclose(cell(figure, row, col), expected, atol=1e-5), (name, row, col)
    linear, spherical = figures["interpolation_linear"], figures["interpolation_spherical"]
    assert torch.allclose(cell(linear, 1, 0), cell(spherical, 1, 0))
    assert (cell(linear, 1, 2) - cell(spherical, 1, 2)).abs().max() > 0.01


def test_arithmetic_result_is_g_of_the_signed_sum_of_group_means(mnist_module):
    seed = 3
    figure = LatentArithmetic(groups=GROUPS, num_neighbours=4).run(mnist_module, None, seed).figures["arithmetic"]
    side = SIDE * SCALE
    # rows: 3 groups + the result; columns: mean (or result) + max(3 members, 4 neighbours)
    assert figure.shape == (3, 4 * (side + 2) + 2, 5 * (side + 2) + 2)
    z = mnist_module.generator.sample_latent(64, rng=torch.Generator().manual_seed(seed))
    means = [z[group].mean(dim=0) for group in GROUPS]
    expected = {
        (3, 0): means[0] - means[1] + means[2],  # the result
        (1, 0): means[1],  # group B's mean
        (0, 2): z[5],  # the second member of group A
        (2, 1): z[3],
    }
    for (row, col), code in expected.items():
        image = as_cell(mnist_module.generate(code[None])[0], SCALE)
        assert torch.allclose(below_label(cell(figure, row, col, side)), below_label(image), atol=1 / 255), (row, col)
    result, neighbour = cell(figure, 3, 0, side), cell(figure, 3, 1, side)
    assert 0.001 < (below_label(result) - below_label(neighbour)).abs().mean() < 0.2  # G(z + noise): near, not equal
    assert torch.all(cell(figure, 1, 3, side) == 1.0)  # group B has two members: the rest of its row is blank


def test_candidate_numbers_mean_the_same_samples_in_a_later_run(mnist_module, capsys):
    first = LatentArithmetic().run(mnist_module, None, seed=11)
    assert set(first.figures) == {"arithmetic_candidates"}
    assert "metrics.arithmetic.groups=" in capsys.readouterr().out
    candidates = first.figures["arithmetic_candidates"]
    side = SIDE * SCALE
    assert candidates.shape == (3, 8 * (side + 2) + 2, 8 * (side + 2) + 2)

    later = LatentArithmetic(groups=[[63], [10], [0]], num_neighbours=2).run(mnist_module, None, seed=11).figures
    assert torch.equal(later["arithmetic_candidates"], candidates)
    # sample 63 (row 7, column 7 of the candidates) is group A's only member; 10 (row 1, column 2) is group B's
    for (row, col), (grid_row, grid_col) in [((0, 1), (7, 7)), ((1, 1), (1, 2))]:
        member = below_label(cell(later["arithmetic"], row, col, side))
        assert torch.equal(member, below_label(cell(candidates, grid_row, grid_col, side)))
    other_seed = LatentArithmetic().run(mnist_module, None, seed=12).figures["arithmetic_candidates"]
    assert not torch.equal(other_seed, candidates)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"groups": [[0, 64], [1], [2]]}, r"group 0 has sample numbers \[64\] outside 0\.\.63"),
        ({"groups": [[0], [-1], [2]]}, r"group 1 has sample numbers \[-1\] outside"),
        ({"groups": [[0], [], [2]]}, r"group 1 is \[\], not a non-empty list"),
        ({"groups": [1, 2, 3]}, r"group 0 is 1, not a non-empty list"),
        ({"groups": [[0], [1]]}, r"2 groups but 3 signs.*signs=\[1,-1\]"),
        ({"groups": [[0], [1], [2]], "signs": [1, -1, 1, 1]}, r"3 groups but 4 signs"),
        ({"groups": []}, r"groups is an empty list"),
        ({"groups": [[5]], "signs": [1], "num_candidates": 5}, r"outside 0\.\.4"),
    ],
)
def test_bad_groups_are_refused_in_one_line(options, message):
    with pytest.raises(GanlabError, match=message) as raised:
        LatentArithmetic(**options)
    assert "\n" not in str(raised.value)


def test_walk_options_are_checked():
    assert LatentWalk(modes="spherical").modes == ["spherical"]
    with pytest.raises(GanlabError, match=r"steps >= 2 .* got num_walks=8, steps=1"):
        LatentWalk(steps=1)
    with pytest.raises(GanlabError, match=r"modes \['linear', 'cubic'\] are not a non-empty list of"):
        LatentWalk(modes=["linear", "cubic"])


@pytest.mark.parametrize("probe", [LatentWalk(), LatentArithmetic()])
def test_2d_generators_are_refused(compose_train, probe):
    module = GANModule.from_config(compose_train())  # the ring of 8 Gaussians: (N, 2) points
    with pytest.raises(GanlabError, match=r"needs an image dataset, but this generator makes samples of shape \(2,\)"):
        probe.run(module, None, 0)


@pytest.mark.parametrize(("name", "probe_class"), [("interpolation", LatentWalk), ("arithmetic", LatentArithmetic)])
def test_configs_list_every_option_with_its_default_and_take_overrides(name, probe_class):
    node = OmegaConf.load(f"{config_dir()}/metrics/{name}.yaml")
    listed = OmegaConf.to_object(node[name])
    assert listed.pop("_target_") == f"ganlab.metrics.{probe_class.__name__}"
    defaults = {
        key: list(option.default) if isinstance(option.default, tuple) else option.default
        for key, option in inspect.signature(probe_class).parameters.items()
    }
    assert listed == defaults
    if name == "arithmetic":
        node.merge_with_dotlist(["arithmetic.groups=[[1,5,9],[2,7],[3,4]]"])
    suite = MetricSuite.from_configs(node)
    assert [type(probe) for probe in suite.probes] == [probe_class] and not suite.sample_metrics
    if name == "arithmetic":
        assert suite.probes[0].groups == GROUPS
        node.merge_with_dotlist(["arithmetic.groups=[[1,5,9],[2,70],[3,4]]"])
        with pytest.raises(GanlabError, match=r"\[70\] outside"):
            MetricSuite.from_configs(node)


@pytest.mark.slow
def test_eval_cli_saves_walks_and_arithmetic(run_ganlab, tiny_mnist_run, tmp_path):
    out_dir = tmp_path / "eval"
    out = run_ganlab(
        "eval",
        f"ckpt={tiny_mnist_run}",
        "metrics=[interpolation,arithmetic]",
        "metrics.interpolation.steps=6",
        "metrics.arithmetic.groups=[[1,5,9],[2,7],[3,4]]",
        f"out_dir={out_dir}",
    ).stdout
    assert "arithmetic.png" in out
    cells = {  # stem: (columns, rows, cell side)
        "interpolation_linear": (6, 8, SIDE),
        "interpolation_spherical": (6, 8, SIDE),
        "arithmetic_candidates": (8, 8, SIDE * SCALE),
        "arithmetic": (9, 4, SIDE * SCALE),
    }
    for stem, (columns, rows, side) in cells.items():
        with Image.open(out_dir / f"{stem}.png") as image:
            assert image.size == (columns * (side + 2) + 2, rows * (side + 2) + 2), stem
    events = EventAccumulator(str(out_dir / "tensorboard"), size_guidance={"images": 0})
    events.Reload()
    assert {f"eval/{stem}" for stem in cells} <= set(events.Tags()["images"])
    report = json.loads((out_dir / "metrics.json").read_text())
    assert report["checkpoint"].endswith("last.ckpt") and report["metrics"] == {}
    assert math.isfinite(report["wall_time_s"])
