"""BigGAN: shapes, the hierarchical latent space, conditional batch norm, self-attention, orthogonal
regularisation, truncation, every discriminator conditioning, the config and a tiny training run."""

from __future__ import annotations

import functools

import pytest
import torch
from hydra.utils import instantiate
from torch import Tensor, nn
from torch.testing import assert_close

from ganlab.errors import GanlabError
from ganlab.losses import NonSaturatingLoss
from ganlab.models.base import Generator
from ganlab.models.biggan import BigGANDiscriminator, BigGANGenerator, SelfAttention, attention_position
from ganlab.models.conditioning import (
    ProjectionDiscriminator,
)
from ganlab.module import GANModule
from ganlab.tricks import OrthogonalRegularization, StepContext
from ganlab.tricks.orthogonal import filter_matrix, off_diagonal_gram_norm, orthogonal_penalty
from tests.helpers import fit

LATENT = 24  # 3, 4 and 6 chunks at 28, 32 and 64 px (k = 2, 3, 4 blocks, plus the input layer): all divide 24
SMALL = ("model.generator.width=8", "model.discriminator.width=8", "model.generator.shared_dim=8")


def small_generator(**kwargs) -> BigGANGenerator:
    args = {"latent_dim": LATENT, "channels": 1, "resolution": 28, "width": 8, "shared_dim": 8} | kwargs
    return BigGANGenerator(**args)


def masked_gram_norm(matrix: Tensor) -> Tensor:
    """The definition, ``‖W Wᵀ ⊙ (1 - I)‖²_F``, written out."""
    gram = matrix @ matrix.T
    return (gram * (1 - torch.eye(gram.shape[0]))).square().sum()


# --- shapes and layout --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("resolution", [28, 32, 64])
def test_biggan_shapes(resolution, channels):
    torch.manual_seed(0)
    latent = 30 if resolution == 64 else LATENT  # 64 px: 4 blocks, 5 chunks
    gen = small_generator(latent_dim=latent, channels=channels, resolution=resolution, num_classes=10)
    disc = BigGANDiscriminator(channels=channels, resolution=resolution, width=8)
    images = gen(gen.sample_latent(3), label=torch.tensor([0, 4, 9]))
    assert images.shape == (3, channels, resolution, resolution)
    assert disc(images).shape == (3, 1)


def test_biggan_generator_output_is_in_minus_one_one():
    torch.manual_seed(0)
    gen = small_generator()
    with torch.no_grad():  # the last conv is spectrally normalised: blow up the batch norm before it instead
        gen.output[0].weight.mul_(1000.0)
    images = gen(torch.randn(4, LATENT))
    assert images.min() >= -1.0 and images.max() <= 1.0
    assert images.min() < -0.99 and images.max() > 0.99


@pytest.mark.parametrize(
    ("resolution", "width", "channels"), [(28, 8, [16, 8]), (32, 8, [32, 16, 8]), (64, 4, [32, 16, 8, 4])]
)
def test_channels_halve_block_by_block_down_to_width(resolution, width, channels):
    gen = BigGANGenerator(latent_dim=120, resolution=resolution, width=width, shared_dim=8)
    assert [block.conv2.out_channels for block in gen.blocks] == channels
    assert gen.linear.out_features == channels[0] * gen.base**2
    disc = BigGANDiscriminator(resolution=resolution, width=width)
    assert [block.conv2.out_channels for block in disc.blocks] == [*channels[::-1], channels[0]]
    assert disc.feature_dim == channels[0]


def test_every_conv_and_linear_layer_is_spectrally_normalised():
    gen, disc = small_generator(num_classes=10), BigGANDiscriminator(width=8)
    for net in (gen, disc):
        layers = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
        assert layers and all(torch.nn.utils.parametrize.is_parametrized(m, "weight") for m in layers)
    # orthogonal initialisation has all singular values 1: make them differ to see the normalisation work
    conv = gen.blocks[0].conv1
    with torch.no_grad():
        conv.parametrizations.weight.original.normal_(0.0, 3.0)
    for _ in range(50):  # each read in training mode runs one power iteration
        weight = conv.weight
    assert torch.linalg.matrix_norm(conv.parametrizations.weight.original.flatten(1), ord=2) > 10
    # power iteration converges slowly where the top singular values lie close together
    assert_close(torch.linalg.matrix_norm(weight.flatten(1), ord=2), torch.tensor(1.0), atol=0.05, rtol=0)


