"""Spectral normalisation of the discriminator's layers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

from ganlab.schema import AtLeast
from ganlab.tricks.base import Trick

if TYPE_CHECKING:
    from ganlab.module import GANModule

_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d)


class SpectralNorm(Trick):
    r"""Spectral normalisation (Miyato et al. 2018): every weight W of D is used as :math:`W/\sigma(W)`.

    :math:`\sigma(W)` is W's largest singular value, estimated by power iteration carried over from
    step to step (``n_power_iterations`` per forward pass in training mode), so each layer, and with
    1-Lipschitz activations all of D, is at most 1-Lipschitz. Applied with PyTorch's
    ``torch.nn.utils.parametrizations.spectral_norm`` to every linear and convolution layer of D
    that is not already normalised (or otherwise parametrised).

    Args:
        n_power_iterations: power iterations per training forward pass (1 in the paper).
    """

    def __init__(self, n_power_iterations: Annotated[int, AtLeast(1)] = 1) -> None:
        self.n_power_iterations = int(n_power_iterations)

    def setup(self, module: GANModule) -> None:
        for layer in list(module.discriminator.modules()):
            # architectures that normalise their own layers (resnet, biggan) are not normalised twice
            if isinstance(layer, _LAYERS) and not parametrize.is_parametrized(layer, "weight"):
                spectral_norm(layer, n_power_iterations=self.n_power_iterations)
