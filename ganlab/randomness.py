"""The random number generators a run draws from, captured into checkpoints and restored on resume.

A GAN step draws latent codes, instance noise, label flips, replay-buffer slots and augmentations
from the global generators. Restoring their states with the weights makes a resumed run draw exactly
what the uninterrupted run would have drawn. States are stored as tensors and plain containers only,
so checkpoints still load with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch


def capture_random_states() -> dict[str, Any]:
    """The states of torch's CPU and CUDA generators, numpy's global generator and Python's ``random``."""
    kind, keys, position, has_gauss, cached_gaussian = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "position": int(position),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached_gaussian),
        },
        "python": random.getstate(),
    }


def restore_random_states(states: dict[str, Any]) -> None:
    """Put back what :func:`capture_random_states` returned (CUDA states only where CUDA is present)."""
    torch.set_rng_state(states["torch"])
    if states["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
    state = states["numpy"]
    keys = state["keys"].numpy().astype(np.uint32)
    np.random.set_state((state["kind"], keys, state["position"], state["has_gauss"], state["cached_gaussian"]))
    version, internal, gauss_next = states["python"]
    random.setstate((version, tuple(internal), gauss_next))


def give_rank_its_own_stream(rank: int) -> None:
    """Reseed torch for process ``rank`` > 0 of a multi-process run, from the current state.

    Every process of a DDP run starts from the same seed. Without this, every rank would draw the
    same latent codes and the same noise, so the ranks' fake batches would be copies and the
    effective fake batch would not grow with the number of processes. Rank 0 keeps its stream, so
    a single-process run is unaffected.
    """
    if rank > 0:
        base = int(torch.randint(2**62, (1,)).item())
        torch.manual_seed(base + rank)