@pytest.mark.parametrize(
    ("sides", "attention_resolution", "expected"),
    [([14, 28], 16, 0), ([8, 16, 32], 16, 1), ([8, 16, 32], 32, 2), ([16, 8, 4, 4], 4, 2), ([14, 28], 0, None)],
)
def test_attention_goes_at_the_largest_side_not_above_attention_resolution(sides, attention_resolution, expected):
    assert attention_position(sides, attention_resolution) == expected


def test_attention_below_every_feature_map_is_refused():
    with pytest.raises(ValueError, match=r"attention_resolution=4 .*\(8, 16, 32\)"):
        BigGANGenerator(latent_dim=LATENT, resolution=32, width=8, attention_resolution=4)


def test_no_attention_block_with_attention_resolution_zero():
    gen = small_generator(attention_resolution=0)
    disc = BigGANDiscriminator(width=8, attention_resolution=0)
    assert not any(isinstance(m, SelfAttention) for net in (gen, disc) for m in net.modules())
    assert gen(torch.randn(2, LATENT)).shape == (2, 1, 28, 28)


@pytest.mark.parametrize(("resolution", "chunks"), [(28, 3), (32, 4), (64, 5)])
def test_latent_dim_must_split_into_the_chunks(resolution, chunks):
    with pytest.raises(ValueError, match=rf"multiple of {chunks}: use e.g. "):
        BigGANGenerator(latent_dim=chunks * 20 + 1, resolution=resolution, width=4)
    assert BigGANGenerator(latent_dim=120, resolution=resolution, width=4).chunk_size == 120 // chunks


# --- hierarchical latent space and conditional batch norm ---------------------------------------------------------


def block_inputs(gen: BigGANGenerator, z: Tensor, label: Tensor | None) -> tuple[list[tuple[Tensor, ...]], Tensor]:
    """Each block's positional inputs ``(h, c)`` on one forward pass, and the output."""
    seen: list[tuple[Tensor, ...]] = []
    hooks = [block.register_forward_pre_hook(lambda _, args: seen.append(args)) for block in gen.blocks]
    try:
        out = gen(z, label=label)
    finally:
        for hook in hooks:
            hook.remove()
    return seen, out


def test_last_z_chunk_reaches_only_the_last_block():
    torch.manual_seed(0)
    gen = small_generator(num_classes=10).eval()
    label = torch.tensor([3, 7])
    z = torch.randn(2, LATENT)
    z_last = z.clone()
    z_last[:, -gen.chunk_size :] = torch.randn(2, gen.chunk_size)
    before, out = block_inputs(gen, z, label)
    after, out_last = block_inputs(gen, z_last, label)
    for i in range(len(gen.blocks) - 1):
        assert_close(before[i], after[i])  # every earlier activation and condition unchanged
    assert_close(before[-1][0], after[-1][0])  # the last block's input h unchanged...
    assert not torch.allclose(before[-1][1], after[-1][1])  # ...its condition changed...
    assert (out - out_last).abs().max() > 1e-3  # ...and so the image
    z_first = z.clone()
    z_first[:, : gen.chunk_size] = torch.randn(2, gen.chunk_size)
    first, _ = block_inputs(gen, z_first, label)
    assert not torch.allclose(before[0][0], first[0][0])  # the first chunk feeds the input layer


def test_block_conditions_are_shared_embedding_and_z_chunk():
    torch.manual_seed(0)
    gen = small_generator(num_classes=10)
    z, label = torch.randn(4, LATENT), torch.tensor([0, 1, 2, 3])
    seen, _ = block_inputs(gen, z, label)
    size = gen.chunk_size
    for i, (_, cond) in enumerate(seen):
        assert_close(cond, torch.cat([gen.shared(label), z[:, (i + 1) * size : (i + 2) * size]], dim=1))


def test_unconditional_generator_conditions_batch_norm_on_z_chunks_only():
    torch.manual_seed(0)
    gen = small_generator()
    assert gen.shared is None and gen.condition_keys == ()
    z = torch.randn(4, LATENT)
    seen, _ = block_inputs(gen, z, None)
    for i, (_, cond) in enumerate(seen):
        assert_close(cond, z[:, (i + 1) * gen.chunk_size : (i + 2) * gen.chunk_size])


