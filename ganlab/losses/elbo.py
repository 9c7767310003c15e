"""The VAE's objective, the negative evidence lower bound (Kingma & Welling 2014), per sample."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ganlab.errors import GanlabError

RECONSTRUCTIONS = ("mse", "bce")


def gaussian_kl(mean: Tensor, log_variance: Tensor) -> Tensor:
    r""":math:`\mathrm{KL}(\mathcal N(\mu, \operatorname{diag}\sigma^2) \,\|\, \mathcal N(0, I))
    = \frac12 \sum_j (\mu_j^2 + \sigma_j^2 - 1 - \log\sigma_j^2)`, per sample: ``(N, d), (N, d) -> (N,)``.

    (Kingma & Welling 2014, appendix B.)
    """
    mean, log_variance = mean.float(), log_variance.float()
    return 0.5 * (mean.pow(2) + log_variance.exp() - 1 - log_variance).sum(1)


def reconstruction_nll(reconstruction: Tensor, target: Tensor, kind: str = "mse") -> Tensor:
    r""":math:`-\log p(x \mid z)` up to a constant, per sample, on images in [-1, 1] read as grey levels
    :math:`\tilde x = (x + 1)/2 \in [0, 1]`: ``(N, ...), (N, ...) -> (N,)``.

    - ``mse``: a Gaussian decoder of variance 1/2 on the grey levels,
      :math:`\sum_i (\hat{\tilde x}_i - \tilde x_i)^2`.
      Its optimum for an x that several codes could have made is their average: the blur GANs avoid.
    - ``bce``: a Bernoulli decoder (Kingma & Welling's MNIST likelihood),
      :math:`-\sum_i \tilde x_i \log \hat{\tilde x}_i + (1 - \tilde x_i)\log(1 - \hat{\tilde x}_i)`, with the
      prediction kept inside :math:`[10^{-6}, 1 - 10^{-6}]`.
    """
    predicted = (reconstruction.float().flatten(1) + 1) / 2
    grey = (target.float().flatten(1) + 1) / 2
    if kind == "mse":
        return (predicted - grey).pow(2).sum(1)
    if kind == "bce":
        clamped = predicted.clamp(1e-6, 1 - 1e-6)
        return F.binary_cross_entropy(clamped, grey.clamp(0, 1), reduction="none").sum(1)
    raise GanlabError(
        f"model.reconstruction={kind!r} is not a reconstruction term: use one of {', '.join(RECONSTRUCTIONS)}"
    )


def negative_elbo(reconstruction_term: Tensor, kl_term: Tensor, beta: float = 1.0) -> Tensor:
    r"""The loss a (β-)VAE minimises, :math:`\mathbb E[-\log p(x\mid z)] + \beta\, \mathrm{KL}(q(z\mid x)\,\|\,p(z))`,
    averaged over the batch; β = 1 is the VAE, β > 1 the β-VAE (Higgins et al. 2017)."""
    return reconstruction_term.mean() + beta * kl_term.mean()
