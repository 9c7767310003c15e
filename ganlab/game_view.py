"""The two players at one moment, as the pictures of the game ask about them.

GAN Lab (Kahng et al. 2018) draws a 2-D GAN as three things: the discriminator's output over the plane,
the image of a regular noise grid through the generator, and the gradient that moves each fake. A
:class:`GameView` computes them from a running :class:`~ganlab.module.GANModule`; the data modules draw them
(:meth:`~ganlab.data.base.GANDataModule.render_game`). Nothing here changes the networks or their gradients.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

from ganlab.tricks.base import StepContext

if TYPE_CHECKING:
    from ganlab.module import GANModule

#: the noise grid spans ±3 standard deviations of the standard normal prior on each latent axis
LATENT_GRID_EXTENT = 3.0


class GameView:
    """What D believes where, what pulls each fake, and where G sends a grid of noise.

    Args:
        module: the GAN being trained (its unconditional D and G are queried in eval mode).
    """

    def __init__(self, module: GANModule) -> None:
        self.module = module

    @property
    def step(self) -> int:
        """The generator step the players are at."""
        return self.module.generator_steps

    @property
    def scores_are_probabilities(self) -> bool:
        """Whether :meth:`score` is a probability of "real" (logit losses) rather than a raw score."""
        return self.module.loss.scores_are_logits

    @property
    def has_pointwise_scores(self) -> bool:
        """Whether D scores one sample at a time: not under tricks that make it score packs or whole batches."""
        return all(trick.scores_single_samples for trick in self.module.tricks)

    @torch.no_grad()
    def score(self, x: Tensor) -> Tensor:
        """D at each point of ``x`` ``(N, ...)``, ``(N,)``: :math:`\\sigma(D(x))` for logit losses, else D(x) itself.

        Several scores per sample (a PatchGAN's map) are averaged first.
        """
        discriminator = self.module.discriminator
        was_training = discriminator.training
        discriminator.eval()
        try:
            raw = discriminator(x.to(self.module.device)).float().reshape(len(x), -1).mean(1).cpu()
        finally:
            discriminator.train(was_training)
        return torch.sigmoid(raw) if self.scores_are_probabilities else raw

    def generator_pull(self, fake: Tensor, real: Tensor) -> Tensor:
        r"""The force the generator's loss puts on each fake: :math:`-\partial (N L_G) / \partial x_i`, as ``fake``.

        :math:`L_G` is the run's own generator objective, computed as in the training step: the tricks'
        generator-step inputs (packing, instance noise, ...) and critic (an unrolled D) included, with
        ``real`` for losses that compare with D(real). :math:`N L_G` makes the force on a sample independent of
        the batch size. G moves the fakes along these arrows, up to its own Jacobian.
        """
        module = self.module
        discriminator = module.discriminator
        was_training = discriminator.training
        discriminator.eval()
        try:
            with torch.enable_grad():
                points = fake.detach().float().to(module.device).requires_grad_(True)
                real_input, fake_input = real.float().to(module.device), points
                for trick in module.tricks:
                    real_input, fake_input = trick.generator_step_inputs(real_input, fake_input, module)
                critic = discriminator
                for trick in module.tricks:
                    critic = trick.generator_step_critic(critic, StepContext(module, real_input, fake_input))
                real_logits = critic(real_input).detach() if module.loss.generator_needs_real_logits else None
                loss = module.loss.generator_loss(critic(fake_input), real_logits) * len(points)
                (gradient,) = torch.autograd.grad(loss, points)
        finally:
            discriminator.train(was_training)
        return -gradient.cpu()

    def latent_grid(self, lines: int = 21, points_per_line: int = 101) -> Tensor | None:
        """G's image of a regular grid in a 2-D latent space: ``(2, lines, points_per_line, *sample_shape)``.

        Row ``[0, i]`` is the image of the line :math:`z_2 = c_i`, row ``[1, i]`` that of :math:`z_1 = c_i`, for
        ``lines`` values :math:`c_i` evenly spaced in :math:`[-3, 3]` (3 standard deviations of the prior).
        ``None`` where the latent space is not 2-D or G needs a condition: there is no plane of noise to draw.
        """
        generator = self.module.generator
        if generator.latent_dim != 2 or generator.condition_keys:
            return None
        levels = torch.linspace(-LATENT_GRID_EXTENT, LATENT_GRID_EXTENT, lines)
        along = torch.linspace(-LATENT_GRID_EXTENT, LATENT_GRID_EXTENT, points_per_line)
        fixed, moving = torch.meshgrid(levels, along, indexing="ij")
        horizontal = torch.stack([moving, fixed], dim=-1).reshape(-1, 2)
        vertical = torch.stack([fixed, moving], dim=-1).reshape(-1, 2)
        images = self.module.generate(torch.cat([horizontal, vertical])).float().cpu()
        return images.reshape(2, lines, points_per_line, *images.shape[1:])