def test_conditional_batch_norm_gain_and_bias_depend_on_label_and_z_chunk():
    torch.manual_seed(0)
    gen = small_generator(num_classes=10)
    norm = gen.blocks[0].bn1
    chunk = torch.randn(1, gen.chunk_size)
    label = torch.tensor([2])
    gain, bias = norm.affine(torch.cat([gen.shared(label), chunk], dim=1))
    other_label = norm.affine(torch.cat([gen.shared(torch.tensor([5])), chunk], dim=1))
    other_chunk = norm.affine(torch.cat([gen.shared(label), torch.randn(1, gen.chunk_size)], dim=1))
    for other_gain, other_bias in (other_label, other_chunk):
        assert (gain - other_gain).abs().max() > 1e-3 and (bias - other_bias).abs().max() > 1e-3
    # the gain is centred on 1 at initialisation (1 + a linear map of a zero-mean condition)
    conds = torch.cat([gen.shared(torch.arange(1000) % 10), torch.randn(1000, gen.chunk_size)], dim=1)
    gains, biases = norm.affine(conds)
    assert abs(gains.mean().item() - 1.0) < 0.1 and abs(biases.mean().item()) < 0.1


def test_conditional_batch_norm_normalises_then_applies_the_per_sample_affine_map():
    torch.manual_seed(0)
    norm = small_generator(num_classes=10).blocks[1].bn2
    x, cond = torch.randn(4, 8, 5, 5) * 3 + 2, torch.randn(4, norm.to_gain.in_features)
    gain, bias = norm.affine(cond)
    normalised = (x - x.mean(dim=(0, 2, 3), keepdim=True)) / (
        x.var(dim=(0, 2, 3), unbiased=False, keepdim=True) + 1e-5
    ).sqrt()
    assert_close(norm(x, cond), normalised * gain[:, :, None, None] + bias[:, :, None, None], atol=1e-5, rtol=1e-5)


def test_label_changes_the_output():
    torch.manual_seed(0)
    gen = small_generator(num_classes=10).eval()
    z = torch.randn(3, LATENT).repeat(2, 1)
    images = gen(z, label=torch.tensor([0, 1, 2, 5, 6, 7]))
    assert (images[:3] - images[3:]).abs().amax(dim=(1, 2, 3)).min() > 1e-3
    assert gen.condition_keys == ("label",)
    with pytest.raises(ValueError, match="pass label"):
        gen(z)


# --- self-attention -------------------------------------------------------------------------------------------------


def test_self_attention_with_gamma_zero_is_the_identity():
    torch.manual_seed(0)
    attention = SelfAttention(16)
    x = torch.randn(2, 16, 7, 7)
    assert attention.gamma.item() == 0.0
    assert_close(attention(x), x, atol=0, rtol=0)


def test_self_attention_with_gamma_mixes_positions():
    torch.manual_seed(0)
    attention = SelfAttention(16).eval()
    with torch.no_grad():
        attention.gamma.fill_(1.0)
    x = torch.randn(1, 16, 8, 8)
    x_moved = x.clone()
    x_moved[:, :, 7, 7] += 3.0  # change one far corner
    change = (attention(x_moved) - attention(x)).abs().amax(dim=1)[0]
    assert change[0, 0] > 1e-4  # the opposite corner sees it: a 1x1 conv alone could not
    assert (change > 1e-6).float().mean() > 0.9


# --- orthogonal regularisation ---------------------------------------------------------------------------------------


def test_off_diagonal_gram_norm_on_hand_made_weights():
    assert off_diagonal_gram_norm(torch.tensor([[1.0, 1.0], [1.0, -1.0]])) == 0  # orthogonal rows
    assert off_diagonal_gram_norm(torch.tensor([[3.0, 0.0], [0.0, 0.5]])) == 0  # norms are not penalised
    # W Wᵀ = [[1, 1], [1, 2]]: off-diagonal entries 1 and 1
    assert_close(off_diagonal_gram_norm(torch.tensor([[1.0, 0.0], [1.0, 1.0]])), torch.tensor(2.0))
    # rows (1, 2, 0), (0, 1, 1), (1, 0, 1): inner products 2, 1, 1 -> 2 * (4 + 1 + 1)
    assert_close(off_diagonal_gram_norm(torch.tensor([[1.0, 2, 0], [0, 1, 1], [1, 0, 1]])), torch.tensor(12.0))


