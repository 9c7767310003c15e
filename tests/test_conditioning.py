"""Class conditioning: every discriminator conditioning computes its formula, labels reach both players,
ACGAN's classifier learns, and conditional samples are laid out one row per class."""

from __future__ import annotations

import functools

import pytest
import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from torch.nn.utils import parametrize
from torch.testing import assert_close

from ganlab.data import Ring, Toy2DDataModule
from ganlab.errors import GanlabError
from ganlab.losses import NonSaturatingLoss
from ganlab.metrics.latent import generate_images
from ganlab.models import DCGANGenerator, MLPGenerator
from ganlab.models.conditioning import (
    AuxiliaryClassifierDiscriminator,
    InputConcatDiscriminator,
    ProjectionDiscriminator,
    classes_for,
    conditional_discriminator,
)
from ganlab.module import GANModule
from tests.helpers import fit

MLP_D = "ganlab.models.mlp.MLPDiscriminator"
DCGAN_D = "ganlab.models.dcgan.DCGANDiscriminator"


def test_projection_discriminator_is_its_head_plus_the_class_embedding_inner_product():
    torch.manual_seed(0)
    d = conditional_discriminator(MLP_D, "projection", 3, data_shape=[2], hidden_dims=[5])
    assert isinstance(d, ProjectionDiscriminator)
    x, y = torch.randn(4, 2), torch.tensor([0, 1, 2, 1])
    phi = torch.nn.functional.leaky_relu(x @ d.net.body[1][0].weight.T + d.net.body[1][0].bias, 0.2)
    by_hand = phi @ d.head.weight.T + d.head.bias + (d.embedding.weight[y] * phi).sum(1, keepdim=True)
    assert_close(d(x, label=y), by_hand)


def test_class_layers_are_spectrally_normalised_when_the_network_head_is():
    resnet = "ganlab.models.resnet.ResNetDiscriminator"
    shape = {"channels": 1, "resolution": 28, "width": 8}
    assert parametrize.is_parametrized(conditional_discriminator(resnet, "projection", 10, **shape).embedding)
    assert parametrize.is_parametrized(conditional_discriminator(resnet, "acgan", 10, **shape).classifier)
    assert not parametrize.is_parametrized(conditional_discriminator(DCGAN_D, "projection", 10, **shape).embedding)


def test_concat_discriminator_sees_one_label_plane_per_class():
    torch.manual_seed(0)
    d = conditional_discriminator(DCGAN_D, "concat", 10, channels=1, resolution=28, width=8)
    assert isinstance(d, InputConcatDiscriminator)
    assert d.net.body[0].in_channels == 1 + 10
    x = torch.randn(2, 1, 28, 28)
    assert not torch.allclose(d(x, label=torch.tensor([0, 0])), d(x, label=torch.tensor([3, 3])))


def test_acgan_discriminator_score_ignores_the_label_and_its_classifier_reuses_the_forward_pass():
    torch.manual_seed(0)
    d = conditional_discriminator(MLP_D, "acgan", 8, data_shape=[2], hidden_dims=[16])
    assert isinstance(d, AuxiliaryClassifierDiscriminator)
    x = torch.randn(5, 2)
    assert torch.equal(d(x, label=torch.zeros(5, dtype=torch.long)), d(x, label=torch.ones(5, dtype=torch.long)))
    calls = []
    d.net.body.register_forward_hook(lambda *_: calls.append(1))
    real, fake = torch.randn(5, 2), torch.randn(5, 2)
    d(real), d(fake)
    logits = d.class_logits(real), d.class_logits(fake)
    assert len(calls) == 2  # the two adversarial passes only
    assert_close(logits[0], d.classifier(d.features(real)))
    assert logits[1].shape == (5, 8)
    assert [type(t).__name__ for t in d.implied_tricks()] == ["AuxiliaryClassifierLoss"]


@pytest.mark.parametrize("conditioning", ["none", "concat", "acgan", "projection"])
@pytest.mark.parametrize(
    "network",
    [
        "dcgan.DCGANDiscriminator",
        "resnet.ResNetDiscriminator",
        "biggan.BigGANDiscriminator",
        "stylegan.StyleGANDiscriminator",
    ],
)
def test_every_conditioning_wraps_every_image_discriminator(network, conditioning):
    torch.manual_seed(0)
    disc = conditional_discriminator(f"ganlab.models.{network}", conditioning, 10, channels=1, resolution=28, width=8)
    expected = {
        "none": type(disc),
        "concat": InputConcatDiscriminator,
        "acgan": AuxiliaryClassifierDiscriminator,
        "projection": ProjectionDiscriminator,
    }[conditioning]
    assert type(disc) is expected and disc.condition_keys == (() if conditioning == "none" else ("label",))
    x, label = torch.randn(4, 1, 28, 28), torch.tensor([0, 3, 3, 9])
    condition = {key: label for key in disc.condition_keys}
    scores = disc(x, **condition)
    assert scores.shape == (4, 1) and torch.isfinite(scores).all()
    first_layer = next(m for m in disc.modules() if isinstance(m, torch.nn.Conv2d))
    assert first_layer.in_channels == (11 if conditioning == "concat" else 1)
    if conditioning == "acgan":
        assert disc.class_logits(x).shape == (4, 10)
    if conditioning in ("concat", "projection"):  # the label enters the score
        assert (disc(x, label=(label + 1) % 10) - scores).abs().max() > 1e-6


