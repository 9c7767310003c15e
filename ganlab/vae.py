"""The variational autoencoder (Kingma & Welling 2014), trained by the same CLI as the GANs."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch import Tensor
from torch.optim import Optimizer

from ganlab.checkpoint import initialise_generator
from ganlab.errors import GanlabError
from ganlab.generative import GenerativeModule, grad_norm
from ganlab.losses.elbo import RECONSTRUCTIONS, gaussian_kl, negative_elbo, reconstruction_nll
from ganlab.models.base import Generator
from ganlab.models.encoder import GaussianEncoder
from ganlab.plotting import stack_pictures


class VAEModule(GenerativeModule):
    r"""A (β-)VAE: encoder :math:`q(z\mid x)`, decoder :math:`G(z)`, one optimiser for both, one step per batch.

    .. math::
        \min\; \mathbb E_x\big[\, \mathbb E_{z \sim q(z\mid x)}[-\log p(x \mid z)]
        + \beta\, \mathrm{KL}(q(z \mid x) \,\|\, \mathcal N(0, I)) \big]

    with the reparameterised :math:`z = \mu(x) + \sigma(x) \odot \varepsilon`. The decoder is a ganlab
    :class:`~ganlab.models.base.Generator` (by default the DCGAN generator of ``model=dcgan``, same class and
    size), so samples are :math:`G(z)`, :math:`z \sim \mathcal N(0, I)`, and every metric, sample grid and
    ``ganlab eval`` treats it as any generator. Logged: ``train/reconstruction`` (:math:`-\log p(x\mid z)`
    per image), ``train/kl`` (per image, before β) and ``train/loss`` (the negative ELBO with β).

    Args:
        encoder: :math:`x \mapsto (\mu, \log\sigma^2)`.
        generator: the decoder, :math:`z \mapsto \hat x`.
        optimizer: called with the encoder's and decoder's parameters to build the optimiser.
        scheduler: optional, called with the optimiser; stepped once per batch.
        reconstruction: ``mse`` or ``bce`` (:func:`~ganlab.losses.elbo.reconstruction_nll`).
        beta: the weight of the KL term.
        gradient_clip_val: clip the gradient norm to this value (``None``: no clipping).
        channels_last: see :class:`~ganlab.generative.GenerativeModule`.
    """

    non_finite_remedy = "lower optim.lr, add gradient clipping (optim.gradient_clip_val=1.0) or use model.beta < 1"

    def __init__(
        self,
        encoder: GaussianEncoder,
        generator: Generator,
        optimizer: Callable[[Iterable[torch.nn.Parameter]], Optimizer],
        scheduler: Callable[[Optimizer], Any] | None = None,
        reconstruction: str = "mse",
        beta: float = 1.0,
        gradient_clip_val: float | None = None,
        channels_last: bool = False,
    ) -> None:
        super().__init__(generator, gradient_clip_val, channels_last)
        if reconstruction not in RECONSTRUCTIONS:
            raise GanlabError(
                f"model.reconstruction={reconstruction!r} is not a reconstruction term: use one of "
                f"{', '.join(RECONSTRUCTIONS)}"
            )
        if beta < 0:
            raise GanlabError(f"model.beta={beta} must be >= 0 (1: the VAE, > 1: a beta-VAE)")
        if generator.condition_keys:
            raise GanlabError("model=vae is unconditional: set model.conditioning=none")
        if encoder.latent_dim != generator.latent_dim:
            raise GanlabError(
                f"the encoder's latent size {encoder.latent_dim} differs from the decoder's {generator.latent_dim}: "
                "set model.latent_dim for both"
            )
        self.encoder = encoder
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.reconstruction = reconstruction
        self.beta = float(beta)

    @classmethod
    def from_config(cls, cfg: DictConfig, generator_weights: Any = None) -> VAEModule:
        """Build the VAE of ``cfg.model`` (``encoder``, ``decoder``, ``reconstruction``, ``beta``) and ``cfg.optim``."""
        if cfg.get("tricks"):
            raise GanlabError(
                f"tricks={list(cfg.tricks)} are GAN training tricks; model=vae trains without them: drop tricks="
            )
        decoder = instantiate(cfg.model.decoder)
        if generator_weights is not None:
            initialise_generator(decoder, generator_weights)
        return cls(
            encoder=instantiate(cfg.model.encoder),
            generator=decoder,
            optimizer=instantiate(cfg.optim.generator),
            scheduler=instantiate(cfg.optim.get("generator_scheduler")),
            reconstruction=cfg.model.reconstruction,
            beta=cfg.model.beta,
            gradient_clip_val=cfg.optim.get("gradient_clip_val"),
            channels_last=cfg.get("channels_last", False),
        )

    def configure_optimizers(self) -> tuple[list[Optimizer], list[Any]]:
        optimizer = self.optimizer([*self.encoder.parameters(), *self.generator.parameters()])
        return self._optimizers_and_schedulers([optimizer], (self.scheduler,))

    # -------------------------------------------------------------------------------------- training
    def terms(self, real: Tensor) -> dict[str, Tensor]:
        """Per-sample ``reconstruction`` and ``kl`` terms of a batch of real samples."""
        mean, log_variance = self.encoder(real)
        decoded = self.generator(GaussianEncoder.sample(mean, log_variance).to(real.dtype))
        return {
            "reconstruction": reconstruction_nll(decoded, real, self.reconstruction),
            "kl": gaussian_kl(mean, log_variance),
        }

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        opt = self.optimizers()
        terms = self.terms(batch["real"])
        loss = self._checked_sum({"loss": negative_elbo(terms["reconstruction"], terms["kl"], self.beta)}, "VAE")
        self._backward_and_step(opt, loss)
        self.generator_steps += 1
        for scheduler in self._schedulers():
            scheduler.step()
        if self.generator_steps % self.trainer.log_every_n_steps == 0:
            logs = {f"train/{name}": value.detach().mean() for name, value in terms.items()}
            logs["train/loss"] = loss.detach()
            logs["train/g_grad_norm"] = grad_norm([*self.encoder.parameters(), *self.generator.parameters()])
            logs["train/lr_generator"] = torch.tensor(opt.param_groups[0]["lr"])
            logs["step"] = torch.tensor(float(self.generator_steps))
            self.log_dict(logs, on_step=True, on_epoch=False)

    # ------------------------------------------------------------------------------------- pictures
    @torch.no_grad()
    def reconstruct(self, real: Tensor) -> Tensor:
        """The decoder's image of each input's posterior mean, :math:`G(\\mu(x))`, in eval mode."""
        was_training = self.encoder.training
        self.encoder.eval()
        try:
            mean, _ = self.encoder(real.to(self.device))
        finally:
            self.encoder.train(was_training)
        return self.generate(mean)

    def sample_picture(self, z: Tensor, datamodule: Any, game: bool = True) -> Tensor:
        """Samples :math:`G(z)` as a grid, and below it two rows: fixed test images over their reconstructions."""
        samples = self.generate(z).cpu()
        per_row = max(1, int(len(z) ** 0.5))
        inputs = datamodule.real_samples(per_row, split="test")
        pairs = datamodule.render(torch.cat([inputs, self.reconstruct(inputs).cpu()]), per_row)
        return stack_pictures([datamodule.render(samples, per_row), pairs])