@pytest.mark.parametrize("shape", [(5, 3), (200, 7), (7, 200), (64, 64)])
def test_off_diagonal_gram_norm_matches_the_definition_for_tall_and_wide_matrices(shape):
    torch.manual_seed(0)
    matrix = torch.randn(shape, dtype=torch.float64)
    assert_close(off_diagonal_gram_norm(matrix), masked_gram_norm(matrix))


def test_filter_matrix_has_one_row_per_output_filter():
    torch.manual_seed(0)
    conv = nn.Conv2d(2, 3, 4)
    assert_close(filter_matrix(conv), conv.weight.reshape(3, 32))
    transposed = nn.ConvTranspose2d(2, 3, 4)  # weight stored as (in, out, k, k)
    assert_close(filter_matrix(transposed), transposed.weight.transpose(0, 1).reshape(3, 32))
    normalised = torch.nn.utils.parametrizations.spectral_norm(nn.Linear(4, 3))  # regularised through its raw weight
    assert_close(filter_matrix(normalised), normalised.parametrizations.weight.original)


def test_orthogonal_regulariser_value_and_gradient_push_towards_orthogonality():
    beta = 0.1
    layer = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, 0.0], [1.0, 1.0]]))
    term = beta * orthogonal_penalty(layer)
    assert_close(term, torch.tensor(beta * 2.0))
    term.backward()
    w = layer.weight.detach()
    off_diagonal_gram = (w @ w.T) * (1 - torch.eye(2))
    assert_close(layer.weight.grad, 4 * beta * off_diagonal_gram @ w)  # d/dW of β‖WWᵀ ⊙ (1 - I)‖²
    cosine_before = torch.cosine_similarity(w[0], w[1], dim=0)
    stepped = w - 0.5 * layer.weight.grad
    assert torch.cosine_similarity(stepped[0], stepped[1], dim=0).abs() < cosine_before.abs()
    assert off_diagonal_gram_norm(stepped) < off_diagonal_gram_norm(w)


def test_generator_brings_its_orthogonal_regularisation():
    (trick,) = small_generator(orthogonal_weight=3e-4).implied_tricks()
    assert isinstance(trick, OrthogonalRegularization)
    assert trick.weight == 3e-4 and trick.network == "generator"
    assert small_generator(orthogonal_weight=0).implied_tricks() == []


def gan_module(gen: BigGANGenerator, disc: nn.Module, tricks=()) -> GANModule:
    return GANModule(
        generator=gen,
        discriminator=disc,
        loss=NonSaturatingLoss(),
        generator_optimizer=functools.partial(torch.optim.Adam),
        discriminator_optimizer=functools.partial(torch.optim.Adam),
        tricks=tricks,
    )


