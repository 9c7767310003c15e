"""How FID and KID depend on the sample count: real MNIST train digits against real MNIST test digits.

Both sets are real digits (MNIST's test digits come partly from other writers), so the true FID
and KID are near 0; what a finite sample adds is the estimator's bias (FID: large and falling
with n; KID: unbiased, the same on average at every n). Features
are the standard FID Inception pool-2048 features (``ganlab.metrics.InceptionFeatures``), computed
once for the largest n and cached; FID is torchmetrics' formula on n features of each set, KID is
``ganlab.metrics.KernelInceptionDistance`` on the same n (one subset: all of them). Each n
below the largest is drawn ``--draws`` times at random (FID and KID: mean ± std over draws). The
script also times ``ganlab.metrics.features.real_features`` on its first call (Inception, unless the
cache already holds the features) and from the cache.

Usage (Inception weights under $TORCH_HOME/hub/checkpoints; MNIST under $GANLAB_DATA_DIR)::

    python bench/fid_vs_samples.py --counts 50 100 250 500 1000 --out bench/results/fid_vs_samples
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from torchmetrics.image.fid import _compute_fid

from ganlab.config import config_dir, register_resolvers
from ganlab.metrics import InceptionFeatures, KernelInceptionDistance
from ganlab.metrics.features import real_features


def fid(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(_compute_fid(a.mean(0), a.T.cov(), b.mean(0), b.T.cov()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[50, 100, 250, 500, 1000])
    parser.add_argument(
        "--draws", type=int, default=10, help="random subsets of each size (all of them at the largest)"
    )
    parser.add_argument("--cache-dir", default=str(Path(tempfile.gettempdir()) / "ganlab-bench-cache"))
    parser.add_argument("--out", default="bench/results/fid_vs_samples")
    args = parser.parse_args()
    largest = max(args.counts)

    register_resolvers()
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        datamodule = instantiate(compose("train", overrides=["dataset=mnist"]).dataset.datamodule)
    extractor = InceptionFeatures()
    cache = Path(args.cache_dir)
    timings = {}
    for split in ("test", "train"):
        started = time.perf_counter()
        features = real_features(datamodule, extractor, largest, split, cache)
        first = time.perf_counter() - started
        started = time.perf_counter()
        real_features(datamodule, extractor, largest, split, cache)
        timings[split] = {"first_call_s": round(first, 2), "cached_call_s": round(time.perf_counter() - started, 4)}
        if split == "test":
            test = features
        else:
            train = features

    rng = torch.Generator().manual_seed(0)
    rows = []
    for n in sorted(args.counts):
        draws = 1 if n == largest else args.draws
        fids, kids = [], []
        for _ in range(draws):
            a, b = train[torch.randperm(largest, generator=rng)[:n]], test[torch.randperm(largest, generator=rng)[:n]]
            fids.append(fid(a, b))
            kids.append(
                float(KernelInceptionDistance(feature_extractor=extractor, num_subsets=1).compare(b, a)["kid_mean"])
            )
        fids_t, kids_t = torch.tensor(fids), torch.tensor(kids)
        rows.append(
            {
                "n": n,
                "draws": draws,
                "fid_mean": float(fids_t.mean()),
                "fid_std": float(fids_t.std()) if draws > 1 else 0.0,
                "kid_mean": float(kids_t.mean()),
                "kid_std": float(kids_t.std()) if draws > 1 else 0.0,
            }
        )
        print(rows[-1], flush=True)
    result = {
        "what": f"MNIST train vs test, random n of a fixed random {largest} of each split, Inception pool-2048",
        "rows": rows,
        "feature_cache": timings,
        "torch_threads": torch.get_num_threads(),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "| n (each side) | draws | FID, mean ± std over draws | KID, mean ± std over draws |",
        "| --- | --- | --- | --- |",
    ]
    lines += [
        f"| {r['n']} | {r['draws']} | {r['fid_mean']:.1f} ± {r['fid_std']:.1f} "
        f"| {r['kid_mean']:.4f} ± {r['kid_std']:.4f} |"
        for r in rows
    ]
    t = timings["test"]
    lines += [
        "",
        f"Real features of {largest} test images: {t['first_call_s']} s on the first call, "
        f"{t['cached_call_s'] * 1000:.1f} ms from the cache.",
    ]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
