"""Images/second of ganlab's training loop versus a hand-written PyTorch loop (DCGAN on MNIST).

Both sides train the same networks (``DCGANGenerator(100, 1, 28, 64)``, ``DCGANDiscriminator(1, 28, 64,
"batch")``, identical initial weights from the same seed) with the same Adam settings (lr 2e-4, betas
(0.5, 0.999)), the same non-saturating loss (softplus on logits), the same in-memory MNIST tensors and
the same batch size: per batch one discriminator step, then one generator step on a fresh latent batch.

ganlab side: the real thing. The run config is composed with Hydra's compose API from ganlab's own
``conf/`` (``model=dcgan dataset=mnist loss=nsgan``), the module is ``GANModule.from_config(cfg)``, the
data module ``instantiate(cfg.dataset.datamodule)``, and a ``lightning.Trainer`` built from ``cfg.trainer``
runs ``fit`` exactly as ``ganlab train`` does. Variants (``--variants``):

- ``ganlab``: ``logger=none callbacks=none``: the bare step loop (ModelCheckpoint only, which saves at
  the end, outside the timed window; Lightning adds its default TQDM progress bar).
- ``ganlab-default``: ``logger=tensorboard callbacks=default``: what a user's default run costs
  (TensorBoard scalars every 25 steps, Rich progress bar, sample grid every 250 generator steps,
  checkpoint every 1000). The timed window is shorter than 250 steps, so the script times one sample
  grid and one checkpoint save (at the end of the run) and also reports the throughput with their cost
  amortised at the configured rates.
- ``ganlab-nobar``: as ``ganlab`` plus ``+trainer.enable_progress_bar=false`` (for profiling).

Timing covers the steady state only: a callback stamps ``time.perf_counter()`` at every
``on_train_batch_start``; the window runs from the start of batch ``warmup`` to the start of batch
``warmup + steps`` (so it holds exactly ``steps`` full iterations, data loading included). The plain loop
stamps at the same point (batch fetched, before the D step). Variants are interleaved in rounds (the
order rotates each round) and the median over rounds is reported, with per-round paired ratios.

Example (about 3-4 minutes on 2 CPU cores)::

    GANLAB_DATA_DIR=/work/shared/data .venv/bin/python bench/throughput.py

``--profile`` additionally runs cProfile over one ``ganlab`` fit and times ablations of the per-step
extras (logging, gradient norms, finiteness check, progress bar) by patching them out in this process.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime as dt
import io
import itertools
import json
import logging
import os
import platform
import pstats
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import hydra
import lightning as L
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ModelCheckpoint
from omegaconf import DictConfig

import ganlab
import ganlab.config
import ganlab.module
import ganlab.train  # its import-time warning filters are part of a real run
from ganlab.callbacks import SampleGrid
from ganlab.models import DCGANDiscriminator, DCGANGenerator
from ganlab.module import GANModule

RESULTS_DIR = Path(__file__).resolve().parent / "results"
LATENT_DIM = 100
LR = 2e-4
BETAS = (0.5, 0.999)

GANLAB_VARIANTS: dict[str, list[str]] = {
    "ganlab": ["logger=none", "callbacks=none"],
    "ganlab-nobar": ["logger=none", "callbacks=none", "+trainer.enable_progress_bar=false"],
    "ganlab-default": ["logger=tensorboard", "callbacks=default"],
}


# ------------------------------------------------------------------------------------------ timing
class BatchClock(L.Callback):
    """Stamps ``time.perf_counter()`` at every ``on_train_batch_start`` (after the batch is fetched)."""

    def __init__(self) -> None:
        self.stamps: list[float] = []
        self.threads: int | None = None

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        self.stamps.append(time.perf_counter())
        if self.threads is None:
            self.threads = torch.get_num_threads()


def window_stats(stamps: list[float], warmup: int, steps: int, batch: int) -> dict[str, float]:
    """Throughput over ``stamps[warmup] .. stamps[warmup + steps]`` and the median single-step time."""
    if len(stamps) < warmup + steps + 1:
        raise RuntimeError(f"only {len(stamps)} batch stamps, need {warmup + steps + 1}")
    window = stamps[warmup : warmup + steps + 1]
    seconds = window[-1] - window[0]
    per_step = [b - a for a, b in itertools.pairwise(window)]
    return {
        "seconds": seconds,
        "imgs_per_s": steps * batch / seconds,
        "ms_per_step": 1000 * seconds / steps,
        "median_step_ms": 1000 * statistics.median(per_step),
        "max_step_ms": 1000 * max(per_step),
    }


def fingerprint(*modules: torch.nn.Module) -> float:
    """A number that changes with any parameter: equal fingerprints mean identical initial weights."""
    total = 0.0
    for module in modules:
        for i, p in enumerate(module.parameters()):
            total += float(p.detach().double().sum()) * (i + 1) + float(p.detach().double().abs().sum())
    return total


# ------------------------------------------------------------------------------------- plain loop
def run_plain(real_images: torch.Tensor, args: argparse.Namespace) -> dict[str, Any]:
    """The hand-written loop: same nets, optimisers, loss and data; one D step then one G step per batch."""
    L.seed_everything(args.seed, workers=True, verbose=False)
    generator = DCGANGenerator(latent_dim=LATENT_DIM, channels=1, resolution=28, width=64)
    discriminator = DCGANDiscriminator(channels=1, resolution=28, width=64, norm="batch")
    init = fingerprint(generator, discriminator)
    generator.train()
    discriminator.train()
    opt_g = torch.optim.Adam(generator.parameters(), lr=LR, betas=BETAS)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=LR, betas=BETAS)
    batch, n = args.batch_size, real_images.shape[0]
    per_epoch = n // batch  # drop_last, as ganlab's DataLoader
    total = args.warmup + args.steps + 1
    stamps: list[float] = []
    done = 0
    while done < total:
        order = torch.randperm(n)
        for i in range(per_epoch):
            if done == total:
                break
            real = real_images[order[i * batch : (i + 1) * batch]]
            stamps.append(time.perf_counter())
            # Discriminator step (G is only evaluated, as in ganlab: no_grad forward, train-mode BN).
            z = torch.randn(batch, LATENT_DIM)
            with torch.no_grad():
                fake = generator(z)
            d_loss = F.softplus(-discriminator(real)).mean() + F.softplus(discriminator(fake)).mean()
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
            # Generator step on a fresh latent batch; D frozen so its weight gradients are not computed.
            discriminator.requires_grad_(False)
            g_loss = F.softplus(-discriminator(generator(torch.randn(batch, LATENT_DIM)))).mean()
            opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            opt_g.step()
            discriminator.requires_grad_(True)
            done += 1
    result = window_stats(stamps, args.warmup, args.steps, batch)
    result.update(init_fingerprint=init, final_g_loss=float(g_loss.detach()), final_d_loss=float(d_loss.detach()))
    return result


# ------------------------------------------------------------------------------------- ganlab side
def compose_config(variant: str, out_dir: str, args: argparse.Namespace) -> DictConfig:
    """``ganlab train model=dcgan dataset=mnist loss=nsgan ...`` as Hydra composes it."""
    overrides = [
        "model=dcgan",
        "dataset=mnist",
        "loss=nsgan",
        f"seed={args.seed}",
        f"generator_steps={args.warmup + args.steps + 1}",
        f"dataset.datamodule.batch_size={args.batch_size}",
        "dataset.download=false",
        f"paths.data_dir={args.data_dir}",
        f"paths.output_dir={out_dir}",
        *GANLAB_VARIANTS[variant],
    ]
    ganlab.config.register_resolvers()
    with hydra.initialize_config_dir(config_dir=ganlab.config.config_dir(), version_base="1.3"):
        return hydra.compose("train", overrides=overrides)


def _timed(bucket: list[float], fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*a: Any, **kw: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return fn(*a, **kw)
        finally:
            bucket.append(time.perf_counter() - t0)

    return wrapper


@contextlib.contextmanager
def quiet(enabled: bool) -> Iterator[None]:
    """Send progress bars and Lightning's chatter to /dev/null (they still render: the cost stays)."""
    if not enabled:
        yield
        return
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        yield


