"""The evaluation lesson's mathematics: FID by the Gram matrix, its bias with N, 1-NN at 50% for one distribution."""

from __future__ import annotations

from itertools import pairwise

import pytest
import torch

from ganlab.data.torchvision_images import TorchvisionImages
from ganlab.lessons.evaluation import fid, mann_whitney_null, nn1_accuracy, nn1_null
from ganlab.metrics import Flatten, FrechetInceptionDistance


def gaussian(n: int, dim: int, seed: int, shift: float = 0.0, scale: float = 1.0) -> torch.Tensor:
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * scale + shift


@pytest.mark.parametrize(("n", "m", "dim"), [(30, 40, 64), (200, 150, 64), (50, 50, 256)])
def test_fid_through_the_gram_matrix_is_ganlabs_fid(n, m, dim):
    real, fake = gaussian(n, dim, 0), gaussian(m, dim, 1, shift=0.1, scale=1.2)
    metric = FrechetInceptionDistance(feature_extractor=Flatten(), sync_on_compute=False)
    metric.set_real_features(real)
    metric.update(features=fake)
    torch.testing.assert_close(fid(real, fake), float(metric.compute()["fid"]), rtol=1e-6, atol=1e-6)


def test_fid_of_one_distribution_is_above_zero_and_falls_with_the_sample_count():
    dim, counts = 64, (25, 50, 100, 200, 400, 800)
    values = [fid(gaussian(n, dim, 2 * n), gaussian(n, dim, 2 * n + 1)) for n in counts]
    assert all(value > 0 for value in values)
    assert all(later < earlier for earlier, later in pairwise(values))
    # For two samples of N(0, I_d) the bias is E|mu1 - mu2|^2 = 2d/n plus, to first order,
    # E tr(S1 - S2)^2 / 4 = d(d + 1) / (2n): it falls as 1/n and grows as d^2.
    assert values[-1] == pytest.approx((dim**2 + 5 * dim) / (2 * counts[-1]), rel=0.1)


def test_one_nn_accuracy_of_one_distribution_is_n_minus_1_over_2n_minus_1():
    n = 200
    mean, se = nn1_null(n)
    assert mean == pytest.approx(199 / 399)
    accuracies = torch.tensor([nn1_accuracy(gaussian(n, 8, seed), gaussian(n, 8, 100 + seed)) for seed in range(20)])
    # the mean of 20 draws is within 3 standard errors of the null mean
    assert abs(float(accuracies.mean()) - mean) < 3 * se / 20**0.5
    assert nn1_accuracy(gaussian(n, 8, 0), gaussian(n, 8, 1, shift=20.0)) == 1.0  # disjoint: always right
    assert nn1_accuracy(gaussian(n, 8, 0), gaussian(n, 8, 0)) == 0.0  # copies: each point's neighbour is its twin


def test_two_halves_of_the_mnist_training_digits_are_told_apart_half_of_the_time(shared_dir):
    datamodule = TorchvisionImages("torchvision.datasets.MNIST", root=str(shared_dir / "data"), download=False)
    train = datamodule.real_samples(4000, split="train").flatten(1)
    half = len(train) // 2
    mean, se = nn1_null(half)
    assert abs(nn1_accuracy(train[:half], train[half:]) - mean) <= 3 * se


def test_the_mann_whitney_null_is_the_spread_of_u_over_mn():
    m = n = 200
    closer = []
    for seed in range(100):
        x, y = gaussian(m, 1, seed).flatten(), gaussian(n, 1, 1000 + seed).flatten()
        closer.append(float((x[:, None] < y[None, :]).double().mean()))
    assert float(torch.tensor(closer).std()) == pytest.approx(mann_whitney_null(m, n), rel=0.2)
