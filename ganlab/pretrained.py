"""Pretrained torchvision weights that a loss or metric needs: from the torch hub cache, or one clear error."""

from __future__ import annotations

import http.client
import os
import pickle
import urllib.error
from typing import Any

import torch
from torch import Tensor

from ganlab.errors import GanlabError


def pretrained_state(weights: Any, used_by: str, instead: str) -> dict[str, Tensor]:
    """The state dict of torchvision ``weights`` (a ``WeightsEnum`` member), cached in ``$TORCH_HOME/hub``.

    Downloaded when missing, as torchvision does. Offline, or when the cached file is corrupt, the
    error names the file, the cause, and the way out.

    Args:
        weights: e.g. ``VGG19_Weights.IMAGENET1K_V1``.
        used_by: the setting that needs them, for the message (``"model.generator.content=vgg"``).
        instead: the alternative to offer (``"use model.generator.content=pixel"``).

    Raises:
        GanlabError: the weights are neither cached (readable) nor downloadable.
    """
    checkpoints = os.path.join(torch.hub.get_dir(), "checkpoints")
    path = os.path.join(checkpoints, os.path.basename(weights.url))
    cached = os.path.isfile(path)
    try:
        return weights.get_state_dict(progress=False, check_hash=True)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError, http.client.HTTPException) as error:
        # a refused or unresolved connection reads better as its cause than as "<urlopen error ...>"
        if isinstance(error, urllib.error.URLError) and not isinstance(error, urllib.error.HTTPError):
            error_text = str(error.reason)
        else:
            error_text = str(error)
        reason = " ".join(error_text.split()) or type(error).__name__
        network = weights.__class__.__name__.removesuffix("_Weights")  # VGG19, AlexNet
        name = f"torchvision {network.lower()} {weights.name}"
        if cached:
            raise GanlabError(
                f"{network} weights at {path} cannot be loaded ({reason}): delete the file and download them "
                f"again with network access ({name}) or {instead}"
            ) from error
        raise GanlabError(
            f"{network} weights for {used_by} are not in {checkpoints} and cannot be downloaded ({reason}): "
            f"download them once with network access ({name}) or {instead}"
        ) from error
