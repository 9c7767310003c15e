"""Rich progress bar that counts batches (generator steps) rather than optimizer steps."""

from __future__ import annotations

from lightning.pytorch.callbacks import RichProgressBar


class GANProgressBar(RichProgressBar):
    """Lightning's ``RichProgressBar`` with totals in batches.

    Lightning stops at ``max_steps`` optimizer steps, and a GAN batch takes ``n_critic + 1`` of
    them (the module's ``optimizer_steps_per_batch``); the stock bar would end at ``1/(n_critic + 1)``
    of its length.
    """

    @property
    def total_train_batches(self) -> int | float:
        trainer = self.trainer
        if trainer.max_steps is None or trainer.max_steps < 0:
            return super().total_train_batches
        steps_per_batch = trainer.lightning_module.optimizer_steps_per_batch
        remaining_batches = (trainer.max_steps - trainer.global_step) // steps_per_batch
        return min(trainer.num_training_batches, remaining_batches)

    def _get_train_description(self, current_epoch: int) -> str:
        # The stock text shows "Epoch k/max_epochs-1", i.e. "/-2" for runs bounded by steps.
        return f"Epoch {current_epoch}"