def run_ganlab(variant: str, args: argparse.Namespace, profiler: cProfile.Profile | None = None) -> dict[str, Any]:
    """One real ``Trainer.fit`` built the way ``ganlab.train.train`` builds it."""
    out_dir = tempfile.mkdtemp(prefix=f"ganlab-bench-{variant}-")
    try:
        cfg = compose_config(variant, out_dir, args)
        L.seed_everything(cfg.seed, workers=True, verbose=False)
        datamodule = instantiate(cfg.dataset.datamodule)
        module = GANModule.from_config(cfg)
        init = fingerprint(module.generator, module.discriminator)
        callbacks = [instantiate(node) for node in cfg.callbacks.values()]
        loggers = [instantiate(node) for node in cfg.logger.values()]
        # Time the infrequent extras (they fire outside the short window; amortised below).
        extra: dict[str, list[float]] = {"sample_grid_s": [], "checkpoint_s": []}
        for cb in callbacks:
            if isinstance(cb, SampleGrid):
                cb._draw = _timed(extra["sample_grid_s"], cb._draw)
            if isinstance(cb, ModelCheckpoint):
                cb._save_last_checkpoint = _timed(extra["checkpoint_s"], cb._save_last_checkpoint)
        clock = BatchClock()
        trainer: L.Trainer = instantiate(cfg.trainer, callbacks=[*callbacks, clock], logger=loggers or False)
        with quiet(not args.show_progress):
            if profiler is not None:
                profiler.enable()
            try:
                trainer.fit(module, datamodule=datamodule)
            finally:
                if profiler is not None:
                    profiler.disable()
        result = window_stats(clock.stamps, args.warmup, args.steps, args.batch_size)
        metrics = trainer.callback_metrics
        result.update(
            init_fingerprint=init,
            threads_in_fit=clock.threads,
            final_g_loss=float(metrics.get("train/g_loss", float("nan"))),
            final_d_loss=float(metrics.get("train/d_loss", float("nan"))),
            generator_steps=module.generator_steps,
            progress_bar=type(trainer.progress_bar_callback).__name__ if trainer.progress_bar_callback else None,
            loggers=[type(lg).__name__ for lg in trainer.loggers],
        )
        for name, times in extra.items():
            if times:
                result[name] = statistics.median(times)
        if variant == "ganlab-default":
            every_grid = int(cfg.callbacks.samples.every_n_steps)
            every_ckpt = int(cfg.checkpoint_every)
            step_s = result["seconds"] / args.steps
            amortised = (
                step_s + result.get("sample_grid_s", 0.0) / every_grid + result.get("checkpoint_s", 0.0) / every_ckpt
            )
            result["amortised_imgs_per_s"] = args.batch_size / amortised
            result["amortised_note"] = f"+1 sample grid per {every_grid} and 1 checkpoint per {every_ckpt} G steps"
        return result
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


