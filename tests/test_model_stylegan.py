"""StyleGAN2 generator and discriminator: shapes, demodulation, truncation in w, style mixing, noise, conditioning."""

import pytest
import torch
import torch.nn.functional as F
from hydra.utils import instantiate

from ganlab.models.conditioning import (
    ProjectionDiscriminator,
)
from ganlab.models.stylegan import (
    ModulatedConv2d,
    StyleGANDiscriminator,
    StyleGANGenerator,
    _downsample,
    _upsample,
)
from ganlab.tricks.layers import weight_layers
from tests.helpers import fit

LATENT, W_DIM, WIDTH = 16, 16, 8
TINY = (
    "model.latent_dim=16",
    "model.generator.width=8",
    "model.generator.w_dim=16",
    "model.discriminator.width=8",
)


def small_generator(**kwargs) -> StyleGANGenerator:
    args = {"latent_dim": LATENT, "channels": 1, "resolution": 28, "width": WIDTH, "w_dim": W_DIM, **kwargs}
    return StyleGANGenerator(**args)


def set_noise_strength(gen: StyleGANGenerator, value: float) -> None:
    with torch.no_grad():
        for name, parameter in gen.named_parameters():
            if name.endswith("noise_strength"):
                parameter.fill_(value)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize(("resolution", "num_layers"), [(28, 6), (32, 8), (64, 10)])
def test_shapes(resolution, num_layers, channels):
    torch.manual_seed(0)
    gen = small_generator(channels=channels, resolution=resolution)
    disc = StyleGANDiscriminator(channels=channels, resolution=resolution, width=WIDTH)
    images = gen(gen.sample_latent(3))
    assert images.shape == (3, channels, resolution, resolution)
    assert gen.num_layers == num_layers  # one conv at the base, two per doubling, and the last toRGB
    assert disc.features(images).shape == (3, disc.feature_dim)
    assert disc(images).shape == (3, 1)


@pytest.mark.parametrize("resolution", [36, 100])
def test_unsupported_resolution_is_refused(resolution):
    with pytest.raises(ValueError, match=rf"cannot build resolution {resolution}.*dataset\.resolution"):
        small_generator(resolution=resolution)
    with pytest.raises(ValueError, match=rf"cannot build resolution {resolution}"):
        StyleGANDiscriminator(resolution=resolution, width=WIDTH)


def test_channels_are_capped_by_width_and_halve_above_64_px():
    gen = StyleGANGenerator(latent_dim=LATENT, resolution=256, width=32, w_dim=W_DIM)
    # sides 8, 16, ..., 256, two layers each
    assert [layer.conv.weight.shape[0] for layer in gen.layers] == [32] * 8 + [16, 16, 8, 8]


def test_output_is_in_minus_one_one():
    torch.manual_seed(0)
    gen = small_generator().eval()
    with torch.no_grad():  # blow up the toRGB layers so the summed RGB lies far outside [-1, 1]
        for to_rgb in gen.to_rgb:
            to_rgb.weight.mul_(1000.0)
    images = gen(torch.randn(4, LATENT))
    assert images.min() >= -1.0 and images.max() <= 1.0
    assert images.min() < -0.99 and images.max() > 0.99


def test_bf16_autocast_trains_both_networks():
    # ganlab trains with trainer.precision=bf16-mixed; PyTorch's antialiased resize has no bf16 CPU kernel
    torch.manual_seed(0)
    gen = small_generator(num_classes=3)
    disc = StyleGANDiscriminator(channels=1, resolution=28, width=WIDTH)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        scores = disc(gen(torch.randn(4, LATENT), label=torch.tensor([0, 1, 2, 0])))
    scores.float().sum().backward()
    assert scores.shape == (4, 1) and torch.isfinite(scores).all()
    assert all(torch.isfinite(p.grad).all() for p in gen.mapping_network.parameters())


