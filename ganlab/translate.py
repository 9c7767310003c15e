"""`ganlab translate`: apply a trained image-to-image generator to a folder of the user's images."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torchvision.transforms.functional as TF
from omegaconf import DictConfig
from PIL import Image
from rich.progress import Progress
from torchvision.transforms import InterpolationMode

from ganlab.console import results_table
from ganlab.data.image_folder import EXTENSIONS, read_image
from ganlab.errors import GanlabError
from ganlab.evaluate import restore

DIRECTIONS = ("AtoB", "BtoA")


def input_images(folder: Path) -> list[Path]:
    """The visible image files directly in ``folder``, sorted by name.

    Raises:
        GanlabError: the folder is missing or holds no images.
    """
    if not folder.is_dir():
        raise GanlabError(f"input={folder} is not a folder: give a folder of images to translate")
    files = sorted(
        p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in EXTENSIONS
    )
    if not files:
        raise GanlabError(
            f"input={folder} holds no images ({', '.join(EXTENSIONS[:4])}, ...): add some or pick another folder"
        )
    return files


def _as_input(path: Path, shape: tuple[int, int, int]) -> torch.Tensor:
    """One file as the model's input: ``shape`` = (channels, height, width), in [-1, 1]."""
    channels, height, width = shape
    image = TF.resize(read_image(path, channels, (width, height)), [height, width], InterpolationMode.BILINEAR)
    pixels = np.asarray(image, dtype=np.float32).reshape(height, width, channels)
    return torch.from_numpy(pixels).permute(2, 0, 1) / 127.5 - 1.0


def _save(image: torch.Tensor, path: Path) -> None:
    pixels = image.detach().float().clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8).permute(1, 2, 0).numpy()
    Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels).save(path)


def translate(cfg: DictConfig) -> dict[str, Any]:
    """Translate every image in ``cfg.input`` and write the outputs, same names as PNG, to ``cfg.output``.

    Inputs are converted to the channels and resized to the size the model was trained on (its
    dataset's ``source_shape``; ``data_shape`` for ``direction=BtoA``). Outputs never overwrite inputs.
    """
    source, target = Path(cfg.input).expanduser(), Path(cfg.output).expanduser()
    files = input_images(source)
    if target.resolve() == source.resolve():
        raise GanlabError(f"output={target} is the input folder: give another folder, so the inputs are kept")
    if cfg.direction not in DIRECTIONS:
        raise GanlabError(f"direction={cfg.direction} is not an option: use AtoB or BtoA")
    ckpt_path, _, trained, module = restore(cfg.ckpt, cfg.paths, cfg.device)
    generator = module.sampling_generator
    if not module.generator.translates:
        raise GanlabError(
            f"{ckpt_path} holds a {trained.model.name} model, which makes images from noise, not from images: "
            "ganlab translate needs an image-to-image model (pix2pix, cyclegan, srgan)"
        )
    if cfg.direction == "BtoA" and not hasattr(generator, "direction"):
        raise GanlabError(f"model={trained.model.name} translates A to B only: drop direction=BtoA (cyclegan has both)")
    if hasattr(generator, "direction"):
        generator.direction = cfg.direction
    shape = tuple(trained.dataset.source_shape if cfg.direction == "AtoB" else trained.dataset.data_shape)
    target.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)  # pix2pix keeps its dropout at test time
    with Progress(transient=True) as progress:
        task = progress.add_task(f"translating {len(files)} images", total=len(files))
        for start in range(0, len(files), cfg.batch_size):
            batch = files[start : start + cfg.batch_size]
            images = torch.stack([_as_input(path, shape) for path in batch])
            outputs = module.generate(module.generator.sample_latent(len(batch)), {"source": images}).cpu()
            for path, output in zip(batch, outputs, strict=True):
                _save(output, target / f"{path.stem}.png")
            progress.advance(task, len(batch))
    summary = {"checkpoint": ckpt_path, "direction": cfg.direction, "images": len(files), "output": target}
    results_table(f"ganlab translate: {source}", summary)
    return summary
