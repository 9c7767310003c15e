"""A small on-disk cache for real-data statistics: computed once, read back by every later eval."""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import torch

T = TypeVar("T")


def cached(cache_file: Path | None, compute: Callable[[], T]) -> T:
    """``compute()``'s result, read from ``cache_file`` when it holds one, else computed and saved there.

    ``None`` means no cache. Writes go to a temporary file that is renamed into place, so a crash
    mid-write never leaves a half-written entry; an unreadable entry is recomputed and replaced.
    """
    if cache_file is not None and cache_file.exists():
        try:
            return torch.load(cache_file, map_location="cpu", weights_only=True)
        except (EOFError, RuntimeError, pickle.UnpicklingError):
            pass
    value = compute()
    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        partial = cache_file.with_suffix(".tmp")
        torch.save(value, partial)
        os.replace(partial, cache_file)
    return value
