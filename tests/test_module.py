"""The GAN module in process: step counting, the trick interface, checkpoint contents."""

from __future__ import annotations

import pytest
import torch
from hydra.utils import instantiate

from ganlab.config_checks import check_train_config
from ganlab.errors import GanlabError
from ganlab.module import GANModule
from tests.helpers import fit

RECORDER = ("+tricks.recorder._target_=tests.helpers.RecordingTrick",)


def test_n_critic_discriminator_steps_per_generator_step(compose_train):
    cfg = compose_train("generator_steps=7", "optim.n_critic=3")
    trainer, module = fit(cfg)
    assert module.generator_steps == 7
    assert module.discriminator_steps == 21
    assert trainer.global_step == 28  # Lightning counts every optimizer step


def test_tricks_hooks_run_in_order_and_their_terms_join_the_losses(compose_train):
    cfg = compose_train(
        "generator_steps=2",
        "trainer.log_every_n_steps=1",
        "optim.n_critic=2",
        *RECORDER,
        "+tricks.recorder.d_term=5.0",
        "+tricks.recorder.g_term=-2.0",
    )
    trainer, module = fit(cfg)
    (trick,) = module.tricks
    d_step = ["discriminator_inputs", "discriminator_terms", "after_discriminator_step"]
    g_step = ["generator_terms", "after_generator_step"]
    assert trick.calls == ["setup"] + (d_step * 2 + g_step) * 2
    logged = trainer.callback_metrics
    torch.testing.assert_close(logged["train/d_loss"], logged["train/d_adversarial"] + logged["train/d_penalty"] + 5.0)
    torch.testing.assert_close(logged["train/g_loss"], logged["train/g_adversarial"] - 2.0)
    assert logged["train/d_recorded"].item() == 5.0


def test_non_finite_loss_stops_with_a_clear_error(compose_train):
    cfg = compose_train("generator_steps=3", *RECORDER, "+tricks.recorder.d_term=nan")
    with pytest.raises(GanlabError, match="non-finite discriminator loss at generator step 0"):
        fit(cfg)


def test_checkpoint_holds_config_counters_and_trick_state(compose_train, tmp_path):
    cfg = compose_train("generator_steps=4", *RECORDER)
    module = GANModule.from_config(cfg)
    module.run_info = {"config": {"seed": 42}, "choices": {"model": "mlp"}}
    trainer, module = fit(cfg, module)
    trainer.save_checkpoint(tmp_path / "x.ckpt")
    state = torch.load(tmp_path / "x.ckpt", weights_only=True)["ganlab"]
    assert state["generator_steps"] == 4 and state["discriminator_steps"] == 4
    assert state["run"] == {"config": {"seed": 42}, "choices": {"model": "mlp"}}
    assert state["tricks"] == [{"num_calls": 1 + 4 * 5}]


def test_n_critic_below_one_is_refused(compose_train):
    cfg = compose_train("optim.n_critic=0")
    with pytest.raises(GanlabError, match=r"^optim.n_critic=0: must be an integer >= 1$"):
        check_train_config(cfg)
    with pytest.raises(GanlabError, match="n_critic"):
        GANModule.from_config(cfg)


@pytest.mark.parametrize(("loss", "expected"), [("ragan", True), ("nsgan", False)])
def test_generator_step_computes_real_logits_only_for_relativistic_losses(compose_train, loss, expected):
    _, module = fit(compose_train(f"loss={loss}", "generator_steps=3", *RECORDER))
    assert module.tricks[0].generator_step_had_real_logits == [expected] * 3


def test_wgan_brings_its_optimiser_and_keeps_the_critic_clipped(compose_train):
    cfg = compose_train("loss=wgan", "generator_steps=2")
    fresh = GANModule.from_config(cfg)
    assert max(p.abs().max().item() for p in fresh.discriminator.parameters()) > 0.01  # the clip has work to do
    trainer, module = fit(cfg)
    assert module.discriminator_steps == 10  # n_critic 5
    assert [type(opt) for opt in trainer.optimizers] == [torch.optim.RMSprop, torch.optim.RMSprop]
    assert max(p.abs().max().item() for p in module.discriminator.parameters()) <= 0.01


def test_a_command_line_optim_choice_beats_the_one_a_loss_brings(compose_train):
    cfg = compose_train("loss=wgan", "optim=adam")
    assert cfg.optim.generator._target_ == "torch.optim.Adam"
    assert cfg.loss.clip_value == 0.01


def test_lsgan_pearson_preset_has_the_chi_squared_targets(compose_train):
    loss = instantiate(compose_train("loss=lsgan_pearson").loss)
    assert (loss.b - loss.c, loss.b - loss.a) == (1.0, 2.0)


def test_ttur_gives_the_discriminator_the_faster_learning_rate(compose_train):
    module = GANModule.from_config(compose_train("optim=ttur"))
    generator_opt, discriminator_opt = module.configure_optimizers()[0]
    assert (generator_opt.param_groups[0]["lr"], discriminator_opt.param_groups[0]["lr"]) == (1e-4, 4e-4)
    assert generator_opt.param_groups[0]["betas"] == (0.0, 0.9)


def test_adam_cosine_takes_both_learning_rates_to_zero_at_the_last_generator_step(compose_train):
    trainer, _ = fit(compose_train("optim=adam_cosine", "generator_steps=20"))
    rates = [optimizer.param_groups[0]["lr"] for optimizer in trainer.optimizers]
    assert rates == pytest.approx([0.0, 0.0], abs=1e-12)
    halfway = compose_train("optim=adam_cosine", "generator_steps=20")
    module = GANModule.from_config(halfway)
    optimizers, schedulers = module.configure_optimizers()
    for optimizer in optimizers:
        optimizer.step()  # no gradients yet: moves nothing, but schedulers expect a step before theirs
    for _ in range(10):
        for scheduler in schedulers:
            scheduler.step()
    assert optimizers[0].param_groups[0]["lr"] == pytest.approx(halfway.optim.lr / 2)  # cos(pi/2) halfway
