"""The VAE next to the GAN on MNIST: equal steps, equal decoder (DCGAN's generator), different objective.

Trains with the real CLI, ``--steps`` generator steps each (batch 64, seed ``--seed``):

- ``model=vae`` (MSE reconstruction, β = 1) and ``model=vae model.reconstruction=bce``;
- ``model=dcgan`` (the non-saturating loss), whose generator is the VAEs' decoder, same class and size.

Each is scored by ``ganlab eval ckpt=<run> num_samples=N "metrics=[fid,sharpness,average_neighbours]"``:
FID of N = ``--num-samples`` (1,000) samples against the 1,000 test digits (fp32 Inception), the sharpness
of the samples and of as many real digits, and the "average five". Then two figures: for 8 test digits,
the mean of their 10 nearest training digits, each VAE's reconstruction and the GAN's nearest sample
(``average_five.png``), and the final sample grids one above the other (``samples.png``). Writes
``vae_vs_gan.json``, ``vae_vs_gan.md`` and the figures to ``--out``.

Usage (about 25 minutes on 2 CPU cores)::

    GANLAB_DATA_DIR=../shared/data TORCH_HOME=../shared/torch python bench/vae_vs_gan.py --out bench/results/vae_vs_gan
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torchvision.io import read_image

from ganlab.config import register_resolvers
from ganlab.evaluate import restore
from ganlab.lessons.vae_vs_gan import average_five
from ganlab.plotting import save_png, stack_pictures

MODELS: dict[str, list[str]] = {
    "VAE (mse)": ["model=vae"],
    "VAE (bce)": ["model=vae", "model.reconstruction=bce"],
    "DCGAN (nsgan)": ["model=dcgan"],
}
LABELS = {"VAE (mse)": "VAE mse", "VAE (bce)": "VAE bce", "DCGAN (nsgan)": "GAN near"}
METRICS = "metrics=[fid,sharpness,average_neighbours]"
REPORTED = (
    *("fid", "laplacian_var", "laplacian_var_ratio", "laplacian_var_real", "hf_energy", "hf_energy_real"),
    *("average_sharpness", "average_mse", "reconstruction_sharpness", "reconstruction_mse"),
    *("nearest_sample_sharpness", "nearest_sample_mse"),
)


def ganlab(*args: str) -> float:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "ganlab", *args], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"ganlab {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return time.perf_counter() - started


def average_five_figure(runs: dict[str, Path], seed: int) -> torch.Tensor:
    """The lesson's average-five figure over these runs (``ganlab.lessons.vae_vs_gan.average_five``)."""
    register_resolvers()
    data_dir = os.environ.get("GANLAB_DATA_DIR", "./data")
    paths = OmegaConf.create({"data_dir": data_dir, "log_dir": ".", "cache_dir": None, "output_dir": "."})
    restored = {}
    for name, run in runs.items():
        _, _, trained, module = restore(run, paths, "cpu")
        restored[LABELS[name]] = (module, instantiate(trained.dataset.datamodule))
    return average_five(restored, seed, num_samples=1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("bench/results/vae_vs_gan"))
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--num-samples", type=int, default=1000, help="generated samples FID and sharpness score")
    parser.add_argument("--runs", type=Path, default=Path("outputs/bench/vae_vs_gan"), help="a new folder here")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    root = args.runs / time.strftime("%Y-%m-%d_%H-%M-%S")  # a fresh folder: runs are never overwritten
    runs = dict(zip(MODELS, (root / stem for stem in ("vae_mse", "vae_bce", "dcgan")), strict=True))
    results: dict[str, dict] = {}
    for name, overrides in MODELS.items():
        run = runs[name]
        common = ["dataset=mnist", "dataset.download=false", f"generator_steps={args.steps}", f"seed={args.seed}"]
        train_s = ganlab("train", *overrides, *common, f"hydra.run.dir={run}")
        eval_s = ganlab("eval", f"ckpt={run}", f"num_samples={args.num_samples}", METRICS)
        metrics = json.loads((run / "checkpoints" / "last_eval" / "metrics.json").read_text())["metrics"]
        results[name] = {"train_s": train_s, "eval_s": eval_s, **{k: metrics[k] for k in REPORTED if k in metrics}}
    save_png(average_five_figure(runs, args.seed), str(args.out / "average_five.png"))
    grids = [read_image(str(run / "samples" / f"step_{args.steps:06d}.png"))[:3].float() / 255 for run in runs.values()]
    save_png(stack_pictures(grids), str(args.out / "samples.png"))
    summary = {"steps": args.steps, "seed": args.seed, "runs": results}
    (args.out / "vae_vs_gan.json").write_text(json.dumps(summary, indent=2))
    (args.out / "vae_vs_gan.md").write_text(table(results, args.steps, args.seed, args.num_samples))
    print(table(results, args.steps, args.seed, args.num_samples))


def table(results: dict[str, dict], steps: int, seed: int, num_samples: int) -> str:
    real = next(iter(results.values()))
    nan = float("nan")
    lines = [
        f"# VAE vs DCGAN on MNIST ({steps} steps, batch 64, seed {seed}; the decoder is the DCGAN generator)",
        "",
        f"| model | FID ({num_samples:,}) | Laplacian var | / real | HF energy | recon. sharpness | recon. MSE "
        "| nearest-sample sharpness | train (s) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['fid']:.1f} | {r['laplacian_var']:.4f} | {r['laplacian_var_ratio']:.2f} "
            f"| {r['hf_energy']:.3f} | {r.get('reconstruction_sharpness', nan):.2f} "
            f"| {r.get('reconstruction_mse', nan):.4f} | {r['nearest_sample_sharpness']:.2f} | {r['train_s']:.0f} |"
        )
    lines += [
        "",
        f"Real test digits: Laplacian variance {real['laplacian_var_real']:.4f}, "
        f"HF energy {real['hf_energy_real']:.3f}.",
        f"Mean of the 10 nearest training digits: sharpness {real['average_sharpness']:.2f} of the test digits', "
        f"MSE {real['average_mse']:.4f} per pixel.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