def test_orthogonal_term_reaches_every_conv_and_linear_weight_of_g_but_not_the_embedding():
    torch.manual_seed(0)
    module = gan_module(small_generator(num_classes=10), BigGANDiscriminator(width=8))
    (trick,) = [t for t in module.tricks if isinstance(t, OrthogonalRegularization)]
    context = StepContext(module, real=torch.zeros(1), fake=torch.zeros(1))
    assert trick.discriminator_terms(context) == {}
    (term,) = trick.generator_terms(context).values()
    assert term > 0
    term.backward()
    gen = module.generator
    raw = [m.parametrizations.weight.original for m in gen.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    # a layer with one output filter (the 1-channel output conv) has no pair of filters to decorrelate
    raw = [w for w in raw if w.shape[0] > 1]
    assert len(raw) > 10 and all(w.grad is not None and w.grad.abs().sum() > 0 for w in raw)
    assert gen.shared.weight.grad is None  # the shared embedding is not regularised
    assert gen.output[0].weight.grad is None  # nor batch-norm gains
    assert all(p.grad is None for p in module.discriminator.parameters())


def test_a_listed_orthogonal_regularisation_replaces_the_implied_one():
    listed = OrthogonalRegularization(weight=1e-2)
    module = gan_module(small_generator(orthogonal_weight=1e-4), BigGANDiscriminator(width=8), tricks=[listed])
    assert module.tricks == [listed]  # the user's weight, counted once


def test_orthogonal_regularisation_of_the_discriminator_joins_ds_loss():
    torch.manual_seed(0)
    trick = OrthogonalRegularization(weight=1e-3, network="discriminator")
    module = gan_module(small_generator(orthogonal_weight=0), BigGANDiscriminator(width=8), tricks=[trick])
    assert module.tricks == [trick]
    context = StepContext(module, real=torch.zeros(1), fake=torch.zeros(1))
    assert trick.generator_terms(context) == {}
    assert_close(trick.discriminator_terms(context)["orthogonal"], 1e-3 * orthogonal_penalty(module.discriminator))
    with pytest.raises(GanlabError, match="network=generator or discriminator"):
        OrthogonalRegularization(network="both")


def test_orthogonal_regularisation_config_works_on_another_model(compose_train):
    module = GANModule.from_config(compose_train("tricks=[orthogonal_regularization]"))  # the MLP on the ring
    (trick,) = module.tricks
    assert isinstance(trick, OrthogonalRegularization) and trick.weight == 1e-4 and trick.network == "generator"
    (term,) = trick.generator_terms(StepContext(module, real=torch.zeros(1), fake=torch.zeros(1))).values()
    term.backward()
    hidden = [m for m in module.generator.modules() if isinstance(m, nn.Linear) and m.out_features > 1]
    assert term > 0 and hidden and all(m.weight.grad.abs().sum() > 0 for m in hidden)


# --- truncation ---------------------------------------------------------------------------------------------------


def test_truncation_resamples_the_latent_inside_the_threshold():
    gen = small_generator()
    assert type(gen).sample_latent is Generator.sample_latent  # the base class's truncated normal
    gen.truncation = 0.5
    z = gen.sample_latent(500, rng=torch.Generator().manual_seed(0))
    assert z.shape == (500, LATENT) and z.abs().max() <= 0.5
    assert z.std() > 0.2  # still spread over (-0.5, 0.5), not collapsed
    assert gen(z[:4]).shape == (4, 1, 28, 28)


# --- discriminator --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("resolution", "feature_dim"), [(28, 16), (32, 32)])
def test_discriminator_features_are_summed_relu_activations(resolution, feature_dim):
    torch.manual_seed(0)
    disc = BigGANDiscriminator(channels=3, resolution=resolution, width=8)
    x = torch.randn(5, 3, resolution, resolution)
    phi = disc.features(x)
    assert phi.shape == (5, feature_dim) and disc.feature_dim == feature_dim and (phi >= 0).all()
    assert_close(disc(x), disc.head(phi))


def test_first_discriminator_block_sees_the_raw_image():
    disc = BigGANDiscriminator(width=8)
    assert [block.preactivation for block in disc.blocks] == [False, True, True]
    assert isinstance(disc.blocks[-1].shortcut, nn.Identity)  # BigGAN's last block keeps channels and size


# --- config and training --------------------------------------------------------------------------------------------


def test_biggan_config_composes_for_mnist(compose_train):
    cfg = compose_train("model=biggan", "dataset=mnist")
    gen = instantiate(cfg.model.generator)
    disc = instantiate(cfg.model.discriminator)
    assert isinstance(gen, BigGANGenerator) and gen.num_classes == 10 and gen.latent_dim == 120
    assert isinstance(disc, ProjectionDiscriminator) and isinstance(disc.net, BigGANDiscriminator)
    assert gen.attention_after == 0 and disc.net.attention_after == 0  # the 14x14 maps
    images = gen(gen.sample_latent(2), **gen.default_condition(2))
    assert images.shape == (2, 1, 28, 28) and disc(images, label=torch.tensor([0, 1])).shape == (2, 1)
    unconditional = compose_train("model=biggan", "dataset=mnist", "model.conditioning=none", *SMALL)
    assert instantiate(unconditional.model.generator).num_classes == 0
    assert type(instantiate(unconditional.model.discriminator)) is BigGANDiscriminator


def test_tiny_labelled_training_run(compose_train):
    cfg = compose_train(
        "model=biggan", "dataset=mnist", *SMALL, "generator_steps=3", "dataset.datamodule.batch_size=8",
        "trainer.log_every_n_steps=1",
    )  # fmt: skip
    trainer, module = fit(cfg)
    assert module.generator_steps == 3
    assert any(isinstance(t, OrthogonalRegularization) for t in module.tricks)
    assert torch.isfinite(trainer.callback_metrics["train/g_orthogonal"])
    for net in (module.generator, module.discriminator):
        assert all(torch.isfinite(p).all() for p in net.parameters())
    images = module.generate(module.generator.sample_latent(4), module.generator.default_condition(4))
    assert images.shape == (4, 1, 28, 28) and torch.isfinite(images).all()
