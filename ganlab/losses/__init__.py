"""Adversarial losses; each is selected with ``loss=<name>`` from ``conf/loss/<name>.yaml``."""

from ganlab.losses.base import GANLoss
from ganlab.losses.fdivergence import DIVERGENCES, FDivergenceLoss
from ganlab.losses.hinge import HingeLoss
from ganlab.losses.least_squares import LeastSquaresLoss
from ganlab.losses.minimax import MinimaxLoss, NonSaturatingLoss
from ganlab.losses.relativistic import RELATIVISTIC_VARIANTS, RelativisticAverageLoss
from ganlab.losses.wasserstein import WassersteinGPLoss, WassersteinLoss, clip_weights

__all__ = [
    "DIVERGENCES",
    "RELATIVISTIC_VARIANTS",
    "FDivergenceLoss",
    "GANLoss",
    "HingeLoss",
    "LeastSquaresLoss",
    "MinimaxLoss",
    "NonSaturatingLoss",
    "RelativisticAverageLoss",
    "WassersteinGPLoss",
    "WassersteinLoss",
    "clip_weights",
]
