"""Every loss that ``loss=`` offers composes from its YAML file and trains without a non-finite value."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ganlab.config import config_dir
from ganlab.losses import DIVERGENCES, RELATIVISTIC_VARIANTS, GANLoss
from tests.helpers import fit

LOSS_CHOICES = sorted(path.stem for path in (Path(config_dir()) / "loss").glob("*.yaml"))
VARIANTS = [
    *([f"loss={name}"] for name in LOSS_CHOICES),
    *(["loss=fgan", f"loss.divergence={name}"] for name in sorted(DIVERGENCES) if name != "jensen_shannon"),
    ["loss=fgan", "loss.generator_update=saddle"],
    *(["loss=ragan", f"loss.variant={name}"] for name in sorted(RELATIVISTIC_VARIANTS) if name != "nsgan"),
    ["loss=wgan_gp", "loss.one_sided=true"],
]


def test_the_catalogue_is_complete():
    expected = {"gan", "nsgan", "lsgan", "lsgan_pearson", "wgan", "wgan_gp", "hinge", "fgan", "ragan"}
    assert expected <= set(LOSS_CHOICES)


@pytest.mark.parametrize("overrides", VARIANTS, ids=" ".join)
def test_loss_trains_the_ring_without_non_finite_values(compose_train, overrides):
    trainer, module = fit(compose_train(*overrides, "generator_steps=300", "trainer.log_every_n_steps=50"))
    assert isinstance(module.loss, GANLoss)
    assert module.generator_steps == 300
    assert torch.isfinite(trainer.callback_metrics["train/d_loss"])
    assert torch.isfinite(trainer.callback_metrics["train/g_loss"])
    samples = module.generate(module.generator.sample_latent(256, device=module.device))
    assert torch.isfinite(samples).all()


@pytest.mark.parametrize("loss", ["wgan_gp", "ragan", "fgan"])
def test_loss_stays_finite_under_bf16_autocast(compose_train, loss):
    """D runs in bfloat16 here; the losses upcast its outputs (``test_losses`` checks the dtype)."""
    cfg = compose_train(
        f"loss={loss}",
        "generator_steps=100",
        "trainer.precision=bf16-mixed",
        "+tricks.recorder._target_=tests.helpers.RecordingTrick",
    )
    trainer, module = fit(cfg)
    assert module.tricks[0].discriminator_output_dtypes == {torch.bfloat16}
    assert torch.isfinite(trainer.callback_metrics["train/d_loss"])
    assert torch.isfinite(trainer.callback_metrics["train/g_loss"])


@pytest.mark.parametrize("overrides", VARIANTS, ids=" ".join)
def test_loss_trains_dcgan_on_mnist_without_non_finite_values(compose_train, overrides):
    cfg = compose_train(
        *overrides,
        "model=dcgan",
        "dataset=mnist",
        "generator_steps=30",
        "model.generator.width=8",
        "model.discriminator.width=8",
        "dataset.datamodule.batch_size=32",
        "trainer.log_every_n_steps=10",
    )
    trainer, module = fit(cfg)
    assert module.generator_steps == 30
    assert torch.isfinite(trainer.callback_metrics["train/d_loss"])
    assert torch.isfinite(trainer.callback_metrics["train/g_loss"])


def test_fgan_jensen_shannon_with_the_heuristic_update_is_the_nsgan_game(compose_train):
    """Nowozin et al. 2016, Table 2: the JS row's critic loss is the GAN discriminator loss minus 2 log 2, and
    the heuristic generator loss is the non-saturating one plus log 2; constants do not change gradients."""
    trained = {}
    for name, overrides in {
        "nsgan": ["loss=nsgan"],
        "fgan": ["loss=fgan", "loss.divergence=jensen_shannon", "loss.generator_update=heuristic"],
    }.items():
        # a few steps: the two losses round differently (1e-7 a step), and GAN training amplifies any difference
        trained[name] = fit(compose_train(*overrides, "generator_steps=5"))[1]
    nsgan, fgan = trained["nsgan"], trained["fgan"]
    for (name, a), (_, b) in zip(nsgan.generator.named_parameters(), fgan.generator.named_parameters(), strict=True):
        torch.testing.assert_close(a, b, msg=f"generator {name} differs")
