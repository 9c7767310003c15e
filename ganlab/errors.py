"""User-facing errors: one line that names the problem and the fix."""


class GanlabError(Exception):
    """A problem with the user's input or environment, reported as one line without a traceback."""
