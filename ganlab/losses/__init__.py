"""Adversarial losses; each is selected with ``loss=<name>`` from ``conf/loss/<name>.yaml``."""

from ganlab.losses.base import GANLoss
from ganlab.losses.fdivergence import DIVERGENCES, FDivergenceLoss
from ganlab.losses.hinge import HingeLoss
from ganlab.losses.least_squares import LeastSquaresLoss
from ganlab.losses.minimax import MinimaxLoss, NonSaturatingLoss
from ganlab.losses.wasserstein import WassersteinGPLoss

__all__ = [
    "DIVERGENCES",
    "FDivergenceLoss",
    "GANLoss",
    "HingeLoss",
    "LeastSquaresLoss",
    "MinimaxLoss",
    "NonSaturatingLoss",
    "WassersteinGPLoss",
]
