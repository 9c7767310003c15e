"""What every model ganlab trains shares: a generator to sample from, step counting, checkpoints that resume."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import lightning as L
import torch
from hydra.utils import get_class
from omegaconf import DictConfig
from torch import Tensor
from torch.optim import Optimizer

from ganlab.errors import GanlabError, NonFiniteLoss
from ganlab.models.base import Generator
from ganlab.randomness import capture_random_states, give_rank_its_own_stream, restore_random_states


def grad_norm(parameters: Iterable[torch.nn.Parameter]) -> Tensor:
    """The L2 norm of all the parameters' gradients together (0 where none has one), for the logs."""
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return torch.zeros(())
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))


#: the module a model config names nothing else trains: the adversarial game
DEFAULT_MODULE = "ganlab.module.GANModule"


def module_class(cfg: DictConfig) -> type[GenerativeModule]:
    """The LightningModule a run config trains: ``model.module`` (an import path), the GAN module by default.

    This is the one seam between model families: ``model=vae`` names :class:`~ganlab.vae.VAEModule`, and
    ``ganlab train``, ``ganlab eval`` and resuming build whatever it names through its ``from_config``.
    """
    path = cfg.model.get("module") or DEFAULT_MODULE
    try:
        cls = get_class(path)
    except (ImportError, ValueError) as err:
        raise GanlabError(f"model.module={path} cannot be imported ({err}); leave it unset for a GAN") from None
    if not (isinstance(cls, type) and issubclass(cls, GenerativeModule)):
        raise GanlabError(f"model.module={path} is not a ganlab GenerativeModule (ganlab.module.GANModule, ...)")
    return cls


class GenerativeModule(L.LightningModule):
    """A LightningModule with manual optimisation around one generator, the network samples come from.

    Subclasses build their networks and losses (:meth:`from_config`) and train them (``training_step``);
    this base keeps what ``ganlab`` relies on for every model: :attr:`generator` and :meth:`generate`
    (sample grids, metrics, ``ganlab eval``), :attr:`generator_steps` (the step every config and log
    means: batches trained), :attr:`run_info` (the config saved in checkpoints), and checkpoints that
    carry the step counters and the random generators' states, so a resumed run continues exactly.

    Args:
        generator: maps latent codes to samples.
        gradient_clip_val: clip each optimiser's gradient norm to this value (``None``: no clipping).
        channels_last: store the networks' 4-D weights in channels_last memory format from the start of
            fit, which oneDNN and cuDNN convolutions run faster (docs/performance.md); no effect on MLPs.
    """

    #: what the one-line error of a non-finite loss suggests
    non_finite_remedy = "lower optim.lr or add gradient clipping (optim.gradient_clip_val=1.0)"

    def __init__(self, generator: Generator, gradient_clip_val: float | None = None, channels_last: bool = False):
        super().__init__()
        self.automatic_optimization = False
        self.generator = generator
        self.gradient_clip_val = gradient_clip_val
        self.channels_last = bool(channels_last)
        self.generator_steps = 0
        # Set by `ganlab train`: the composed config and config-group choices, saved in checkpoints
        # so `ganlab eval` and resuming rebuild the run without the user repeating its overrides.
        self.run_info: dict[str, Any] = {}
        self._random_states_to_restore: dict[str, Any] | None = None

    @classmethod
    def from_config(cls, cfg: DictConfig, generator_weights: Any = None) -> GenerativeModule:
        """Build the module a run config describes; ``generator_weights``: a checkpoint G starts from."""
        raise NotImplementedError

    @property
    def optimizer_steps_per_batch(self) -> int:
        """Optimiser steps per batch, what Lightning's ``global_step`` and ``max_steps`` count."""
        return 1

    def setup(self, stage: str) -> None:
        # before the optimisers exist and a checkpoint is loaded, so Adam's moments take the same layout
        if self.channels_last:
            self.to(memory_format=torch.channels_last)

    # ------------------------------------------------------------------------------------- sampling
    @property
    def sampling_generator(self) -> torch.nn.Module:
        """The network samples come from: :attr:`generator` itself unless a subclass puts another in its place."""
        return self.generator

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
        """A ``(3, H, W)`` picture of samples from the latent codes ``z``, for sample grids and ``ganlab eval``."""
        raise NotImplementedError

    # -------------------------------------------------------------------------------------- training
    def _checked_sum(self, terms: Mapping[str, Tensor], player: str) -> Tensor:
        loss = torch.stack([t.float() for t in terms.values()]).sum()
        if not torch.isfinite(loss):
            detail = ", ".join(f"{k}={float(v.detach()):.4g}" for k, v in terms.items())
            where = f"generator step {self.generator_steps}"
            raise NonFiniteLoss(f"non-finite {player} loss at {where} ({detail}); {self.non_finite_remedy}")
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

    @staticmethod
    def _optimizers_and_schedulers(optimizers: list[Optimizer], factories: tuple[Any, ...]) -> tuple[list, list]:
        schedulers = [make(opt) for make, opt in zip(factories, optimizers, strict=True) if make is not None]
        return optimizers, schedulers

    # ------------------------------------------------------------------------------------ checkpoints
    def checkpoint_state(self) -> dict[str, Any]:
        """What ganlab keeps in a checkpoint beside the weights (subclasses add their own entries)."""
        return {
            "run": self.run_info,
            "generator_steps": self.generator_steps,
            "random_states": capture_random_states(),
        }

    def load_checkpoint_state(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`checkpoint_state` saved."""
        self.generator_steps = int(state.get("generator_steps", 0))
        self._random_states_to_restore = state.get("random_states")

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["ganlab"] = self.checkpoint_state()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.load_checkpoint_state(checkpoint.get("ganlab", {}))

    def on_train_start(self) -> None:
        # Restored here, after every setup hook that might draw numbers, right before the next batch.
        if self._random_states_to_restore is not None:
            restore_random_states(self._random_states_to_restore)
            self._random_states_to_restore = None
        give_rank_its_own_stream(self.global_rank)
