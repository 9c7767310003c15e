"""Generators and discriminators: shapes, ranges, resolution rules, initialisation."""

import math

import pytest
import torch
from torch import nn

from ganlab.models import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator
from ganlab.models.base import init_normal, stride2_layers
from ganlab.models.mlp import Maxout

LATENT = 16


@pytest.mark.parametrize(
    ("resolution", "expected"),
    [(28, (7, 2)), (32, (4, 3)), (64, (4, 4)), (8, (4, 1)), (16, (4, 2)), (20, (5, 2)), (48, (6, 3)), (56, (7, 3))],
)
def test_stride2_layers_splits_resolution(resolution, expected):
    base, k = stride2_layers(resolution)
    assert (base, k) == expected
    assert base * 2**k == resolution


@pytest.mark.parametrize("resolution", [36, 100, 18, 7, 4, 9])
def test_stride2_layers_rejects_unsupported_resolution(resolution):
    # 36 = 9 * 4, 100 = 25 * 4, 18 = 9 * 2: base > 8; 7, 4, 9: no stride-2 layer possible
    with pytest.raises(ValueError, match=f"resolution {resolution}"):
        stride2_layers(resolution)


@pytest.mark.parametrize("resolution", [36, 100])
def test_dcgan_refuses_unsupported_resolution(resolution):
    with pytest.raises(ValueError, match=r"dataset\.resolution"):
        DCGANGenerator(latent_dim=LATENT, resolution=resolution, width=8)
    with pytest.raises(ValueError, match=r"dataset\.resolution"):
        DCGANDiscriminator(resolution=resolution, width=8)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("resolution", [28, 32, 64, 20])
def test_dcgan_shapes(resolution, channels):
    torch.manual_seed(0)
    gen = DCGANGenerator(latent_dim=LATENT, channels=channels, resolution=resolution, width=8)
    disc = DCGANDiscriminator(channels=channels, resolution=resolution, width=8)
    images = gen(gen.sample_latent(3))
    assert images.shape == (3, channels, resolution, resolution)
    assert disc(images).shape == (3, 1)


def test_dcgan_generator_output_is_in_minus_one_one():
    torch.manual_seed(0)
    gen = DCGANGenerator(latent_dim=LATENT, channels=1, resolution=28, width=8)
    with torch.no_grad():  # blow up the last layer so the pre-tanh activations lie far outside [-1, 1]
        gen.net[-2].weight.mul_(1000.0)
    images = gen(torch.randn(4, LATENT))
    assert images.min() >= -1.0 and images.max() <= 1.0
    assert images.min() < -0.99 and images.max() > 0.99  # saturated at both ends, still bounded


def test_dcgan_generator_accepts_4d_latents():
    torch.manual_seed(0)
    gen = DCGANGenerator(latent_dim=LATENT, channels=1, resolution=32, width=8).eval()
    z = torch.randn(2, LATENT)
    torch.testing.assert_close(gen(z.view(2, LATENT, 1, 1)), gen(z))


@pytest.mark.parametrize("norm", ["batch", "layer", "none"])
def test_dcgan_discriminator_norms(norm):
    torch.manual_seed(0)
    disc = DCGANDiscriminator(channels=3, resolution=32, width=8, norm=norm)
    kinds = {type(m) for m in disc.modules()}
    assert (nn.BatchNorm2d in kinds) == (norm == "batch")
    assert (nn.GroupNorm in kinds) == (norm == "layer")
    assert disc(torch.randn(2, 3, 32, 32)).shape == (2, 1)


def test_dcgan_discriminator_with_layer_norm_scores_samples_independently():
    # per-sample normalisation (needed by gradient penalties): a sample's score does not depend on its batch
    torch.manual_seed(0)
    disc = DCGANDiscriminator(channels=1, resolution=28, width=8, norm="layer")
    x = torch.randn(4, 1, 28, 28)
    torch.testing.assert_close(disc(x)[:1], disc(x[:1]))


def test_dcgan_discriminator_rejects_unknown_norm():
    with pytest.raises(ValueError, match="unknown discriminator norm 'spectral'"):
        DCGANDiscriminator(resolution=28, width=8, norm="spectral")


def test_dcgan_first_discriminator_layer_has_no_norm():
    disc = DCGANDiscriminator(channels=1, resolution=32, width=8)
    assert isinstance(disc.body[0], nn.Conv2d)
    assert isinstance(disc.body[1], nn.LeakyReLU)


@pytest.mark.parametrize(
    ("data_shape", "activation"), [([2], "identity"), ([1, 28, 28], "tanh"), ([3, 8, 8], "sigmoid")]
)
def test_mlp_generator_reshapes_to_data_shape(data_shape, activation):
    torch.manual_seed(0)
    gen = MLPGenerator(LATENT, data_shape, hidden_dims=(8, 8), output_activation=activation)
    out = gen(gen.sample_latent(5))
    assert out.shape == (5, *data_shape)
    if activation == "tanh":
        assert out.min() >= -1 and out.max() <= 1
    if activation == "sigmoid":
        assert out.min() >= 0 and out.max() <= 1


