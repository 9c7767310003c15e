"""Stabilisation tricks, combined with ``tricks=[a,b]``; each plugs in through :class:`Trick`."""

from ganlab.tricks.base import StepContext, Trick
from ganlab.tricks.diffaugment import DiffAugment
from ganlab.tricks.ema import EMA
from ganlab.tricks.feature_matching import FeatureMatching
from ganlab.tricks.gradient_penalty import GradientPenalty
from ganlab.tricks.historical_averaging import HistoricalAveraging
from ganlab.tricks.instance_noise import InstanceNoise
from ganlab.tricks.labels import LabelSmoothing, NoisyLabels
from ganlab.tricks.minibatch import MinibatchDiscrimination, MinibatchStdDev
from ganlab.tricks.multi_generator import MADGAN
from ganlab.tricks.orthogonal import OrthogonalRegularization
from ganlab.tricks.packing import Packing
from ganlab.tricks.replay_buffer import ReplayBuffer
from ganlab.tricks.spectral_norm import SpectralNorm
from ganlab.tricks.unrolled import Unrolled
from ganlab.tricks.weight_clipping import WeightClipping

__all__ = [
    "EMA",
    "MADGAN",
    "DiffAugment",
    "FeatureMatching",
    "GradientPenalty",
    "HistoricalAveraging",
    "InstanceNoise",
    "LabelSmoothing",
    "MinibatchDiscrimination",
    "MinibatchStdDev",
    "NoisyLabels",
    "OrthogonalRegularization",
    "Packing",
    "ReplayBuffer",
    "SpectralNorm",
    "StepContext",
    "Trick",
    "Unrolled",
    "WeightClipping",
]
