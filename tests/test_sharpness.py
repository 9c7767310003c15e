"""The sharpness measures on images whose answers are known: white noise, its blurred copy, gratings, constants."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from ganlab.errors import GanlabError
from ganlab.metrics import Sharpness
from ganlab.metrics.sharpness import high_frequency_energy, laplacian_variance

NOISE_STD = 0.1  # in grey levels
BINOMIAL = torch.outer(torch.tensor([1.0, 2.0, 1.0]), torch.tensor([1.0, 2.0, 1.0])) / 16


def noise_images(num: int = 4, size: int = 256) -> torch.Tensor:
    """Grey levels 0.5 + N(0, NOISE_STD^2), as images in [-1, 1]."""
    grey = 0.5 + NOISE_STD * torch.randn(num, 1, size, size, generator=torch.Generator().manual_seed(0))
    return 2 * grey - 1


def blurred(images: torch.Tensor) -> torch.Tensor:
    return F.conv2d(images, BINOMIAL.view(1, 1, 3, 3))


def test_white_noise_has_twenty_times_its_variance():
    # Var[sum_ij L_ij n_ij] = s^2 sum L_ij^2 = s^2 (16 + 4)
    values = laplacian_variance(noise_images())
    torch.testing.assert_close(values, torch.full((4,), 20 * NOISE_STD**2), rtol=0.02, atol=0)


def test_a_blurred_copy_scores_lower_by_the_blur_kernels_factor():
    # after the binomial blur K the Laplacian sees the kernel L * K, whose squares sum to 13/32 (not 20)
    laplacian_kernel = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])
    composed = F.conv2d(F.pad(laplacian_kernel.view(1, 1, 3, 3), (2, 2, 2, 2)), BINOMIAL.view(1, 1, 3, 3))
    assert composed.pow(2).sum().item() == pytest.approx(13 / 32)
    sharp, soft = laplacian_variance(noise_images()), laplacian_variance(blurred(noise_images()))
    torch.testing.assert_close(soft, torch.full((4,), 13 / 32 * NOISE_STD**2), rtol=0.03, atol=0)
    torch.testing.assert_close(soft / sharp, torch.full((4,), 13 / 640), rtol=0.04, atol=0)


def grating(cycles_per_pixel: float, size: int = 64) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float32)
    return (0.5 * torch.cos(2 * math.pi * cycles_per_pixel * x)).expand(1, 1, size, size).clone()


def test_a_grating_puts_all_its_energy_on_one_side_of_the_cutoff():
    assert high_frequency_energy(grating(24 / 64)).item() == pytest.approx(1.0)  # 0.375 > 0.25
    assert high_frequency_energy(grating(8 / 64)).item() == pytest.approx(0.0, abs=1e-6)  # 0.125 < 0.25
    # white noise spreads its energy evenly: the share is the area of the spectrum beyond radius 0.25
    area_outside = 1 - math.pi * 0.25**2
    assert high_frequency_energy(noise_images()).mean().item() == pytest.approx(area_outside, abs=0.01)


def test_a_constant_image_has_no_sharpness_at_all():
    flat = torch.full((2, 3, 16, 16), 0.3)
    assert laplacian_variance(flat).tolist() == [0.0, 0.0]
    assert high_frequency_energy(flat).tolist() == [0.0, 0.0]


class NoiseData:
    """A data module stand-in whose real images are white noise."""

    def real_samples(self, num: int, split: str = "test") -> torch.Tensor:
        return noise_images(num, size=64)


def test_the_metric_scores_real_images_as_their_own_ratio_one_and_blur_far_below():
    metric = Sharpness()
    metric.prepare(NoiseData(), 4, None)
    metric.update(noise_images(4, size=64)[:2])
    metric.update(noise_images(4, size=64)[2:])
    values = metric.compute()
    assert values["laplacian_var_ratio"].item() == pytest.approx(1.0, rel=1e-6)
    assert values["hf_energy"].item() == pytest.approx(values["hf_energy_real"].item(), rel=1e-6)
    metric.reset()
    metric.update(blurred(noise_images(4, size=64)))
    values = metric.compute()
    assert values["laplacian_var_ratio"].item() == pytest.approx(13 / 640, rel=0.1)
    # the binomial blur's frequency response is cos^2(pi f_x) cos^2(pi f_y): the share of blurred white noise's
    # energy beyond radius 0.25 is that of cos^4 cos^4 over the spectrum's square
    f = torch.linspace(-0.5, 0.5, 1001)
    fx, fy = torch.meshgrid(f, f, indexing="ij")
    power = torch.cos(math.pi * fx) ** 4 * torch.cos(math.pi * fy) ** 4
    expected = (power * ((fx**2 + fy**2).sqrt() > 0.25)).sum() / power.sum()
    assert values["hf_energy"].item() == pytest.approx(expected.item(), abs=0.02)


def test_bad_settings_and_inputs_are_refused():
    with pytest.raises(GanlabError, match=r"cutoff=0\.7"):
        Sharpness(cutoff=0.7)
    with pytest.raises(GanlabError, match=r"\(N, C, H, W\) images"):
        laplacian_variance(torch.zeros(5, 2))
    with pytest.raises(GanlabError, match="call prepare"):
        Sharpness().compute()