def test_resampling_uses_stylegan2s_1_3_3_1_filter():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    taps = torch.tensor([1.0, 3.0, 3.0, 1.0], dtype=torch.float64)
    kernel = (torch.outer(taps, taps) / 64).expand(3, 1, 4, 4)
    # down: filter, then every other pixel; up: zeros between pixels, then the filter with gain 4
    down = F.conv2d(F.pad(x, (1, 1, 1, 1)), kernel, stride=2, groups=3)
    zeros_between = torch.zeros(2, 3, 16, 16, dtype=torch.float64)
    zeros_between[..., ::2, ::2] = x
    up = F.conv2d(F.pad(zeros_between, (2, 1, 2, 1)), 4 * kernel, groups=3)
    # equal away from the border, where StyleGAN2 pads with zeros and the interpolation renormalises
    torch.testing.assert_close(_downsample(x)[..., 1:-1, 1:-1], down[..., 1:-1, 1:-1])
    torch.testing.assert_close(_upsample(x)[..., 2:-2, 2:-2], up[..., 2:-2, 2:-2])


# --- modulated convolution -------------------------------------------------------------------------------------------


def _strong_styles(conv: ModulatedConv2d, n: int) -> torch.Tensor:
    """``n`` w whose styles s = A(w) vary widely (std about 7): without demodulation so would the channels' scales."""
    with torch.no_grad():
        conv.affine.weight.mul_(5.0)
    return torch.randn(n, W_DIM)


def test_demodulated_output_has_unit_std_per_sample_and_channel():
    torch.manual_seed(0)
    conv = ModulatedConv2d(16, 8, 3, W_DIM)
    w = _strong_styles(conv, 4)
    x = torch.randn(4, 16, 66, 66)
    with torch.no_grad():
        std = conv(x, w)[:, :, 1:-1, 1:-1].std(dim=(2, 3))  # interior: every tap sees a unit-variance input
        conv.demodulate = False
        undemodulated = conv(x, w)[:, :, 1:-1, 1:-1].std(dim=(2, 3))
    assert std.shape == (4, 8)
    assert torch.all((std > 0.9) & (std < 1.1)), std
    # the same weights and styles without demodulation are far from unit variance: the test can tell them apart
    assert undemodulated.max() > 2.0 or undemodulated.min() < 0.5


@pytest.mark.parametrize("demodulate", [False, True])
def test_modulation_matches_explicitly_scaled_weights(demodulate):
    torch.manual_seed(0)
    conv = ModulatedConv2d(5, 3, 3, W_DIM, demodulate=demodulate)
    with torch.no_grad():
        conv.bias.normal_()
    w = _strong_styles(conv, 3)
    x = torch.randn(3, 5, 7, 7)
    expected = []
    for i in range(3):  # one ordinary convolution per sample, weight scaled by its styles along input channels
        weight = conv.weight * conv.affine(w[i])[None, :, None, None]
        if demodulate:
            weight = weight / (weight.square().sum(dim=(1, 2, 3), keepdim=True) + 1e-8).sqrt()
        expected.append(F.conv2d(x[i : i + 1], weight, conv.bias, padding=1))
    torch.testing.assert_close(conv(x, w), torch.cat(expected))


# --- mapping, truncation, style mixing, noise ---------------------------------------------------------------------


def test_w_avg_moves_in_train_mode_only():
    torch.manual_seed(0)
    gen = small_generator(w_avg_beta=0.9, style_mixing_probability=0.0)
    z = torch.randn(8, LATENT)
    gen.eval()
    gen(z)
    assert torch.all(gen.w_avg == 0)
    gen.train()
    gen(z)
    torch.testing.assert_close(gen.w_avg, 0.1 * gen.mapping(z).mean(dim=0))
    before = gen.w_avg.clone()
    gen.eval()
    gen(torch.randn(8, LATENT))
    assert torch.equal(gen.w_avg, before)


