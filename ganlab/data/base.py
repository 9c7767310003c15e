"""The batch format and the data module every ganlab dataset builds on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, DistributedSampler

if TYPE_CHECKING:
    from ganlab.game_view import GameView


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

    @property
    def nbytes(self) -> int:
        return sum(t.element_size() * t.numel() for t in self.tensors.values())

    def to(self, device: torch.device | str) -> TensorDictDataset:
        """The same samples on ``device``: batches are then gathered there."""
        return TensorDictDataset({key: t.to(device) for key, t in self.tensors.items()})


def _batch_is_ready(batch: dict[str, Tensor]) -> dict[str, Tensor]:
    return batch


class _ShuffleFrom(DistributedSampler):
    """``DistributedSampler``'s seeded per-epoch order, started at sample ``first`` of this process's share."""

    first: int = 0

    def __iter__(self):
        return iter(list(super().__iter__())[self.first :])


class ResumableLoader(DataLoader):
    """A shuffling DataLoader whose place in the epoch survives a checkpoint.

    Epoch ``e`` visits the samples in a permutation seeded with ``seed + e`` (the order of
    ``DistributedSampler``, which also gives each DDP process its share), so an epoch's order can be
    rebuilt from its number alone. Lightning saves :meth:`state_dict`, the batches served so far
    in this epoch, in every checkpoint, calls :meth:`load_state_dict` on resume and ``set_epoch``
    at each epoch start; the resumed pass then starts at the next unseen batch instead of the
    start of the epoch. Drawing no numbers from the global generators (the workers' base seed
    comes from the loader's own), it leaves the run's latent codes and noise untouched.

    Args:
        dataset: a map-style dataset (batches are gathered with ``__getitems__`` where it exists).
        batch_size: samples per batch; the last partial batch of an epoch is dropped.
        seed: seed of the epoch orders.
        num_replicas: processes sharing each epoch (DDP world size).
        rank: this process's index among them.
        **kwargs: passed to ``DataLoader`` (``num_workers``, ``collate_fn``, ...).
    """

    def __init__(
        self, dataset: Dataset, batch_size: int, seed: int, num_replicas: int = 1, rank: int = 0, **kwargs
    ) -> None:
        sampler = _ShuffleFrom(dataset, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed, drop_last=True)
        generator = torch.Generator().manual_seed(seed)
        super().__init__(dataset, batch_size, sampler=sampler, drop_last=True, generator=generator, **kwargs)
        self.batches_served = 0
        self._resume_at = 0

    def __iter__(self):
        # A generator: nothing below runs until the first batch is asked for, after Lightning's set_epoch.
        start, self._resume_at = self._resume_at, 0
        self.sampler.first = start * self.batch_size
        self.batches_served = start
        for batch in super().__iter__():
            self.batches_served += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        return {"batches_served": self.batches_served}

    def load_state_dict(self, state: dict[str, int]) -> None:
        served = int(state["batches_served"])
        # A checkpoint written after an epoch's last batch resumes at the start of the next epoch.
        self._resume_at = served if served < len(self) else 0


class GANDataModule(L.LightningDataModule):
    """A LightningDataModule yielding dict batches (see :class:`TensorDictDataset`).

    Subclasses fill ``self.train_set`` (and ``self.test_set`` where a test split exists) in
    :meth:`setup`, and say how to draw samples (:meth:`render`) for the sample grids.

    On a GPU, an in-memory training set of up to :attr:`max_gpu_resident_bytes` (MNIST, CIFAR-10, the
    2-D mixtures) is copied to the GPU once and batches are gathered there, instead of one host-to-device
    copy per step.

    Args:
        batch_size: samples per batch, per process (under DDP the global batch is ``devices x``).
        num_workers: DataLoader worker processes; 0 is fastest for in-memory tensors.
    """

    name: str = "dataset"
    max_gpu_resident_bytes: int = 2**30

    def __init__(self, batch_size: int = 64, num_workers: int = 0) -> None:
        super().__init__()
        self.batch_size = int(batch_size)
        self.num_workers = int(num_workers)
        self.train_set: TensorDictDataset | None = None
        self.test_set: TensorDictDataset | None = None

    def train_dataloader(self) -> DataLoader:
        if self.train_set is None:
            self.setup("fit")
        trainer = self.trainer
        dataset = self.train_set
        device = trainer.strategy.root_device if trainer else torch.device("cpu")
        # exactly the in-memory dataset (subclasses may gather batches their own way), with no workers to feed
        resident = type(dataset) is TensorDictDataset and self.num_workers == 0
        if device.type == "cuda" and resident and dataset.nbytes <= self.max_gpu_resident_bytes:
            dataset = dataset.to(device)
        return ResumableLoader(
            dataset,
            batch_size=self.batch_size,
            # the run's seed (seed_everything), so seeds of a sweep differ in data order too
            seed=torch.initial_seed() % 2**31,
            num_replicas=trainer.world_size if trainer else 1,
            rank=trainer.global_rank if trainer else 0,
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

    def render(self, samples: Tensor, per_row: int | None = None) -> Tensor:
        """A picture of ``samples`` as a ``(3, H, W)`` float image in [0, 1].

        ``per_row``: samples per row of an image grid (one row per class for conditional models);
        ``None`` lets the data module choose.
        """
        raise NotImplementedError

    def render_game(self, samples: Tensor, per_row: int | None, view: GameView | None) -> Tensor:
        """:meth:`render`, with the players drawn in where the data module can (the 1-D and 2-D pictures).

        ``view``: the running game's :class:`~ganlab.game_view.GameView` (D's scores, the pull on each fake,
        G's image of a noise grid), or ``None`` where there is none to draw (a conditional D).
        """
        return self.render(samples, per_row)
