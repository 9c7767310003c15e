"""A folder of the user's own images, decoded once into memory (``dataset=image_folder dataset.root=DIR``).

Two layouts are read:

* **class subfolders** (``DIR/cat/*.png``, ``DIR/dog/*.jpg``, ...), through torchvision's
  ``datasets.ImageFolder``: each subfolder is a class, its images (searched recursively) carry its
  index as ``"label"``, classes numbered in sorted subfolder-name order; conditional models use them
  (set ``dataset.num_classes`` to the number of subfolders);
* **a flat folder** (``DIR/*.png``) without subfolders: every image is in one class (label 0),
  named after the folder.

A folder that holds both loose images and subfolders with images is refused (it is unclear which
layout is meant). Hidden files and folders (names starting with ``.``, such as macOS ``._x.jpg``
resource forks) are skipped, as are files without a supported extension (:data:`EXTENSIONS`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated

import numpy as np
import torch
import torchvision.transforms.functional as TF
from PIL import Image
from torch import Tensor
from torchvision import datasets
from torchvision.transforms import InterpolationMode

from ganlab.data.base import GANDataModule, TensorDictDataset
from ganlab.data.torchvision_images import to_model_range
from ganlab.errors import GanlabError
from ganlab.plotting import image_grid
from ganlab.schema import AtLeast, OneOf, Probability

#: file extensions read as images (torchvision's ``IMG_EXTENSIONS``), compared case-insensitively
EXTENSIONS: tuple[str, ...] = datasets.folder.IMG_EXTENSIONS
CROPS = ("center", "none")


def _visible(path: Path, root: Path) -> bool:
    """No part of ``path`` below ``root`` is hidden (starts with a dot)."""
    return not any(part.startswith(".") for part in path.relative_to(root).parts)


def _is_image_file(path: Path) -> bool:
    return path.suffix.lower() in EXTENSIONS


def convert_image(image: Image.Image, channels: int) -> Image.Image:
    """``image`` as mode ``L`` (1 channel) or ``RGB``: transparent pixels over white, 16-bit grey scaled to 8 bits."""
    target = "L" if channels == 1 else "RGB"
    if image.mode.startswith("I"):  # 16-bit greyscale; Pillow's convert would clip it to white
        values = np.asarray(image, dtype=np.int64)
        if image.mode.startswith("I;16") or values.max(initial=0) > 255:
            values = values.clip(0, 65535) // 257
        return Image.fromarray(values.astype(np.uint8), "L").convert(target)
    if image.has_transparency_data:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert(target)
    return image.convert(target)


def read_image(path: str | Path, channels: int, size: tuple[int, int] | None = None) -> Image.Image:
    """The image file ``path`` converted to ``channels`` (:func:`convert_image`); JPEGs decoded near ``size``.

    Raises:
        GanlabError: an unreadable or corrupt file, named with the fix.
    """
    try:
        with Image.open(path) as image:
            if size is not None:
                image.draft("L" if channels == 1 else "RGB", size)  # JPEG: decode at a reduced scale
            return convert_image(image, channels)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise GanlabError(
            f"cannot read image {path} ({str(err).splitlines()[0] if str(err) else type(err).__name__}): "
            "replace or remove the file"
        ) from err


def fit_image(image: Image.Image, resolution: int, crop: str = "center") -> np.ndarray:
    """``image`` as a uint8 ``(C, resolution, resolution)`` array, resized (bilinear, antialiased).

    ``crop="center"`` resizes the short side to ``resolution`` and cuts the central square; ``"none"``
    resizes straight to the square.
    """
    if crop == "center":
        image = TF.center_crop(TF.resize(image, resolution, InterpolationMode.BILINEAR), [resolution, resolution])
    else:
        image = TF.resize(image, [resolution, resolution], InterpolationMode.BILINEAR)
    pixels = np.asarray(image, dtype=np.uint8)
    return pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)


def decode_image(path: str | Path, channels: int, resolution: int, crop: str = "center") -> np.ndarray:
    """The image file ``path`` as a uint8 ``(channels, resolution, resolution)`` array (:func:`fit_image`)."""
    return fit_image(read_image(path, channels, (resolution, resolution)), resolution, crop)


def check_image_settings(resolution: int, channels: int, crop: str, test_fraction: float) -> None:
    """Refuse, with one line naming the ``dataset.`` key, settings no folder of images can be read with."""
    if int(resolution) <= 0:
        raise GanlabError(
            f"dataset.resolution={resolution} is not a positive image side: use e.g. dataset.resolution=64"
        )
    if int(channels) not in (1, 3):
        raise GanlabError(f"dataset.channels={channels} is not an option: use 1 (grey) or 3 (RGB)")
    if crop not in CROPS:
        raise GanlabError(f"dataset.crop={crop} is not an option: use one of {', '.join(CROPS)}")
    if not 0 <= float(test_fraction) < 1:
        raise GanlabError(f"dataset.test_fraction={test_fraction} is not in [0, 1): use e.g. dataset.test_fraction=0.1")


class _ClassFolders(datasets.ImageFolder):
    """``ImageFolder`` whose classes are the visible subfolders (``ImageFolder`` counts ``.git`` as a class)."""

    def find_classes(self, directory: str) -> tuple[list[str], dict[str, int]]:
        classes = sorted(
            entry.name for entry in Path(directory).iterdir() if entry.is_dir() and not entry.name.startswith(".")
        )
        return classes, {name: index for index, name in enumerate(classes)}


class ImageFolderImages(GANDataModule):
    """A folder of images, decoded once into ``{"real": (N, C, R, R) in [-1, 1], "label": (N,)}``.

    Each image is converted to ``channels`` (grey ``L`` or ``RGB``; transparent pixels are put on
    white, 16-bit greyscale is scaled to 8 bits), resized and cropped to ``resolution`` x
    ``resolution`` (bilinear, antialiased) and kept as uint8, then mapped to floats in [-1, 1] as
    :class:`~ganlab.data.torchvision_images.TorchvisionImages` does. The test split is
    ``round(test_fraction * N)`` images drawn by a permutation seeded with ``split_seed``, the same
    for every run; the training set is the rest.

    After :meth:`setup`, :attr:`name` carries a fingerprint of the decoded images and the split
    (``image_folder-1a2b3c4d``): cached real-image features (FID statistics) are keyed by it, so
    another folder, resolution or split never reuses them.

    Args:
        root: the folder of images (``dataset.root=``); ``~`` is expanded.
        resolution: side of the square images the models see.
        channels: 1 (grey) or 3 (RGB); every image is converted to it.
        crop: ``center``: resize the short side to ``resolution`` and cut the central square
            (keeps the aspect ratio); ``none``: resize straight to a square (distorts non-square images).
        test_fraction: fraction of the images held out as the test split the metrics use (0: none).
        num_classes: the class count the config promises (``dataset.num_classes``); ``None``: no
            promise. It must equal the number of subfolders (1 for a flat folder).
        split_seed: seed of the train/test split.
        batch_size: per-process batch size.
        num_workers: DataLoader worker processes (0 is fastest: the images are in memory).
        name: the dataset's name, as in ``conf/dataset``.

    Raises:
        GanlabError: a bad argument here; in :meth:`setup`, a missing or empty folder, an unreadable
            image, a ``num_classes`` that does not match the subfolders, or fewer images than one batch.
    """

    def __init__(
        self,
        root: str,
        resolution: Annotated[int, AtLeast(1)] = 32,
        channels: Annotated[int, AtLeast(1)] = 3,
        crop: Annotated[str, OneOf(*CROPS)] = "center",
        test_fraction: Annotated[float, Probability] = 0.1,
        num_classes: Annotated[int | None, AtLeast(0, nullable=True)] = None,
        split_seed: int = 0,
        batch_size: Annotated[int, AtLeast(1)] = 64,
        num_workers: Annotated[int, AtLeast(0)] = 0,
        name: str = "image_folder",
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers)
        check_image_settings(resolution, channels, crop, test_fraction)
        self.root = str(root)
        self.resolution = int(resolution)
        self.channels = int(channels)
        self.crop = crop
        self.test_fraction = float(test_fraction)
        self.expected_classes = None if num_classes is None else int(num_classes)
        self.split_seed = int(split_seed)
        self.base_name = name
        self.name = name
        self._scanned: tuple[list[tuple[str, int]], list[str]] | None = None
        self._reader: datasets.ImageFolder | None = None

    # --- the folder --------------------------------------------------------------------------------------------------

    @property
    def folder(self) -> Path:
        return Path(self.root).expanduser().resolve()

    def _scan(self) -> tuple[list[tuple[str, int]], list[str]]:
        """``(path, label)`` of every image, and the class names; checks the layout and ``num_classes``."""
        if self._scanned is not None:
            return self._scanned
        root = self._root = self.folder
        if not root.is_dir():
            what = "is a file, not a folder" if root.exists() else "does not exist"
            raise GanlabError(f"image folder {root} {what}: point dataset.root=DIR at the folder holding your images")
        extensions = ", ".join(EXTENSIONS)
        entries = [entry for entry in root.iterdir() if not entry.name.startswith(".")]
        loose = sorted(entry for entry in entries if entry.is_file() and _is_image_file(entry))
        with_images = sorted(entry.name for entry in entries if entry.is_dir() and self._holds_images(entry))
        if with_images and loose:
            raise GanlabError(
                f"{root} holds images both directly ({len(loose)}) and in subfolders ({', '.join(with_images)}): "
                "move the loose images into a subfolder (one per class) or the subfolders' images up (one class)"
            )
        if with_images:
            try:
                folder = _ClassFolders(
                    str(root), loader=self._decode, is_valid_file=lambda path: self._valid(Path(path))
                )
            except FileNotFoundError as err:  # a class subfolder without images
                raise GanlabError(
                    f"{root}: {str(err).split('. ')[0].replace('Found no valid file', 'no images')} "
                    f"(each subfolder is a class; images have extensions {extensions}): "
                    "add images there or remove those subfolders"
                ) from err
            self._reader = folder
            samples, classes = list(folder.samples), list(folder.classes)
        elif loose:
            samples, classes = [(str(path), 0) for path in loose], [root.name]
            self._reader = None
        else:
            others = sorted(
                {p.suffix.lower() or p.name for p in root.rglob("*") if p.is_file() and self._valid_name(p)}
            )
            seen = f" (found only {', '.join(others[:8])}{', ...' if len(others) > 8 else ''} files)" if others else ""
            raise GanlabError(
                f"image folder {root} holds no images{seen}: supported extensions are {extensions}; "
                "put images in it, or in one subfolder per class"
            )
        if self.expected_classes is not None and self.expected_classes != len(classes):
            layout = (
                f"{len(classes)} class subfolders ({', '.join(classes)})" if with_images else "no subfolders (1 class)"
            )
            raise GanlabError(
                f"dataset.num_classes={self.expected_classes} but {root} has {layout}: "
                f"set dataset.num_classes={len(classes)}, or dataset.num_classes=null for an unconditional model"
            )
        self._scanned = samples, classes
        return self._scanned

    def _valid_name(self, path: Path) -> bool:
        return _visible(path, self._root)

    def _valid(self, path: Path) -> bool:
        return _is_image_file(path) and self._valid_name(path)

    def _holds_images(self, directory: Path) -> bool:
        return any(path.is_file() and self._valid(path) for path in directory.rglob("*"))

    @property
    def class_names(self) -> list[str]:
        """The classes, label ``i`` being ``class_names[i]``: sorted subfolder names, or the folder's name."""
        return list(self._scan()[1])

    @property
    def num_classes(self) -> int:
        """How many classes the labels take (1 for a flat folder)."""
        return len(self._scan()[1])

    # --- decoding ----------------------------------------------------------------------------------------------------

    def _decode(self, path: str) -> np.ndarray:
        """One image file as a uint8 ``(C, R, R)`` array."""
        return decode_image(path, self.channels, self.resolution, self.crop)

    def _load(self) -> tuple[Tensor, Tensor]:
        samples, _ = self._scan()
        images = np.empty((len(samples), self.channels, self.resolution, self.resolution), dtype=np.uint8)
        labels = torch.empty(len(samples), dtype=torch.long)
        for index, (path, label) in enumerate(samples):
            # class subfolders are read through ImageFolder (its loader is _decode), a flat folder file by file
            images[index], labels[index] = (
                self._reader[index] if self._reader is not None else (self._decode(path), label)
            )
        return torch.from_numpy(images), labels

    def split(self, num: int) -> tuple[Tensor, Tensor]:
        """Sorted indices ``(train, test)`` of ``num`` images.

        The test split is the first ``round(test_fraction * num)`` of a permutation seeded with ``split_seed``.
        """
        order = torch.randperm(num, generator=torch.Generator().manual_seed(self.split_seed))
        num_test = round(self.test_fraction * num)
        return order[num_test:].sort().values, order[:num_test].sort().values

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        images, labels = self._load()
        train, test = self.split(len(images))
        world = self.trainer.world_size if self.trainer is not None else 1
        if len(train) < self.batch_size * world:
            held = f" after holding out {len(test)} for the test split" if len(test) else ""
            raise GanlabError(
                f"{self.folder} gives {len(train)} training images{held}, fewer than one batch of "
                f"{self.batch_size * world}: add images, or lower dataset.datamodule.batch_size"
            )
        digest = hashlib.sha1()
        for part in (images[train], labels[train], images[test], labels[test]):
            digest.update(part.numpy().tobytes())
        self.name = f"{self.base_name}-{digest.hexdigest()[:8]}"
        self.train_set = TensorDictDataset(
            {"real": to_model_range(images[train], self.resolution), "label": labels[train]}
        )
        if len(test):
            self.test_set = TensorDictDataset(
                {"real": to_model_range(images[test], self.resolution), "label": labels[test]}
            )

    def prepare_data(self) -> None:
        # Fail before the models are built when the folder is missing, empty or mislabelled.
        self._scan()

    def render(self, samples: Tensor, per_row: int | None = None) -> Tensor:
        return image_grid(samples, per_row)
