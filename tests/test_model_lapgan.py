"""LAPGAN: the Laplacian pyramid, coarse-to-fine sampling, per-level training on real coarse images, conditioning."""

import pytest
import torch
from hydra.utils import instantiate

from ganlab.errors import GanlabError
from ganlab.models.conditioning import (
    AuxiliaryClassifierDiscriminator,
    InputConcatDiscriminator,
    conditional_discriminator,
)
from ganlab.models.lapgan import (
    LAPGANDiscriminator,
    LAPGANGenerator,
    downsample,
    gaussian_pyramid,
    laplacian_pyramid,
    level_sides,
    reconstruct,
    stack_levels,
    unstack_levels,
    upsample,
)
from ganlab.module import GANModule
from tests.helpers import fit

LATENT, WIDTH, HIDDEN = 8, 4, 16
TINY = (
    "model.latent_dim=8",
    "model.generator.width=4",
    "model.generator.coarse_hidden=16",
    "model.discriminator.width=4",
    "model.discriminator.coarse_hidden=16",
)


def small_generator(**kwargs) -> LAPGANGenerator:
    args = {"latent_dim": LATENT, "channels": 1, "resolution": 28, "width": WIDTH, "coarse_hidden": HIDDEN, **kwargs}
    return LAPGANGenerator(**args)


def small_discriminator(**kwargs) -> LAPGANDiscriminator:
    return LAPGANDiscriminator(**{"channels": 1, "resolution": 28, "width": WIDTH, "coarse_hidden": HIDDEN, **kwargs})


def silence_residuals(gen: LAPGANGenerator) -> None:
    """Zero each residual generator's output layer: G_k(z_k, l_k) = 0 for every input."""
    with torch.no_grad():
        for residual in gen.residuals:
            residual[-1].weight.zero_()
            residual[-1].bias.zero_()


# --- the pyramid ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("resolution", "levels"), [(28, 3), (32, 4), (64, 5), (32, 1)])
@pytest.mark.parametrize("channels", [1, 3])
def test_laplacian_pyramid_decomposes_and_reconstructs_exactly(resolution, levels, channels):
    torch.manual_seed(0)
    image = torch.randn(2, channels, resolution, resolution, dtype=torch.float64)
    pyramid = laplacian_pyramid(image, levels)
    assert [level.shape[-1] for level in pyramid] == level_sides(resolution, levels)
    torch.testing.assert_close(pyramid[-1], gaussian_pyramid(image, levels)[-1], rtol=0, atol=0)
    torch.testing.assert_close(reconstruct(pyramid), image, rtol=0, atol=1e-12)


def test_downsampling_blurs_with_the_binomial_kernel_and_keeps_constants():
    constant = torch.full((1, 2, 8, 8), 0.3)
    torch.testing.assert_close(downsample(constant), torch.full((1, 2, 4, 4), 0.3))
    torch.testing.assert_close(upsample(constant), torch.full((1, 2, 16, 16), 0.3))
    impulse = torch.zeros(1, 1, 8, 8)
    impulse[0, 0, 4, 4] = 1.0
    # the output pixel on the impulse takes the kernel's centre weight (6/16)^2; its neighbour, 2 px away, (6/16)(1/16)
    torch.testing.assert_close(downsample(impulse)[0, 0, 2, 2], torch.tensor(36 / 256))
    torch.testing.assert_close(downsample(impulse)[0, 0, 1, 2], torch.tensor(6 / 256))
    assert downsample(impulse).sum().item() == pytest.approx(1 / 4)  # mass is kept, spread over 1/4 as many pixels


def test_stacked_levels_unstack_exactly():
    torch.manual_seed(0)
    levels = gaussian_pyramid(torch.randn(3, 2, 32, 32), 3)
    stacked = stack_levels(levels)
    assert stacked.shape == (3, 6, 32, 32)
    for original, recovered in zip(levels, unstack_levels(stacked, 3), strict=True):
        assert torch.equal(original, recovered)


@pytest.mark.parametrize(("resolution", "levels"), [(28, 4), (30, 3), (16, 4), (28, 0)])
def test_a_resolution_the_pyramid_cannot_halve_is_refused(resolution, levels):
    with pytest.raises(GanlabError, match=r"lower model\.levels|at least one level"):
        small_generator(resolution=resolution, levels=levels)


