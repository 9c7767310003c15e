"""The adversarial game as one LightningModule with manual optimisation."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch import Tensor
from torch.optim import Optimizer

from ganlab.checkpoint import initialise_generator
from ganlab.errors import GanlabError
from ganlab.game_view import GameView
from ganlab.generative import GenerativeModule, grad_norm
from ganlab.losses.base import Critic, GANLoss
from ganlab.models.base import Discriminator, Generator
from ganlab.schema import AtLeast
from ganlab.tricks.base import StepContext, Trick

OptimizerFactory = Callable[[Iterable[torch.nn.Parameter]], Optimizer]
SchedulerFactory = Callable[[Optimizer], Any]


class GANModule(GenerativeModule):
    """Trains a generator against a discriminator: ``n_critic`` D steps, then one G step, per batch.

    What every trained model shares (sampling, step counters, checkpoints) is in
    :class:`~ganlab.generative.GenerativeModule`; this is the adversarial game.

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
        channels_last: see :class:`~ganlab.generative.GenerativeModule`.
    """

    non_finite_remedy = "lower optim.lr, add gradient clipping (optim.gradient_clip_val=1.0) or try another loss"

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
        n_critic: Annotated[int, AtLeast(1)] = 1,
        gradient_clip_val: float | None = None,
        channels_last: bool = False,
    ) -> None:
        super().__init__(generator, gradient_clip_val, channels_last)
        if n_critic < 1:
            raise GanlabError(f"optim.n_critic must be at least 1, got {n_critic}")
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
        self.discriminator_steps = 0
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
        if cfg.get("loss") is None:
            raise GanlabError(
                f"model={cfg.model.name} trains a GAN and needs an adversarial loss: give loss=nsgan (or another)"
            )
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

    @property
    def optimizer_steps_per_batch(self) -> int:
        return self.n_critic + 1

    # ----------------------------------------------------------------------------------- optimisers
    def configure_optimizers(self) -> tuple[list[Optimizer], list[Any]]:
        optimizers = [
            self.generator_optimizer(self.generator.parameters()),
            self.discriminator_optimizer(self.discriminator.parameters()),
        ]
        return self._optimizers_and_schedulers(optimizers, (self.generator_scheduler, self.discriminator_scheduler))

    # ------------------------------------------------------------------------------------- sampling
    @property
    def sampling_generator(self) -> torch.nn.Module:
        """The network samples come from: G, or what a trick puts in its place (EMA weights)."""
        generator: torch.nn.Module = self.generator
        for trick in self.tricks:
            generator = trick.sampling_generator(generator)
        return generator

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
            logs["train/d_grad_norm"] = grad_norm(self.discriminator.parameters())
            logs["train/g_grad_norm"] = grad_norm(self.generator.parameters())
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
        real_scores, fake_scores = real_logits.detach().float(), fake_logits.detach().float()
        logs["train/D_real"] = real_scores.mean()
        logs["train/D_fake"] = fake_scores.mean()
        # What the diagnosis (ganlab.diagnosis) reads, only in the batches whose logs are written (the G step
        # of this batch makes it generator step generator_steps + 1): elsewhere they would be work thrown away.
        if (self.generator_steps + 1) % self.trainer.log_every_n_steps == 0:
            logs["train/D_max_abs"] = torch.maximum(real_scores.abs().amax(), fake_scores.abs().amax())
            # the separation d' of real and fake scores: their mean gap over their pooled standard deviation
            real_var, real_mean = torch.var_mean(real_scores, correction=0)
            fake_var, fake_mean = torch.var_mean(fake_scores, correction=0)
            pooled_std = ((real_var + fake_var) / 2).sqrt().clamp(min=1e-12)
            logs["train/D_separation"] = (real_mean - fake_mean) / pooled_std
            if self.loss.scores_are_logits:
                logs["train/D_real_prob"] = torch.sigmoid(real_scores).mean()
                logs["train/D_fake_prob"] = torch.sigmoid(fake_scores).mean()
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

    # ------------------------------------------------------------------------------------ checkpoints
    def checkpoint_state(self) -> dict[str, Any]:
        return {
            **super().checkpoint_state(),
            "discriminator_steps": self.discriminator_steps,
            "tricks": [trick.state_dict() for trick in self.tricks],
        }

    def load_checkpoint_state(self, state: Mapping[str, Any]) -> None:
        super().load_checkpoint_state(state)
        self.discriminator_steps = int(state.get("discriminator_steps", 0))
        for trick, trick_state in zip(self.tricks, state.get("tricks", []), strict=False):
            trick.load_state_dict(trick_state)
