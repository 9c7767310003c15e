"""Pictures of samples from a fixed noise vector, logged to TensorBoard and saved as PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_only

from ganlab.animation import write_animation
from ganlab.console import console
from ganlab.loggers import log_image
from ganlab.plotting import save_png
from ganlab.schema import AtLeast


class SampleGrid(L.Callback):
    """Every ``every_n_steps`` generator steps (and at the end), draw ``G(z_fixed)``.

    The same latent vectors are used for the whole run (and kept in checkpoints), so pictures are
    comparable over time. The datamodule decides what a picture is: an image grid for images; for
    2-D data the field view (D's heat map, the real density, the fakes and the pull of G's loss on
    each, G's image of a noise grid), for 1-D data the histograms with D and D*. At the end the
    whole run's pictures become one animation, ``samples.gif`` (and ``samples.mp4`` where ffmpeg
    is installed), next to the PNGs.

    Args:
        every_n_steps: generator steps between pictures.
        num_samples: latent vectors in the fixed batch (64 for an 8 x 8 image grid; more for 2-D).
        out_dir: folder for ``step_XXXXXX.png``; ``None`` logs to TensorBoard only.
        seed: seed of the fixed latent vectors.
        game: draw the players into 1-D and 2-D pictures; ``False`` draws the samples alone.
        animation: write the animation at the end of training.
    """

    def __init__(
        self,
        every_n_steps: Annotated[int, AtLeast(1)] = 500,
        num_samples: Annotated[int, AtLeast(1)] = 64,
        out_dir: str | None = None,
        seed: int = 1234,
        game: bool = True,
        animation: bool = True,
    ) -> None:
        self.every_n_steps = int(every_n_steps)
        self.num_samples = int(num_samples)
        self.out_dir = Path(out_dir) if out_dir else None
        self.seed = int(seed)
        self.game = bool(game)
        self.animation = bool(animation)
        self.fixed_z: torch.Tensor | None = None

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.fixed_z is None:
            rng = torch.Generator().manual_seed(self.seed)
            self.fixed_z = pl_module.generator.sample_latent(self.num_samples, rng=rng)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        if pl_module.generator_steps % self.every_n_steps == 0:
            self._draw(trainer, pl_module)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if pl_module.generator_steps % self.every_n_steps != 0:
            self._draw(trainer, pl_module)
        if self.animation:
            self._animate()

    @rank_zero_only
    def _animate(self) -> None:
        if self.out_dir is None:
            return
        # the PNGs on disk, not frames kept in memory: a resumed run's animation covers the whole run
        written = write_animation(sorted(self.out_dir.glob("step_*.png")), self.out_dir / "samples")
        if written:
            console.print(f"animation of the run: {', '.join(str(path) for path in written)}")

    @rank_zero_only
    def _draw(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        step = pl_module.generator_steps
        picture = pl_module.sample_picture(self.fixed_z, trainer.datamodule, game=self.game)
        for logger in trainer.loggers:
            log_image(logger, "samples", picture, step)
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            save_png(picture, str(self.out_dir / f"step_{step:06d}.png"))

    def state_dict(self) -> dict[str, Any]:
        return {"fixed_z": self.fixed_z}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.fixed_z = state_dict.get("fixed_z")