# --- generator -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize(("resolution", "levels"), [(28, 3), (32, 3), (64, 4)])
def test_shapes(resolution, levels, channels):
    torch.manual_seed(0)
    gen = small_generator(channels=channels, resolution=resolution, levels=levels)
    disc = small_discriminator(channels=channels, resolution=resolution, levels=levels)
    sides = level_sides(resolution, levels)
    assert gen.latent_dim == LATENT + sum(side**2 for side in sides[:-1])  # z_K, then one noise plane per finer level
    z = gen.sample_latent(3)
    images = gen(z)
    assert images.shape == (3, channels, resolution, resolution)
    assert images.min() >= -1 and images.max() <= 1
    real = torch.rand(3, channels, resolution, resolution) * 2 - 1
    fake = gen(z, real=real)
    assert fake.shape == gen.discriminator_view({"real": real}).shape == (3, channels * levels, resolution, resolution)
    assert disc.features(fake).shape == (3, disc.feature_dim)
    assert disc(fake).shape == (3, levels)


def test_sampling_goes_coarse_to_fine_through_the_residual_generators():
    torch.manual_seed(0)
    gen = small_generator().eval()
    z = gen.sample_latent(2)
    with torch.no_grad():
        coarse = gen.coarse(z[:, :LATENT]).view(2, 1, 7, 7)
        detailed = gen(z)
        silence_residuals(gen)
        smooth = gen(z)
    torch.testing.assert_close(smooth, upsample(upsample(coarse)).clamp(-1, 1))
    assert (detailed - smooth).abs().max() > 1e-3  # the residuals add the detail


def test_each_levels_noise_plane_reaches_only_its_level():
    torch.manual_seed(0)
    gen = small_generator().eval()
    z = gen.sample_latent(1)
    finest_noise = slice(LATENT + 14 * 14, None)  # z = [z_K (8); 14x14 plane of level 1; 28x28 plane of level 0]
    moved = z.clone()
    moved[:, finest_noise] += 1.0
    real = torch.rand(1, 1, 28, 28) * 2 - 1
    with torch.no_grad():
        before = unstack_levels(gen(z, real=real), 3)
        after = unstack_levels(gen(moved, real=real), 3)
    assert (before[0] - after[0]).abs().max() > 1e-4
    torch.testing.assert_close(before[1], after[1], rtol=0, atol=0)
    torch.testing.assert_close(before[2], after[2], rtol=0, atol=0)


def test_training_output_builds_every_level_on_the_real_batchs_coarser_image():
    torch.manual_seed(0)
    gen = small_generator()
    silence_residuals(gen)
    z = gen.sample_latent(4)
    real = torch.rand(4, 1, 28, 28) * 2 - 1
    levels = unstack_levels(gen(z, real=real), 3)
    real_levels = gaussian_pyramid(real, 3)
    # with G_k = 0 the fake at level k is exactly l_k = u(I_{k+1}) of the real image
    torch.testing.assert_close(levels[0], upsample(real_levels[1]))
    torch.testing.assert_close(levels[1], upsample(real_levels[2]))
    torch.testing.assert_close(levels[2], gen.coarse(z[:, :LATENT]).view(4, 1, 7, 7))  # the coarse GAN ignores real
    torch.testing.assert_close(unstack_levels(gen.discriminator_view({"real": real}), 3), real_levels)


def test_each_level_plays_its_own_game():
    torch.manual_seed(0)
    gen, disc = small_generator(), small_discriminator()
    z, real = gen.sample_latent(4), torch.rand(4, 1, 28, 28) * 2 - 1
    owners = [gen.residuals[0], gen.residuals[1], gen.coarse]
    for level, owner in enumerate(owners):
        gen.zero_grad()
        disc(gen(z, real=real))[:, level].sum().backward()
        for network in owners:
            grads = [p.grad for p in network.parameters() if p.grad is not None]
            moved = sum(float(g.abs().sum()) for g in grads)
            assert (moved > 0) == (network is owner), f"D_{level}'s score moved another level's generator"


