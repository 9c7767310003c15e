"""Classification Accuracy Score (Ravuri & Vinyals 2019): do a conditional model's samples teach a classifier?"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganlab.data.base import GANDataModule
from ganlab.errors import GanlabError
from ganlab.metrics.base import Findings, LatentProbe
from ganlab.schema import AtLeast, Positive

if TYPE_CHECKING:
    from ganlab.module import GANModule


def small_classifier(sample_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """A small CNN for images ``(C, H, W)``: two 3x3 conv + ReLU + 2x2 max-pool stages (32, 64 channels), then a
    linear layer; a two-hidden-layer MLP (128 units) for flat samples such as 2-D points."""
    if len(sample_shape) == 3:
        channels, height, width = sample_shape
        return nn.Sequential(
            nn.Conv2d(channels, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * (height // 4) * (width // 4), num_classes),
        )
    features = math.prod(sample_shape)
    return nn.Sequential(
        nn.Flatten(), nn.Linear(features, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, num_classes)
    )


class ClassificationAccuracyScore(LatentProbe):
    """CAS: a classifier trained on generated labelled samples, tested on the real test split.

    ``num_per_class`` samples are generated for every class (``G(z, y)``, z from the eval seed), a
    :func:`small_classifier` is trained on them, and its accuracy on the real test images is
    ``cas``. The same classifier, trained the same way on as many real training samples, gives
    ``cas_real``, the score a perfect generator would approach; ``cas_gap = cas_real - cas``. A
    generator that ignores its label scores near chance (``1 / num_classes``), one that draws the
    wrong class below it: CAS sees what FID cannot, whether samples carry their class. Needs a
    class-conditional model (``model.conditioning=...``) and a labelled dataset.

    Args:
        num_per_class: generated (and real) training samples per class.
        epochs: passes of Adam over the training samples, for both classifiers.
        batch_size: classifier training batch.
        lr: Adam learning rate.
    """

    def __init__(
        self,
        num_per_class: Annotated[int, AtLeast(1)] = 500,
        epochs: Annotated[int, AtLeast(1)] = 5,
        batch_size: Annotated[int, AtLeast(1)] = 128,
        lr: Annotated[float, Positive] = 1e-3,
    ) -> None:
        self.num_per_class = int(num_per_class)
        self.epochs = int(epochs)
        self.batch_size = int(batch_size)
        self.lr = float(lr)

    def run(self, module: GANModule, datamodule: GANDataModule, seed: int) -> Findings:
        num_classes = module.generator.num_classes
        if not num_classes:
            raise GanlabError(
                "metrics=[cas] scores class-conditional generators: train with model.conditioning=acgan "
                "(or concat, projection) on a labelled dataset"
            )
        rng = torch.Generator().manual_seed(seed)
        labels = torch.arange(num_classes).repeat_interleave(self.num_per_class)
        z = module.generator.sample_latent(len(labels), rng=rng)
        generated = torch.cat(
            [module.generate(z[i : i + 500], {"label": labels[i : i + 500]}).cpu() for i in range(0, len(z), 500)]
        )
        held_out = (datamodule.test_set or datamodule.train_set).tensors
        train = datamodule.train_set.tensors
        real_order = torch.randperm(len(train["real"]), generator=rng)[: len(labels)]
        test_images, test_labels = held_out["real"], held_out["label"]
        test = (test_images, test_labels)
        cas = self._trained_accuracy(generated, labels, test, num_classes, seed)
        cas_real = self._trained_accuracy(
            train["real"][real_order], train["label"][real_order], test, num_classes, seed
        )
        return Findings({"cas": cas, "cas_real": cas_real, "cas_gap": cas_real - cas})

    def _trained_accuracy(
        self, images: Tensor, labels: Tensor, test: tuple[Tensor, Tensor], num_classes: int, seed: int
    ) -> float:
        """Accuracy on ``test`` (images, labels) of a :func:`small_classifier` trained on ``(images, labels)``."""
        classifier = train_classifier(images, labels, num_classes, seed, self.epochs, self.batch_size, self.lr)
        return accuracy(classifier, *test)


def train_classifier(
    images: Tensor,
    labels: Tensor,
    num_classes: int,
    seed: int,
    epochs: int = 5,
    batch_size: int = 128,
    lr: float = 1e-3,
) -> nn.Module:
    """A :func:`small_classifier` trained on ``(images, labels)`` with Adam (cross-entropy), seeded; in eval mode."""
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        classifier = small_classifier(tuple(images.shape[1:]), num_classes)
    optimizer = torch.optim.Adam(classifier.parameters(), lr=lr)
    with torch.enable_grad():
        for _ in range(epochs):
            for batch in torch.randperm(len(images), generator=generator).split(batch_size):
                loss = F.cross_entropy(classifier(images[batch].float()), labels[batch])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
    return classifier.eval()


@torch.no_grad()
def accuracy(classifier: nn.Module, images: Tensor, labels: Tensor) -> float:
    """The share of ``images`` that ``classifier`` labels as ``labels``."""
    predicted = torch.cat([classifier(x.float()).argmax(dim=1) for x in images.split(1000)])
    return (predicted == labels).float().mean().item()
