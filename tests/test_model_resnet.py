"""The SNGAN / WGAN-GP ResNets: shapes, block layout, spectral norm, class conditioning, config and a tiny run."""

from __future__ import annotations

import pytest
import torch
from hydra.utils import instantiate
from torch import nn
from torch.nn.utils import parametrize

from ganlab.models.conditioning import (
    ProjectionDiscriminator,
)
from ganlab.models.resnet import (
    ConditionalBatchNorm2d,
    ResNetDiscriminator,
    ResNetGenerator,
    discriminator_downsamplings,
)
from ganlab.module import GANModule
from tests.helpers import fit

LATENT = 16
WIDTH = 8


def _weighted_layers(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def _output_shape(layer: nn.Module, run) -> torch.Size:
    shapes = []
    handle = layer.register_forward_hook(lambda module, inputs, output: shapes.append(output.shape))
    run()
    handle.remove()
    return shapes[0]


# --- shapes and layout ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("resolution", [28, 32, 64])
def test_resnet_shapes(resolution, channels):
    torch.manual_seed(0)
    gen = ResNetGenerator(LATENT, channels, resolution, width=WIDTH)
    disc = ResNetDiscriminator(channels, resolution, width=WIDTH)
    images = gen(gen.sample_latent(3))
    assert images.shape == (3, channels, resolution, resolution)
    assert images.min() >= -1 and images.max() <= 1
    assert disc(images).shape == (3, 1)
    assert disc.feature_dim == WIDTH
    assert disc.features(images).shape == (3, WIDTH)


@pytest.mark.parametrize(("resolution", "base", "blocks"), [(28, 7, 2), (32, 4, 3), (64, 4, 4), (20, 5, 2)])
def test_generator_up_samples_a_base_map_once_per_block(resolution, base, blocks):
    gen = ResNetGenerator(LATENT, 1, resolution, width=WIDTH)
    assert len(gen.blocks) == blocks
    first_input = []
    gen.blocks[0].register_forward_pre_hook(lambda module, args: first_input.append(args[0].shape))
    gen(torch.randn(2, LATENT))
    assert first_input == [(2, WIDTH, base, base)]


def test_generator_output_saturates_inside_minus_one_one():
    torch.manual_seed(0)
    gen = ResNetGenerator(LATENT, 1, 28, width=WIDTH)
    with torch.no_grad():  # pre-tanh activations far outside [-1, 1]
        gen.output_conv.weight.mul_(1000.0)
    images = gen(torch.randn(4, LATENT))
    assert images.min() >= -1.0 and images.max() <= 1.0
    assert images.min() < -0.99 and images.max() > 0.99


@pytest.mark.parametrize(
    ("resolution", "downsamplings", "final_side", "blocks"),
    # 32px: SNGAN's critic, two down-sampling and two plain blocks ending at 8x8
    [(32, 2, 8, 4), (28, 2, 7, 4), (64, 3, 8, 5), (20, 2, 5, 4), (16, 1, 8, 3), (8, 1, 4, 3)],
)
def test_discriminator_down_samples_to_a_side_of_at_most_8(resolution, downsamplings, final_side, blocks):
    assert discriminator_downsamplings(resolution) == downsamplings
    disc = ResNetDiscriminator(1, resolution, width=WIDTH)
    assert len(disc.blocks) == blocks
    shape = _output_shape(disc.blocks, lambda: disc(torch.randn(2, 1, resolution, resolution)))
    assert shape == (2, WIDTH, final_side, final_side)


@pytest.mark.parametrize("resolution", [36, 100])
def test_resnet_refuses_unsupported_resolution(resolution):
    with pytest.raises(ValueError, match=f"resolution {resolution}"):
        ResNetGenerator(LATENT, 1, resolution, width=WIDTH)
    with pytest.raises(ValueError, match=f"resolution {resolution}"):
        ResNetDiscriminator(1, resolution, width=WIDTH)


def test_discriminator_features_sum_the_rectified_last_map_over_space():
    # SNGAN's global sum pooling, not WGAN-GP's mean: phi grows with the 8x8 map's area
    torch.manual_seed(0)
    disc = ResNetDiscriminator(3, 32, width=WIDTH, spectral_norm=False)
    x = torch.randn(8, 3, 32, 32)
    last_map = []
    disc.blocks.register_forward_hook(lambda module, inputs, output: last_map.append(output))
    phi = disc.features(x)
    assert phi.min() >= 0 and phi.max() > 0
    torch.testing.assert_close(phi, last_map[0].clamp(min=0).sum(dim=(2, 3)))


def test_discriminator_takes_extra_input_channels():
    disc = ResNetDiscriminator(1, 28, width=WIDTH, extra_input_channels=10)
    assert disc(torch.randn(2, 11, 28, 28)).shape == (2, 1)
    with pytest.raises(RuntimeError):
        disc(torch.randn(2, 1, 28, 28))


# --- spectral normalisation ----------------------------------------------------------------------------------------


def test_spectral_norm_wraps_every_layer_and_bounds_its_largest_singular_value():
    torch.manual_seed(0)
    disc = ResNetDiscriminator(3, 32, width=WIDTH)
    layers = _weighted_layers(disc)
    assert len(layers) == 11  # 3 + 3 + 2 + 2 convolutions (plain blocks keep identity shortcuts), and the head
    assert all(parametrize.is_parametrized(layer, "weight") for layer in layers)
    for _ in range(10):  # power iterations run in training forward passes
        disc(torch.randn(4, 3, 32, 32))
    sigmas = [torch.linalg.matrix_norm(layer.weight.flatten(1), ord=2).item() for layer in layers]
    assert all(0.95 < sigma < 1.05 for sigma in sigmas), sigmas


def test_spectral_norm_makes_the_score_invariant_to_weight_scale():
    torch.manual_seed(0)
    disc = ResNetDiscriminator(1, 28, width=WIDTH).eval()
    x = torch.randn(4, 1, 28, 28)
    before = disc(x)
    with torch.no_grad():
        for layer in _weighted_layers(disc):
            layer.parametrizations.weight.original.mul_(10.0)
    torch.testing.assert_close(disc(x), before)


def test_without_spectral_norm_weights_are_plain():
    torch.manual_seed(0)
    disc = ResNetDiscriminator(1, 28, width=WIDTH, spectral_norm=False)
    assert not any(parametrize.is_parametrized(layer) for layer in _weighted_layers(disc))
    x = torch.randn(4, 1, 28, 28)
    before = disc(x)
    with torch.no_grad():
        disc.head.weight.mul_(10.0)  # the head has a zero bias: the score scales with it
    torch.testing.assert_close(disc(x), 10.0 * before)


# --- class conditioning --------------------------------------------------------------------------------------------


def test_conditional_batch_norm_starts_as_plain_batch_norm():
    gen = ResNetGenerator(LATENT, 1, 32, width=WIDTH, num_classes=10)
    norms = [m for m in gen.modules() if isinstance(m, ConditionalBatchNorm2d)]
    assert len(norms) == 2 * len(gen.blocks)
    for norm in norms:
        assert norm.gain.weight.shape == norm.bias.weight.shape == (10, WIDTH)
        assert torch.all(norm.gain.weight == 1) and torch.all(norm.bias.weight == 0)
        assert not norm.batch_norm.affine
    unconditional = ResNetGenerator(LATENT, 1, 32, width=WIDTH)
    assert not any(isinstance(m, ConditionalBatchNorm2d) for m in unconditional.modules())


def test_conditional_generator_output_depends_on_the_label():
    torch.manual_seed(0)
    gen = ResNetGenerator(LATENT, 1, 28, width=WIDTH, num_classes=10)
    assert gen.condition_keys == ("label",)
    z = torch.randn(4, LATENT)
    zeros, ones = torch.zeros(4, dtype=torch.long), torch.ones(4, dtype=torch.long)
    # every class starts with gain 1 and bias 0, so the label has no effect yet
    torch.testing.assert_close(gen(z, label=zeros), gen(z, label=ones))
    with torch.no_grad():  # classes as training leaves them: each with its own gains and biases
        for norm in (m for m in gen.modules() if isinstance(m, ConditionalBatchNorm2d)):
            norm.gain.weight.normal_(1.0, 0.5)
            norm.bias.weight.normal_(0.0, 0.5)
    torch.testing.assert_close(gen(z, label=zeros), gen(z, label=zeros))
    assert (gen(z, label=zeros) - gen(z, label=ones)).abs().max() > 1e-2


def test_conditional_generator_needs_a_label():
    gen = ResNetGenerator(LATENT, 1, 28, width=WIDTH, num_classes=10)
    with pytest.raises(ValueError, match=r"class-conditional \(num_classes=10\): pass label"):
        gen(torch.randn(2, LATENT))
    assert gen(torch.randn(4, LATENT), **gen.default_condition(4)).shape == (4, 1, 28, 28)


# --- config and training -------------------------------------------------------------------------------------------


def test_config_builds_a_28px_one_channel_resnet_for_mnist(compose_train):
    cfg = compose_train("model=resnet", "dataset=mnist")
    gen = instantiate(cfg.model.generator)
    disc = instantiate(cfg.model.discriminator)
    assert isinstance(gen, ResNetGenerator) and isinstance(disc, ResNetDiscriminator)
    assert gen.latent_dim == 128 and gen.width == 128 and gen.num_classes == 0 and disc.feature_dim == 128
    assert all(parametrize.is_parametrized(layer, "weight") for layer in _weighted_layers(disc))
    with torch.no_grad():
        images = gen(gen.sample_latent(2))
    assert images.shape == (2, 1, 28, 28)
    assert disc(images).shape == (2, 1)


def test_config_conditioning_reaches_both_players(compose_train):
    cfg = compose_train("model=resnet", "dataset=mnist", "model.conditioning=projection", "model.generator.width=8")
    gen = instantiate(cfg.model.generator)
    disc = instantiate(cfg.model.discriminator)
    assert gen.num_classes == 10 and any(isinstance(m, ConditionalBatchNorm2d) for m in gen.modules())
    assert isinstance(disc, ProjectionDiscriminator) and isinstance(disc.net, ResNetDiscriminator)


@pytest.mark.parametrize("conditioning", ["none", "projection"])
def test_tiny_resnet_run_trains_to_finite_weights(compose_train, conditioning):
    cfg = compose_train(
        "model=resnet",
        "dataset=mnist",
        f"model.conditioning={conditioning}",
        "model.generator.width=8",
        "model.discriminator.width=8",
        "generator_steps=3",
        "dataset.datamodule.batch_size=8",
    )
    module = GANModule.from_config(cfg)
    generator_weight = module.generator.project.weight
    discriminator_weight = module.discriminator.head.parametrizations.weight.original
    initial = generator_weight.detach().clone(), discriminator_weight.detach().clone()
    _, module = fit(cfg, module)
    assert module.generator_steps == 3
    assert all(torch.isfinite(p).all() for p in module.parameters())
    assert all(torch.isfinite(b).all() for b in module.buffers())
    # both players were updated
    assert not torch.equal(generator_weight, initial[0])
    assert not torch.equal(discriminator_weight, initial[1])
