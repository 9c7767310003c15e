"""Lightning callbacks ganlab adds to a run (``conf/callbacks``)."""

from ganlab.callbacks.diagnosis import Diagnosis
from ganlab.callbacks.periodic_metrics import PeriodicMetrics
from ganlab.callbacks.progress_bar import GANProgressBar
from ganlab.callbacks.sample_grid import SampleGrid
from ganlab.callbacks.stop_checkpoint import StopCheckpoint

__all__ = ["Diagnosis", "GANProgressBar", "PeriodicMetrics", "SampleGrid", "StopCheckpoint"]
