"""pix2pix: the U-Net's shapes, skips and test-time dropout; the PatchGAN's patch arithmetic and conditioning."""

import functools

import pytest
import torch

from ganlab.errors import GanlabError
from ganlab.losses import LeastSquaresLoss
from ganlab.models.pix2pix import (
    PatchGANDiscriminator,
    PersistentDropout,
    UNetGenerator,
    default_n_layers,
    patch_map_side,
    receptive_field,
    unet_depth,
)
from ganlab.module import GANModule
from ganlab.tricks.layers import weight_layers
from ganlab.tricks.reconstruction import ReconstructionLoss
from tests.helpers import fit_batches

WIDTH = 4


def images(n: int, channels: int, side: int) -> torch.Tensor:
    return torch.rand(n, channels, side, side) * 2 - 1


# --- U-Net ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("resolution", "depth"), [(28, 2), (32, 5), (64, 6), (256, 8), (30, 1)])
def test_automatic_depth_halves_while_the_side_is_even(resolution, depth):
    assert unet_depth(resolution) == depth
    assert unet_depth(resolution, 1) == 1


@pytest.mark.parametrize(("resolution", "depth"), [(28, 3), (32, 6), (32, 0), (27, None)])
def test_a_depth_the_resolution_does_not_allow_is_refused(resolution, depth):
    with pytest.raises(GanlabError, match=r"model\.generator\.depth|odd side") as error:
        UNetGenerator(1, 1, resolution, width=WIDTH, depth=depth)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("resolution", [28, 32, 64])
@pytest.mark.parametrize(("source_channels", "channels"), [(1, 1), (3, 3), (1, 3), (3, 1)])
def test_unet_output_shape(resolution, source_channels, channels):
    torch.manual_seed(0)
    gen = UNetGenerator(source_channels, channels, resolution, width=WIDTH)
    assert gen.latent_dim == 0 and gen.condition_keys == ("source",)
    z = gen.sample_latent(3)
    assert z.shape == (3, 0)
    out = gen(z, source=images(3, source_channels, resolution))
    assert out.shape == (3, channels, resolution, resolution)
    assert out.min() >= -1 and out.max() <= 1


def test_a_source_of_another_size_is_resized_to_the_resolution():
    gen = UNetGenerator(1, 3, 32, width=WIDTH)
    assert gen(gen.sample_latent(2), source=images(2, 1, 16)).shape == (2, 3, 32, 32)


