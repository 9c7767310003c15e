"""The batch format and the data module every ganlab dataset builds on."""

from __future__ import annotations

from collections.abc import Mapping

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset


class TensorDictDataset(Dataset):
    """An in-memory dataset of equally long tensors, indexed as a whole batch at once.

    A batch is a dict: ``{"real": (N, ...) samples}`` plus optional entries such as
    ``"label": (N,)``. Conditional models name the entries they consume (``condition_keys``);
    everything else in the dict is ignored, so one batch format serves every model.
    ``__getitems__`` lets ``DataLoader`` gather a batch with one tensor index instead of N
    Python calls and a collate.
    """

    def __init__(self, tensors: Mapping[str, Tensor]) -> None:
        lengths = {len(t) for t in tensors.values()}
        if len(lengths) != 1:
            raise ValueError(f"all tensors need the same length, got {sorted(lengths)}")
        self.tensors = dict(tensors)
        self.length = lengths.pop()

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        return {key: t[index] for key, t in self.tensors.items()}

    def __getitems__(self, indices: list[int]) -> dict[str, Tensor]:
        index = torch.as_tensor(indices)
        return {key: t[index] for key, t in self.tensors.items()}


def _batch_is_ready(batch: dict[str, Tensor]) -> dict[str, Tensor]:
    return batch


class GANDataModule(L.LightningDataModule):
    """A LightningDataModule yielding dict batches (see :class:`TensorDictDataset`).

    Subclasses fill ``self.train_set`` (and ``self.test_set`` where a test split exists) in
    :meth:`setup`, and say how to draw samples (:meth:`render`) for the sample grids.

    Args:
        batch_size: samples per batch, per process (under DDP the global batch is ``devices x``).
        num_workers: DataLoader worker processes; 0 is fastest for in-memory tensors.
    """

    name: str = "dataset"

    def __init__(self, batch_size: int = 64, num_workers: int = 0) -> None:
        super().__init__()
        self.batch_size = int(batch_size)
        self.num_workers = int(num_workers)
        self.train_set: TensorDictDataset | None = None
        self.test_set: TensorDictDataset | None = None

    def train_dataloader(self) -> DataLoader:
        if self.train_set is None:
            self.setup("fit")
        return DataLoader(
            self.train_set,
            batch_size=self.batch_size,
            shuffle=True,
            drop_last=True,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            collate_fn=_batch_is_ready,
        )

    #: seed of the fixed random order :meth:`real_samples` draws in (part of every real-feature cache key)
    real_order_seed: int = 0

    def real_samples(self, num: int, split: str = "test") -> Tensor:
        """``num`` real samples of ``split`` (``train`` or ``test``), shape ``(num, ...)``.

        They are the first ``num`` of a fixed random order of the split (seeded with
        :attr:`real_order_seed`), not its first ``num`` in storage order: a dataset stored class by
        class (as some MNIST subsets are) would otherwise give a few classes only. Smaller draws are
        prefixes of larger ones.
        """
        if self.train_set is None:
            self.setup("fit")
        source = {"train": self.train_set, "test": self.test_set}[split] or self.train_set
        real = source.tensors["real"]
        order = torch.randperm(len(real), generator=torch.Generator().manual_seed(self.real_order_seed))
        return real[order[:num]]

    def render(self, samples: Tensor) -> Tensor:
        """A picture of ``samples`` as a ``(3, H, W)`` float image in [0, 1]."""
        raise NotImplementedError
