"""Small callbacks and tricks the tests plug into real runs through config (``+callbacks.x._target_=...``)."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from torch import Tensor

from ganlab.tricks import StepContext, Trick


class DumpGeneratorWeights(L.Callback):
    """Save each process's generator parameters at the end of training, as ``rank<k>.pt``."""

    def __init__(self, out_dir: str) -> None:
        self.out_dir = Path(out_dir)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        weights = {name: p.detach().cpu().clone() for name, p in pl_module.generator.named_parameters()}
        torch.save(weights, self.out_dir / f"rank{trainer.global_rank}.pt")


class RecordingTrick(Trick):
    """Records the order of its hook calls and adds constant loss terms, to test the trick interface."""

    def __init__(self, d_term: float = 0.0, g_term: float = 0.0) -> None:
        self.d_term = d_term
        self.g_term = g_term
        self.calls: list[str] = []

    def setup(self, module) -> None:
        self.calls.append("setup")

    def discriminator_inputs(self, real: Tensor, fake: Tensor, module) -> tuple[Tensor, Tensor]:
        self.calls.append("discriminator_inputs")
        return real, fake

    def discriminator_terms(self, context: StepContext) -> dict[str, Tensor]:
        self.calls.append("discriminator_terms")
        return {"recorded": torch.tensor(self.d_term)}

    def generator_terms(self, context: StepContext) -> dict[str, Tensor]:
        self.calls.append("generator_terms")
        return {"recorded": torch.tensor(self.g_term)}

    def after_discriminator_step(self, context: StepContext) -> None:
        self.calls.append("after_discriminator_step")

    def after_generator_step(self, context: StepContext) -> None:
        self.calls.append("after_generator_step")

    def state_dict(self) -> dict:
        return {"num_calls": len(self.calls)}
