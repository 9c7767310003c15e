"""Built-in image-to-image tasks made on the fly from the MNIST digits, offline (``dataset=mnist_edges`` etc.).

The digits are loaded exactly as ``dataset=mnist`` loads them (:class:`TorchvisionImages`, from
``paths.data_dir``), then turned into translation batches by simple image operations:

* :class:`MNISTEdges` (paired, pix2pix-style): the edge map of a digit -> the digit;
* :class:`MNISTThickness` (unpaired, CycleGAN-style): thin (eroded) digits <-> thick (dilated) digits;
* :class:`MNISTSuperRes` (paired): a digit downscaled by ``scale`` -> the digit.

The operations work on images in [-1, 1] (background -1, ink +1) of shape ``(N, 1, H, W)`` and
keep that range.
"""

from __future__ import annotations

import math
from typing import Annotated

import torch
import torch.nn.functional as F
from torch import Tensor

from ganlab.data.base import TensorDictDataset
from ganlab.data.torchvision_images import TorchvisionImages
from ganlab.data.translation import TranslationDataModule, UnpairedDataset, paired_set
from ganlab.errors import GanlabError
from ganlab.schema import AtLeast, OneOf

# --- image operations ----------------------------------------------------------------------------------------------


#: neighbourhoods of :func:`dilate` and :func:`erode`
FOOTPRINTS = ("square", "cross")


