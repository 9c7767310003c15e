"""Sample metrics: mode coverage on point sets with known answers, and the FID input mapping."""

import math

import pytest
import torch
from torch.testing import assert_close

from ganlab.data import Grid, Ring
from ganlab.metrics import ModeCoverage
from ganlab.metrics.features import to_inception_input

RING = Ring()  # 8 modes on the unit circle, std 0.01
STD = RING.std


def ring_metric():
    return ModeCoverage.for_mixture(RING)


def at_modes(counts, mixture=RING):
    """``counts[k]`` points exactly at centre ``k``."""
    return torch.cat([mixture.centers[k].repeat(n, 1) for k, n in enumerate(counts) if n])


def scores(metric, *batches):
    for batch in batches:
        metric.update(batch)
    return metric.compute()


def test_uniform_samples_at_the_centres_are_perfect():
    result = scores(ring_metric(), at_modes([10] * 8))
    assert result["modes_covered"].item() == 8
    assert result["num_modes"].item() == 8
    assert result["hq_fraction"].item() == 1.0
    assert_close(result["reverse_kl"], torch.tensor(0.0, dtype=torch.float64))


def test_collapse_onto_one_mode():
    result = scores(ring_metric(), at_modes([0, 0, 0, 50, 0, 0, 0, 0]))
    assert result["modes_covered"].item() == 1
    assert result["hq_fraction"].item() == 1.0
    # KL(p || u) with p = e_k: 1 * log(8 * 1) = log 8
    assert_close(result["reverse_kl"].item(), math.log(8))


def test_half_and_half_between_two_modes():
    result = scores(ring_metric(), at_modes([20, 0, 0, 0, 20, 0, 0, 0]))
    assert result["modes_covered"].item() == 2
    # 2 * (1/2) log(8 * 1/2) = log 4 = log 8 - log 2
    assert_close(result["reverse_kl"].item(), math.log(8) - math.log(2))
    assert_close(result["reverse_kl"].item(), math.log(4))


def test_unbalanced_two_modes():
    result = scores(ring_metric(), at_modes([30, 10, 0, 0, 0, 0, 0, 0]))
    # 3/4 log(8 * 3/4) + 1/4 log(8 * 1/4) = 0.75 log 6 + 0.25 log 2
    assert_close(result["reverse_kl"].item(), 0.75 * math.log(6) + 0.25 * math.log(2))


def radial(k, distance_in_std):
    """A point on the ray through centre ``k``, ``distance_in_std`` standard deviations beyond it."""
    center = RING.centers[k]
    return (center * (1 + distance_in_std * STD / center.norm())).unsqueeze(0)


def test_points_beyond_three_sigma_are_not_high_quality():
    far = torch.cat([radial(k, 3.5) for k in range(8)])
    result = scores(ring_metric(), far)
    assert result["hq_fraction"].item() == 0.0
    assert result["modes_covered"].item() == 0
    # they still count for the mode balance: one per mode
    assert_close(result["reverse_kl"].item(), 0.0)


def test_points_within_three_sigma_are_high_quality():
    near = torch.cat([radial(k, 2.5) for k in range(8)])
    result = scores(ring_metric(), near)
    assert result["hq_fraction"].item() == 1.0
    assert result["modes_covered"].item() == 8


def test_mixed_quality():
    # modes 0, 1, 2 get one good point each; mode 3 only a point at 5 sigma
    points = torch.cat([radial(0, 1.0), radial(1, 0.0), radial(2, 2.0), radial(3, 5.0)])
    result = scores(ring_metric(), points)
    assert result["hq_fraction"].item() == 0.75
    assert result["modes_covered"].item() == 3
    # four modes with 1/4 each: 4 * 1/4 log(8/4) = log 2
    assert_close(result["reverse_kl"].item(), math.log(2))


def test_threshold_is_in_units_of_std():
    points = torch.cat([radial(0, 3.5), radial(1, 4.5)])
    result = scores(ModeCoverage(RING.centers, STD, threshold=4.0), points)
    assert result["hq_fraction"].item() == 0.5
    assert result["modes_covered"].item() == 1


def test_samples_of_the_true_distribution_cover_every_mode():
    # for a 2-D isotropic Gaussian P(||x - mu|| < 3 sigma) = 1 - exp(-9/2) ~ 0.9889
    points = RING.sample(2_500, torch.Generator().manual_seed(0))
    result = scores(ring_metric(), points)
    assert result["modes_covered"].item() == 8
    expected = 1 - math.exp(-4.5)
    # binomial standard error sqrt(p(1-p)/n) ~ 0.0021; allow 5 of them
    assert abs(result["hq_fraction"].item() - expected) < 5 * math.sqrt(expected * (1 - expected) / 2_500)
    assert result["reverse_kl"].item() < 0.01


def test_batched_updates_equal_one_update():
    torch.manual_seed(0)
    points = torch.cat([RING.sample(300, torch.Generator().manual_seed(1)), 0.5 * torch.randn(100, 2)])
    points = points[torch.randperm(len(points))]
    whole = scores(ring_metric(), points)
    batched = scores(ring_metric(), *points.split([7, 93, 150, 150]))
    assert set(whole) == set(batched) == {"modes_covered", "num_modes", "hq_fraction", "reverse_kl"}
    for key in whole:
        assert_close(batched[key], whole[key])


def test_reset_forgets_previous_samples():
    metric = ring_metric()
    metric.update(at_modes([0, 0, 0, 50, 0, 0, 0, 0]))
    metric.reset()
    result = scores(metric, at_modes([5] * 8))
    assert result["modes_covered"].item() == 8
    assert_close(result["reverse_kl"].item(), 0.0)


def test_grid_mixture_half_and_half():
    grid = Grid()
    metric = ModeCoverage.for_mixture(grid)
    points = torch.tensor([[0.0, 0.0]] * 10 + [[4.0, -2.0]] * 10)
    result = scores(metric, points)
    assert result["num_modes"].item() == 25
    assert result["modes_covered"].item() == 2
    # 2 * 1/2 log(25/2)
    assert_close(result["reverse_kl"].item(), math.log(12.5))


def test_update_accepts_gradients_and_other_dtypes():
    points = at_modes([2] * 8).double().requires_grad_(True)
    result = scores(ring_metric(), points)
    assert result["modes_covered"].item() == 8


# --- FID input mapping -------------------------------------------------------------------------------------------


def test_to_inception_input_maps_model_range_to_unit_range():
    images = torch.tensor([-1.0, 0.0, 1.0, -0.5]).view(1, 1, 2, 2)
    out = to_inception_input(images)
    assert out.shape == (1, 3, 2, 2)
    assert out.dtype == torch.float32
    expected = torch.tensor([0.0, 0.5, 1.0, 0.25]).view(1, 1, 2, 2)
    for channel in range(3):  # grey tiled to RGB
        assert_close(out[:, channel : channel + 1], expected)


def test_to_inception_input_keeps_colour_channels():
    images = torch.stack([torch.full((4, 4), -1.0), torch.zeros(4, 4), torch.ones(4, 4)]).unsqueeze(0)
    out = to_inception_input(images.half())
    assert out.dtype == torch.float32
    assert_close(out[0, :, 0, 0], torch.tensor([0.0, 0.5, 1.0]))


@pytest.mark.parametrize(("value", "expected"), [(-3.0, 0.0), (2.0, 1.0)])
def test_to_inception_input_clamps(value, expected):
    out = to_inception_input(torch.full((2, 1, 3, 3), value))
    assert torch.all(out == expected)
