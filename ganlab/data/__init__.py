"""Data modules; each is selected with ``dataset=<name>`` from ``conf/dataset/<name>.yaml``."""

from ganlab.data.base import GANDataModule, ResumableLoader, TensorDictDataset
from ganlab.data.image_folder import ImageFolderImages
from ganlab.data.torchvision_images import TorchvisionImages
from ganlab.data.toy2d import GaussianMixture2D, Grid, Ring, SwissRoll, Toy2DDataModule

__all__ = [
    "GANDataModule",
    "GaussianMixture2D",
    "Grid",
    "ImageFolderImages",
    "ResumableLoader",
    "Ring",
    "SwissRoll",
    "TensorDictDataset",
    "TorchvisionImages",
    "Toy2DDataModule",
]
