"""The optimal discriminator under soft and flipped labels, whose range lesson ``tricks`` checks D against."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from ganlab.lessons.tricks import late_mean, optimal_discriminator
from ganlab.tricks import LabelSmoothing, NoisyLabels


def expected_loss(d: torch.Tensor, p: float, q: float, real_target: float, fake_target: float) -> torch.Tensor:
    """D's expected cross-entropy at one point x with densities p (real) and q (fake), for each value in ``d``."""
    bce = lambda target: F.binary_cross_entropy(d, torch.full_like(d, target), reduction="none")  # noqa: E731
    return p * bce(real_target) + q * bce(fake_target)


@pytest.mark.parametrize("p, q", [(1.0, 1.0), (3.0, 0.5), (0.02, 2.0), (1e3, 1e-3)])
@pytest.mark.parametrize("targets", [(1.0, 0.0), (0.9, 0.0), (0.95, 0.05), (0.7, 0.2)])
def test_the_optimal_discriminator_minimises_the_soft_target_cross_entropy(p, q, targets):
    d = torch.linspace(1e-6, 1 - 1e-6, 200_001, dtype=torch.float64)
    best = d[expected_loss(d, p, q, *targets).argmin()]
    d_star = optimal_discriminator(torch.tensor(p), torch.tensor(q), *targets)
    assert float(d_star) == pytest.approx(float(best), abs=1e-5)
    assert targets[1] <= float(d_star) <= targets[0]


def test_one_sided_smoothing_caps_the_optimal_discriminator_at_one_minus_epsilon():
    real, fake = LabelSmoothing(smoothing=0.1).discriminator_labels(torch.ones(4), torch.zeros(4), module=None)
    assert real.tolist() == pytest.approx([0.9] * 4) and fake.tolist() == [0.0] * 4
    p = torch.logspace(-6, 6, 25, dtype=torch.float64)  # from no data to only data, against q = 1
    d_star = optimal_discriminator(p, torch.ones_like(p), real[0].item(), fake[0].item())
    assert d_star.max() < 0.9 and d_star.max() == pytest.approx(0.9, abs=1e-5)


def test_flipped_labels_keep_the_optimal_discriminator_within_f_and_one_minus_f():
    torch.manual_seed(0)
    n = 400_000
    real, fake = NoisyLabels(flip_probability=0.05).discriminator_labels(torch.ones(n), torch.zeros(n), module=None)
    # the expected targets of 5% flips are 0.95 and 0.05 (three standard errors: 0.001)
    assert real.mean().item() == pytest.approx(0.95, abs=1e-3) and fake.mean().item() == pytest.approx(0.05, abs=1e-3)
    p = torch.logspace(-6, 6, 25, dtype=torch.float64)
    d_star = optimal_discriminator(p, torch.ones_like(p), 0.95, 0.05)
    assert d_star.min() > 0.05 and d_star.max() < 0.95


def test_late_mean_averages_the_steps_after_the_given_one():
    assert late_mean([(10, 1.0), (20, 2.0), (30, 4.0)], after=10) == pytest.approx(3.0)
    assert torch.isnan(torch.tensor(late_mean([(10, 1.0)], after=10)))
