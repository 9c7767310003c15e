"""Every image model on the shared MNIST: parameters, CPU seconds per step, and FID after a fixed budget.

Each model is trained with the real CLI for ``--steps`` generator steps (batch 64, its config's
defaults otherwise), timed by Lightning's ``Timer`` callback (kept in the checkpoint), then scored
with ``ganlab eval metrics=[fid]`` on ``--samples`` samples against the test split. The exact commands
go into the results file, so every number can be rerun.

Usage::

    GANLAB_DATA_DIR=../shared/data TORCH_HOME=../shared/torch \\
        python bench/models.py --steps 300 --samples 1000 --out bench/results/models
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

# At their papers' widths (ResNet 128, BigGAN and StyleGAN 64) a step takes 5-10 s on a 2-core CPU:
# the CPU budget uses narrower networks (same architecture, fewer channels).
RESNET_32 = ["model=resnet", "model.generator.width=32", "model.discriminator.width=32"]
BIGGAN_16 = ["model=biggan", "model.generator.width=16", "model.discriminator.width=16"]
STYLEGAN_16 = ["model=stylegan", "model.generator.width=16", "model.discriminator.width=16"]
# (row name, overrides): unconditional and conditional variants of every image architecture
MODELS = [
    ("dcgan", ["model=dcgan"]),
    ("dcgan acgan", ["model=dcgan", "model.conditioning=acgan"]),
    ("resnet w32", RESNET_32),
    ("resnet w32 projection", [*RESNET_32, "model.conditioning=projection"]),
    ("biggan w16 projection", BIGGAN_16),
    ("stylegan w16", STYLEGAN_16),
    ("lapgan", ["model=lapgan"]),
]


def ganlab(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "ganlab", *args], check=True, stdout=subprocess.DEVNULL)


def measure(name: str, overrides: list[str], steps: int, samples: int, root: Path) -> dict:
    run_dir = root / name.replace(" ", "_")
    train = [
        "train",
        "dataset=mnist",
        *overrides,
        f"generator_steps={steps}",
        f"checkpoint_every={steps}",
        "logger=none",
        "+callbacks.timer._target_=lightning.pytorch.callbacks.Timer",
        f"hydra.run.dir={run_dir}",
    ]
    ganlab(*train)
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    timer = next(state for key, state in checkpoint["callbacks"].items() if key.startswith("Timer"))
    weights = checkpoint["state_dict"]
    evaluate = ["eval", f"ckpt={run_dir}", "metrics=[fid]", f"num_samples={samples}"]
    ganlab(*evaluate)
    fid = json.loads((run_dir / "checkpoints" / "last_eval" / "metrics.json").read_text())["metrics"]["fid"]
    return {
        "model": name,
        "generator_params": sum(v.numel() for k, v in weights.items() if k.startswith("generator.")),
        "discriminator_params": sum(v.numel() for k, v in weights.items() if k.startswith("discriminator.")),
        "seconds_per_step": timer["time_elapsed"]["train"] / steps,
        "fid": fid,
        "commands": [
            shlex.join(["ganlab", *train[:-1]]),
            shlex.join(["ganlab", *evaluate[:1], "ckpt=<run dir>", *evaluate[2:]]),
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="generator steps per model")
    parser.add_argument("--samples", type=int, default=1000, help="generated samples FID is computed on")
    parser.add_argument("--only", nargs="*", help="row names to run (default: all)")
    parser.add_argument("--out", default="bench/results/models")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="ganlab-models-bench-"))
    rows = [
        measure(name, o, args.steps, args.samples, root) for name, o in MODELS if not args.only or name in args.only
    ]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"steps": args.steps, "samples": args.samples, "torch_threads": torch.get_num_threads(), "rows": rows}
    out.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
    lines = [
        f"MNIST (shared 4,000 train / 1,000 test digits), {args.steps} generator steps, batch 64, "
        f"FID on {args.samples} samples vs the test split; CPU, {torch.get_num_threads()} threads.",
        "",
        "| model | G params | D params | s/step | FID |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        lines.append(
            f"| {row['model']} | {row['generator_params']:,} | {row['discriminator_params']:,} "
            f"| {row['seconds_per_step']:.3f} | {row['fid']:.1f} |"
        )
    lines += ["", "Commands:", ""] + [f"    {command}" for row in rows for command in row["commands"]]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