def test_mlp_generator_identity_output_is_unbounded():
    torch.manual_seed(0)
    gen = MLPGenerator(LATENT, [2], hidden_dims=(8,), output_activation="identity")
    assert gen(1000 * torch.randn(8, LATENT)).abs().max() > 1.0


def test_mlp_generator_batch_norm_layers():
    gen = MLPGenerator(LATENT, [2], hidden_dims=(8, 8), batch_norm=True)
    assert sum(isinstance(m, nn.BatchNorm1d) for m in gen.modules()) == 2
    gen = MLPGenerator(LATENT, [2], hidden_dims=(8, 8), batch_norm=False)
    assert not any(isinstance(m, nn.BatchNorm1d) for m in gen.modules())


@pytest.mark.parametrize("data_shape", [[2], [1, 28, 28], [3, 32, 32]])
def test_mlp_discriminator_output_shape(data_shape):
    torch.manual_seed(0)
    disc = MLPDiscriminator(data_shape, hidden_dims=(8, 8))
    assert disc(torch.randn(4, *data_shape)).shape == (4, 1)


def test_sample_latent_shape_and_reproducibility():
    gen = MLPGenerator(LATENT, [2], hidden_dims=(8,))
    z1 = gen.sample_latent(6, rng=torch.Generator().manual_seed(3))
    z2 = gen.sample_latent(6, rng=torch.Generator().manual_seed(3))
    assert z1.shape == (6, LATENT)
    torch.testing.assert_close(z1, z2)


# --- initialisation ------------------------------------------------------------------------------------------------

# A 512 x 512 weight has n = 262,144 entries; the sample std's relative standard error is 1/sqrt(2n) ~ 0.14%,
# so 2% is over 10 standard errors. PyTorch's default (uniform, bound 1/sqrt(fan_in)) has std
# 1/sqrt(3 * 512) ~ 0.0255, 27% away from 0.02.
STD_RTOL = 0.02


def test_init_normal_on_a_big_linear_layer():
    torch.manual_seed(0)
    layer = nn.Linear(512, 512)
    init_normal(layer)
    assert abs(layer.weight.std().item() - 0.02) < STD_RTOL * 0.02
    assert abs(layer.weight.mean().item()) < 5 * 0.02 / math.sqrt(layer.weight.numel())
    assert torch.all(layer.bias == 0)


def test_mlp_init_std_applies_init_normal_and_none_keeps_default():
    torch.manual_seed(0)
    initialised = MLPGenerator(512, [2], hidden_dims=(512,), init_std=0.02).net[0][0]
    default = MLPGenerator(512, [2], hidden_dims=(512,), init_std=None).net[0][0]
    assert abs(initialised.weight.std().item() - 0.02) < STD_RTOL * 0.02
    assert torch.all(initialised.bias == 0)
    assert abs(default.weight.std().item() - 1 / math.sqrt(3 * 512)) < STD_RTOL / math.sqrt(3 * 512)


def test_dcgan_is_initialised_as_in_the_paper():
    torch.manual_seed(0)
    gen = DCGANGenerator(latent_dim=100, channels=1, resolution=32, width=64)
    project = gen.net[0]  # ConvTranspose2d(100, 256, 4): 409,600 weights
    assert project.weight.numel() == 409_600
    assert abs(project.weight.std().item() - 0.02) < STD_RTOL * 0.02
    bn = gen.net[1]  # 256 scales ~ N(1, 0.02): mean's standard error 0.02 / 16
    assert abs(bn.weight.mean().item() - 1.0) < 5 * 0.02 / 16
    assert 0.01 < bn.weight.std().item() < 0.03
    assert torch.all(bn.bias == 0)
    assert torch.all(gen.net[-2].bias == 0)  # output layer keeps a (zeroed) bias


def test_maxout_takes_the_largest_of_its_pieces():
    unit = Maxout(1, 2, pieces=3)
    with torch.no_grad():
        unit.linear.weight.copy_(torch.tensor([[1.0], [-1.0], [0.5], [2.0], [0.0], [-3.0]]))
        unit.linear.bias.copy_(torch.tensor([0.0, 0.0, 1.0, 0.0, 1.0, 0.0]))
    # unit 1: max(x, -x, 0.5x + 1); unit 2: max(2x, 1, -3x)
    assert unit(torch.tensor([[2.0], [-1.0]])).tolist() == [[2.0, 4.0], [1.0, 3.0]]


def test_maxout_discriminator_shapes():
    discriminator = MLPDiscriminator([2], hidden_dims=[200, 200, 200], maxout_pieces=5)
    assert discriminator(torch.randn(7, 2)).shape == (7, 1)
    assert discriminator.body[1][0].linear.out_features == 1000