@pytest.mark.parametrize(("resolution", "depth"), [(32, None), (32, 3), (28, None), (64, 4)])
def test_each_decoder_block_gets_the_mirrored_encoder_map_joined_to_the_previous_output(resolution, depth):
    torch.manual_seed(0)
    gen = UNetGenerator(2, 3, resolution, width=WIDTH, depth=depth)
    d = gen.depth
    seen: dict[str, torch.Tensor] = {}

    def record(name):
        def hook(module, inputs, output):
            seen[f"{name}.in"], seen[f"{name}.out"] = inputs[0], output

        return hook

    for i, block in enumerate(gen.encoder):
        block.register_forward_hook(record(f"e{i}"))
    for k, block in enumerate(gen.decoder):
        block.register_forward_hook(record(f"u{k}"))
    gen.output.register_forward_hook(record("out"))
    gen(gen.sample_latent(2), source=images(2, 2, resolution))

    assert len(gen.encoder) == d and len(gen.decoder) == d - 1
    for i in range(d):
        channels = WIDTH * min(2**i, 8)
        assert seen[f"e{i}.out"].shape == (2, channels, resolution // 2 ** (i + 1), resolution // 2 ** (i + 1))
    assert torch.equal(seen["u0.in"], seen[f"e{d - 1}.out"])  # the innermost map alone
    for k in range(1, d - 1):
        mirror = seen[f"e{d - 1 - k}.out"]
        assert seen[f"u{k - 1}.out"].shape == mirror.shape
        assert torch.equal(seen[f"u{k}.in"], torch.cat([mirror, seen[f"u{k - 1}.out"]], dim=1))
    assert torch.equal(seen["out.in"], torch.cat([seen["e0.out"], seen[f"u{d - 2}.out"]], dim=1))


def test_paper_architecture_at_256_px():
    with torch.device("meta"):  # the layer sizes only: no memory, no initialisation cost
        gen = UNetGenerator(3, 3, 256, width=64)
    assert [block[0].out_channels for block in gen.encoder] == [64, 128, 256, 512, 512, 512, 512, 512]
    # CD512-CD1024-CD1024-C1024-C1024-C512-C256-C128, the counts including the joined encoder maps
    assert [block[0].in_channels for block in gen.decoder] == [512, 1024, 1024, 1024, 1024, 512, 256]
    assert gen.output[0].in_channels == 128
    with_dropout = [any(isinstance(m, PersistentDropout) for m in block) for block in gen.decoder]
    assert with_dropout == [True, True, True, False, False, False, False]
    norms = [any(isinstance(m, torch.nn.BatchNorm2d) for m in block) for block in gen.encoder]
    assert norms == [False, True, True, True, True, True, True, False]  # neither the first nor the 1x1 innermost


def test_dropout_is_the_noise_and_stays_on_in_eval_mode():
    torch.manual_seed(0)
    gen = UNetGenerator(1, 1, 32, width=WIDTH).eval()
    source, z = images(2, 1, 32), gen.sample_latent(2)
    with torch.no_grad():
        assert (gen(z, source=source) - gen(z, source=source)).abs().max() > 1e-6
    still = UNetGenerator(1, 1, 32, width=WIDTH, dropout=0.0).eval()
    with torch.no_grad():
        assert torch.equal(still(z, source=source), still(z, source=source))


def test_implied_l1_reconstruction_with_the_papers_weight():
    (trick,) = UNetGenerator(1, 1, 28, width=WIDTH).implied_tricks()
    assert isinstance(trick, ReconstructionLoss)
    assert trick.weight == 100.0 and trick.distance == "l1"
    assert UNetGenerator(1, 1, 28, width=WIDTH, l1_weight=0).implied_tricks() == []


# --- PatchGAN ------------------------------------------------------------------------------------------------------


def test_receptive_field_arithmetic():
    # back from one score: final conv 4, stride-1 conv 4 + 3 = 7, then each stride-2 layer 2r + 2
    assert [receptive_field(n) for n in range(6)] == [1, 16, 34, 70, 142, 286]
    assert patch_map_side(256, 3) == 30  # the paper's 30x30 map of 70x70 patches


@pytest.mark.parametrize("resolution", [28, 32, 64, 100, 256])
@pytest.mark.parametrize("n_layers", [0, 1, 2, 3])
def test_score_map_size_matches_the_arithmetic(resolution, n_layers):
    if resolution == 28 and n_layers == 3:
        assert patch_map_side(28, 3) == 1  # 28 -> 14 -> 7 -> 3 -> 2 -> 1
    disc = PatchGANDiscriminator(3, resolution=resolution, width=WIDTH, n_layers=n_layers).eval()
    side = patch_map_side(resolution, n_layers)
    scores = disc(images(2, 3, resolution))
    assert scores.shape == (2, 1, side, side)
    assert disc.features(images(2, 3, resolution)).shape[:2] == (2, disc.feature_dim)
    assert disc.head.in_channels == disc.feature_dim


@pytest.mark.parametrize("n_layers", [0, 1, 2, 3])
def test_receptive_field_measured_by_the_gradient_of_one_score(n_layers):
    torch.manual_seed(0)
    disc = PatchGANDiscriminator(1, resolution=128, width=WIDTH, n_layers=n_layers).double().eval()
    x = torch.randn(1, 1, 128, 128, dtype=torch.float64, requires_grad=True)
    scores = disc(x)
    centre = scores.shape[-1] // 2
    scores[0, 0, centre, centre].backward()
    rows = x.grad[0, 0].abs().sum(1).nonzero().flatten()
    cols = x.grad[0, 0].abs().sum(0).nonzero().flatten()
    assert rows.min() > 0 and rows.max() < 127  # the field lies inside the image, clear of the padding
    assert int(rows.max() - rows.min()) + 1 == receptive_field(n_layers)
    assert int(cols.max() - cols.min()) + 1 == receptive_field(n_layers)


@pytest.mark.parametrize(("resolution", "n_layers"), [(28, 1), (32, 1), (64, 1), (128, 2), (256, 3)])
def test_automatic_n_layers_keeps_the_papers_patch_ratio(resolution, n_layers):
    assert default_n_layers(resolution) == n_layers
    assert PatchGANDiscriminator(3, resolution=resolution, width=WIDTH).n_layers == n_layers


@pytest.mark.parametrize(("resolution", "n_layers"), [(28, 4), (16, 4), (8, 2)])
def test_a_resolution_too_small_for_the_layers_is_refused(resolution, n_layers):
    with pytest.raises(GanlabError, match=r"model\.discriminator\.n_layers"):
        PatchGANDiscriminator(3, resolution=resolution, width=WIDTH, n_layers=n_layers)


def test_an_unknown_norm_is_refused():
    with pytest.raises(GanlabError, match=r"model\.discriminator\.norm"):
        PatchGANDiscriminator(3, resolution=32, width=WIDTH, norm="spectral")


def test_paper_discriminator_at_256_px():
    with torch.device("meta"):
        disc = PatchGANDiscriminator(3, source_channels=3, resolution=256)
    convs = [m for m in disc.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 128, 256, 512, 1]  # C64-C128-C256-C512, then the score
    assert [c.stride[0] for c in convs] == [2, 2, 2, 1, 1]
    assert convs[0].in_channels == 6  # the input image joined to the judged one


def test_conditional_discriminator_judges_the_pair():
    torch.manual_seed(0)
    disc = PatchGANDiscriminator(3, source_channels=1, resolution=32, width=WIDTH).eval()
    assert disc.condition_keys == ("source",)
    x, source = images(2, 3, 32), images(2, 1, 32)
    scores = disc(x, source=source)
    assert (disc(x, source=-source) - scores).abs().amax(dim=(1, 2, 3)).min() > 1e-6
    # a source of another size is resized to the judged images' size
    assert disc(x, source=images(2, 1, 16)).shape == scores.shape
    with pytest.raises(ValueError, match="pass source"):
        disc(x)
    assert PatchGANDiscriminator(3, resolution=32, width=WIDTH).condition_keys == ()


def test_extra_input_channels_widen_the_first_layer():
    disc = PatchGANDiscriminator(3, source_channels=1, resolution=32, width=WIDTH, extra_input_channels=10)
    assert disc.body[0].in_channels == 14


# --- training ------------------------------------------------------------------------------------------------------


def test_a_tiny_training_run_adds_the_l1_term_and_ends_with_finite_weights():
    torch.manual_seed(0)
    gen = UNetGenerator(1, 3, 28, width=WIDTH)
    disc = PatchGANDiscriminator(3, source_channels=1, resolution=28, width=WIDTH)
    module = GANModule(
        generator=gen,
        discriminator=disc,
        loss=LeastSquaresLoss(),
        generator_optimizer=functools.partial(torch.optim.Adam, lr=2e-4, betas=(0.5, 0.999)),
        discriminator_optimizer=functools.partial(torch.optim.Adam, lr=2e-4, betas=(0.5, 0.999)),
    )
    assert any(isinstance(t, ReconstructionLoss) for t in module.tricks)
    data = [{"source": images(1, 1, 28)[0], "real": images(1, 3, 28)[0]} for _ in range(8)]
    trainer = fit_batches(module, data)
    assert module.generator_steps == 2
    assert all(torch.isfinite(p).all() for p in module.parameters())
    assert "train/g_reconstruction" in trainer.callback_metrics
    assert trainer.callback_metrics["train/g_reconstruction"] > 0


def test_tricks_find_the_input_layer_first_and_the_head_last():
    disc = PatchGANDiscriminator(3, source_channels=1, resolution=32, width=WIDTH)
    layers = weight_layers(disc)
    assert layers[0][1] is disc.body[0] and layers[-1][1] is disc.head
