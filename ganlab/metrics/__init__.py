"""Metrics of generated samples, shared by ``ganlab eval`` and training."""

from ganlab.metrics.base import SampleMetric
from ganlab.metrics.fid import FrechetInceptionDistance
from ganlab.metrics.modes import ModeCoverage

__all__ = ["FrechetInceptionDistance", "ModeCoverage", "SampleMetric"]
