"""SRGAN: the sub-pixel generator, the strided discriminator, the pixel and VGG content losses, a tiny training run."""

import copy
import functools
import pickle

import pytest
import torch

from ganlab.errors import GanlabError
from ganlab.losses import NonSaturatingLoss
from ganlab.models.conditioning import conditional_discriminator
from ganlab.models.srgan import SRGANDiscriminator, SRResNetGenerator, upscale_factor_blocks
from ganlab.module import GANModule
from ganlab.tricks.base import StepContext
from ganlab.tricks.perceptual import FEATURE_RESCALE, VGGContentLoss, load_vgg_features
from ganlab.tricks.reconstruction import ReconstructionLoss
from tests.helpers import fit_batches

WIDTH, BLOCKS, HIDDEN = 8, 2, 16


def small_generator(**kwargs) -> SRResNetGenerator:
    return SRResNetGenerator(**{"channels": 1, "scale": 2, "width": WIDTH, "num_blocks": BLOCKS, **kwargs})


def small_discriminator(**kwargs) -> SRGANDiscriminator:
    return SRGANDiscriminator(**{"channels": 1, "resolution": 28, "width": 4, "hidden": HIDDEN, **kwargs})


def context(generated: torch.Tensor, real: torch.Tensor) -> StepContext:
    """A generator step's context as far as content losses read it: G's output and the batch's target."""
    return StepContext(None, real, generated, batch={"real": real}, generated=generated)


@pytest.fixture(scope="module")
def random_vgg_loss() -> VGGContentLoss:
    """A VGG content loss on a randomly initialised VGG19: the mechanics without the ImageNet weights."""
    return VGGContentLoss(weight=2.0, pretrained=False)


# --- generator -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("low", [7, 14])
@pytest.mark.parametrize("scale", [2, 4])
def test_generator_upscales_by_its_factor(scale, low, channels):
    torch.manual_seed(0)
    gen = small_generator(channels=channels, scale=scale)
    assert len(gen.upsample) == upscale_factor_blocks(scale) == {2: 1, 4: 2}[scale]
    source = torch.rand(3, channels, low, low) * 2 - 1
    z = gen.sample_latent(3)
    assert gen.latent_dim == 0 and z.shape == (3, 0)
    assert gen(z, source=source).shape == (3, channels, scale * low, scale * low)


def test_generator_has_the_papers_layers():
    gen = SRResNetGenerator(channels=3, scale=4)
    assert gen.condition_keys == ("source",)
    assert gen.stem[0].kernel_size == (9, 9) and gen.stem[0].out_channels == 64
    assert sum(type(m).__name__ == "ResidualBlock" for m in gen.modules()) == 16
    assert [block.conv.out_channels for block in gen.upsample] == [256, 256]  # 4·width, then PixelShuffle(2)
    assert gen.output.kernel_size == (9, 9) and gen.output.out_channels == 3
    assert gen.adversarial_weight == 1e-3


@pytest.mark.parametrize("scale", [3, 6, 1, 0, -2, 2.5, True])
def test_a_scale_that_is_not_a_power_of_two_is_refused(scale):
    with pytest.raises(GanlabError, match=r"dataset\.scale and model\.generator\.scale"):
        small_generator(scale=scale)


def test_an_unknown_content_loss_is_refused():
    with pytest.raises(GanlabError, match=r"model\.generator\.content='perceptual'.*pixel, vgg"):
        small_generator(content="perceptual")


def test_output_lies_in_the_image_range_and_ignores_z():
    torch.manual_seed(0)
    gen = small_generator().eval()
    source = torch.rand(4, 1, 7, 7) * 2 - 1
    with torch.no_grad():
        gen.output.weight.mul_(1e4)  # drive the pre-activation far outside [-1, 1]: tanh must still bound it
        out = gen(gen.sample_latent(4), source=source)
        again = gen(torch.empty(4, 0), source=source)
    assert out.min() >= -1 and out.max() <= 1 and out.abs().max() > 0.999
    assert torch.equal(out, again)  # deterministic: nothing but the source reaches the output


def test_generator_without_a_source_says_what_to_pass():
    gen = small_generator()
    with pytest.raises(ValueError, match="pass source="):
        gen(gen.sample_latent(2))


