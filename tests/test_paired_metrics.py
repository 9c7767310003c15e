"""PSNR and SSIM of translations: hand-computed values, the baseline, and the suite's pairing."""

import math

import pytest
import torch

from ganlab.errors import GanlabError
from ganlab.metrics import PairedImageQuality
from ganlab.metrics.paired import baseline, psnr_per_image, ssim_per_image
from ganlab.metrics.suite import MetricSuite


def test_psnr_of_a_uniform_error_is_ten_log_of_one_over_its_square():
    # -1..1 images are compared in 0..1: 0 -> 0.5 and 1 -> 1.0, an error of 0.5 everywhere: MSE 0.25, PSNR 10 log10(4)
    output, target = torch.zeros(2, 1, 8, 8), torch.ones(2, 1, 8, 8)
    torch.testing.assert_close(psnr_per_image(output, target), torch.full((2,), 10 * math.log10(4)))
    assert psnr_per_image(target, target).tolist() == pytest.approx([100.0, 100.0])  # exact copies: capped at 100 dB


def test_ssim_of_constant_images_is_the_luminance_term():
    # no variance anywhere: SSIM = (2ab + c1) / (a^2 + b^2 + c1), c1 = 0.01^2, with a = 0.5, b = 1 in [0, 1]
    output, target = torch.zeros(1, 1, 16, 16), torch.ones(1, 1, 16, 16)
    expected = (2 * 0.5 * 1.0 + 1e-4) / (0.25 + 1.0 + 1e-4)
    torch.testing.assert_close(ssim_per_image(output, target), torch.tensor([expected]))
    noisy = torch.rand(1, 1, 16, 16) * 2 - 1
    torch.testing.assert_close(ssim_per_image(noisy, noisy), torch.ones(1))


def test_baseline_upsamples_bicubically_and_matches_channels():
    low, target = torch.rand(2, 1, 7, 7) * 2 - 1, torch.zeros(2, 3, 28, 28)
    trivial = baseline(low, target)
    assert trivial.shape == (2, 3, 28, 28) and trivial.abs().max() <= 1
    torch.testing.assert_close(trivial[:, 0], trivial[:, 2])  # grey repeated
    same = torch.rand(2, 3, 28, 28)
    assert torch.equal(baseline(same, target), same)  # same size and channels: the input itself


def test_paired_quality_averages_per_image_values_over_batches():
    metric = PairedImageQuality()
    target = torch.ones(4, 1, 16, 16)
    metric.update(torch.zeros(2, 1, 16, 16), source=torch.zeros(2, 1, 16, 16), target=target[:2])
    metric.update(target[2:].clone(), source=torch.zeros(2, 1, 16, 16), target=target[2:])
    values = metric.compute()
    assert float(values["psnr"]) == pytest.approx((2 * 10 * math.log10(4) + 2 * 100) / 4)
    assert float(values["psnr_baseline"]) == pytest.approx(10 * math.log10(4))
    assert float(values["ssim"]) > float(values["ssim_baseline"])


def test_the_suite_feeds_paired_metrics_the_examples_and_refuses_samples_without_them():
    suite = MetricSuite({"psnr_ssim": PairedImageQuality()})
    examples = {"source": torch.zeros(3, 1, 8, 8), "real": torch.ones(3, 1, 8, 8)}
    suite.update(torch.ones(3, 1, 8, 8), examples)
    assert suite.compute()["psnr"] == pytest.approx(100.0)
    with pytest.raises(GanlabError, match=r"compares translations with their targets.*paired dataset"):
        suite.update(torch.ones(3, 1, 8, 8))
