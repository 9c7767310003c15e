"""What the training step needs from any generator and discriminator."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class Generator(nn.Module):
    """A generator maps latent codes ``z`` of shape ``(N, latent_dim)`` to samples.

    ``condition_keys`` names the batch entries (besides ``"real"``) the network consumes as
    keyword arguments, e.g. ``("label",)`` for a class-conditional model; unconditional
    models consume none, so a labelled dataset still trains them.
    """

    condition_keys: tuple[str, ...] = ()

    def __init__(self, latent_dim: int) -> None:
        super().__init__()
        self.latent_dim = int(latent_dim)

    def sample_latent(self, num: int, device: torch.device | str = "cpu", rng: torch.Generator | None = None) -> Tensor:
        """Standard normal latent codes, shape ``(num, latent_dim)``."""
        return torch.randn(num, self.latent_dim, device=device, generator=rng)


class Discriminator(nn.Module):
    """A discriminator maps samples to one raw score (logit or critic value) each, shape ``(N, 1)``."""

    condition_keys: tuple[str, ...] = ()


def init_normal(module: nn.Module, std: float = 0.02) -> None:
    """DCGAN initialisation (Radford et al. 2016): weights ~ N(0, std); norm scales ~ N(1, std)."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(layer.weight, 0.0, std)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif (
            isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm)) and layer.weight is not None
        ):
            nn.init.normal_(layer.weight, 1.0, std)
            nn.init.zeros_(layer.bias)
