"""GPU throughput: training images/s of dcgan, resnet and stylegan, and the FID Inception's images/s, on CUDA.

Each model trains in-process exactly as ``ganlab train`` builds it (Hydra compose of ``conf/``,
``GANModule.from_config``, a Lightning ``Trainer`` from ``cfg.trainer`` with ``accelerator=gpu``), once as
the old default (``trainer.precision=32-true channels_last=false trainer.benchmark=false``) and once as the
new one (``precision=auto``: bf16-mixed on a GPU with bf16, channels_last, cuDNN benchmark). The training
set is a synthetic MNIST-shaped tensor (images/s does not depend on the pixels, and a GPU machine may be
offline); being small and in memory it is kept on the GPU, as for the built-in datasets. Timing: CUDA is
synchronised at every batch start; the window is ``--steps`` batches after ``--warmup``.

The FID row times ``InceptionFeatures`` (fp32 and bf16) on batches of 28x28 images when the Inception
weights are in ``$TORCH_HOME`` (it says so and skips the row otherwise).

Usage, on a machine with a CUDA GPU::

    python bench/gpu.py --out bench/results/gpu
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import hydra
import lightning as L
import torch
from hydra.utils import instantiate

import ganlab.config
import ganlab.train  # its warning filters are part of a real run
from ganlab.data.base import TensorDictDataset
from ganlab.errors import GanlabError
from ganlab.metrics.features import InceptionFeatures
from ganlab.module import GANModule
from ganlab.precision import pin_precision

MODELS = {
    "dcgan": ["model=dcgan"],
    "resnet": ["model=resnet"],
    "stylegan": ["model=stylegan"],
}
SETTINGS = {
    "fp32 (old default)": ["trainer.precision=32-true", "channels_last=false", "trainer.benchmark=false"],
    "auto (new default)": [],
}


class CudaClock(L.Callback):
    """``time.perf_counter()`` at every batch start, after the GPU has finished the previous batch."""

    def __init__(self) -> None:
        self.stamps: list[float] = []

    def on_train_batch_start(self, *args: Any) -> None:
        torch.cuda.synchronize()
        self.stamps.append(time.perf_counter())


def train_rate(overrides: list[str], batch_size: int, warmup: int, steps: int) -> dict[str, Any]:
    """Images/s of one model and setting over ``steps`` timed batches."""
    ganlab.config.register_resolvers()
    with hydra.initialize_config_dir(config_dir=ganlab.config.config_dir(), version_base="1.3"):
        cfg = hydra.compose(
            "train",
            overrides=[
                "dataset=mnist",
                "trainer=gpu",
                f"generator_steps={warmup + steps + 1}",
                f"dataset.datamodule.batch_size={batch_size}",
                f"paths.output_dir={tempfile.mkdtemp(prefix='ganlab-gpu-bench-')}",
                "logger=none",
                "callbacks=none",
                *overrides,
            ],
        )
    pin_precision(cfg.trainer)
    L.seed_everything(0, verbose=False)
    datamodule = instantiate(cfg.dataset.datamodule)
    images = torch.rand(16 * batch_size, 1, 28, 28) * 2 - 1
    datamodule.train_set = TensorDictDataset({"real": images, "label": torch.arange(len(images)) % 10})
    datamodule.test_set = datamodule.train_set
    module = GANModule.from_config(cfg)
    clock = CudaClock()
    trainer = instantiate(
        cfg.trainer, callbacks=[clock], logger=False, enable_checkpointing=False, enable_progress_bar=False
    )
    trainer.fit(module, datamodule=datamodule)
    seconds = clock.stamps[warmup + steps] - clock.stamps[warmup]
    return {"precision": cfg.trainer.precision, "imgs_per_s": steps * batch_size / seconds}


def inception_rate(precision: str, batch_size: int, batches: int) -> float:
    extractor = InceptionFeatures(precision=precision).cuda()
    images = torch.rand(batch_size, 1, 28, 28, device="cuda") * 2 - 1
    extractor(images)
    torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(batches):
        extractor(images)
    torch.cuda.synchronize()
    return batches * batch_size / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--out", type=Path, default=Path("bench/results/gpu"))
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("bench/gpu.py needs a CUDA GPU; this machine has none")

    device = torch.cuda.get_device_name()
    rows = []
    for model, model_overrides in MODELS.items():
        for setting, setting_overrides in SETTINGS.items():
            result = train_rate([*model_overrides, *setting_overrides], args.batch_size, args.warmup, args.steps)
            rows.append({"model": model, "setting": setting, **result})
            print(json.dumps(rows[-1]), flush=True)
    lines = [
        f"# ganlab on {device}",
        "",
        f"- torch {torch.__version__}; batch {args.batch_size}, {args.steps} timed steps after {args.warmup}",
        "",
        "| model | setting | precision | images/s |",
        "|---|---|---|---:|",
        *(f"| {r['model']} | {r['setting']} | {r['precision']} | {r['imgs_per_s']:.0f} |" for r in rows),
    ]
    fid: dict[str, float] = {}
    try:
        fid = {precision: inception_rate(precision, 100, 20) for precision in InceptionFeatures.PRECISIONS}
        rates = ", ".join(f"{precision} {rate:.0f} images/s" for precision, rate in fid.items())
        lines += ["", f"FID Inception, batches of 100: {rates}"]
    except GanlabError as err:
        lines += ["", f"FID Inception not timed: {err}"]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu.json").write_text(json.dumps({"device": device, "train": rows, "inception": fid}, indent=2))
    (args.out / "gpu.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
