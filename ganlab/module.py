"""The adversarial game as one LightningModule with manual optimisation."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch import Tensor
from torch.optim import Optimizer

from ganlab.checkpoint import initialise_generator
from ganlab.errors import GanlabError, NonFiniteLoss
from ganlab.game_view import GameView
from ganlab.losses.base import Critic, GANLoss
from ganlab.models.base import Discriminator, Generator
from ganlab.randomness import capture_random_states, give_rank_its_own_stream, restore_random_states
from ganlab.tricks.base import StepContext, Trick

OptimizerFactory = Callable[[Iterable[torch.nn.Parameter]], Optimizer]
SchedulerFactory = Callable[[Optimizer], Any]


def _grad_norm(parameters: Iterable[torch.nn.Parameter]) -> Tensor:
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return torch.zeros(())
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))


class GANModule(L.LightningModule):
    """Trains a generator against a discriminator: ``n_critic`` D steps, then one G step, per batch.

    Everything that varies between GANs is injected: the two networks, the :class:`GANLoss`, the
    :class:`Trick` list and the optimiser factories (``functools.partial`` objects, as Hydra's
    ``_partial_: true`` makes them). Batches are dicts with a ``"real"`` entry; the networks take
    the entries named in their ``condition_keys`` as keyword arguments.

    Step counting: Lightning's ``trainer.global_step`` counts optimiser steps (``n_critic + 1`` per
    batch). ganlab's own counters, ``generator_steps`` and ``discriminator_steps``, are what configs
    and logs mean by "step": ``generator_steps`` equals the number of batches trained.

    Args:
        generator: maps latent codes to samples.
        discriminator: maps samples to one raw score each.
        loss: the adversarial objective.
        generator_optimizer: called with G's parameters to build its optimiser.
        discriminator_optimizer: called with D's parameters.
        generator_scheduler: optional, called with G's optimiser; stepped once per generator step.
        discriminator_scheduler: optional, likewise for D.
        tricks: stabilisation tricks, applied in order.
        n_critic: discriminator steps per generator step.
        gradient_clip_val: clip each player's gradient norm to this value (``None``: no clipping).
        channels_last: store the networks' 4-D weights in channels_last memory format from the start of
            fit, which oneDNN and cuDNN convolutions run faster (docs/performance.md); no effect on MLPs.
    """

    def __init__(
        self,
        generator: Generator,
        discriminator: Discriminator,
        loss: GANLoss,
        generator_optimizer: OptimizerFactory,
        discriminator_optimizer: OptimizerFactory,
        generator_scheduler: SchedulerFactory | None = None,
        discriminator_scheduler: SchedulerFactory | None = None,
        tricks: Sequence[Trick] = (),
        n_critic: int = 1,
        gradient_clip_val: float | None = None,
        channels_last: bool = False,
    ) -> None:
        super().__init__()
        if n_critic < 1:
            raise GanlabError(f"optim.n_critic must be at least 1, got {n_critic}")
        self.automatic_optimization = False
        self.generator = generator
        self.discriminator = discriminator
        self.loss = loss
        # the run's tricks, then the loss terms the architectures bring (ACGAN's classifier, BigGAN's orthogonality)
        # (a trick the user listed too keeps the user's settings and counts once)
        listed = {type(trick) for trick in tricks}
        implied = [t for t in (*generator.implied_tricks(), *discriminator.implied_tricks()) if type(t) not in listed]
        self.tricks = [*tricks, *implied]
        self.generator_optimizer = generator_optimizer
        self.discriminator_optimizer = discriminator_optimizer
        self.generator_scheduler = generator_scheduler
        self.discriminator_scheduler = discriminator_scheduler
        self.n_critic = int(n_critic)
        self.gradient_clip_val = gradient_clip_val
        self.channels_last = bool(channels_last)
        self.generator_steps = 0
        self.discriminator_steps = 0
        # Set by `ganlab train`: the composed config and config-group choices, saved in checkpoints
        # so `ganlab eval` and resuming rebuild the run without the user repeating its overrides.
        self.run_info: dict[str, Any] = {}
        self._random_states_to_restore: dict[str, Any] | None = None
        # Tricks that rebuild a network go first, so the others copy or wrap the rebuilt one.
        for trick in sorted(self.tricks, key=lambda t: not t.setup_first):
            trick.setup(self)
        # Labels cost a tensor per step and suit only some losses: build them only when asked for.
        self._labelling_tricks = [
            t for t in self.tricks if type(t).discriminator_labels is not Trick.discriminator_labels
        ]
        if self._labelling_tricks and not loss.supports_soft_labels:
            names = ", ".join(type(t).__name__ for t in self._labelling_tricks)
            raise GanlabError(
                f"{names} changes the discriminator's labels, which {type(loss).__name__} does not have: "
                "use loss=gan, nsgan, lsgan or lsgan_pearson"
            )

    @classmethod
    def from_config(cls, cfg: DictConfig, generator_weights: str | Path | None = None) -> GANModule:
        """Build the module a run config describes (``model``, ``loss``, ``optim``, ``tricks``).

        ``generator_weights``: a checkpoint (or run dir) whose generator weights G starts from, loaded
        before the tricks set up, so a trick that records G there (historical averaging) starts from them.
        """
        tricks = [instantiate(node) for node in (cfg.get("tricks") or {}).values()]
        generator = instantiate(cfg.model.generator)
        if generator_weights is not None:
            initialise_generator(generator, generator_weights)
        return cls(
            generator=generator,
            discriminator=instantiate(cfg.model.discriminator),
            loss=instantiate(cfg.loss),
            generator_optimizer=instantiate(cfg.optim.generator),
            discriminator_optimizer=instantiate(cfg.optim.discriminator),
            generator_scheduler=instantiate(cfg.optim.get("generator_scheduler")),
            discriminator_scheduler=instantiate(cfg.optim.get("discriminator_scheduler")),
            tricks=tricks,
            n_critic=cfg.optim.n_critic,
            gradient_clip_val=cfg.optim.get("gradient_clip_val"),
            channels_last=cfg.get("channels_last", False),
        )

    def setup(self, stage: str) -> None:
        # before the optimisers exist and a checkpoint is loaded, so Adam's moments take the same layout
        if self.channels_last:
            self.to(memory_format=torch.channels_last)

    # ----------------------------------------------------------------------------------- optimisers
    def configure_optimizers(self) -> tuple[list[Optimizer], list[Any]]:
        optimizers = [
            self.generator_optimizer(self.generator.parameters()),
            self.discriminator_optimizer(self.discriminator.parameters()),
        ]
        factories = (self.generator_scheduler, self.discriminator_scheduler)
        schedulers = [make(opt) for make, opt in zip(factories, optimizers, strict=True) if make is not None]
        return optimizers, schedulers

    # ------------------------------------------------------------------------------------- sampling
    @property
    def sampling_generator(self) -> torch.nn.Module:
        """The network samples come from: G, or what a trick puts in its place (EMA weights)."""
        generator: torch.nn.Module = self.generator
        for trick in self.tricks:
            generator = trick.sampling_generator(generator)
        return generator

    @torch.no_grad()
    def generate(self, z: Tensor, condition: dict[str, Tensor] | None = None) -> Tensor:
        """Samples from :attr:`sampling_generator` in eval mode (batch norm uses running statistics).

        A class-conditional generator given no ``condition`` draws the classes in turn
        (:meth:`~ganlab.models.base.Generator.default_condition`); a translating one needs its
        ``{"source": images}``.
        """
        generator = self.sampling_generator
        if condition is None:
            condition = self.generator.default_condition(z.shape[0])
        was_training = generator.training
        generator.eval()
        try:
            return generator(z.to(self.device), **{key: value.to(self.device) for key, value in condition.items()})
        finally:
            generator.train(was_training)

    def sample_picture(self, z: Tensor, datamodule: Any, game: bool = True) -> Tensor:
        """A picture of samples from the latent codes ``z``, drawn by ``datamodule.render_game``.

        An image grid (one row per class for a class-conditional generator, which then uses as
        many of the codes as fill whole rows); for 1-D and 2-D data, with ``game`` the players
        too (:class:`~ganlab.game_view.GameView`), else a plot of the samples alone; for a translating
        generator, ``len(z)`` fixed test examples, one per row: input | output | target.
        """
        if self.generator.translates:
            return self._translation_picture(z.shape[0], datamodule)
        num, condition, per_row = self.generator.grid_condition(z.shape[0])
        # a conditional D has no one field over the sample space to draw
        view = GameView(self) if game and not self.discriminator.condition_keys else None
        return datamodule.render_game(self.generate(z[:num], condition).cpu(), per_row, view)

    @torch.no_grad()
    def _translation_picture(self, num: int, datamodule: Any) -> Tensor:
        """``num`` fixed test examples, one per row: input | output | target (the generator's columns)."""
        generator = self.sampling_generator
        batch = {key: value.to(self.device) for key, value in datamodule.examples(num).items()}
        was_training = generator.training
        generator.eval()
        try:
            return datamodule.render_translation(generator.translation_columns(batch))
        finally:
            generator.train(was_training)

    # -------------------------------------------------------------------------------------- training
    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        opt_g, opt_d = self.optimizers()
        real = self.generator.discriminator_view(batch)
        g_condition = {key: batch[key] for key in self.generator.condition_keys}
        d_condition = {key: batch[key] for key in self.discriminator.condition_keys}
        logs: dict[str, Tensor] = {}
        for _ in range(self.n_critic):
            if self.generator.adversarial_weight:
                logs.update(self._discriminator_step(opt_d, real, batch, g_condition, d_condition))
            else:
                # D sits out (SRResNet), yet Lightning's max_steps counts n_critic + 1 optimiser steps per batch:
                # D's optimiser stepped without gradients moves nothing and keeps that count
                opt_d.step()
        logs.update(self._generator_step(opt_g, real, batch, g_condition, d_condition))
        for scheduler in self._schedulers():
            scheduler.step()
        # Lightning writes logged values only every log_every_n_steps batches; logging (and the
        # gradient norms) on the other steps would be work thrown away.
        if self.generator_steps % self.trainer.log_every_n_steps == 0:
            logs["train/d_grad_norm"] = _grad_norm(self.discriminator.parameters())
            logs["train/g_grad_norm"] = _grad_norm(self.generator.parameters())
            logs["train/lr_generator"] = torch.tensor(opt_g.param_groups[0]["lr"])
            logs["train/lr_discriminator"] = torch.tensor(opt_d.param_groups[0]["lr"])
            # A metric named "step" is Lightning's x-axis: generator steps, as in sample grids and file names.
            logs["step"] = torch.tensor(float(self.generator_steps))
            self.log_dict(logs, on_step=True, on_epoch=False)

    def _discriminator_step(
        self,
        opt: Any,
        real: Tensor,
        batch: dict[str, Tensor],
        g_condition: dict[str, Tensor],
        d_condition: dict[str, Tensor],
    ) -> dict[str, Tensor]:
        with self.toggled_optimizer(opt):
            z = self.generator.sample_latent(real.shape[0], device=self.device)
            with torch.no_grad():
                fake = self.generator(z, **g_condition)
            d_real, d_fake = real, fake
            for trick in self.tricks:
                d_real, d_fake = trick.discriminator_inputs(d_real, d_fake, self)
            real_logits = self.discriminator(d_real, **d_condition)
            fake_logits = self.discriminator(d_fake, **d_condition)
            context = StepContext(self, d_real, d_fake, real_logits, fake_logits, d_condition, batch, fake)
            terms = {
                "adversarial": self.loss.discriminator_loss(real_logits, fake_logits, **self._labels(d_real, d_fake)),
                "penalty": self.loss.penalty(lambda x: self.discriminator(x, **d_condition), d_real, d_fake),
                **self._trick_terms("discriminator_terms", context),
            }
            loss = self._checked_sum(terms, "discriminator")
            self._backward_and_step(opt, loss)
            self.loss.after_discriminator_step(self.discriminator)
            self.discriminator_steps += 1
            for trick in self.tricks:
                trick.after_discriminator_step(context)
        logs = {f"train/d_{name}": value.detach() for name, value in terms.items()}
        logs["train/d_loss"] = loss.detach()
        logs["train/D_real"] = real_logits.detach().float().mean()
        logs["train/D_fake"] = fake_logits.detach().float().mean()
        return logs

    def _generator_step(
        self,
        opt: Any,
        real: Tensor,
        batch: dict[str, Tensor],
        g_condition: dict[str, Tensor],
        d_condition: dict[str, Tensor],
    ) -> dict[str, Tensor]:
        with self.toggled_optimizer(opt):
            generated = self.generator(self.generator.sample_latent(real.shape[0], device=self.device), **g_condition)
            fake = generated
            for trick in self.tricks:
                real, fake = trick.generator_step_inputs(real, fake, self)
            fake_logits = real_logits = None
            adversarial = fake.new_zeros((), dtype=torch.float32)
            # a generator trained on its own terms alone (SRResNet) never runs D, whose batch norms then stay put
            if self.generator.adversarial_weight:
                critic: Critic = lambda x: self.discriminator(x, **d_condition)  # noqa: E731
                for trick in self.tricks:
                    critic = trick.generator_step_critic(
                        critic, StepContext(self, real, fake, condition=d_condition, batch=batch, generated=generated)
                    )
                fake_logits = critic(fake)
                if self.loss.generator_needs_real_logits:
                    with torch.no_grad():
                        real_logits = critic(real)
                adversarial = self.generator.adversarial_weight * self.loss.generator_loss(fake_logits, real_logits)
            context = StepContext(self, real, fake, real_logits, fake_logits, d_condition, batch, generated)
            terms = {"adversarial": adversarial, **self._trick_terms("generator_terms", context)}
            loss = self._checked_sum(terms, "generator")
            self._backward_and_step(opt, loss)
            self.generator_steps += 1
            for trick in self.tricks:
                trick.after_generator_step(context)
        logs = {f"train/g_{name}": value.detach() for name, value in terms.items()}
        logs["train/g_loss"] = loss.detach()
        return logs

    def _labels(self, real: Tensor, fake: Tensor) -> dict[str, Tensor]:
        if not self._labelling_tricks:
            return {}
        real_labels = torch.ones(real.shape[0], device=real.device)
        fake_labels = torch.zeros(fake.shape[0], device=fake.device)
        for trick in self._labelling_tricks:
            real_labels, fake_labels = trick.discriminator_labels(real_labels, fake_labels, self)
        return {"real_targets": real_labels, "fake_targets": fake_labels}

    def _trick_terms(self, hook: str, context: StepContext) -> dict[str, Tensor]:
        terms: dict[str, Tensor] = {}
        for trick in self.tricks:
            terms.update(getattr(trick, hook)(context))
        return terms

    def _checked_sum(self, terms: dict[str, Tensor], player: str) -> Tensor:
        loss = torch.stack([t.float() for t in terms.values()]).sum()
        if not torch.isfinite(loss):
            detail = ", ".join(f"{k}={float(v.detach()):.4g}" for k, v in terms.items())
            raise NonFiniteLoss(
                f"non-finite {player} loss at generator step {self.generator_steps} ({detail}); "
                "lower optim.lr, add gradient clipping (optim.gradient_clip_val=1.0) or try another loss"
            )
        return loss

    def _backward_and_step(self, opt: Any, loss: Tensor) -> None:
        opt.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        if self.gradient_clip_val is not None:
            self.clip_gradients(opt, gradient_clip_val=self.gradient_clip_val, gradient_clip_algorithm="norm")
        opt.step()

    def _schedulers(self) -> list[Any]:
        schedulers = self.lr_schedulers()
        if schedulers is None:
            return []
        return schedulers if isinstance(schedulers, list) else [schedulers]

    # ------------------------------------------------------------------------------------ checkpoints
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["ganlab"] = {
            "run": self.run_info,
            "generator_steps": self.generator_steps,
            "discriminator_steps": self.discriminator_steps,
            "tricks": [trick.state_dict() for trick in self.tricks],
            "random_states": capture_random_states(),
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        state = checkpoint.get("ganlab", {})
        self.generator_steps = int(state.get("generator_steps", 0))
        self.discriminator_steps = int(state.get("discriminator_steps", 0))
        for trick, trick_state in zip(self.tricks, state.get("tricks", []), strict=False):
            trick.load_state_dict(trick_state)
        self._random_states_to_restore = state.get("random_states")

    def on_train_start(self) -> None:
        # Restored here, after every setup hook that might draw numbers, right before the next batch.
        if self._random_states_to_restore is not None:
            restore_random_states(self._random_states_to_restore)
            self._random_states_to_restore = None
        give_rank_its_own_stream(self.global_rank)
