"""Class conditioning of any discriminator: input concatenation, an auxiliary classifier, or projection.

``model.conditioning=`` picks one for every image model; the generator side is each architecture's
own (``num_classes`` on its constructor). The three discriminators, with ``φ(x)`` the network's
features, ``ψ`` its head and ``y`` the label (:class:`~ganlab.models.base.Discriminator`):

- ``concat`` (Mirza & Osindero 2014): ``D(x, y) = ψ(φ([x; onehot(y)]))``, the label joined to the
  input as one constant plane per class (one feature per class for flat data).
- ``acgan`` (Odena et al. 2017): ``D(x) = ψ(φ(x))`` stays unconditional and a second head
  ``c(φ(x))`` classifies; both players add the classification loss
  ``λ·CE(c(φ(x)), y)``: D on real and fake samples, G on its fakes (:class:`AuxiliaryClassifierLoss`).
- ``projection`` (Miyato & Koyama 2018): ``D(x, y) = ψ(φ(x)) + ⟨e_y, φ(x)⟩``, an inner product
  with a learned class embedding ``e_y``.
"""

from __future__ import annotations

from typing import Annotated, Any

import torch
import torch.nn.functional as F
from hydra.utils import get_class
from torch import Tensor, nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

from ganlab.errors import GanlabError
from ganlab.models.base import Discriminator
from ganlab.schema import AtLeast, OneOf
from ganlab.tricks.base import StepContext, Trick

CONDITIONINGS = ("none", "concat", "acgan", "projection")


def classes_for(conditioning: str, dataset_classes: int | None) -> int:
    """The ``num_classes`` a model is built with: 0 unconditional, else the dataset's class count.

    Raises:
        GanlabError: an unknown conditioning, or a conditional model on a dataset without labels.
    """
    if conditioning not in CONDITIONINGS:
        raise GanlabError(f"model.conditioning={conditioning} is not an option: use one of {', '.join(CONDITIONINGS)}")
    if conditioning == "none":
        return 0
    if not dataset_classes:
        raise GanlabError(
            f"model.conditioning={conditioning} needs class labels, and this dataset has none: "
            "use a labelled dataset (mnist, fashion_mnist, cifar10, ring8; image_folder with dataset.num_classes=N) "
            "or model.conditioning=none"
        )
    return int(dataset_classes)


def conditional_discriminator(
    network: str,
    conditioning: Annotated[str, OneOf(*CONDITIONINGS)] = "none",
    num_classes: Annotated[int | None, AtLeast(0, nullable=True)] = 0,
    **kwargs: Any,
) -> Discriminator:
    """Build the discriminator class ``network`` (an import path) with ``kwargs``, conditioned as asked.

    Model configs name their discriminator through this factory, so that every architecture gets
    every conditioning and ``model.discriminator.<arg>=...`` still sets the network's own arguments.
    """
    cls = get_class(network)
    num_classes = classes_for(conditioning, num_classes)
    if conditioning == "none":
        return cls(**kwargs)
    if conditioning == "concat":
        return InputConcatDiscriminator(cls(**kwargs, extra_input_channels=num_classes), num_classes)
    if conditioning == "acgan":
        return AuxiliaryClassifierDiscriminator(cls(**kwargs), num_classes)
    return ProjectionDiscriminator(cls(**kwargs), num_classes)


class _ConditionedDiscriminator(Discriminator):
    """A wrapped network that takes ``label``; ``net`` holds the unconditional architecture."""

    condition_keys = ("label",)

    def __init__(self, net: Discriminator, num_classes: int) -> None:
        super().__init__()
        self.net = net
        self.num_classes = int(num_classes)
        self.feature_dim = net.feature_dim
        self.single_stream = net.single_stream

    def _normalised_like_head(self, layer: nn.Module) -> nn.Module:
        """``layer``, spectrally normalised if the network's head is (SNGAN and BigGAN normalise class layers too)."""
        if parametrize.is_parametrized(self.net.head, "weight"):
            return spectral_norm(layer)
        return layer

    @property
    def head(self) -> nn.Module:
        # looked up each time: a trick may replace the network's head layer (minibatch discrimination)
        return self.net.head

    def features(self, x: Tensor) -> Tensor:
        return self.net.features(x)


