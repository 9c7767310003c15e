"""Image datasets shipped by torchvision (MNIST, Fashion-MNIST, CIFAR-10), held in memory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import torch
import torch.nn.functional as F
from hydra.utils import get_class
from torch import Tensor

from ganlab.data.base import GANDataModule, TensorDictDataset
from ganlab.errors import GanlabError
from ganlab.plotting import image_grid
from ganlab.schema import AtLeast


def _as_nchw_uint8(data: Tensor | np.ndarray) -> Tensor:
    """torchvision keeps MNIST as ``(N, H, W)`` tensors and CIFAR as ``(N, H, W, C)`` arrays."""
    images = torch.as_tensor(np.asarray(data))
    if images.dim() == 3:
        return images.unsqueeze(1)
    return images.permute(0, 3, 1, 2)


def to_model_range(images: Tensor, resolution: int) -> Tensor:
    """uint8 ``(N, C, H, W)`` -> float in [-1, 1], resized to ``resolution`` (bilinear, antialiased)."""
    x = images.float().div_(127.5).sub_(1.0)
    if x.shape[-1] != resolution or x.shape[-2] != resolution:
        x = F.interpolate(x, size=(resolution, resolution), mode="bilinear", antialias=True, align_corners=False)
    return x.clamp_(-1.0, 1.0).contiguous()


class TorchvisionImages(GANDataModule):
    """A torchvision image dataset, decoded once into ``{"real": (N, C, R, R) in [-1, 1], "label": (N,)}``.

    Args:
        dataset_class: import path of the torchvision dataset, e.g. ``torchvision.datasets.MNIST``.
        root: folder that holds (or receives) the dataset, i.e. ``paths.data_dir``.
        resolution: side of the square images the models see.
        download: let torchvision download the files when they are missing (needs a network).
        batch_size: per-process batch size.
        name: the dataset's name, as in ``conf/dataset``.
    """

    def __init__(
        self,
        dataset_class: str,
        root: str,
        resolution: Annotated[int, AtLeast(1)] = 28,
        download: bool = True,
        batch_size: Annotated[int, AtLeast(1)] = 64,
        name: str = "images",
    ) -> None:
        super().__init__(batch_size=batch_size)
        self.dataset_class = dataset_class
        self.root = str(root)
        self.resolution = int(resolution)
        self.download = bool(download)
        self.name = name

    def _raw(self, train: bool) -> Any:
        """The torchvision dataset object, downloaded first if allowed and missing."""
        cls = get_class(self.dataset_class)
        try:
            return cls(root=self.root, train=train, download=self.download)
        except (RuntimeError, OSError) as err:  # torchvision: "Dataset not found"; urllib: no network
            where = Path(self.root).resolve()
            how = "download failed" if self.download else "dataset.download=false"
            raise GanlabError(
                f"{self.name} not found under {where} ({how}: {str(err).splitlines()[0]}); "
                f"set GANLAB_DATA_DIR or paths.data_dir=DIR to a folder holding {cls.__name__}/raw, "
                "or run once with network access and dataset.download=true"
            ) from err

    def _load(self, train: bool) -> TensorDictDataset:
        raw = self._raw(train)
        images = to_model_range(_as_nchw_uint8(raw.data), self.resolution)
        labels = torch.as_tensor(np.asarray(raw.targets), dtype=torch.long)
        return TensorDictDataset({"real": images, "label": labels})

    def prepare_data(self) -> None:
        # Downloads (if needed) once per node before DDP processes read the files.
        self._raw(train=True)
        self._raw(train=False)

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is None:
            self.train_set = self._load(train=True)
            self.test_set = self._load(train=False)

    def render(self, samples: Tensor, per_row: int | None = None) -> Tensor:
        return image_grid(samples, per_row)
