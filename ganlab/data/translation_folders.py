"""The user's own image-to-image data: paired (pix2pix) or unpaired (CycleGAN) folders of images.

Layouts read (``dataset.root=DIR``):

* :class:`PairedFolder` (``dataset=paired_folder``), either

  - **side by side**, as pix2pix's datasets ship: ``DIR/train/*.jpg`` (and an optional ``DIR/test/``,
    else ``DIR/val/``), each image twice as wide as high, A on its left half and B on its right;
  - **two folders**: ``DIR/A/`` and ``DIR/B/`` whose files pair up by name without extension
    (``A/0001.png`` with ``B/0001.jpg``), each optionally split into ``train/`` and ``test/`` (or ``val/``)
    subfolders;

* :class:`UnpairedFolder` (``dataset=unpaired_folder``): ``DIR/trainA/``, ``DIR/trainB/`` and optional
  ``DIR/testA/``, ``DIR/testB/``, as CycleGAN's datasets ship; the two domains may hold different counts.

Images are searched directly in those folders (not in their subfolders); hidden files and files
without an image extension are skipped. They are decoded once, converted (grey or RGB), resized and
cropped exactly as ``dataset=image_folder`` does (:func:`~ganlab.data.image_folder.decode_image`), and kept
in memory.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from ganlab.data.image_folder import (
    CROPS,
    EXTENSIONS,
    check_image_settings,
    convert_image,
    decode_image,
    fit_image,
    read_image,
)
from ganlab.data.torchvision_images import to_model_range
from ganlab.data.translation import TranslationDataModule, UnpairedDataset, paired_set
from ganlab.errors import GanlabError
from ganlab.schema import AtLeast, OneOf, Probability

DIRECTIONS = ("AtoB", "BtoA")
#: names of the optional test folder of a split layout, in the order they are looked for
TEST_FOLDERS = ("test", "val")


def _images(folder: Path) -> list[Path]:
    """The visible image files directly in ``folder``, sorted by name."""
    return sorted(
        p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in EXTENSIONS
    )


def _nonempty(folder: Path, what: str) -> list[Path]:
    """:func:`_images` of ``folder``, which must hold some: ``what`` says what belongs there."""
    images = _images(folder)
    if not images:
        raise GanlabError(
            f"{folder} holds no images (supported extensions are {', '.join(EXTENSIONS)}): put {what} there"
        )
    return images


def _test_folder(parent: Path, names: tuple[str, ...] = TEST_FOLDERS) -> Path | None:
    return next((parent / name for name in names if (parent / name).is_dir()), None)


class IndexPairs(UnpairedDataset):
    """Unpaired test images of two domains, A image ``i`` with B image ``i mod |B|``: a batch, not a pairing.

    Like :class:`UnpairedDataset` it serves ``max(|A|, |B|)`` items and keeps every image of both
    domains in ``tensors`` (the real-image metrics read all of ``real``), but in a fixed order.
    """

    def __getitems__(self, indices: list[int]) -> dict[str, Tensor]:
        index = torch.as_tensor(indices)
        source, real = self.tensors["source"], self.tensors["real"]
        return {"source": source[index % len(source)], "real": real[index % len(real)]}


class _FolderTranslation(TranslationDataModule):
    """What both folder layouts share: decoding, the direction, the batch check and the fingerprint name.

    Args:
        root: the dataset folder (``dataset.root=``); ``~`` is expanded.
        resolution: side of the square images (inputs and targets).
        channels: channels of the targets ``real``, 1 (grey) or 3 (RGB).
        source_channels: channels of the inputs ``source``; ``None``: as ``channels``.
        crop: ``center`` or ``none``, as for ``dataset=image_folder`` (the same for both sides of a pair,
            so aligned pairs stay aligned).
        direction: ``AtoB`` translates A (inputs) to B (targets), ``BtoA`` the other way.
        test_fraction: fraction of the training data a subclass may hold out as the test split.
        split_seed: seed of that split.
        batch_size: per-process batch size.
        num_workers: DataLoader worker processes (0 is fastest: the images are in memory).
        name: the dataset's name, as in ``conf/dataset``; after :meth:`setup` a fingerprint of the
            decoded images is appended (``paired_folder-1a2b3c4d``), so cached real-image features
            are never reused for another folder, resolution, direction or split.
    """

    def __init__(
        self,
        root: str,
        resolution: int = 64,
        channels: int = 3,
        source_channels: int | None = None,
        crop: str = "center",
        direction: str = "AtoB",
        test_fraction: float = 0.0,
        split_seed: int = 0,
        batch_size: int = 16,
        num_workers: int = 0,
        name: str = "translation_folder",
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers)
        if direction not in DIRECTIONS:
            raise GanlabError(f"dataset.direction={direction} is not an option: use AtoB or BtoA")
        source_channels = channels if source_channels is None else source_channels
        if int(source_channels) not in (1, 3):
            raise GanlabError(f"dataset.source_channels={source_channels} is not an option: use 1 (grey) or 3 (RGB)")
        check_image_settings(resolution, channels, crop, test_fraction)
        self.root = str(root)
        self.direction = direction
        self.resolution, self.channels, self.source_channels = int(resolution), int(channels), int(source_channels)
        self.crop = crop
        self.test_fraction = float(test_fraction)
        self.split_seed = int(split_seed)
        self.base_name = self.name = name

    @property
    def folder(self) -> Path:
        return Path(self.root).expanduser().resolve()

    def _root(self, layout: str) -> Path:
        root = self.folder
        if not root.is_dir():
            what = "is a file, not a folder" if root.exists() else "does not exist"
            raise GanlabError(f"dataset folder {root} {what}: point dataset.root=DIR at a folder laid out as {layout}")
        return root

    def _decode_pair(self, a: Path, b: Path) -> tuple[np.ndarray, np.ndarray]:
        """``(source, real)`` uint8 arrays of the pair of files ``a`` (domain A) and ``b`` (domain B)."""
        if self.direction == "BtoA":
            a, b = b, a
        return self._decode_file(a, self.source_channels), self._decode_file(b, self.channels)

    def _decode_file(self, path: Path, channels: int) -> np.ndarray:
        return decode_image(path, channels, self.resolution, self.crop)

    def split(self, num: int) -> tuple[Tensor, Tensor]:
        """Sorted indices ``(train, test)`` of ``num`` items, as ``ImageFolderImages.split`` draws them.

        The test split is the first ``round(test_fraction * num)`` of a permutation seeded with ``split_seed``.
        """
        order = torch.randperm(num, generator=torch.Generator().manual_seed(self.split_seed))
        num_test = round(self.test_fraction * num)
        return order[num_test:].sort().values, order[:num_test].sort().values

    def _finish(self, train: tuple[Tensor, Tensor], test: tuple[Tensor, Tensor] | None) -> None:
        """Checks there is a batch of ``train``, names the data by its fingerprint and fills the splits.

        ``train`` and ``test`` are ``(source, real)`` uint8 images.
        """
        world = self.trainer.world_size if self.trainer is not None else 1
        length = max(len(train[0]), len(train[1]))
        if length < self.batch_size * world:
            raise GanlabError(
                f"{self.folder} gives {length} training images, fewer than one batch of {self.batch_size * world}: "
                "add images, or lower dataset.datamodule.batch_size"
            )
        digest = hashlib.sha1(self.direction.encode())
        for part in (*train, *(test or ())):
            digest.update(str(tuple(part.shape)).encode())
            digest.update(part.numpy().tobytes())
        self.name = f"{self.base_name}-{digest.hexdigest()[:8]}"
        self.train_set = self._dataset(*(to_model_range(images, self.resolution) for images in train), train=True)
        if test is not None:
            self.test_set = self._dataset(*(to_model_range(images, self.resolution) for images in test), train=False)

    def _dataset(self, source: Tensor, real: Tensor, train: bool):
        raise NotImplementedError


class PairedFolder(_FolderTranslation):
    """Aligned image pairs for pix2pix-style models: ``{"source": A image, "real": its B image}``.

    Reads either layout of the module docstring: side-by-side images under ``root/train/``
    (:attr:`layout` ``side_by_side``) or ``root/A/`` and ``root/B/`` paired by file name
    (``folders``). The test split is the test (or val) folder when there is one, else
    ``round(test_fraction * N)`` training pairs held out by a permutation seeded with ``split_seed``
    (the same every run; :attr:`test_from` says which).

    Args:
        root: the dataset folder (``dataset.root=``); ``~`` is expanded.
        resolution: side of the square images (each half of a side-by-side image is resized to it).
        channels: channels of the targets ``real``, 1 (grey) or 3 (RGB).
        source_channels: channels of the inputs ``source``; ``None``: as ``channels``.
        crop: ``center`` (keeps the aspect ratio) or ``none`` (squashes to a square), applied to both images.
        direction: ``AtoB``: inputs are A (the left halves, or ``A/``), targets B; ``BtoA`` swaps them.
        test_fraction: fraction of the pairs held out as the test split when no test folder exists.
        split_seed: seed of that split.
        batch_size: per-process batch size.
        num_workers: DataLoader worker processes.
        name: the dataset's name; a fingerprint of the images is appended in :meth:`setup`.

    Raises:
        GanlabError: a bad argument here; in :meth:`setup` (or :meth:`prepare_data`), a missing root,
            a layout that is neither, a folder without images, a side-by-side image not twice as
            wide as high, files of A without a partner of the same name in B (or the reverse), an
            unreadable image, or fewer training pairs than one batch.
    """

    paired = True
    LAYOUT = "root/train/*.png (A|B side by side, optional root/test/) or root/A/ and root/B/ (files paired by name)"

    def __init__(
        self,
        root: str,
        resolution: Annotated[int, AtLeast(1)] = 64,
        channels: Annotated[int, AtLeast(1)] = 3,
        source_channels: Annotated[int | None, AtLeast(1, nullable=True)] = None,
        crop: Annotated[str, OneOf(*CROPS)] = "center",
        direction: str = "AtoB",
        test_fraction: Annotated[float, Probability] = 0.1,
        split_seed: int = 0,
        batch_size: Annotated[int, AtLeast(1)] = 16,
        num_workers: Annotated[int, AtLeast(0)] = 0,
        name: str = "paired_folder",
    ) -> None:
        super().__init__(
            root,
            resolution,
            channels,
            source_channels,
            crop,
            direction,
            test_fraction,
            split_seed,
            batch_size,
            num_workers,
            name,
        )
        self.layout: str | None = None
        self.test_from: str | None = None

    # --- finding the pairs ---------------------------------------------------------------------------------------

    def _scan(self) -> tuple[list[tuple[Path, Path | None]], list[tuple[Path, Path | None]] | None]:
        """``(train, test)`` lists of ``(A file, B file)``, B ``None`` for a side-by-side file; test ``None``: none."""
        root = self._root(self.LAYOUT)
        has_a, has_b = (root / "A").is_dir(), (root / "B").is_dir()
        if has_a or has_b:
            if not (has_a and has_b):
                there, missing = ("A", "B") if has_a else ("B", "A")
                raise GanlabError(
                    f"{root} has {there}/ but no {missing}/: paired folders need both, their files paired by name"
                )
            self.layout = "folders"
            return self._scan_folders(root / "A", root / "B")
        if not (root / "train").is_dir():
            raise GanlabError(f"{root} holds neither train/ nor A/ and B/: lay the paired images out as {self.LAYOUT}")
        self.layout = "side_by_side"
        what = "images holding A on the left half and B on the right, twice as wide as high"
        train = [(path, None) for path in _nonempty(root / "train", what)]
        test_dir = _test_folder(root)
        self.test_from = test_dir.name if test_dir is not None else None
        return train, None if test_dir is None else [(path, None) for path in _nonempty(test_dir, what)]

    def _scan_folders(self, a_dir: Path, b_dir: Path) -> tuple[list[tuple[Path, Path]], list[tuple[Path, Path]] | None]:
        split_a, split_b = (a_dir / "train").is_dir(), (b_dir / "train").is_dir()
        if split_a != split_b:
            with_split, without = (a_dir, b_dir) if split_a else (b_dir, a_dir)
            raise GanlabError(
                f"{with_split} has a train/ subfolder but {without} does not: split both A/ and B/ the same way"
            )
        if not split_a:
            return self._match(a_dir, b_dir), None
        test_a, test_b = _test_folder(a_dir), _test_folder(b_dir)
        if (test_a is None) != (test_b is None) or (test_a is not None and test_a.name != test_b.name):
            raise GanlabError(
                f"{a_dir} has {test_a.name + '/' if test_a else 'no test/'} but {b_dir} has "
                f"{test_b.name + '/' if test_b else 'no test/'}: give both the same test subfolder, or neither"
            )
        self.test_from = None if test_a is None else test_a.name
        test = None if test_a is None else self._match(test_a, test_b)
        return self._match(a_dir / "train", b_dir / "train"), test

    @staticmethod
    def _match(a_dir: Path, b_dir: Path) -> list[tuple[Path, Path]]:
        """The images of ``a_dir`` and ``b_dir`` paired by name without extension, sorted by name."""
        sides = {}
        for folder in (a_dir, b_dir):
            by_name: dict[str, Path] = {}
            for path in _nonempty(folder, "images paired by file name with those of the other domain"):
                if path.stem in by_name:
                    raise GanlabError(
                        f"{folder} holds both {by_name[path.stem].name} and {path.name}: pairs are matched by "
                        "name without extension, so keep one of them"
                    )
                by_name[path.stem] = path
            sides[folder] = by_name
        a, b = sides[a_dir], sides[b_dir]
        problems = []
        for here, there, names in ((a_dir, b_dir, sorted(set(a) - set(b))), (b_dir, a_dir, sorted(set(b) - set(a)))):
            if names:
                problems.append(
                    f"{len(names)} image{'s' if len(names) > 1 else ''} in {here} without a partner of the same "
                    f"name in {there} (e.g. {sides[here][names[0]].name})"
                )
        if problems:
            raise GanlabError(
                f"{'; '.join(problems)}: pairs are matched by file name without extension; rename or remove them"
            )
        return [(a[stem], b[stem]) for stem in sorted(a)]

    # --- decoding ------------------------------------------------------------------------------------------------

    def _decode_side_by_side(self, path: Path) -> tuple[np.ndarray, np.ndarray]:
        """``(source, real)`` uint8 arrays from the halves of one A|B image."""
        image = read_image(path, max(self.channels, self.source_channels))
        width, height = image.size
        if width != 2 * height:
            raise GanlabError(
                f"{path} is {width}x{height}, not twice as wide as high: side-by-side images hold A on "
                "the left half and B on the right; put separate images in root/A/ and root/B/ instead"
            )
        halves = image.crop((0, 0, height, height)), image.crop((height, 0, width, height))
        source, real = halves if self.direction == "AtoB" else halves[::-1]
        return self._fit(source, self.source_channels), self._fit(real, self.channels)

    def _fit(self, image: Image.Image, channels: int) -> np.ndarray:
        """``image`` converted, resized and cropped as :func:`decode_image` does a file: a uint8 ``(C, R, R)`` array."""
        return fit_image(convert_image(image, channels), self.resolution, self.crop)

    def _decode(self, pairs: list[tuple[Path, Path | None]]) -> tuple[Tensor, Tensor]:
        """uint8 ``(source, real)`` tensors of ``pairs``."""
        decoded = [self._decode_side_by_side(a) if b is None else self._decode_pair(a, b) for a, b in pairs]
        source, real = zip(*decoded, strict=True)
        return torch.from_numpy(np.stack(source)), torch.from_numpy(np.stack(real))

    # --- the splits ----------------------------------------------------------------------------------------------

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        train_pairs, test_pairs = self._scan()
        train = self._decode(train_pairs)
        test = None if test_pairs is None else self._decode(test_pairs)
        if test is None and self.test_fraction > 0:
            keep, held = self.split(len(train[0]))
            if len(held):
                train, test = (train[0][keep], train[1][keep]), (train[0][held], train[1][held])
                self.test_from = f"{len(held)} held-out training pairs"
        self._finish(train, test)

    def _dataset(self, source: Tensor, real: Tensor, train: bool):
        return paired_set(source, real)

    def prepare_data(self) -> None:
        # Fail before the models are built when the folder is missing or its layout is wrong.
        self._scan()


class UnpairedFolder(_FolderTranslation):
    """Two unaligned image domains for CycleGAN-style models: ``{"source": an A image, "real": a B image}``.

    Training batches come from :class:`UnpairedDataset`: each A image meets an unrelated B image, and
    the domains may hold different counts (an epoch is the larger). The test split (``testA/`` and
    ``testB/``, when both exist) is unpaired too; it pairs images by index only so that batches
    exist, and its ``real`` holds every ``testB`` image for the real-image metrics.

    Args:
        root: the dataset folder (``dataset.root=``) holding ``trainA/`` and ``trainB/``.
        resolution: side of the square images.
        channels: channels of the targets ``real`` (domain B, or A for ``BtoA``), 1 or 3.
        source_channels: channels of the inputs; ``None``: as ``channels``.
        crop: ``center`` or ``none``, as for ``dataset=image_folder``.
        direction: ``AtoB``: inputs from A, targets from B; ``BtoA`` swaps the domains.
        batch_size: per-process batch size.
        num_workers: DataLoader worker processes.
        name: the dataset's name; a fingerprint of the images is appended in :meth:`setup`.

    Raises:
        GanlabError: a bad argument here; in :meth:`setup` (or :meth:`prepare_data`), a missing root,
            ``trainA/`` or ``trainB/``, only one of ``testA/`` and ``testB/``, a folder without images,
            an unreadable image, or fewer training images than one batch.
    """

    paired = False
    LAYOUT = "root/trainA/, root/trainB/ (and optional root/testA/, root/testB/)"

    def __init__(
        self,
        root: str,
        resolution: Annotated[int, AtLeast(1)] = 64,
        channels: Annotated[int, AtLeast(1)] = 3,
        source_channels: Annotated[int | None, AtLeast(1, nullable=True)] = None,
        crop: Annotated[str, OneOf(*CROPS)] = "center",
        direction: str = "AtoB",
        batch_size: Annotated[int, AtLeast(1)] = 16,
        num_workers: Annotated[int, AtLeast(0)] = 0,
        name: str = "unpaired_folder",
    ) -> None:
        super().__init__(
            root,
            resolution,
            channels,
            source_channels,
            crop,
            direction,
            batch_size=batch_size,
            num_workers=num_workers,
            name=name,
        )

    def _scan(self) -> dict[str, tuple[list[Path], list[Path]] | None]:
        """``{"train": (A files, B files), "test": the same or None}``."""
        root = self._root(self.LAYOUT)
        missing = [name for name in ("trainA", "trainB") if not (root / name).is_dir()]
        if missing:
            raise GanlabError(f"{root} has no {' or '.join(f'{m}/' for m in missing)}: expected {self.LAYOUT}")
        test = [name for name in ("testA", "testB") if (root / name).is_dir()]
        if len(test) == 1:
            other = "testB" if test == ["testA"] else "testA"
            raise GanlabError(f"{root} has {test[0]}/ but no {other}/: give both test folders, or neither")

        def domains(split: str) -> tuple[list[Path], list[Path]]:
            return tuple(_nonempty(root / f"{split}{d}", f"the images of domain {d}") for d in "AB")

        return {"train": domains("train"), "test": domains("test") if test else None}

    def _decode(self, a_files: list[Path], b_files: list[Path]) -> tuple[Tensor, Tensor]:
        """uint8 ``(source, real)`` images of the two domains (swapped for ``BtoA``)."""
        if self.direction == "BtoA":
            a_files, b_files = b_files, a_files
        source = np.stack([self._decode_file(path, self.source_channels) for path in a_files])
        real = np.stack([self._decode_file(path, self.channels) for path in b_files])
        return torch.from_numpy(source), torch.from_numpy(real)

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        scanned = self._scan()
        test = scanned["test"]
        self._finish(self._decode(*scanned["train"]), None if test is None else self._decode(*test))

    def _dataset(self, source: Tensor, real: Tensor, train: bool):
        return UnpairedDataset(source, real, seed=0) if train else IndexPairs(source, real)

    def prepare_data(self) -> None:
        # Fail before the models are built when the folder is missing or its layout is wrong.
        self._scan()
