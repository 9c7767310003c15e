"""Metrics of generated samples, shared by ``ganlab eval`` and training."""

from ganlab.metrics.base import FeatureMetric, SampleMetric
from ganlab.metrics.features import FeatureExtractor, Flatten, InceptionFeatures
from ganlab.metrics.fid import FrechetInceptionDistance
from ganlab.metrics.inception_score import InceptionScore
from ganlab.metrics.kid import KernelInceptionDistance
from ganlab.metrics.modes import ModeCoverage
from ganlab.metrics.nearest_neighbours import DensityCoverage, OneNearestNeighbourAccuracy, PrecisionRecall

__all__ = [
    "DensityCoverage",
    "FeatureExtractor",
    "FeatureMetric",
    "Flatten",
    "FrechetInceptionDistance",
    "InceptionFeatures",
    "InceptionScore",
    "KernelInceptionDistance",
    "ModeCoverage",
    "OneNearestNeighbourAccuracy",
    "PrecisionRecall",
    "SampleMetric",
]
