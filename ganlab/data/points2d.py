"""The user's own 2-D points, read from a file: trained on, drawn and scored like the toy distributions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import torch
from torch import Tensor

from ganlab.data.base import TensorDictDataset
from ganlab.data.toy2d import Toy2DDataModule
from ganlab.errors import GanlabError
from ganlab.schema import AtLeast, Probability

FORMATS = ".npy, .pt, or .csv/.txt with two numeric columns"


def load_points(path: Path) -> Tensor:
    """``(N, 2)`` float32 points from a ``.npy`` array, a ``.pt`` tensor, or a text table (``.csv`` comma-separated,
    other suffixes whitespace-separated; a first line that is not numeric is read as a header).

    Raises:
        GanlabError: the file is missing or unreadable, or does not hold finite ``(N, 2)`` numbers.
    """
    if not path.is_file():
        raise GanlabError(f"dataset.path={path} does not exist: give a file of 2-D points ({FORMATS})")
    try:
        if path.suffix == ".npy":
            values = np.load(path, allow_pickle=False)
        elif path.suffix in (".pt", ".pth"):
            values = torch.load(path, map_location="cpu", weights_only=True)
        else:
            delimiter = "," if path.suffix == ".csv" else None
            first = path.open().readline().replace(",", " ").split()
            numeric = all(_is_number(word) for word in first)
            values = np.loadtxt(path, delimiter=delimiter, skiprows=0 if numeric else 1, ndmin=2)
        points = torch.as_tensor(np.asarray(values), dtype=torch.float32)
    except (OSError, ValueError, RuntimeError, TypeError) as err:
        raise GanlabError(f"dataset.path={path} could not be read as 2-D points ({FORMATS}): {err}") from None
    if points.dim() != 2 or points.shape[1] != 2:
        raise GanlabError(f"dataset.path={path} holds an array of shape {tuple(points.shape)}; 2-D points are (N, 2)")
    if not torch.isfinite(points).all():
        bad = int((~torch.isfinite(points)).any(1).sum())
        raise GanlabError(f"dataset.path={path}: {bad} of {len(points)} points are NaN or infinite; remove them")
    return points


def _is_number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


class PointCloud:
    """A fixed set of 2-D points (:func:`load_points`), with the plot window the pictures use."""

    #: no known modes: the pictures draw a density estimate of the points instead
    centers = None

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self.points = load_points(self.path)

    @property
    def extent(self) -> float:
        """Half-width of a square around the origin that holds every point with a 15% margin."""
        return float(self.points.abs().max().clamp_min(1e-3)) * 1.15


class Points2DDataModule(Toy2DDataModule):
    """The points of a file (:class:`PointCloud`), split once into a training and a held-out test set.

    The split is a permutation seeded with ``data_seed``; the test set (for metrics such as ``nn1``) is
    ``test_fraction`` of the points.

    Args:
        path: the file of ``(N, 2)`` points.
        test_fraction: share of the points held out, in [0, 1).
        batch_size: per-process batch size.
        data_seed: seed of the split.
        name: the dataset's name, as in ``conf/dataset``.
    """

    def __init__(
        self,
        path: str | Path,
        test_fraction: Annotated[float, Probability] = 0.1,
        batch_size: Annotated[int, AtLeast(1)] = 256,
        data_seed: int = 0,
        name: str = "points2d",
    ) -> None:
        if not 0 <= test_fraction < 1:
            raise GanlabError(f"dataset.datamodule.test_fraction={test_fraction} must be in [0, 1), e.g. 0.1")
        cloud = PointCloud(path)
        num_test = round(test_fraction * len(cloud.points))
        super().__init__(cloud, len(cloud.points) - num_test, num_test, batch_size, data_seed, name)
        if self.num_train < self.batch_size:
            raise GanlabError(
                f"dataset.path={cloud.path} leaves {self.num_train} training points, fewer than one batch of "
                f"{self.batch_size}: lower dataset.datamodule.batch_size or give more points"
            )

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        points = self.distribution.points
        order = torch.randperm(len(points), generator=torch.Generator().manual_seed(self.data_seed))
        self.test_set = TensorDictDataset({"real": points[order[: self.num_test]]}) if self.num_test else None
        self.train_set = TensorDictDataset({"real": points[order[self.num_test :]]})
