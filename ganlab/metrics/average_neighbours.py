"""The "average five": what a pixel-wise MSE optimum looks like, beside a reconstruction and the nearest sample."""

from __future__ import annotations

from typing import Annotated

import torch
from torch import Tensor

from ganlab.data.base import GANDataModule
from ganlab.errors import GanlabError
from ganlab.metrics.base import Findings, LatentProbe
from ganlab.metrics.latent import generate_images, labelled_grid
from ganlab.metrics.memorization import nearest
from ganlab.metrics.sharpness import laplacian_variance
from ganlab.schema import AtLeast


class AverageOfNeighbours(LatentProbe):
    r"""For each of a few test images x: the mean of its k nearest training images, the model's reconstruction
    of x (a VAE's :math:`G(\mu(x))`, where the model reconstructs) and the model's nearest sample to x.

    The mean of the training images that fit x best is what a decoder trained with a pixel-wise MSE moves
    towards when several of them could be meant: :math:`\arg\min_{\hat x} \sum_j \lVert \hat x - x_j\rVert^2 =
    \bar x`, a smeared five where each :math:`x_j` is a sharp one. Neighbours are found in pixel space.

    Values (sharpness as :func:`~ganlab.metrics.sharpness.laplacian_variance`, relative to the test images'):
    ``average_sharpness`` of the k-NN means, ``reconstruction_sharpness`` (models that reconstruct),
    ``nearest_sample_sharpness``; ``average_mse``, ``reconstruction_mse`` and ``nearest_sample_mse``, the mean
    squared error to x per pixel on grey levels in [0, 1]. Figure ``average_neighbours.png``: one row per test
    image, labelled columns.

    Args:
        num_images: test images, one row each.
        k: training neighbours averaged.
        num_samples: generated samples searched for the nearest one (drawn with the eval seed).
        num_train: training images searched (the first of a fixed order); ``None``: all of them.
    """

    def __init__(
        self,
        num_images: Annotated[int, AtLeast(1)] = 8,
        k: Annotated[int, AtLeast(1)] = 10,
        num_samples: Annotated[int, AtLeast(1)] = 1000,
        num_train: Annotated[int | None, AtLeast(1, nullable=True)] = None,
    ):
        if min(num_images, k, num_samples) < 1:
            raise GanlabError("average_neighbours: num_images, k and num_samples must all be at least 1")
        self.num_images, self.k, self.num_samples = int(num_images), int(k), int(num_samples)
        self.num_train = None if num_train is None else int(num_train)

    def columns(self, module, datamodule: GANDataModule, seed: int) -> list[tuple[str, str | None, Tensor]]:
        """The figure's columns, each ``(label, name in the values, (num_images, C, H, W) images)``."""
        if datamodule.train_set is None:
            datamodule.setup("fit")
        test = datamodule.real_samples(self.num_images, split="test").float()
        if test.ndim != 4:
            raise GanlabError("average_neighbours needs an image dataset (dataset=mnist, fashion_mnist, cifar10)")
        stored = datamodule.train_set.tensors["real"]
        train = datamodule.real_samples(self.num_train or len(stored), split="train").float()
        _, neighbours = nearest(test.flatten(1), train.flatten(1), self.k)
        z = module.generator.sample_latent(self.num_samples, rng=torch.Generator().manual_seed(seed))
        samples = torch.cat([generate_images(module, batch, "average_neighbours") for batch in z.split(250)]).float()
        _, closest = nearest(test.flatten(1), samples.flatten(1), 1)
        # short labels: a 28-pixel cell is drawn only a few times larger
        columns = [("test", None, test), ("average", "average", train[neighbours].mean(1))]
        reconstruct = getattr(module, "reconstruct", None)
        if reconstruct is not None:
            columns.append(("recon", "reconstruction", reconstruct(test).float().cpu()))
        columns.append(("nearest", "nearest_sample", samples[closest[:, 0]]))
        return columns

    def run(self, module, datamodule: GANDataModule, seed: int) -> Findings:
        columns = self.columns(module, datamodule, seed)
        return Findings(
            values=self.values(columns[0][2], columns), figures={"average_neighbours": self.figure(columns)}
        )

    @staticmethod
    def values(test: Tensor, columns: list[tuple[str, str | None, Tensor]]) -> dict[str, float]:
        reference = laplacian_variance(test).mean()
        values: dict[str, float] = {}
        for _, name, images in columns:
            if name is not None:
                values[f"{name}_sharpness"] = float(laplacian_variance(images).mean() / reference)
                values[f"{name}_mse"] = float(((images - test) / 2).pow(2).mean())
        return values

    @staticmethod
    def figure(columns: list[tuple[str, str | None, Tensor]]) -> Tensor:
        rows = len(columns[0][2])
        cells = torch.stack([images for *_, images in columns], dim=1).flatten(0, 1)  # row by row
        labels = [label if row == 0 else None for row in range(rows) for label, *_ in columns]
        return labelled_grid(cells, len(columns), labels)
