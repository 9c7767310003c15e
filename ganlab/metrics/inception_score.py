"""Inception Score, refusing to report a number when the Inception classifier head is unusable."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated, Any

import torch
from torch import Tensor, nn
from torchmetrics.image.inception import InceptionScore as _TorchmetricsInceptionScore

from ganlab.data.base import GANDataModule
from ganlab.errors import GanlabError
from ganlab.metrics.features import missing_inception_weights, to_inception_input
from ganlab.schema import AtLeast


class InceptionScore(_TorchmetricsInceptionScore):
    r"""Inception Score (Salimans et al. 2016), torchmetrics' implementation.

    .. math:: \mathrm{IS} = \exp\big(\mathbb{E}_x\,\mathrm{KL}(p(y\mid x)\,\|\,p(y))\big)

    with :math:`p(y\mid x)` the Inception-v3 classifier's softmax on a generated image and
    :math:`p(y)` its mean over a split; the score is averaged over ``splits`` splits (``is_mean``,
    ``is_std``). It lies between 1 and the number of classes (1,008 for these weights): high when
    each image is confidently one class and all classes occur equally. It needs the classifier's
    logits: when they are not finite (the FID feature weights some machines hold have a NaN logits
    layer), :meth:`prepare` refuses with an error rather than report a made-up score.

    Args:
        splits: splits of the samples (10 in the paper).
        feature: a module mapping byte images to logits in place of Inception (for tests).
        kwargs: torchmetrics ``Metric`` options.
    """

    def __init__(
        self, splits: Annotated[int, AtLeast(1)] = 10, feature: nn.Module | None = None, **kwargs: Any
    ) -> None:
        try:
            with warnings.catch_warnings():  # torchmetrics' note that IS keeps every sample's logits, by design
                warnings.filterwarnings("ignore", message="Metric `InceptionScore` will save all extracted features")
                super().__init__(
                    feature=feature if feature is not None else "logits_unbiased",
                    splits=splits,
                    normalize=True,
                    **kwargs,
                )
        except OSError as err:
            raise missing_inception_weights(err) from err

    @torch.no_grad()
    def prepare(self, datamodule: GANDataModule, num_samples: int, cache_dir: Path | None) -> None:
        """Check, before any sample is generated, that the classifier gives finite logits."""
        probe = torch.full((2, 3, 299, 299), 128, dtype=torch.uint8, device=self.device)
        if not torch.isfinite(self.inception(probe)).all():
            raise GanlabError(
                "Inception Score needs the Inception classifier's logits, and these weights give NaN logits "
                "(their 2048-d FID features are still fine): no IS can be reported here; use fid or kid, or point "
                "TORCH_HOME at complete Inception weights"
            )

    def update(self, fake: Tensor) -> None:
        super().update(to_inception_input(fake))

    def compute(self) -> dict[str, Tensor]:
        mean, std = super().compute()
        return {"is_mean": mean, "is_std": std}
