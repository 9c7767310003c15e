"""Fréchet Inception Distance with cached real-data statistics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import Tensor
from torchmetrics.image.fid import FrechetInceptionDistance as _TorchmetricsFID

from ganlab.data.base import GANDataModule
from ganlab.metrics.cache import cached
from ganlab.metrics.features import missing_inception_weights, to_inception_input

_REAL_STATES = ("real_features_sum", "real_features_cov_sum", "real_features_num_samples")


class FrechetInceptionDistance(_TorchmetricsFID):
    r"""FID (Heusel et al. 2017) from torchmetrics' standard Inception features.

    .. math::
        \mathrm{FID} = \lVert\mu_r - \mu_g\rVert_2^2 + \mathrm{Tr}\big(\Sigma_r + \Sigma_g
        - 2(\Sigma_r\Sigma_g)^{1/2}\big)

    over 2048-d pool features of real and generated images. Real statistics are the sums
    torchmetrics keeps (feature sum, outer-product sum, count); they are computed once per
    (dataset, split, resolution, channels, sample count, feature size) and cached in ``cache_dir``.
    FID falls with the sample count: compare runs at the same ``num_samples`` only.

    Weights come from ``$TORCH_HOME/hub/checkpoints`` (downloaded on first use when online).

    Args:
        feature: Inception feature size (64, 192, 768 or 2048).
        real_split: split of the dataset the real statistics come from (``test``, as in Lucic et al. 2018).
        batch_size: real images per Inception batch when computing statistics.
        kwargs: torchmetrics ``Metric`` options (``sync_on_compute``, ...).
    """

    def __init__(self, feature: int = 2048, real_split: str = "test", batch_size: int = 100, **kwargs: Any) -> None:
        try:
            super().__init__(feature=feature, normalize=True, reset_real_features=False, **kwargs)
        except OSError as err:
            raise missing_inception_weights(err) from err
        self.feature = int(feature)
        self.real_split = real_split
        self.batch_size = int(batch_size)

    def prepare(self, datamodule: GANDataModule, num_samples: int, cache_dir: Path | None) -> None:
        """Load the real statistics from the cache, or compute them from ``num_samples`` real images."""
        real = datamodule.real_samples(num_samples, split=self.real_split)
        key = f"{datamodule.name}-{self.real_split}-{tuple(real.shape[1:])}-n{len(real)}-inception{self.feature}"
        cache_file = Path(cache_dir) / f"fid_real_{key.replace(' ', '')}.pt" if cache_dir else None
        statistics = cached(cache_file, lambda: self._real_statistics(real))
        for name in _REAL_STATES:
            setattr(self, name, statistics[name].to(self.device))

    def _real_statistics(self, real: Tensor) -> dict[str, Tensor]:
        for start in range(0, len(real), self.batch_size):
            super().update(to_inception_input(real[start : start + self.batch_size]).to(self.device), real=True)
        return {name: getattr(self, name).cpu() for name in _REAL_STATES}

    def update(self, fake: Tensor) -> None:
        super().update(to_inception_input(fake), real=False)

    def compute(self) -> dict[str, Tensor]:
        return {"fid": super().compute()}