def test_the_long_skip_carries_the_first_layers_features_past_the_residual_blocks():
    torch.manual_seed(0)
    gen = small_generator()
    with torch.no_grad():
        gen.body[-1].weight.zero_()  # the BN closing the body: its output, and the residual branch, becomes 0
    source = torch.rand(2, 1, 7, 7)
    expected = gen.output(gen.upsample(gen.stem(source))).tanh()
    torch.testing.assert_close(gen(gen.sample_latent(2), source=source), expected)


# --- content losses ------------------------------------------------------------------------------------------------


def test_pixel_content_loss_is_the_weighted_mse():
    gen = small_generator(content_weight=0.5)
    (loss,) = gen.implied_tricks()
    assert isinstance(loss, ReconstructionLoss) and loss.distance == "l2" and loss.weight == 0.5
    zeros, ones = torch.zeros(2, 1, 4, 4), torch.ones(2, 1, 4, 4)
    assert loss.generator_terms(context(zeros, ones))["reconstruction"].item() == 0.5  # 0.5·mean(1²), exactly
    generated = torch.tensor([[[[0.0, 1.0], [-1.0, 0.5]]]])
    real = torch.tensor([[[[1.0, 1.0], [1.0, -0.5]]]])
    # squared errors 1, 0, 4, 1: mean 1.5, weighted 0.75
    assert loss.generator_terms(context(generated, real))["reconstruction"].item() == pytest.approx(0.75)


def test_vgg_content_is_implied_without_loading_vgg():
    (loss,) = small_generator(content="vgg", content_weight=3.0).implied_tricks()
    assert isinstance(loss, VGGContentLoss) and loss.weight == 3.0 and loss.pretrained
    assert loss._vgg is None  # building the trick downloads nothing


def test_missing_vgg_weights_offline_name_the_fix(offline_hub):
    with pytest.raises(GanlabError) as raised:
        load_vgg_features()
    message = str(raised.value)
    assert "\n" not in message
    assert str(offline_hub / "hub" / "checkpoints") in message
    assert "model.generator.content=pixel" in message and "IMAGENET1K_V1" in message
    trick = VGGContentLoss()
    with pytest.raises(GanlabError, match=r"content=pixel"):
        trick.generator_terms(context(torch.zeros(1, 1, 32, 32), torch.zeros(1, 1, 32, 32)))
    assert not list((offline_hub / "hub" / "checkpoints").glob("*.pth"))  # no partial file left behind


def test_unreadable_cached_vgg_weights_name_the_file(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    cached = tmp_path / "hub" / "checkpoints" / "vgg19-dcbb9e9d.pth"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"an interrupted download")
    with pytest.raises(GanlabError, match=r"weights at .*vgg19-dcbb9e9d\.pth cannot be loaded.*delete the file"):
        load_vgg_features()


def test_vgg_features_stop_at_phi_5_4():
    vgg = load_vgg_features(pretrained=False)
    assert not vgg.training and not any(p.requires_grad for p in vgg.parameters())
    assert isinstance(vgg[-1], torch.nn.ReLU) and sum(isinstance(m, torch.nn.Conv2d) for m in vgg) == 16
    assert sum(isinstance(m, torch.nn.MaxPool2d) for m in vgg) == 4  # the fifth pool comes after φ_5,4
    assert vgg(torch.zeros(1, 3, 64, 64)).shape == (1, 512, 4, 4)


def test_vgg_content_loss_compares_feature_maps(random_vgg_loss):
    torch.manual_seed(0)
    images = torch.rand(2, 1, 28, 28) * 2 - 1
    # grey images are compared at 32 px, where four max-pools leave a 2x2 map
    assert random_vgg_loss.features(images).shape == (2, 512, 2, 2)
    wide = torch.rand(1, 3, 16, 24)
    upsampled = torch.nn.functional.interpolate(wide, size=(32, 48), mode="bilinear")
    torch.testing.assert_close(random_vgg_loss.features(wide), random_vgg_loss.features(upsampled))
    with pytest.raises(GanlabError, match="grey or RGB"):
        random_vgg_loss.features(torch.zeros(1, 2, 32, 32))
    assert random_vgg_loss.generator_terms(context(images, images.clone()))["vgg_content"].item() == 0
    other = torch.rand(2, 1, 28, 28) * 2 - 1
    term = random_vgg_loss.generator_terms(context(other, images))["vgg_content"]
    expected = 2.0 * torch.mean(
        (random_vgg_loss.features(other) - random_vgg_loss.features(images)) ** 2 * FEATURE_RESCALE**2
    )
    assert term.item() > 0
    torch.testing.assert_close(term, expected)


