"""The latent_space lesson's pieces: the midpoints' norms, the cross-fade's even steps, the arithmetic's groups."""

from __future__ import annotations

import math

import pytest
import torch

from ganlab.lessons.latent_space import above_chance, arithmetic_triples, ink, midpoint_norms, step_lengths


def test_the_linear_midpoint_of_two_gaussian_codes_is_1_over_sqrt2_as_long_and_the_spherical_one_keeps_the_norm():
    a, b = torch.randn(2, 2000, 100, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    ratios = midpoint_norms(a, b)
    # in 100 dimensions independent codes are nearly orthogonal: |a + b| / 2 = |a| cos(45 deg)
    assert float(ratios["linear"].median()) == pytest.approx(1 / math.sqrt(2), abs=0.01)
    assert float(ratios["spherical"].median()) == pytest.approx(1.0, abs=0.01)
    same = midpoint_norms(a[:5], a[:5])  # a walk from a code to itself stays there on both paths
    assert torch.allclose(same["linear"], torch.ones(5, dtype=torch.float64))


def test_a_pixel_cross_fade_moves_the_image_by_equal_steps():
    ends = torch.rand(3, 2, 1, 4, 4, generator=torch.Generator().manual_seed(1)) * 2 - 1
    t = torch.linspace(0, 1, 7).view(1, -1, 1, 1, 1)
    fade = torch.lerp(ends[:, :1], ends[:, 1:], t)
    steps = step_lengths(fade)
    assert steps.shape == (3, 6)
    whole = (ends[:, 1] - ends[:, 0]).flatten(1).norm(dim=1)
    torch.testing.assert_close(steps, (whole / 6)[:, None].expand(3, 6))


def test_the_arithmetic_takes_the_boldest_and_thinnest_of_each_class_and_skips_scarce_ones():
    labels = torch.tensor([0, 0, 0, 0, 1, 1, 1, 2])
    inks = torch.tensor([0.1, 0.4, 0.3, 0.2, 0.5, 0.2, 0.3, 0.9])
    triples = arithmetic_triples(labels, inks, group_size=2, num_classes=3)
    # class 0 has 4 members (bold and thin groups of 2); class 1 has 3 (too few to split); class 2 has 1
    assert triples == [(0, 1, [[1, 2], [3, 0], [6, 5]])]
    assert ink(-torch.ones(2, 1, 3, 3)).tolist() == [0.0, 0.0] and ink(torch.ones(1, 1, 2, 2)).item() == 1.0


def test_above_chance_asks_for_the_given_number_of_binomial_standard_errors():
    # 100 trials at chance 0.1: one standard error is 0.03
    assert above_chance(0.2, 0.1, 100, 3.0) and not above_chance(0.18, 0.1, 100, 3.0)
    assert not above_chance(1.0, 0.5, 0, 3.0)  # nothing tried is nothing shown
