"""Metrics of generated samples, shared by ``ganlab eval`` and training."""

from ganlab.metrics.average_neighbours import AverageOfNeighbours
from ganlab.metrics.base import FeatureMetric, FeatureSetMetric, Findings, LatentProbe, SampleMetric
from ganlab.metrics.classification_accuracy import ClassificationAccuracyScore
from ganlab.metrics.cycle import CycleReconstruction
from ganlab.metrics.features import FeatureExtractor, Flatten, InceptionFeatures
from ganlab.metrics.fid import FrechetInceptionDistance
from ganlab.metrics.inception_score import InceptionScore
from ganlab.metrics.kid import KernelInceptionDistance
from ganlab.metrics.latent import LatentArithmetic, LatentWalk
from ganlab.metrics.memorization import Memorization
from ganlab.metrics.modes import ModeCoverage
from ganlab.metrics.nearest_neighbours import DensityCoverage, OneNearestNeighbourAccuracy, PrecisionRecall
from ganlab.metrics.paired import PairedImageQuality, PerceptualDistance
from ganlab.metrics.sharpness import Sharpness
from ganlab.metrics.wasserstein1d import Wasserstein1D

__all__ = [
    "AverageOfNeighbours",
    "ClassificationAccuracyScore",
    "CycleReconstruction",
    "DensityCoverage",
    "FeatureExtractor",
    "FeatureMetric",
    "FeatureSetMetric",
    "Findings",
    "Flatten",
    "FrechetInceptionDistance",
    "InceptionFeatures",
    "InceptionScore",
    "KernelInceptionDistance",
    "LatentArithmetic",
    "LatentProbe",
    "LatentWalk",
    "Memorization",
    "ModeCoverage",
    "OneNearestNeighbourAccuracy",
    "PairedImageQuality",
    "PerceptualDistance",
    "PrecisionRecall",
    "SampleMetric",
    "Sharpness",
    "Wasserstein1D",
]
