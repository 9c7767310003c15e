r"""SRGAN's VGG content loss: the generator's output and the target compared in VGG19 feature space.

Ledig et al. 2017 (eq. 5) replace the pixel-wise MSE by the MSE between the feature maps
:math:`\phi_{i,j}` of a pretrained VGG19 (Simonyan & Zisserman 2015), taken after the ReLU of the
j-th convolution before the i-th max-pool. Their VGG54 (:math:`\phi_{5,4}`, the deepest maps) gave
the most photo-realistic textures. The network is ImageNet-pretrained and frozen; its weights come
from torchvision, through the torch hub cache (``$TORCH_HOME/hub/checkpoints``).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganlab.errors import GanlabError
from ganlab.pretrained import pretrained_state
from ganlab.tricks.base import StepContext, Trick

# torchvision's vgg19().features up to and including the ReLU after conv5_4, before the fifth max-pool
PHI_54_LAYERS = 36
# The paper's rescaling of the feature maps, "a factor of 1/12.75", so that the VGG loss is of a
# magnitude comparable to the pixel MSE.
FEATURE_RESCALE = 1 / 12.75
# Four max-pools halve the side four times: 32 px keeps a 2x2 map at phi_5,4.
MIN_SIDE = 32
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

_PRETRAINED = "IMAGENET1K_V1"


def load_vgg_features(pretrained: bool = True) -> nn.Module:
    r"""VGG19's layers up to :math:`\phi_{5,4}` (``vgg19().features[:36]``), frozen and in eval mode.

    ``(N, 3, H, W)`` ImageNet-normalised images ``->`` ``(N, 512, H/16, W/16)`` feature maps.

    Args:
        pretrained: the ImageNet weights (``IMAGENET1K_V1``), read from the torch hub cache or
            downloaded into it; ``False`` keeps torchvision's random initialisation, which only
            tests of the loss's mechanics want.

    Raises:
        GanlabError: the pretrained weights are neither cached nor downloadable (no network, say).
    """
    from torchvision.models import VGG19_Weights, vgg19

    # the weights first, so that a failed download costs nothing; the network is built without
    # memory or initialisation (its 100M-parameter classifier would take seconds) and then filled
    state = None
    if pretrained:
        state = pretrained_state(
            VGG19_Weights[_PRETRAINED],
            "VGG19 weights for model.generator.content=vgg",
            "use model.generator.content=pixel",
        )
    with torch.device("meta"):
        network = vgg19(weights=None)
    if state is not None:
        network.load_state_dict(state, assign=True)
    else:
        network.features.to_empty(device="cpu")
        for layer in network.features.modules():
            if isinstance(layer, nn.Conv2d):
                # torchvision's own initialisation of VGG's convolutions
                nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(layer.bias)
    features = network.features[:PHI_54_LAYERS]
    features.requires_grad_(False)
    return features.eval()


class VGGContentLoss(Trick):
    r"""``L_G += λ·MSE(φ(G(x))/12.75, φ(y)/12.75)``: SRGAN's VGG54 content loss (Ledig et al. 2017, eq. 5).

    .. math::
        l^{SR}_{VGG/5,4} = \frac{\lambda}{W H C} \sum_{c,x,y}
            \Big(\tfrac{1}{12.75}\phi_{5,4}(I^{HR})_{c,x,y} - \tfrac{1}{12.75}\phi_{5,4}(G(I^{LR}))_{c,x,y}\Big)^2

    with :math:`\phi_{5,4}` the ReLU output after the fourth convolution of VGG19's fifth block
    (:func:`load_vgg_features`), a mean over feature-map entries, and 1/12.75 the paper's rescaling
    of the maps. The output is G's own (``context.generated``) and the target the batch's
    ``"real"`` entry as loaded. Both go through the same preparation: [-1, 1] mapped to [0, 1],
    grey images repeated to three channels, ImageNet mean/std normalisation; images under 32 px
    on a side are first upsampled bilinearly to at least 32 px, since VGG's four max-pools before
    :math:`\phi_{5,4}` would otherwise leave no 2x2 map (28 px MNIST is compared at 32 px).

    VGG is loaded on first use (building the trick downloads nothing), frozen, and moved to the
    output's device then. It lives on this trick, not on the GAN module, so checkpoints do not
    carry its 20M parameters and the networks' optimisers never see them.

    Args:
        weight: λ (1 in the paper, with the adversarial loss weighted 1e-3).
        pretrained: ImageNet weights; ``False`` (random VGG) is for tests only.

    Example:
        >>> import torch
        >>> loss = VGGContentLoss(weight=1.0)  # nothing loaded yet; the next line loads the ImageNet weights
        >>> loss.features(torch.zeros(2, 1, 28, 28)).shape  # doctest: +SKIP
        torch.Size([2, 512, 2, 2])
    """

    def __init__(self, weight: float = 1.0, pretrained: bool = True) -> None:
        self.weight = float(weight)
        self.pretrained = bool(pretrained)
        self._vgg: nn.Module | None = None

    def vgg(self, device: torch.device) -> nn.Module:
        """The frozen VGG feature extractor on ``device``, loaded the first time it is needed."""
        if self._vgg is None:
            self._vgg = load_vgg_features(self.pretrained)
        if next(self._vgg.parameters()).device != device:
            self._vgg = self._vgg.to(device)
        return self._vgg

    def features(self, images: Tensor) -> Tensor:
        r"""``φ_{5,4}`` of ``(N, C, H, W)`` images in [-1, 1] (C = 1 or 3), after the preparation above."""
        if images.shape[1] not in (1, 3):
            raise GanlabError(
                f"the VGG content loss compares grey or RGB images, not {images.shape[1]} channels: "
                "use model.generator.content=pixel"
            )
        images = images.float()
        if images.shape[1] == 1:
            images = images.expand(-1, 3, -1, -1)
        side = min(images.shape[-2:])
        if side < MIN_SIDE:
            # integer ceilings: a float factor would make 28 px 33 px through rounding
            size = (-(-images.shape[-2] * MIN_SIDE // side), -(-images.shape[-1] * MIN_SIDE // side))
            images = F.interpolate(images, size=size, mode="bilinear", align_corners=False)
        mean = images.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        std = images.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
        return self.vgg(images.device)(((images + 1) / 2 - mean) / std)

    def generator_terms(self, context: StepContext) -> dict[str, Tensor]:
        output = context.generated
        with torch.no_grad():
            target = self.features(context.batch["real"].to(output.device))
        distance = F.mse_loss(self.features(output) * FEATURE_RESCALE, target * FEATURE_RESCALE)
        return {"vgg_content": self.weight * distance}

    def __getstate__(self) -> dict[str, Any]:
        # copies and pickles reload VGG when they need it instead of carrying ~80 MB of frozen weights
        return {**self.__dict__, "_vgg": None}
