"""Classification Accuracy Score: samples of the asked class score like real data, ignored labels score chance."""

from __future__ import annotations

import functools

import pytest
import torch
from torch import Tensor, nn

from ganlab.data import Ring, Toy2DDataModule
from ganlab.errors import GanlabError
from ganlab.losses import NonSaturatingLoss
from ganlab.metrics import ClassificationAccuracyScore
from ganlab.models import MLPDiscriminator, MLPGenerator
from ganlab.models.base import Generator
from ganlab.module import GANModule


class RingModeGenerator(Generator):
    """Draws points at a ring mode: the mode its label names (shifted by ``label_shift``), or, with
    ``follows_label=False``, a mode picked by z alone."""

    def __init__(self, ring: Ring, follows_label: bool = True, label_shift: int = 0) -> None:
        super().__init__(latent_dim=2, num_classes=len(ring.centers))
        self.centers = nn.Buffer(ring.centers)
        self.follows_label, self.label_shift = follows_label, label_shift

    def forward(self, z: Tensor, label: Tensor) -> Tensor:
        if self.follows_label:
            modes = (label + self.label_shift) % self.num_classes
        else:
            modes = (z[:, 0].abs() * 1e4).long() % self.num_classes
        return self.centers[modes] + 0.01 * z


def module_with(generator: Generator) -> GANModule:
    return GANModule(
        generator=generator,
        discriminator=MLPDiscriminator([2], hidden_dims=[8]),
        loss=NonSaturatingLoss(),
        generator_optimizer=functools.partial(torch.optim.Adam),
        discriminator_optimizer=functools.partial(torch.optim.Adam),
    )


@pytest.fixture(scope="module")
def ring() -> Toy2DDataModule:
    datamodule = Toy2DDataModule(Ring(), num_train=2000, num_test=800)
    datamodule.setup()
    return datamodule


def test_cas_is_the_real_data_score_for_samples_of_the_asked_class_and_chance_or_worse_otherwise(ring):
    cas = ClassificationAccuracyScore(num_per_class=100, epochs=3)
    scores = {
        name: cas.run(module_with(RingModeGenerator(ring.distribution, **kwargs)), ring, seed=0).values
        for name, kwargs in {
            "faithful": {},
            "ignores labels": {"follows_label": False},
            "draws the next class": {"label_shift": 1},
        }.items()
    }
    assert scores["faithful"]["cas"] > 0.95 and scores["faithful"]["cas_real"] > 0.95
    assert abs(scores["faithful"]["cas_gap"]) < 0.05
    assert scores["ignores labels"]["cas"] < 0.3  # chance: 1/8
    assert scores["draws the next class"]["cas"] < 0.05  # every test point is called the wrong class
    assert scores["draws the next class"]["cas_real"] == scores["faithful"]["cas_real"]  # same seed, same data


def test_cas_needs_a_class_conditional_generator(ring):
    with pytest.raises(GanlabError, match=r"model\.conditioning"):
        ClassificationAccuracyScore().run(module_with(MLPGenerator(4, [2])), ring, seed=0)