def _generator_with_tracked_mean() -> StyleGANGenerator:
    gen = small_generator(w_avg_beta=0.5)
    for _ in range(5):
        gen(torch.randn(16, LATENT))  # train mode: w_avg tracks the mean w
    assert gen.w_avg.abs().sum() > 0
    return gen.eval()


def test_truncation_zero_gives_the_mean_w_for_every_z():
    torch.manual_seed(0)
    gen = _generator_with_tracked_mean()
    gen.truncation = 0.0
    z = torch.randn(6, LATENT)
    assert torch.equal(gen.layer_ws(z), gen.w_avg.expand(6, gen.num_layers, W_DIM))
    images = gen(z)  # noise strengths start at zero: all samples are the one average image
    torch.testing.assert_close(images, images[:1].expand_as(images))


def test_truncation_one_leaves_w_unchanged_and_a_half_halves_the_distance():
    torch.manual_seed(0)
    gen = _generator_with_tracked_mean()
    z = torch.randn(6, LATENT)
    w = gen.mapping(z)[:, None].expand(-1, gen.num_layers, -1)
    gen.truncation = 1.0
    assert torch.equal(gen.layer_ws(z), w)
    gen.truncation = 0.5
    torch.testing.assert_close(gen.layer_ws(z) - gen.w_avg, 0.5 * (w - gen.w_avg))


def test_truncation_does_not_touch_z():
    gen = small_generator()
    gen.truncation = 0.5
    z = gen.sample_latent(500, rng=torch.Generator().manual_seed(1))
    torch.testing.assert_close(z, torch.randn(500, LATENT, generator=torch.Generator().manual_seed(1)))
    assert z.abs().max() > 2.0


@pytest.mark.parametrize("crossover", [1, 3, 5])
def test_mix_styles_switches_from_w1_to_w2_at_the_crossover_layer(crossover):
    gen = small_generator()
    w1, w2 = torch.randn(4, W_DIM), torch.randn(4, W_DIM)
    ws = gen.mix_styles(w1, w2, crossover)
    assert ws.shape == (4, gen.num_layers, W_DIM)
    for layer in range(gen.num_layers):
        assert torch.equal(ws[:, layer], w1 if layer < crossover else w2)


def test_synthesis_follows_w2_only_from_the_crossover_on():
    torch.manual_seed(0)
    gen = small_generator().eval()
    w1, w2, other_w2 = torch.randn(3, 2, W_DIM).unbind(0)
    with torch.no_grad():
        for crossover in range(1, gen.num_layers):
            a = gen.synthesize(gen.mix_styles(w1, w2, crossover))
            b = gen.synthesize(gen.mix_styles(w1, other_w2, crossover))
            assert (a - b).abs().max() > 1e-3, crossover
        last = gen.num_layers  # no layer left for w2
        torch.testing.assert_close(
            gen.synthesize(gen.mix_styles(w1, w2, last)), gen.synthesize(gen.mix_styles(w1, other_w2, last))
        )


@pytest.mark.parametrize(("probability", "mixed"), [(1.0, True), (0.0, False)])
def test_training_mode_mixes_styles_with_the_given_probability(probability, mixed):
    torch.manual_seed(0)
    gen = small_generator(style_mixing_probability=probability)
    z = torch.randn(4, LATENT)
    ws = gen.layer_ws(z)
    assert torch.equal(ws[:, 0], gen.mapping(z))  # the first layer always follows z
    assert (not torch.equal(ws[:, -1], ws[:, 0])) == mixed
    assert torch.equal(gen.eval().layer_ws(z)[:, -1], gen.mapping(z))  # never in eval mode


def test_noise_changes_the_output_only_with_nonzero_strength():
    torch.manual_seed(0)
    gen = small_generator().eval()
    z = torch.randn(2, LATENT)
    with torch.no_grad():
        torch.testing.assert_close(gen(z), gen(z))  # strengths start at zero
        set_noise_strength(gen, 0.5)
        assert (gen(z) - gen(z)).abs().max() > 1e-3