# ------------------------------------------------------------------------------------- profiling
@contextlib.contextmanager
def patched(obj: Any, name: str, value: Any) -> Iterator[None]:
    old = getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, old)


def _no_grad_norm(parameters: Any) -> torch.Tensor:
    return torch.zeros(())


def _unchecked_sum(self: GANModule, terms: dict[str, torch.Tensor], player: str) -> torch.Tensor:
    return torch.stack([t.float() for t in terms.values()]).sum()


@contextlib.contextmanager
def _untoggled(self: GANModule, optimizer: Any) -> Iterator[None]:
    # Plain-loop behaviour instead: freeze D during the G step only (G's forward in the D step is no_grad).
    frozen = self.discriminator if optimizer is self.optimizers()[0] else None
    if frozen is not None:
        frozen.requires_grad_(False)
    try:
        yield
    finally:
        if frozen is not None:
            frozen.requires_grad_(True)


ABLATIONS: dict[str, Callable[[], contextlib.AbstractContextManager[None]]] = {
    "no self.log_dict": lambda: patched(GANModule, "log_dict", lambda self, *a, **kw: None),
    "no _grad_norm": lambda: patched(ganlab.module, "_grad_norm", _no_grad_norm),
    "no isfinite check": lambda: patched(GANModule, "_checked_sum", _unchecked_sum),
    "no toggled_optimizer": lambda: patched(GANModule, "toggled_optimizer", _untoggled),
}


