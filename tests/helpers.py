"""Small callbacks and tricks the tests plug into real runs through config (``+callbacks.x._target_=...``),
and an in-process fit of a composed config."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import lightning as L
import torch
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import Logger
from omegaconf import DictConfig
from torch import Tensor
from torch.utils.data import DataLoader

from ganlab.generative import module_class
from ganlab.module import GANModule
from ganlab.tricks import StepContext, Trick


def fit(
    cfg: DictConfig,
    module: GANModule | None = None,
    callbacks: Sequence[L.Callback] = (),
    ckpt_path: str | Path | None = None,
    logger: Logger | bool = False,
) -> tuple[L.Trainer, GANModule]:
    """Train ``cfg``'s module in this process, without loggers unless given; checkpoints only where
    ``callbacks`` write them.

    Seeds as ``ganlab train`` does (before the networks are built), so a fit is a function of ``cfg``.
    """
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    module = module or module_class(cfg).from_config(cfg)
    trainer = instantiate(
        cfg.trainer,
        logger=logger,
        callbacks=list(callbacks),
        enable_progress_bar=False,
        enable_checkpointing=any(isinstance(c, ModelCheckpoint) for c in callbacks),
    )
    trainer.fit(module, datamodule=instantiate(cfg.dataset.datamodule), ckpt_path=ckpt_path)
    return trainer, module


def fit_batches(module: GANModule, examples: Sequence[dict[str, Tensor]], batch_size: int = 4) -> L.Trainer:
    """Train ``module`` for two batches of ``examples`` (dicts of one sample each), logging every step."""
    trainer = L.Trainer(
        max_steps=4,  # Lightning counts optimiser steps: one D and one G step per batch
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        log_every_n_steps=1,
    )
    trainer.fit(module, train_dataloaders=DataLoader(list(examples), batch_size=batch_size))
    return trainer


class SignalSelf(L.Callback):
    """Send this process ``signum`` at the end of generator step ``at_step``, as ``kill`` would."""

    def __init__(self, at_step: int, signum: int) -> None:
        self.at_step = at_step
        self.signum = signum

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: GANModule, *args) -> None:
        if pl_module.generator_steps == self.at_step:
            os.kill(os.getpid(), self.signum)


class DumpGeneratorWeights(L.Callback):
    """Save each process's generator parameters at the end of training, as ``rank<k>.pt``."""

    def __init__(self, out_dir: str) -> None:
        self.out_dir = Path(out_dir)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        weights = {name: p.detach().cpu().clone() for name, p in pl_module.generator.named_parameters()}
        torch.save(weights, self.out_dir / f"rank{trainer.global_rank}.pt")


class RecordingTrick(Trick):
    """Records the order of its hook calls and adds constant loss terms, to test the trick interface.

    ``nan_from_step``: from that generator step on, D's term is NaN (a run that diverges on cue).
    """

    def __init__(self, d_term: float = 0.0, g_term: float = 0.0, nan_from_step: int | None = None) -> None:
        self.d_term = d_term
        self.g_term = g_term
        self.nan_from_step = nan_from_step
        self.calls: list[str] = []
        self.generator_step_had_real_logits: list[bool] = []
        self.discriminator_output_dtypes: set[torch.dtype] = set()

    def setup(self, module) -> None:
        self.calls.append("setup")

    def discriminator_inputs(self, real: Tensor, fake: Tensor, module) -> tuple[Tensor, Tensor]:
        self.calls.append("discriminator_inputs")
        return real, fake

    def discriminator_terms(self, context: StepContext) -> dict[str, Tensor]:
        self.calls.append("discriminator_terms")
        self.discriminator_output_dtypes.add(context.fake_logits.dtype)
        diverged = self.nan_from_step is not None and context.module.generator_steps >= self.nan_from_step
        return {"recorded": torch.tensor(float("nan") if diverged else self.d_term)}

    def generator_terms(self, context: StepContext) -> dict[str, Tensor]:
        self.calls.append("generator_terms")
        self.generator_step_had_real_logits.append(context.real_logits is not None)
        return {"recorded": torch.tensor(self.g_term)}

    def after_discriminator_step(self, context: StepContext) -> None:
        self.calls.append("after_discriminator_step")

    def after_generator_step(self, context: StepContext) -> None:
        self.calls.append("after_generator_step")

    def state_dict(self) -> dict:
        return {"num_calls": len(self.calls)}