def dilate(x: Tensor, size: int = 3, footprint: str = "square") -> Tensor:
    """Grey-scale dilation: each pixel becomes the maximum of its neighbourhood, so strokes grow.

    ``footprint``: ``square``, the ``size`` x ``size`` square (strokes grow by ``size // 2`` pixels
    each way, diagonals included); ``cross``, the pixels within ``size // 2`` steps up, down, left or
    right (the 3x3 plus sign for ``size=3``; a diamond beyond), a gentler change. The image keeps its
    size; pixels outside it are ignored, not taken as background or ink.
    """
    if size < 1 or size % 2 == 0:
        raise ValueError(f"the neighbourhood's side must be odd and positive, got {size}")
    if footprint not in FOOTPRINTS:
        raise GanlabError(f"dataset.footprint={footprint} is not an option: use one of {', '.join(FOOTPRINTS)}")
    if footprint == "square":
        # max_pool2d pads with -inf, so the border neither adds ink nor erases it
        return F.max_pool2d(x, kernel_size=size, stride=1, padding=size // 2) if size > 1 else x
    for _ in range(size // 2):  # plus-sign steps compose into the diamond
        padded = F.pad(x, (1, 1, 1, 1), value=-math.inf)
        neighbours = (padded[..., :-2, 1:-1], padded[..., 2:, 1:-1], padded[..., 1:-1, :-2], padded[..., 1:-1, 2:])
        x = torch.stack([x, *neighbours]).amax(dim=0)
    return x


def erode(x: Tensor, size: int = 3, footprint: str = "square") -> Tensor:
    """Grey-scale erosion (the minimum of each neighbourhood, see :func:`dilate`): strokes thin."""
    return -dilate(-x, size, footprint)


def edge_map(x: Tensor) -> Tensor:
    """The morphological gradient ``dilate(x) - erode(x)`` rescaled to [-1, 1].

    Background and the inside of wide strokes give -1, the pixels on either side of a stroke's
    outline +1 (a white line drawing of the outlines on black, as in edges2shoes).
    """
    return (dilate(x) - erode(x) - 1.0).clamp(-1.0, 1.0)


def downscale(x: Tensor, factor: int) -> Tensor:
    """``x`` shrunk ``factor`` times per side by area averaging (each output pixel is the mean of a block).

    Area averaging is the antialiased downscale whose mean equals the input's; upscaling the result
    back is what a super-resolution model learns to undo.

    Raises:
        GanlabError: ``factor`` is not a positive integer dividing the image's sides.
    """
    check_scale(*x.shape[-2:], factor)
    factor = int(factor)
    return x if factor == 1 else F.avg_pool2d(x, kernel_size=factor)


def check_scale(height: int, width: int, factor: int) -> None:
    """Raise a :class:`GanlabError` naming ``dataset.scale`` unless ``factor`` divides both sides."""
    if int(factor) != factor or factor < 1 or height % factor or width % factor:
        divisors = [d for d in range(2, min(height, width) + 1) if height % d == 0 and width % d == 0]
        options = ", ".join(f"{d} ({height}x{width} -> {height // d}x{width // d})" for d in divisors[:4])
        raise GanlabError(
            f"dataset.scale={factor} does not divide the {height}x{width} images: use "
            + (f"one of {options}" if divisors else "another dataset.resolution (this one has no divisor)")
        )


# --- data modules --------------------------------------------------------------------------------------------------


class _MNISTTask(TranslationDataModule):
    """The digits of a torchvision dataset, loaded by :class:`TorchvisionImages`; subclasses build the pairs.

    Args:
        root: folder holding ``MNIST/raw`` (``paths.data_dir``).
        resolution: side of the digits (the targets); 28 is MNIST's own.
        download: let torchvision download MNIST when it is missing (needs a network).
        batch_size: per-process batch size.
        num_workers: DataLoader worker processes (0 is fastest: the images are in memory).
        name: the dataset's name, as in ``conf/dataset``.
        dataset_class: import path of the torchvision dataset of digits (``torchvision.datasets.FashionMNIST``
            works too).
    """

    def __init__(
        self,
        root: str,
        resolution: int = 28,
        download: bool = True,
        batch_size: int = 64,
        num_workers: int = 0,
        name: str = "mnist_task",
        dataset_class: str = "torchvision.datasets.MNIST",
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers)
        self.resolution = int(resolution)
        self.name = name
        # the same loader and "not found offline" error as dataset=mnist
        self.digits = TorchvisionImages(dataset_class, root, resolution, download, batch_size, name=name)

    def prepare_data(self) -> None:
        self.digits.prepare_data()

    def _splits(self) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """``({"real", "label"} of the train split, the same of the test split)``, digits in [-1, 1]."""
        self.digits.setup()
        return self.digits.train_set.tensors, self.digits.test_set.tensors

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is None:
            train, test = self._splits()
            self.train_set, self.test_set = self._build(train), self._build(test)

    def _build(self, digits: dict[str, Tensor]) -> TensorDictDataset:
        raise NotImplementedError


class MNISTEdges(_MNISTTask):
    """Paired edges -> digits: ``source`` is :func:`edge_map` of a digit, ``real`` the digit, ``label`` its class.

    Both splits are paired, like pix2pix's edges2shoes; source and target are ``(1, R, R)``.

    Args:
        **kwargs: those of the digits (``root``, ``resolution``, ``download``, ``batch_size``,
            ``num_workers``, ``name``, ``dataset_class``).
    """

    paired = True

    def __init__(self, root: str, name: str = "mnist_edges", **kwargs) -> None:
        super().__init__(root, name=name, **kwargs)

    def _build(self, digits: dict[str, Tensor]) -> TensorDictDataset:
        return paired_set(edge_map(digits["real"]), digits["real"], label=digits["label"])


class MNISTSuperRes(_MNISTTask):
    """Paired super-resolution: ``source`` is a digit shrunk ``scale`` times (:func:`downscale`), ``real`` the digit.

    The source is ``(1, R / scale, R / scale)`` (28 -> 14 or 7), the target ``(1, R, R)``; ``label`` is kept.

    Args:
        root: folder holding ``MNIST/raw`` (``paths.data_dir``).
        scale: how many times smaller the input is per side; it must divide ``resolution``.
        source_resolution: the input side the config promises the models (``dataset.source_resolution``);
            ``None``: no promise. It must equal ``resolution // scale``.
        name: the dataset's name, as in ``conf/dataset``.
        **kwargs: those of the digits (``resolution``, ``download``, ``batch_size``, ``num_workers``,
            ``dataset_class``).

    Raises:
        GanlabError: ``scale`` does not divide ``resolution``, or ``source_resolution`` disagrees with them.
    """

    paired = True

    def __init__(
        self,
        root: str,
        scale: Annotated[int, AtLeast(1)] = 2,
        source_resolution: int | None = None,
        name: str = "mnist_superres",
        **kwargs,
    ) -> None:
        super().__init__(root, name=name, **kwargs)
        side = self.resolution
        check_scale(side, side, scale)  # now, before the digits are loaded
        self.scale = int(scale)
        if source_resolution is not None and int(source_resolution) != side // self.scale:
            raise GanlabError(
                f"dataset.source_resolution={source_resolution} but dataset.resolution={side} / dataset.scale="
                f"{self.scale} is {side // self.scale}: set dataset.source_resolution={side // self.scale}"
            )

    def _build(self, digits: dict[str, Tensor]) -> TensorDictDataset:
        return paired_set(downscale(digits["real"], self.scale), digits["real"], label=digits["label"])


class MNISTThickness(_MNISTTask):
    """Unpaired thin <-> thick digits: domain A is eroded digits, domain B dilated ones (CycleGAN-style).

    Training (unpaired): A is the erosion of the first half of the training digits, B the dilation of
    the second half, served by :class:`UnpairedDataset`, so no A image has its own thick version
    among the B images and a model cannot learn the task by memorising pairs.

    The test split is **paired** although :attr:`paired` is ``False``: ``source[i]`` is the erosion
    and ``real[i]`` the dilation of the same test digit (``label`` its class), so translations can be
    scored (PSNR, SSIM) against the true thick version.

    Args:
        root: folder holding ``MNIST/raw`` (``paths.data_dir``).
        iterations: 3x3 erosions (domain A) and dilations (domain B) applied; each thins or thickens
            strokes by about a pixel on each side.
        footprint: the 3x3 neighbourhood (see :func:`dilate`). ``cross`` (the plus sign, the default)
            because MNIST strokes are only 2-3 pixels wide: a ``square`` erosion leaves about a tenth of
            the digits without a pixel brighter than mid-grey, so domain A would hold blank images.
        name: the dataset's name, as in ``conf/dataset``; ``-i<iterations>`` and ``-<footprint>``
            are added when they differ from the defaults (cached real-image features depend on them).
        **kwargs: those of the digits (``resolution``, ``download``, ``batch_size``, ``num_workers``,
            ``dataset_class``).

    Raises:
        GanlabError: ``iterations`` is not positive or ``footprint`` is not one of :data:`FOOTPRINTS`.
    """

    paired = False

    def __init__(
        self,
        root: str,
        iterations: Annotated[int, AtLeast(1)] = 1,
        footprint: Annotated[str, OneOf(*FOOTPRINTS)] = "cross",
        name: str = "mnist_thickness",
        **kwargs,
    ) -> None:
        if int(iterations) < 1:
            raise GanlabError(f"dataset.iterations={iterations} is not a positive count: use e.g. dataset.iterations=1")
        if footprint not in FOOTPRINTS:
            raise GanlabError(f"dataset.footprint={footprint} is not an option: use one of {', '.join(FOOTPRINTS)}")
        super().__init__(root, name=name, **kwargs)
        self.iterations = int(iterations)
        self.footprint = footprint
        self.name = name + (f"-i{self.iterations}" if self.iterations != 1 else "")
        self.name += f"-{footprint}" if footprint != "cross" else ""

    def thin(self, digits: Tensor) -> Tensor:
        """Domain A: ``digits`` eroded ``iterations`` times (repeated 3x3 steps compose into one wider step)."""
        return erode(digits, 2 * self.iterations + 1, self.footprint)

    def thick(self, digits: Tensor) -> Tensor:
        """Domain B: ``digits`` dilated ``iterations`` times."""
        return dilate(digits, 2 * self.iterations + 1, self.footprint)

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        train, test = self._splits()
        half = len(train["real"]) // 2
        self.train_set = UnpairedDataset(self.thin(train["real"][:half]), self.thick(train["real"][half:]), seed=0)
        self.test_set = paired_set(self.thin(test["real"]), self.thick(test["real"]), label=test["label"])