def profile(args: argparse.Namespace, lines: list[str]) -> dict[str, Any]:
    """cProfile one ``ganlab`` fit, then time ablations of the per-step extras against the unpatched run."""
    profiler = cProfile.Profile()
    args.out.mkdir(parents=True, exist_ok=True)
    run_ganlab("ganlab", args, profiler=profiler)
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text).strip_dirs()
    stats.sort_stats("cumulative").print_stats(45)
    stats.sort_stats("tottime").print_stats(30)
    (args.out / "throughput_profile.txt").write_text(text.getvalue())

    found: dict[str, Any] = {"ablation_rounds": args.rounds, "ablations": {}}
    names = ["baseline", *ABLATIONS, "no progress bar"]
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(args.rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            if name == "baseline":
                res = run_ganlab("ganlab", args)
            elif name == "no progress bar":
                res = run_ganlab("ganlab-nobar", args)
            else:
                with ABLATIONS[name]():
                    res = run_ganlab("ganlab", args)
            times[name].append(res["ms_per_step"])
            print(f"  profile round {r + 1}: {name:<22} {res['ms_per_step']:8.2f} ms/step", flush=True)
    base = statistics.median(times["baseline"])
    lines += ["", "## Ablations (ganlab, logger=none callbacks=none; median ms per generator step)", ""]
    lines += ["| variant | ms/step | saved vs baseline |", "|---|---:|---:|"]
    for name in names:
        med = statistics.median(times[name])
        found["ablations"][name] = {"ms_per_step": med, "rounds_ms": times[name], "saved_ms": base - med}
        lines.append(f"| {name} | {med:.2f} | {base - med:+.2f} ms ({100 * (base - med) / base:+.1f}%) |")
    return found


# ------------------------------------------------------------------------------------------- main
def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=100, help="timed generator steps (batches) per run")
    parser.add_argument("--warmup", type=int, default=10, help="untimed batches before the window")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the median is reported")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch.set_num_threads for both sides (1: robust on a shared box)"
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--variants",
        default="ganlab,ganlab-default",
        help=f"comma-separated ganlab variants to run besides the plain loop: {', '.join(GANLAB_VARIANTS)}",
    )
    parser.add_argument("--data-dir", default=os.environ.get("GANLAB_DATA_DIR", "./data"))
    parser.add_argument("--profile", action="store_true", help="cProfile + ablations of the ganlab side")
    parser.add_argument("--show-progress", action="store_true", help="let progress bars write to the terminal")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="folder for throughput.json / .md")
    args = parser.parse_args(argv)
    args.variants = [v for v in args.variants.split(",") if v]
    unknown = [v for v in args.variants if v not in GANLAB_VARIANTS]
    if unknown:
        parser.error(f"unknown variants {unknown}; choose from {list(GANLAB_VARIANTS)}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message=r".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=r".*no pre-optimization state was saved.*")
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    load_start = os.getloadavg()
    started = time.perf_counter()

    # The plain loop trains on the very tensors ganlab's data module holds.
    cfg = compose_config("ganlab", tempfile.gettempdir(), args)
    datamodule = instantiate(cfg.dataset.datamodule)
    datamodule.setup("fit")
    real_images = datamodule.train_set.tensors["real"]

    sides = ["plain", *args.variants]
    rounds: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
    print(
        f"DCGAN/MNIST {tuple(real_images.shape)}, batch {args.batch_size}, {args.steps} timed steps after "
        f"{args.warmup} warm-up, {args.rounds} rounds, torch threads {args.threads}",
        flush=True,
    )
    for r in range(args.rounds):
        order = sides[r % len(sides) :] + sides[: r % len(sides)]
        for side in order:
            res = run_plain(real_images, args) if side == "plain" else run_ganlab(side, args)
            rounds[side].append(res)
            print(
                f"  round {r + 1}: {side:<15} {res['imgs_per_s']:8.1f} imgs/s  {res['ms_per_step']:7.2f} ms/step"
                f"  (median step {res['median_step_ms']:.2f} ms)",
                flush=True,
            )

    same_init = len({round(res["init_fingerprint"], 6) for runs in rounds.values() for res in runs}) == 1
    summary: dict[str, Any] = {}
    plain = [res["imgs_per_s"] for res in rounds["plain"]]
    for side in sides:
        ips = [res["imgs_per_s"] for res in rounds[side]]
        paired = [a / b for a, b in zip(ips, plain, strict=True)]
        summary[side] = {
            "imgs_per_s_median": statistics.median(ips),
            "imgs_per_s_rounds": ips,
            "ms_per_step_median": statistics.median(res["ms_per_step"] for res in rounds[side]),
            "ratio_vs_plain_median_of_rounds": statistics.median(paired),
            "ratio_vs_plain_rounds": paired,
            "ratio_of_medians": statistics.median(ips) / statistics.median(plain),
        }
        amortised = [res["amortised_imgs_per_s"] for res in rounds[side] if "amortised_imgs_per_s" in res]
        if amortised:
            summary[side]["amortised_imgs_per_s_median"] = statistics.median(amortised)
            summary[side]["amortised_ratio_vs_plain"] = statistics.median(
                a / b for a, b in zip(amortised, plain, strict=True)
            )
            summary[side]["amortised_note"] = rounds[side][0]["amortised_note"]
            summary[side]["sample_grid_s_median"] = statistics.median(
                res.get("sample_grid_s", 0.0) for res in rounds[side]
            )
            summary[side]["checkpoint_s_median"] = statistics.median(
                res.get("checkpoint_s", 0.0) for res in rounds[side]
            )

    descriptions = {
        "plain": "hand-written PyTorch loop",
        "ganlab": "Trainer.fit, logger=none callbacks=none (TQDM bar, checkpoint at end)",
        "ganlab-nobar": "as ganlab, +trainer.enable_progress_bar=false",
        "ganlab-default": "Trainer.fit, logger=tensorboard callbacks=default (user default)",
    }
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    env = {
        "date_utc": now,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "lightning": L.__version__,
        "hydra": hydra.__version__,
        "ganlab": getattr(ganlab, "__version__", "unknown"),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": args.threads,
        "loadavg_start": load_start,
    }
    config = {
        "model": "dcgan (DCGANGenerator(100, 1, 28, 64), DCGANDiscriminator(1, 28, 64, 'batch'))",
        "dataset": f"mnist train split {tuple(real_images.shape)}",
        "loss": "nsgan (softplus on logits)",
        "optim": f"Adam lr={LR} betas={BETAS}, n_critic=1",
        "batch_size": args.batch_size,
        "steps_timed": args.steps,
        "warmup": args.warmup,
        "rounds": args.rounds,
        "seed": args.seed,
        "identical_initial_weights": same_init,
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
    }

    lines = [
        "# ganlab training-loop throughput: DCGAN on MNIST",
        "",
        f"- date (UTC): {now}",
        f"- torch {torch.__version__}, lightning {L.__version__}, hydra {hydra.__version__}, "
        f"python {platform.python_version()}",
        f"- CPU: {env['cpu']} ({os.cpu_count()} cores), torch threads {args.threads}, "
        f"load average at start {load_start[0]:.2f}",
        f"- batch {args.batch_size}, {args.steps} timed generator steps after {args.warmup} warm-up, "
        f"{args.rounds} interleaved rounds (median); identical initial weights on all sides: {same_init}",
        f"- command: `{config['command']}`",
        "",
        "| side | what | imgs/s (median) | ms/step | ratio vs plain (median of rounds) | per round imgs/s |",
        "|---|---|---:|---:|---:|---|",
    ]
    print(f"\n{'side':<15} {'imgs/s':>9} {'ms/step':>8} {'ratio':>7}  per round")
    for side in sides:
        s = summary[side]
        per_round = ", ".join(f"{v:.1f}" for v in s["imgs_per_s_rounds"])
        lines.append(
            f"| {side} | {descriptions[side]} | {s['imgs_per_s_median']:.1f} | {s['ms_per_step_median']:.2f} | "
            f"{s['ratio_vs_plain_median_of_rounds']:.3f} | {per_round} |"
        )
        print(
            f"{side:<15} {s['imgs_per_s_median']:9.1f} {s['ms_per_step_median']:8.2f} "
            f"{s['ratio_vs_plain_median_of_rounds']:7.3f}  {per_round}"
        )
    for side in sides:
        s = summary[side]
        if "amortised_imgs_per_s_median" in s:
            note = (
                f"{side}: with {s['amortised_note']} amortised (sample grid {s['sample_grid_s_median'] * 1000:.0f} ms, "
                f"checkpoint {s['checkpoint_s_median'] * 1000:.0f} ms): {s['amortised_imgs_per_s_median']:.1f} imgs/s, "
                f"ratio {s['amortised_ratio_vs_plain']:.3f}"
            )
            lines += ["", f"- {note}"]
            print(note)

    profiling = None
    if args.profile:
        profiling = profile(args, lines)
        lines += ["", "cProfile of one `ganlab` fit: `throughput_profile.txt`."]
    env["loadavg_end"] = os.getloadavg()
    env["wall_s"] = time.perf_counter() - started
    lines += ["", f"Load average at end {env['loadavg_end'][0]:.2f}; wall time {env['wall_s']:.0f} s.", ""]

    args.out.mkdir(parents=True, exist_ok=True)
    payload = {"env": env, "config": config, "summary": summary, "rounds": rounds, "profiling": profiling}
    (args.out / "throughput.json").write_text(json.dumps(payload, indent=2) + "\n")
    (args.out / "throughput.md").write_text("\n".join(lines))
    print(f"\nwrote {args.out / 'throughput.json'} and {args.out / 'throughput.md'} ({env['wall_s']:.0f} s)")


if __name__ == "__main__":
    main()