def test_conditional_generator_follows_its_label():
    torch.manual_seed(0)
    gen = small_generator(num_classes=10).eval()
    assert gen.condition_keys == ("label",)
    z = torch.randn(1, LATENT).expand(4, -1)
    with torch.no_grad():
        images = gen(z, label=torch.tensor([0, 0, 1, 2]))
    torch.testing.assert_close(images[0], images[1])
    assert (images[0] - images[2]).abs().max() > 1e-3
    assert (images[2] - images[3]).abs().max() > 1e-3
    with pytest.raises(ValueError, match="pass label"):
        gen(z)


# --- discriminator -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("batch", [1, 3, 6, 8])
def test_discriminator_takes_batches_that_are_no_multiple_of_the_group_size(batch):
    torch.manual_seed(0)
    disc = StyleGANDiscriminator(channels=1, resolution=28, width=WIDTH, mbstd_group_size=4)
    assert disc(torch.randn(batch, 1, 28, 28)).shape == (batch, 1)


def test_minibatch_stddev_makes_a_score_depend_on_the_batch():
    torch.manual_seed(0)
    disc = StyleGANDiscriminator(channels=1, resolution=28, width=WIDTH, mbstd_group_size=2)
    x = torch.randn(2, 1, 28, 28)
    same = torch.cat([x[:1], x[:1]])  # a collapsed pair: zero standard deviation
    assert (disc(x)[0] - disc(same)[0]).abs() > 1e-6


def test_first_and_last_weight_layers_are_from_rgb_and_head():
    # packing, minibatch_stddev and multi_generator rebuild exactly these two layers
    disc = StyleGANDiscriminator(channels=3, resolution=32, width=WIDTH)
    layers = weight_layers(disc)
    assert layers[0][1] is disc.from_rgb and disc.from_rgb.in_channels == 3
    assert layers[-1][1] is disc.head and disc.head.in_features == disc.feature_dim


def test_discriminator_supports_gradient_penalties():
    torch.manual_seed(0)
    disc = StyleGANDiscriminator(channels=1, resolution=28, width=WIDTH)
    x = torch.randn(4, 1, 28, 28, requires_grad=True)
    (grad,) = torch.autograd.grad(disc(x).sum(), x, create_graph=True)
    grad.square().sum().backward()  # R1 differentiates through the gradient
    for _, layer in weight_layers(disc):
        assert torch.isfinite(layer.weight.grad).all() and layer.weight.grad.abs().sum() > 0


# --- config --------------------------------------------------------------------------------------------------------


def test_config_builds_both_networks_for_mnist(compose_train):
    cfg = compose_train("model=stylegan", "dataset=mnist")
    gen = instantiate(cfg.model.generator)
    assert isinstance(gen, StyleGANGenerator) and gen.num_classes == 0 and gen.latent_dim == 128
    assert gen(gen.sample_latent(2)).shape == (2, 1, 28, 28)
    assert isinstance(instantiate(cfg.model.discriminator), StyleGANDiscriminator)


def test_config_conditioning_reaches_both_networks(compose_train):
    cfg = compose_train("model=stylegan", "dataset=mnist", "model.conditioning=projection", *TINY)
    gen = instantiate(cfg.model.generator)
    assert gen.num_classes == 10 and gen.condition_keys == ("label",)
    assert isinstance(instantiate(cfg.model.discriminator), ProjectionDiscriminator)


def test_a_tiny_training_run_ends_with_finite_weights(compose_train):
    cfg = compose_train(
        "model=stylegan", "dataset=mnist", *TINY, "generator_steps=3", "dataset.datamodule.batch_size=8"
    )
    _, module = fit(cfg)
    assert module.generator_steps == 3
    assert all(torch.isfinite(p).all() for p in module.parameters())
    assert module.generator.w_avg.abs().sum() > 0  # trained in train mode: the mean w was tracked
