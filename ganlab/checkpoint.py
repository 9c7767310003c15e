"""Reading ganlab checkpoints, with one-line errors for the ways that goes wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ganlab.errors import GanlabError


def resolve_checkpoint_path(path: str | Path) -> Path:
    """``path`` itself, or ``<path>/checkpoints/last.ckpt`` when ``path`` is a run directory."""
    candidate = Path(path).expanduser()
    if candidate.is_dir():
        candidate = candidate / "checkpoints" / "last.ckpt"
    if not candidate.is_file():
        raise GanlabError(
            f"checkpoint not found: {candidate}; pass ckpt=<run dir>/checkpoints/last.ckpt (or the run dir itself)"
        )
    return candidate


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint written by ``ganlab train`` (tensors and plain containers only).

    Raises:
        GanlabError: the file is missing, unreadable, truncated, or not a ganlab checkpoint.
    """
    resolved = resolve_checkpoint_path(path)
    try:
        checkpoint = torch.load(resolved, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated zip, pickle of unknown types, not a torch file at all
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise GanlabError(
            f"cannot read checkpoint {resolved}: the file is corrupt, truncated or not a checkpoint ({reason}); "
            "use another .ckpt of the run"
        ) from err
    if not isinstance(checkpoint, dict) or "run" not in checkpoint.get("ganlab", {}):
        raise GanlabError(
            f"{resolved} is not a ganlab checkpoint (no ganlab run config inside); pass one written by ganlab train"
        )
    return checkpoint