def test_vgg_content_loss_trains_g_and_leaves_vgg_alone(random_vgg_loss):
    torch.manual_seed(0)
    gen = small_generator(channels=3, scale=4)
    output = gen(gen.sample_latent(2), source=torch.rand(2, 3, 8, 8) * 2 - 1)
    real = torch.rand(2, 3, 32, 32) * 2 - 1
    random_vgg_loss.generator_terms(context(output, real))["vgg_content"].backward()
    assert all(p.grad is None for p in random_vgg_loss._vgg.parameters())
    assert gen.output.weight.grad is not None and gen.output.weight.grad.abs().sum() > 0
    assert gen.stem[0].weight.grad.abs().sum() > 0


def test_vgg_stays_out_of_checkpoints_and_copies(random_vgg_loss):
    module = GANModule(
        generator=small_generator(),
        discriminator=small_discriminator(),
        loss=NonSaturatingLoss(),
        generator_optimizer=functools.partial(torch.optim.Adam, lr=1e-4),
        discriminator_optimizer=functools.partial(torch.optim.Adam, lr=1e-4),
        tricks=[random_vgg_loss],
    )
    assert random_vgg_loss in module.tricks
    random_vgg_loss.vgg(torch.device("cpu"))  # loaded, as after a training step
    assert not any(key.startswith(("features", "tricks")) for key in module.state_dict())
    assert sum(p.numel() for p in module.parameters()) < 1_000_000  # VGG19's 20M are not among them
    assert copy.deepcopy(random_vgg_loss)._vgg is None
    assert pickle.loads(pickle.dumps(random_vgg_loss))._vgg is None


# --- discriminator -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("resolution", "side"), [(28, 2), (32, 2), (64, 4)])
@pytest.mark.parametrize("channels", [1, 3])
def test_discriminator_shapes(resolution, side, channels):
    torch.manual_seed(0)
    disc = small_discriminator(channels=channels, resolution=resolution)
    x = torch.rand(3, channels, resolution, resolution) * 2 - 1
    assert disc.convolutional(x).shape == (3, 32, side, side)  # 8·width channels, four stride-2 halvings
    assert disc.dense[1].in_features == 32 * side * side
    assert disc.features(x).shape == (3, HIDDEN) == (3, disc.feature_dim)
    assert disc(x).shape == (3, 1)


def test_discriminator_has_the_papers_blocks():
    disc = SRGANDiscriminator(channels=3, resolution=96)
    convs = [m for m in disc.convolutional if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 64, 128, 128, 256, 256, 512, 512]
    assert [c.stride[0] for c in convs] == [1, 2, 1, 2, 1, 2, 1, 2]
    assert disc.dense[1].in_features == 512 * 6 * 6 and disc.feature_dim == 1024
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in disc.convolutional) == 7  # none after the first conv


def test_concat_conditioning_widens_the_first_layer():
    disc = conditional_discriminator(
        "ganlab.models.srgan.SRGANDiscriminator", "concat", 10, resolution=28, width=4, hidden=HIDDEN
    )
    assert disc.net.convolutional[0].in_channels == 11
    assert disc(torch.rand(2, 1, 28, 28), label=torch.tensor([1, 7])).shape == (2, 1)


# --- training ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("content", ["pixel", "vgg"])
def test_a_tiny_training_run_ends_with_finite_weights(content, random_vgg_loss):
    torch.manual_seed(0)
    gen = small_generator(content=content)
    tricks = [random_vgg_loss] if content == "vgg" else []  # a random VGG in place of the implied pretrained one
    module = GANModule(
        generator=gen,
        discriminator=small_discriminator(),
        loss=NonSaturatingLoss(),
        generator_optimizer=functools.partial(torch.optim.Adam, lr=1e-4),
        discriminator_optimizer=functools.partial(torch.optim.Adam, lr=1e-4),
        tricks=tricks,
    )
    data = [{"source": torch.rand(1, 14, 14) * 2 - 1, "real": torch.rand(1, 28, 28) * 2 - 1} for _ in range(8)]
    trainer = fit_batches(module, data)  # logs every step, so that the content term of the step is logged
    assert module.generator_steps == 2
    assert all(torch.isfinite(p).all() for p in module.parameters())
    name = {"pixel": "train/g_reconstruction", "vgg": "train/g_vgg_content"}[content]
    assert torch.isfinite(trainer.callback_metrics[name]) and trainer.callback_metrics[name] > 0