class InputConcatDiscriminator(_ConditionedDiscriminator):
    """``D(x, y) = ψ(φ([x; onehot(y)]))``: one constant input plane (or feature) per class."""

    def forward(self, x: Tensor, label: Tensor) -> Tensor:
        onehot = F.one_hot(label, self.num_classes).to(x.dtype)
        planes = onehot.view(*onehot.shape, *([1] * (x.dim() - 2))).expand(-1, -1, *x.shape[2:])
        return self.net(torch.cat([x, planes], dim=1))


class ProjectionDiscriminator(_ConditionedDiscriminator):
    """``D(x, y) = ψ(φ(x)) + ⟨e_y, φ(x)⟩`` (Miyato & Koyama 2018), ``e`` a learned ``(classes, feature_dim)`` table."""

    def __init__(self, net: Discriminator, num_classes: int) -> None:
        super().__init__(net, num_classes)
        embedding = nn.Embedding(num_classes, self.feature_dim)
        nn.init.xavier_uniform_(embedding.weight)
        self.embedding = self._normalised_like_head(embedding)

    def forward(self, x: Tensor, label: Tensor) -> Tensor:
        phi = self.features(x)
        return self.head(phi) + (self.embedding(label) * phi).sum(dim=1, keepdim=True)


class AuxiliaryClassifierDiscriminator(_ConditionedDiscriminator):
    """ACGAN's discriminator (Odena et al. 2017): the unconditional score ``ψ(φ(x))`` plus class logits ``c(φ(x))``.

    It takes ``label`` only so that the classification loss sees it; the score ignores it. The
    features of the last two inputs are kept, so the classifier reuses the forward pass the
    adversarial loss already made (real and fake in D's step, fake in G's step).

    Args:
        net: the unconditional discriminator.
        num_classes: classes of the auxiliary classifier.
        weight: ``λ``, the classification loss's weight for both players.
    """

    def __init__(self, net: Discriminator, num_classes: int, weight: float = 1.0) -> None:
        super().__init__(net, num_classes)
        self.classifier = self._normalised_like_head(nn.Linear(self.feature_dim, num_classes))
        self.weight = float(weight)
        self._recent: list[tuple[Tensor, Tensor]] = []

    def forward(self, x: Tensor, label: Tensor | None = None) -> Tensor:
        phi = self.features(x)
        self._recent = [*self._recent[-1:], (x, phi)]
        return self.head(phi)

    def class_logits(self, x: Tensor) -> Tensor:
        """``c(φ(x))``, shape ``(N, num_classes)``; reuses ``φ(x)`` when ``x`` was one of the last two inputs."""
        for seen, phi in self._recent:
            if seen is x:
                return self.classifier(phi)
        return self.classifier(self.features(x))

    def implied_tricks(self) -> list[Trick]:
        return [AuxiliaryClassifierLoss(self.weight)]


class AuxiliaryClassifierLoss(Trick):
    """ACGAN's classification terms: ``L_D += λ·(CE(c(x_real), y) + CE(c(x_fake), y))``, ``L_G += λ·CE(c(G(z,y)), y)``.

    Both players maximise the log-likelihood of the correct class (Odena et al. 2017, eq. 2-4);
    fakes carry the labels they were generated with.
    """

    def __init__(self, weight: float = 1.0) -> None:
        self.weight = float(weight)

    def discriminator_terms(self, context: StepContext) -> dict[str, Tensor]:
        discriminator = context.module.discriminator
        label = context.condition["label"]
        real = F.cross_entropy(discriminator.class_logits(context.real), label)
        fake = F.cross_entropy(discriminator.class_logits(context.fake), label)
        return {"classification": self.weight * (real + fake)}

    def generator_terms(self, context: StepContext) -> dict[str, Tensor]:
        label = context.condition["label"]
        return {
            "classification": self.weight
            * F.cross_entropy(context.module.discriminator.class_logits(context.fake), label)
        }
