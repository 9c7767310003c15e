"""The VAE's encoder: a discriminator's feature network with a Gaussian head."""

from __future__ import annotations

from typing import Annotated

import torch
from torch import Tensor, nn

from ganlab.models.base import Discriminator
from ganlab.schema import AtLeast


class GaussianEncoder(nn.Module):
    r"""The approximate posterior :math:`q(z \mid x) = \mathcal N(\mu(x), \operatorname{diag} \sigma^2(x))`.

    :math:`(\mu, \log\sigma^2)` is one linear layer on the features :math:`\varphi(x)` of ``body``, a
    discriminator architecture used without its score head: the VAE's encoder is then the same network
    as the GAN's discriminator, as its decoder is the GAN's generator (Kingma & Welling 2014 use MLPs;
    convolutional VAEs mirror the decoder the same way). ``(N, *sample_shape) -> ((N, latent_dim), (N, latent_dim))``.

    Args:
        body: a :class:`~ganlab.models.base.Discriminator`; only its ``features`` are used.
        latent_dim: the size of z.
    """

    def __init__(self, body: Discriminator, latent_dim: Annotated[int, AtLeast(1)]) -> None:
        super().__init__()
        self.body = body
        # the score head is not part of the encoder: dropped, so it neither trains nor sits in checkpoints
        self.body.head = nn.Identity()
        self.latent_dim = int(latent_dim)
        self.posterior = nn.Linear(body.feature_dim, 2 * self.latent_dim)
        # start at the prior, q(z | x) = N(0, I) for every x, so the KL term starts at 0
        nn.init.zeros_(self.posterior.weight)
        nn.init.zeros_(self.posterior.bias)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """:math:`\\mu(x)` and :math:`\\log\\sigma^2(x)`."""
        mean, log_variance = self.posterior(self.body.features(x).float()).chunk(2, dim=1)
        return mean, log_variance

    @staticmethod
    def sample(mean: Tensor, log_variance: Tensor) -> Tensor:
        r"""The reparameterisation :math:`z = \mu + \sigma \odot \varepsilon` with :math:`\varepsilon \sim N(0, I)`."""
        return mean + torch.exp(0.5 * log_variance) * torch.randn_like(mean)
