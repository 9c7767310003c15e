r"""PSNR and SSIM of translations against their paired targets, next to the trivial baseline's.

.. math::
    \mathrm{PSNR}(x, y) = 10 \log_{10} \frac{1}{\mathrm{MSE}(x, y)} \quad (\text{pixels in } [0, 1]),
    \qquad
    \mathrm{SSIM}(x, y) =
        \frac{(2\mu_x\mu_y + c_1)(2\sigma_{xy} + c_2)}{(\mu_x^2 + \mu_y^2 + c_1)(\sigma_x^2 + \sigma_y^2 + c_2)}

SSIM (Wang et al. 2004) is averaged over 11x11 Gaussian windows (sigma 1.5). Both are computed per
image (torchmetrics' functional forms) and averaged over the images, as super-resolution papers
report them. The baseline is what a translation must beat: the input itself, or, for a smaller
input, its bicubic upsampling (grey inputs repeated to colour targets, colour inputs averaged to
grey ones).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics.functional.image import structural_similarity_index_measure

from ganlab.metrics.base import SampleMetric

#: PSNR of an exact copy would be infinite; errors below this MSE count as this MSE (100 dB)
_SMALLEST_MSE = 1e-10


def baseline(source: Tensor, target: Tensor) -> Tensor:
    """The trivial translation: ``source`` bicubically resized to ``target``'s size, channels matched, in [-1, 1]."""
    if source.shape[-2:] != target.shape[-2:]:
        source = F.interpolate(source, size=target.shape[-2:], mode="bicubic", align_corners=False)
    if source.shape[1] != target.shape[1]:
        source = source.mean(dim=1, keepdim=True).expand(-1, target.shape[1], -1, -1)
    return source.clamp(-1.0, 1.0)


def psnr_per_image(output: Tensor, target: Tensor) -> Tensor:
    """PSNR in dB of each image pair, images in [-1, 1] (compared in [0, 1]), ``(N, C, H, W) -> (N,)``."""
    output, target = (x.float().add(1).div(2) for x in (output, target))
    mse = (output - target).square().flatten(1).mean(dim=1).clamp_min(_SMALLEST_MSE)
    return 10 * torch.log10(1 / mse)


def ssim_per_image(output: Tensor, target: Tensor) -> Tensor:
    """SSIM of each image pair, images in [-1, 1] (compared in [0, 1]), ``(N, C, H, W) -> (N,)``."""
    output, target = (x.float().add(1).div(2) for x in (output, target))
    return structural_similarity_index_measure(output, target, data_range=1.0, reduction="none")


class PairedImageQuality(SampleMetric):
    """``psnr``, ``ssim`` of translations against targets; ``psnr_baseline``, ``ssim_baseline`` of :func:`baseline`.

    Fed by ``ganlab eval`` with the test split's inputs and targets next to each batch of outputs
    (datasets whose test split pairs them: ``mnist_edges``, ``mnist_superres``, ``mnist_thickness``,
    ``paired_folder``). States are sums over images, so DDP processes add up.
    """

    needs_pairs = True

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        for name in ("psnr", "ssim", "psnr_baseline", "ssim_baseline", "images"):
            self.add_state(name, default=torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, fake: Tensor, source: Tensor, target: Tensor) -> None:
        trivial = baseline(source, target)
        self.psnr += psnr_per_image(fake, target).sum().double()
        self.ssim += ssim_per_image(fake, target).sum().double()
        self.psnr_baseline += psnr_per_image(trivial, target).sum().double()
        self.ssim_baseline += ssim_per_image(trivial, target).sum().double()
        self.images += fake.shape[0]

    def compute(self) -> dict[str, Tensor]:
        names = ("psnr", "ssim", "psnr_baseline", "ssim_baseline")
        return {name: getattr(self, name) / self.images for name in names}
