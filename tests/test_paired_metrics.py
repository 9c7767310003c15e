"""Translation metrics: PSNR/SSIM by hand, the baseline, the suite's pairing, LPIPS offline, the cycle error."""

import math

import pytest
import torch
from torch import nn

from ganlab.data.translation import TranslationDataModule, paired_set
from ganlab.errors import GanlabError
from ganlab.losses import LeastSquaresLoss
from ganlab.metrics import CycleReconstruction, PairedImageQuality, PerceptualDistance
from ganlab.metrics.paired import baseline, psnr_per_image, ssim_per_image
from ganlab.metrics.suite import MetricSuite
from ganlab.models.cyclegan import CycleGANDiscriminator, CycleGANGenerator
from ganlab.models.pix2pix import UNetGenerator
from ganlab.module import GANModule


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


def test_lpips_without_its_backbone_weights_offline_refuses_with_one_line(offline_hub):
    with pytest.raises(GanlabError, match=r"AlexNet weights for metrics=\[lpips\] are not in .*leave lpips out") as err:
        PerceptualDistance()
    assert "\n" not in str(err.value)


class ShiftBy(nn.Module):
    def __init__(self, amount: float) -> None:
        super().__init__()
        self.amount = amount

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.amount


class FewPairs(TranslationDataModule):
    def setup(self, stage: str | None = None) -> None:
        torch.manual_seed(0)
        self.train_set = self.test_set = paired_set(torch.rand(12, 1, 28, 28) - 0.5, torch.rand(12, 1, 28, 28) - 0.5)


def translation_module(generator) -> GANModule:
    return GANModule(
        generator=generator,
        discriminator=CycleGANDiscriminator(1, 1, 28, width=4),
        loss=LeastSquaresLoss(),
        generator_optimizer=torch.optim.Adam,
        discriminator_optimizer=torch.optim.Adam,
    )


def test_cycle_reconstruction_is_the_mean_round_trip_error_of_each_domain():
    generator = CycleGANGenerator(1, 1, 28, width=4, n_blocks=1)
    module = translation_module(generator)
    generator.a_to_b, generator.b_to_a = nn.Identity(), nn.Identity()
    found = CycleReconstruction(num_examples=10, batch_size=4).run(module, FewPairs(), seed=0)
    assert found.values == {"cycle_l1_a": 0.0, "cycle_l1_b": 0.0}
    generator.a_to_b, generator.b_to_a = ShiftBy(0.25), ShiftBy(-0.5)  # a round trip moves every pixel by -0.25
    found = CycleReconstruction(num_examples=10, batch_size=4).run(module, FewPairs(), seed=0)
    assert found.values == pytest.approx({"cycle_l1_a": 0.25, "cycle_l1_b": 0.25})


def test_cycle_reconstruction_needs_a_two_way_model():
    module = translation_module(UNetGenerator(1, 1, 28, width=4))
    with pytest.raises(GanlabError, match="translates both ways"):
        CycleReconstruction().run(module, FewPairs(), seed=0)
