"""Image-to-image datasets: batches of inputs ``"source"`` (domain A) and targets ``"real"`` (domain B).

A translation batch is ``{"source": (N, C_A, h, w), "real": (N, C_B, H, W)}`` in [-1, 1]. Paired
datasets (pix2pix, super-resolution) align the two: ``real[i]`` is the target of ``source[i]``.
Unpaired ones (CycleGAN) draw them independently. ``"real"`` is the target domain, so every sample
metric (FID of the outputs against the target domain, say) reads its real images as it does for
unconditional data.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset

from ganlab.data.base import GANDataModule, TensorDictDataset
from ganlab.plotting import image_grid


class UnpairedDataset(Dataset):
    """Images of domain A and of domain B, of any two sizes, served as ``{"source": a, "real": b}``.

    Item ``i`` is A image ``i mod |A|`` with B image ``order[i] mod |B|``, ``order`` a permutation
    fixed by ``seed``, so an A image meets an unrelated B image and the data order stays a function
    of the loader's seed (resumable). An epoch is ``max(|A|, |B|)`` items.
    """

    def __init__(self, source: Tensor, real: Tensor, seed: int = 0) -> None:
        self.tensors = {"source": source, "real": real}
        self.length = max(len(source), len(real))
        self._order = torch.randperm(self.length, generator=torch.Generator().manual_seed(seed))

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        return self.__getitems__([index])

    def __getitems__(self, indices: list[int]) -> dict[str, Tensor]:
        index = torch.as_tensor(indices)
        source, real = self.tensors["source"], self.tensors["real"]
        return {"source": source[index % len(source)], "real": real[self._order[index] % len(real)]}


def _as_rgb_like(images: Tensor, size: int, channels: int) -> Tensor:
    """Images resized (nearest: pixels stay visible) to ``size`` and given ``channels`` (grey repeated)."""
    if images.shape[-1] != size:
        images = F.interpolate(images, size=(size, size), mode="nearest")
    if images.shape[1] != channels:
        images = images.expand(-1, channels, -1, -1)
    return images


class TranslationDataModule(GANDataModule):
    """A data module of translation batches; subclasses fill ``train_set`` and ``test_set`` in ``setup``.

    Attributes:
        paired: whether ``real[i]`` is the target of ``source[i]`` (in the test split at least,
            where the paired metrics PSNR and SSIM need it).
    """

    paired: bool = True

    def examples(self, num: int, split: str = "test") -> dict[str, Tensor]:
        """``num`` examples of ``split`` with every entry, in the fixed order of :meth:`real_samples`.

        Sample grids and evaluation translate these, so every run and eval shows the same inputs.
        """
        if self.train_set is None:
            self.setup("fit")
        data = {"train": self.train_set, "test": self.test_set}[split] or self.train_set
        order = torch.randperm(len(data), generator=torch.Generator().manual_seed(self.real_order_seed))
        return data.__getitems__(order[:num].tolist())

    def render(self, samples: Tensor, per_row: int | None = None) -> Tensor:
        return image_grid(samples, per_row)

    def render_translation(self, columns: Sequence[Tensor]) -> Tensor:
        """One row per example, one column per tensor (input | output | target, say), as a ``(3, H, W)`` image.

        Lower-resolution inputs are shown enlarged to the largest side, grey images next to colour
        ones in colour.
        """
        size = max(column.shape[-1] for column in columns)
        channels = max(column.shape[1] for column in columns)
        shown = [_as_rgb_like(column.float().cpu(), size, channels) for column in columns]
        return image_grid(torch.stack(shown, dim=1).flatten(0, 1), len(columns))


def paired_set(source: Tensor, real: Tensor, **extra: Tensor) -> TensorDictDataset:
    """Index-aligned inputs and targets (and any ``extra`` entries such as ``label``) as one dataset."""
    return TensorDictDataset({"source": source, "real": real, **extra})