@pytest.mark.parametrize(
    "generator",
    [MLPGenerator(4, [2], hidden_dims=[8], num_classes=8), DCGANGenerator(4, 1, 28, width=8, num_classes=10)],
    ids=["mlp", "dcgan"],
)
def test_a_conditional_generator_uses_its_label(generator):
    torch.manual_seed(0)
    generator.eval()
    z = generator.sample_latent(3)
    assert generator.condition_keys == ("label",)
    assert not torch.allclose(generator(z, label=torch.tensor([0, 0, 0])), generator(z, label=torch.tensor([5, 5, 5])))
    with pytest.raises(ValueError, match="pass label"):
        generator(z)


def test_conditioning_needs_a_labelled_dataset_and_a_known_name(compose_train):
    assert classes_for("none", None) == 0 and classes_for("acgan", 10) == 10
    with pytest.raises(GanlabError, match="needs class labels"):
        classes_for("projection", None)
    with pytest.raises(GanlabError, match="concat, acgan, projection"):
        classes_for("film", 10)
    cfg = compose_train("dataset=swissroll", "model.conditioning=concat")
    with pytest.raises(InstantiationException) as failure:
        instantiate(cfg.model.discriminator)
    assert "needs class labels" in str(failure.value.__cause__)


def class_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return (logits.argmax(dim=1) == labels).float().mean().item()


def test_acgan_on_the_ring_learns_to_classify_real_modes_and_makes_g_draw_the_asked_mode(compose_train):
    cfg = compose_train("model.conditioning=acgan", "generator_steps=300", "dataset.datamodule.num_train=5000")
    ring = Toy2DDataModule(Ring(), num_train=10, num_test=800)
    ring.setup()
    real, labels = ring.test_set.tensors["real"], ring.test_set.tensors["label"]
    untrained = GANModule.from_config(cfg)
    assert class_accuracy(untrained.discriminator.class_logits(real), labels) < 0.5

    trainer, module = fit(cfg)
    assert trainer.callback_metrics["train/d_classification"] < 0.5  # started near 2·ln 8 = 4.2
    assert class_accuracy(module.discriminator.class_logits(real), labels) > 0.95
    asked = torch.arange(800) % 8
    fakes = module.generate(module.generator.sample_latent(800), {"label": asked})
    drawn_mode = torch.cdist(fakes, ring.distribution.centers).argmin(dim=1)
    assert (drawn_mode == asked).float().mean() > 0.9


def test_conditional_samples_are_drawn_one_row_per_class_and_scored_with_every_class_in_turn():
    generator = MLPGenerator(4, [2], hidden_dims=[8], num_classes=8)
    num, condition, per_row = generator.grid_condition(64)
    assert (num, per_row) == (64, 8)
    assert condition["label"].view(8, 8).tolist() == [[c] * 8 for c in range(8)]
    num, condition, per_row = MLPGenerator(4, [2], num_classes=10).grid_condition(64)  # 6 per class: 60 samples
    assert (num, per_row) == (60, 6) and condition["label"][::6].tolist() == list(range(10))
    assert MLPGenerator(4, [2]).grid_condition(64) == (64, {}, None)
    assert generator.default_condition(10)["label"].tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 0, 1]


def test_a_latent_walk_of_a_conditional_generator_keeps_one_class_per_walk():
    torch.manual_seed(0)
    generator = DCGANGenerator(4, 1, 28, width=8, num_classes=10)
    module = GANModule(
        generator=generator,
        discriminator=conditional_discriminator(DCGAN_D, "projection", 10, channels=1, resolution=28, width=8),
        loss=NonSaturatingLoss(),
        generator_optimizer=functools.partial(torch.optim.Adam),
        discriminator_optimizer=functools.partial(torch.optim.Adam),
    )
    z = generator.sample_latent(1).repeat(6, 1)  # one code, three walks of two steps
    images = generate_images(module, z, "interpolation", per_class=2)
    assert torch.equal(images[0], images[1]) and torch.equal(images[2], images[3])  # same class along a walk
    assert not torch.equal(images[1], images[2])  # the next walk, the next class
