"""The one interface through which stabilisation tricks plug into the training step.

The GAN module calls every hook of every trick at its point in the step, in the order the tricks
were listed; each hook's default does nothing. A trick therefore overrides only the hooks it needs
and the module never asks which trick it holds. Order of one training step::

    for each of n_critic discriminator steps:
        real, fake = trick.discriminator_inputs(real, fake, module)       # each trick in turn
        labels (1 real, 0 fake) = trick.discriminator_labels(real_labels, fake_labels, module)
        loss_D = loss.discriminator_loss(D(real), D(fake)[, labels]) + loss.penalty(...)
                 + sum(trick.discriminator_terms(context).values())
        backward, step;  loss.after_discriminator_step(D);  trick.after_discriminator_step(context)
    fake = G(z);  real, fake = trick.generator_step_inputs(real, fake, module)
    critic = trick.generator_step_critic(D, context)                  # each trick in turn
    loss_G = loss.generator_loss(critic(fake)) + sum(trick.generator_terms(context).values())
    backward, step;  trick.after_generator_step(context)

``trick.setup(module)`` runs once before training, for the ``setup_first`` tricks first.
Samples for grids and evaluation come from ``trick.sampling_generator(G)`` (an EMA copy, say).
Labels are only built when some trick overrides :meth:`Trick.discriminator_labels`, and only
losses with ``supports_soft_labels`` accept them.

Extra loss terms are returned by name and logged as ``train/d_<name>`` and ``train/g_<name>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from torch import Tensor, nn

from ganlab.losses.base import Critic

if TYPE_CHECKING:
    from ganlab.module import GANModule


@dataclass
class StepContext:
    """What a trick may look at during one player's step.

    Attributes:
        module: the running :class:`~ganlab.module.GANModule` (networks, loss, step counters).
        real: the real batch as D sees it in this step.
        fake: the generated batch (detached in D steps, attached in G steps).
        real_logits: D's outputs on ``real`` (``None`` where a step did not compute them).
        fake_logits: D's outputs on ``fake``.
        condition: the conditioning entries of the batch, passed to G and D as keywords.
        batch: the data batch as loaded, before any trick changed it (the targets of
            image-to-image losses are its ``"real"`` entry).
        generated: G's own output in this step, before any trick changed it (with G's graph in
            G steps); ``None`` where a step did not keep it.
    """

    module: GANModule
    real: Tensor
    fake: Tensor
    real_logits: Tensor | None = None
    fake_logits: Tensor | None = None
    condition: dict[str, Tensor] = field(default_factory=dict)
    batch: dict[str, Tensor] = field(default_factory=dict)
    generated: Tensor | None = None


class Trick:
    """Base class of tricks: override the hooks you need; every default is a no-op.

    Attributes:
        setup_first: set by tricks whose :meth:`setup` replaces a network (MAD-GAN's k generators),
            so that they are set up before tricks that copy or wrap the networks (EMA, spectral norm).
        scores_single_samples: unset by tricks under which D's score of a sample depends on other samples
            (packs, minibatch statistics): D then has no value at a point of its own, for pictures of its field.
        batch_multiple_of: the constructor argument that the batch size must be a multiple of (PacGAN's ``m``),
            checked before a run starts.
    """

    setup_first: bool = False
    scores_single_samples: bool = True
    batch_multiple_of: str | None = None

    def setup(self, module: GANModule) -> None:
        """Called once before training, e.g. to wrap D's layers or copy G's weights."""

    def discriminator_inputs(self, real: Tensor, fake: Tensor, module: GANModule) -> tuple[Tensor, Tensor]:
        """Transform what D sees in its own step (noise, replayed fakes, augmentation)."""
        return real, fake

    def discriminator_labels(
        self, real_labels: Tensor, fake_labels: Tensor, module: GANModule
    ) -> tuple[Tensor, Tensor]:
        """Per-sample classification targets of D's step, 1 for real and 0 for fake to begin with."""
        return real_labels, fake_labels

    def generator_step_inputs(self, real: Tensor, fake: Tensor, module: GANModule) -> tuple[Tensor, Tensor]:
        """Transform what D sees in the generator's step (``fake`` carries G's graph)."""
        return real, fake

    def generator_step_critic(self, critic: Critic, context: StepContext) -> Critic:
        """The discriminator G's loss is computed with (an unrolled copy, say); ``critic`` by default.

        ``context`` holds this step's real batch and fakes (with G's graph) and D's conditioning.
        """
        return critic

    def sampling_generator(self, generator: nn.Module) -> nn.Module:
        """The network that draws samples for grids and evaluation; G itself by default."""
        return generator

    def discriminator_terms(self, context: StepContext) -> dict[str, Tensor]:
        """Extra named terms added to D's loss."""
        return {}

    def generator_terms(self, context: StepContext) -> dict[str, Tensor]:
        """Extra named terms added to G's loss."""
        return {}

    def after_discriminator_step(self, context: StepContext) -> None:
        """Called after each optimizer step of D."""

    def after_generator_step(self, context: StepContext) -> None:
        """Called after each optimizer step of G."""

    def state_dict(self) -> dict[str, Any]:
        """State to keep in checkpoints (buffers, running averages)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
