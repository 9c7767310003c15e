"""Lightning callbacks ganlab adds to a run (``conf/callbacks``)."""

from ganlab.callbacks.finite_checkpoint import LastFiniteCheckpoint
from ganlab.callbacks.periodic_metrics import PeriodicMetrics
from ganlab.callbacks.progress_bar import GANProgressBar
from ganlab.callbacks.sample_grid import SampleGrid

__all__ = ["GANProgressBar", "LastFiniteCheckpoint", "PeriodicMetrics", "SampleGrid"]