def test_a_levels_score_sees_only_that_level():
    torch.manual_seed(0)
    disc = small_discriminator()
    stacked = stack_levels(gaussian_pyramid(torch.rand(2, 1, 28, 28), 3))
    changed = stacked.clone()
    changed[:, 0] += 0.5  # level 0 only
    before, after = disc(stacked), disc(changed)
    assert (before[:, 0] - after[:, 0]).abs().max() > 1e-6
    torch.testing.assert_close(before[:, 1:], after[:, 1:], rtol=0, atol=0)


# --- conditioning --------------------------------------------------------------------------------------------------


def test_conditional_generator_uses_its_label_at_every_level():
    torch.manual_seed(0)
    gen = small_generator(num_classes=10).eval()
    assert gen.condition_keys == ("real", "label")
    z = gen.sample_latent(1).expand(2, -1)
    real = torch.rand(1, 1, 28, 28).expand(2, -1, -1, -1)
    labels = torch.tensor([0, 5])
    with torch.no_grad():
        samples = gen(z, label=labels)
        levels = unstack_levels(gen(z, real=real, label=labels), 3)
    assert (samples[0] - samples[1]).abs().max() > 1e-4
    for level in levels:
        assert (level[0] - level[1]).abs().max() > 1e-4
    with pytest.raises(ValueError, match="pass label"):
        gen(z)


@pytest.mark.parametrize("conditioning", ["concat", "acgan", "projection"])
def test_every_conditioning_wraps_the_per_level_discriminator(conditioning):
    torch.manual_seed(0)
    disc = conditional_discriminator(
        "ganlab.models.lapgan.LAPGANDiscriminator", conditioning, 10, resolution=28, width=WIDTH, coarse_hidden=HIDDEN
    )
    stacked = stack_levels(gaussian_pyramid(torch.rand(4, 1, 28, 28), 3))
    label = torch.tensor([0, 3, 3, 9])
    scores = disc(stacked, label=label)
    assert scores.shape == (4, 3) and torch.isfinite(scores).all()
    if isinstance(disc, InputConcatDiscriminator):
        assert disc.net.convolutional[0][0].in_channels == 11 and disc.net.convolutional[1][0].in_channels == 11
    if isinstance(disc, AuxiliaryClassifierDiscriminator):
        assert disc.class_logits(stacked).shape == (4, 10)
    else:
        assert (disc(stacked, label=(label + 1) % 10) - scores).abs().amax(dim=0).min() > 1e-6  # every level


def test_tricks_that_rebuild_ds_first_or_last_layer_are_refused(compose_train):
    cfg = compose_train("model=lapgan", "dataset=mnist", *TINY, "tricks=[packing]")
    with pytest.raises(GanlabError, match=r"per pyramid level.*drop it from tricks="):
        GANModule.from_config(cfg)


# --- config and training -------------------------------------------------------------------------------------------


def test_config_builds_both_networks_for_mnist(compose_train):
    cfg = compose_train("model=lapgan", "dataset=mnist")
    gen = instantiate(cfg.model.generator)
    assert isinstance(gen, LAPGANGenerator) and gen.sides == [28, 14, 7] and gen.num_classes == 0
    assert isinstance(instantiate(cfg.model.discriminator), LAPGANDiscriminator)
    cfg = compose_train("model=lapgan", "dataset=cifar10", "model.levels=4")
    assert instantiate(cfg.model.generator).sides == [32, 16, 8, 4]


@pytest.mark.parametrize(
    ("conditioning", "tricks"), [("none", "[instance_noise,label_smoothing]"), ("concat", "[]"), ("acgan", "[]")]
)
def test_a_tiny_training_run_ends_with_finite_weights(compose_train, conditioning, tricks):
    cfg = compose_train(
        "model=lapgan",
        "dataset=mnist",
        *TINY,
        f"model.conditioning={conditioning}",
        f"tricks={tricks}",
        "generator_steps=3",
        "dataset.datamodule.batch_size=8",
    )
    _, module = fit(cfg)
    assert module.generator_steps == 3
    assert all(torch.isfinite(p).all() for p in module.parameters())
    grid = module.sample_picture(module.generator.sample_latent(20), instantiate(cfg.dataset.datamodule))
    assert grid.dim() == 3 and torch.isfinite(grid).all()
