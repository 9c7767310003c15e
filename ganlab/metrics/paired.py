r"""PSNR, SSIM and LPIPS of translations against their paired targets, next to the trivial baseline's.

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

from ganlab.errors import GanlabError
from ganlab.metrics.base import SampleMetric
from ganlab.pretrained import pretrained_state

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


LPIPS_NETWORKS = ("alex", "vgg", "squeeze")


class PerceptualDistance(SampleMetric):
    """``lpips`` of translations against their targets and ``lpips_baseline`` of :func:`baseline`: lower is closer.

    LPIPS (Zhang et al. 2018): the distance of unit-normalised deep features of both images, each
    channel weighted by a linear layer fitted to human similarity judgements, averaged over space
    and summed over layers (torchmetrics' implementation, which ships the linear layers). The
    backbone is an ImageNet-pretrained torchvision network; without its weights (offline, never
    downloaded) the metric refuses with one line before any image is translated.

    Args:
        net: the backbone: ``alex`` (the paper's default), ``vgg`` or ``squeeze``.
    """

    needs_pairs = True

    def __init__(self, net: str = "alex", **kwargs) -> None:
        super().__init__(**kwargs)
        if net not in LPIPS_NETWORKS:
            raise GanlabError(f"metrics.lpips.net={net} is not an option: use one of {', '.join(LPIPS_NETWORKS)}")
        from torchmetrics.image.lpip import LearnedPerceptualImagePatchSimilarity
        from torchvision import models

        weights = {"alex": models.AlexNet_Weights, "vgg": models.VGG16_Weights, "squeeze": models.SqueezeNet1_1_Weights}
        pretrained_state(weights[net].DEFAULT, "metrics=[lpips]", "leave lpips out of metrics=")  # cached, or say so
        self.lpips = LearnedPerceptualImagePatchSimilarity(net_type=net, reduction="sum", normalize=False)
        for name in ("distance", "distance_baseline", "images"):
            self.add_state(name, default=torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

    def _distance(self, output: Tensor, target: Tensor) -> Tensor:
        """Summed LPIPS of the image pairs; grey images are repeated to the 3 channels the backbone takes."""
        output, target = (x.float().clamp(-1, 1).expand(-1, 3, -1, -1) for x in (output, target))
        self.lpips.reset()
        return self.lpips(output, target).double()

    def update(self, fake: Tensor, source: Tensor, target: Tensor) -> None:
        self.distance += self._distance(fake, target)
        self.distance_baseline += self._distance(baseline(source, target), target)
        self.images += fake.shape[0]

    def compute(self) -> dict[str, Tensor]:
        return {"lpips": self.distance / self.images, "lpips_baseline": self.distance_baseline / self.images}
