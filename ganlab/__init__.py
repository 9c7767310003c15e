"""ganlab: a command-line laboratory for Generative Adversarial Networks."""

__version__ = "0.1.0"
