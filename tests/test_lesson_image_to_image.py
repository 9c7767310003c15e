"""The measurements of lesson ``image_to_image``: the ink that tells thin from thick digits, change and direction."""

from __future__ import annotations

import pytest
import torch

from ganlab.data.mnist_tasks import dilate, erode
from ganlab.lessons.image_to_image import ink, mean_abs_change, toward


def test_ink_is_the_mean_brightness_in_zero_one():
    assert ink(-torch.ones(2, 1, 4, 4)).tolist() == [0.0, 0.0]  # a blank page
    assert ink(torch.ones(1, 3, 4, 4)).item() == 1.0
    half = torch.full((1, 1, 4, 4), -1.0)
    half[..., :2, :] = 1.0
    assert ink(half).item() == pytest.approx(0.5)


def test_ink_orders_the_thickness_domains():
    digit = torch.full((1, 1, 12, 12), -1.0)
    digit[..., 2:10, 5:7] = 1.0  # a stroke two pixels wide
    thin, thick = erode(digit, 3, "cross"), dilate(digit, 3, "cross")
    assert ink(thin) < ink(digit) < ink(thick)


def test_change_is_the_mean_absolute_pixel_difference():
    before = torch.zeros(2, 1, 2, 2)
    after = torch.tensor([[[[1.0, 1.0], [1.0, 1.0]]], [[[0.0, 0.0], [0.0, -1.0]]]])
    assert mean_abs_change(before, after) == pytest.approx((1.0 + 0.25) / 2)


def test_toward_asks_whether_the_distance_to_the_target_shrank():
    assert toward(0.04, 0.15, 0.2) and not toward(0.04, 0.5, 0.2) and not toward(0.04, 0.04, 0.2)
