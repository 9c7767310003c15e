"""`ganlab sample`: the samples `ganlab eval` scores, written as files for other tools and other eyes."""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig
from PIL import Image
from torch import Tensor

from ganlab.config_checks import check_sample_config
from ganlab.console import results_table
from ganlab.errors import GanlabError
from ganlab.evaluate import restore_for_sampling
from ganlab.metrics.features import image_bytes
from ganlab.metrics.suite import sample_batches

#: the formats of image samples, and of flat ones (1-D and 2-D points)
IMAGE_FORMATS = ("png", "npz")
FLAT_FORMATS = ("npy", "csv")


def real_batches(datamodule: Any, num_samples: int, batch_size: int) -> Iterator[tuple[Tensor, dict[str, Tensor]]]:
    """The real test samples ``ganlab eval`` compares with (the first ``num_samples`` of the split's fixed order)."""
    for part in datamodule.real_samples(num_samples, split="test").split(batch_size):
        yield part, {}


def write_pngs(batches: Iterable[tuple[Tensor, dict[str, Tensor]]], out: Path) -> int:
    """``000000.png``, ... (grey or RGB, 8 bits) and, for class-conditional samples, ``labels.csv``."""
    index, labels = 0, []
    for images, given in batches:
        for image in image_bytes(images.cpu()).permute(0, 2, 3, 1).numpy():
            Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(out / f"{index:06d}.png")
            index += 1
        labels += given["label"].tolist() if "label" in given else []
    if labels:
        with (out / "labels.csv").open("w", newline="") as handle:
            csv.writer(handle).writerows([("file", "label"), *((f"{i:06d}.png", y) for i, y in enumerate(labels))])
    return index


def write_npz(batches: Iterable[tuple[Tensor, dict[str, Tensor]]], out: Path) -> int:
    """``samples.npz``: ``images`` ``(N, H, W, C)`` uint8 (the layout FID tools read) and any ``labels``."""
    images, labels = [], []
    for batch, given in batches:
        images.append(image_bytes(batch.cpu()).permute(0, 2, 3, 1).numpy())
        labels += given["label"].tolist() if "label" in given else []
    arrays = {"images": np.concatenate(images), **({"labels": np.array(labels)} if labels else {})}
    np.savez(out / "samples.npz", **arrays)
    return len(arrays["images"])


def write_points(batches: Iterable[tuple[Tensor, dict[str, Tensor]]], out: Path, file_format: str) -> int:
    """``samples.npy`` ``(N, D)`` float32, or ``samples.csv`` with columns x (1-D), x, y (2-D) or x0, x1, ..."""
    parts = [(batch.detach().flatten(1).float().cpu(), given.get("label")) for batch, given in batches]
    points = torch.cat([p for p, _ in parts]).numpy()
    labels = [y for _, y in parts if y is not None]
    if file_format == "npy":
        np.save(out / "samples.npy", points)
        if labels:
            np.save(out / "labels.npy", torch.cat(labels).numpy())
        return len(points)
    dims = points.shape[1]
    header = ["x", "y"][:dims] if dims <= 2 else [f"x{i}" for i in range(dims)]
    rows = points.tolist()
    if labels:
        header, rows = [*header, "label"], [[*row, y] for row, y in zip(rows, torch.cat(labels).tolist(), strict=True)]
    with (out / "samples.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows([header, *rows])
    return len(points)


def check_empty(out: Path) -> None:
    """Refuse a folder that already holds files: earlier samples are never overwritten."""
    if any(not p.name.startswith(".") for p in out.iterdir()):
        raise GanlabError(f"out={out} already holds files; give another out=DIR (or remove them) to write new samples")


def sample(cfg: DictConfig) -> dict[str, Any]:
    """Write ``cfg.num_samples`` samples of ``cfg.ckpt`` into ``cfg.out``; return what was written where."""
    check_sample_config(cfg)
    ckpt_path, _, _, module, datamodule, num_samples = restore_for_sampling(cfg)
    out = Path(HydraConfig.get().runtime.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    check_empty(out)
    what = "real test samples" if cfg.real else "generated samples"
    with torch.no_grad():
        batches = (
            real_batches(datamodule, num_samples, cfg.batch_size)
            if cfg.real
            else sample_batches(module, datamodule, num_samples, cfg.batch_size, cfg.seed)
        )
        first, given = next(batches)
        images = first.dim() == 4
        file_format = cfg.format or ("png" if images else "npy")
        allowed = IMAGE_FORMATS if images else FLAT_FORMATS
        if file_format not in allowed:
            kind = "images" if images else f"{first.shape[1:].numel()}-D points"
            raise GanlabError(
                f"format={file_format}: this model's samples are {kind}; use format={' or '.join(allowed)}"
            )
        everything = itertools.chain([(first, given)], batches)
        if file_format == "png":
            written = write_pngs(everything, out)
        elif file_format == "npz":
            written = write_npz(everything, out)
        else:
            written = write_points(everything, out, file_format)
    files = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    results_table(
        f"ganlab sample: {ckpt_path}",
        {
            what: written,
            "format": file_format,
            "folder": out,
            "files": f"{files[0]} ... {files[-1]}" if len(files) > 2 else ", ".join(files),
            "seed": "-" if cfg.real else cfg.seed,
        },
    )
    return {"num_samples": written, "format": file_format, "out": str(out), "real": bool(cfg.real)}
