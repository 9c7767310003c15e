"""Reading ganlab checkpoints, with one-line errors for the ways that goes wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

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


def initialise_generator(generator: nn.Module, path: str | Path) -> None:
    """Load the generator weights of the run at ``path`` (a ``.ckpt`` or run dir) into ``generator``.

    How SRGAN starts from a pre-trained SRResNet (Ledig et al. 2017), or any run from another
    run's generator. Only G's weights move; the discriminator, optimisers and step counters start afresh.

    Raises:
        GanlabError: the checkpoint cannot be read, or its generator has other layers or shapes.
    """
    resolved = resolve_checkpoint_path(path)
    prefix = "generator."
    saved: dict[str, Tensor] = {
        key.removeprefix(prefix): value
        for key, value in load_checkpoint(resolved)["state_dict"].items()
        if key.startswith(prefix)
    }
    own = generator.state_dict()
    missing = sorted(own.keys() - saved.keys())
    unexpected = sorted(saved.keys() - own.keys())
    reshaped = [
        f"{key} {tuple(saved[key].shape)} vs {tuple(own[key].shape)}"
        for key in own.keys() & saved.keys()
        if saved[key].shape != own[key].shape
    ]
    if missing or unexpected or reshaped:
        problems = [
            f"{label}: {', '.join(keys[:3])}{' ...' if len(keys) > 3 else ''}"
            for label, keys in (("missing", missing), ("extra", unexpected), ("shape", sorted(reshaped)))
            if keys
        ]
        raise GanlabError(
            f"init_generator={path}: that run's generator does not fit this model's ({'; '.join(problems)}); "
            "pass a run of the same model, sizes and dataset shape"
        )
    generator.load_state_dict(saved)
