"""Lightning callbacks ganlab adds to a run (``conf/callbacks``)."""

from ganlab.callbacks.sample_grid import SampleGrid

__all__ = ["SampleGrid"]
