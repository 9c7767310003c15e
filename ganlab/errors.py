"""User-facing errors: one line that names the problem and the fix."""


class GanlabError(Exception):
    """A problem with the user's input or environment, reported as one line without a traceback."""


class NonFiniteLoss(GanlabError):
    """A loss became NaN or infinite: training stops, keeping the last finite weights."""


class Interrupted(GanlabError):
    """A termination signal stopped training after a complete step, which ``last.ckpt`` holds."""
