"""The lectures, runnable: each lesson runs its experiments, draws its figure, checks its claim, writes a page."""

from ganlab.lessons.base import Check, Lab, Lesson, Result

__all__ = ["Check", "Lab", "Lesson", "Result"]
