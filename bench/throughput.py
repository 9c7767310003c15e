"""Images/second of ganlab's training loop versus a hand-written PyTorch loop (DCGAN on MNIST).

Both sides train the same networks (``DCGANGenerator(100, 1, 28, 64)``, ``DCGANDiscriminator(1, 28, 64,
"batch")``, identical initial weights from the same seed) with the same Adam settings (lr 2e-4, betas
(0.5, 0.999)), the same non-saturating loss (softplus on logits), the same in-memory MNIST tensors and
the same batch size: per batch one discriminator step, then one generator step on a fresh latent batch.

Two plain loops: ``plain`` in fp32 (contiguous weights, PyTorch's defaults) and ``plain-bf16`` (bf16
autocast, channels_last weights, losses in fp32: the fastest hand-written loop where bf16 is native). The
goals on a CPU with native bf16: ganlab's default run at least 1.6x the plain fp32 loop, and at least 0.95x
the plain bf16 loop (the verdict states both).

ganlab side: the real thing. The run config is composed with Hydra's compose API from ganlab's own
``conf/`` (``model=dcgan dataset=mnist loss=nsgan``), the module is ``GANModule.from_config(cfg)``, the
data module ``instantiate(cfg.dataset.datamodule)``, and a ``lightning.Trainer`` built from ``cfg.trainer``
runs ``fit`` exactly as ``ganlab train`` does. Variants (``--variants``):

- ``ganlab``: ``logger=none callbacks=none``: the bare step loop (ModelCheckpoint only, which saves at
  the end, outside the timed window; Lightning adds its default progress bar, a ``RichProgressBar``).
- ``ganlab-default``: ``logger=tensorboard callbacks=default``: what a user's default run costs
  (TensorBoard scalars every 25 steps, Rich progress bar, sample grid every 250 generator steps,
  checkpoint every 1000). The timed window is shorter than 250 steps, so the script times one sample
  grid and one checkpoint save (at the end of the run) and also reports the throughput with their cost
  amortised at the configured rates.
- ``ganlab-nobar``: as ``ganlab`` plus ``+trainer.enable_progress_bar=false`` (for profiling).
- ``ganlab-log1``: as ``ganlab`` plus ``trainer.log_every_n_steps=1``: ``self.log_dict`` and the gradient
  norms on every step, as ganlab did before it logged only on Lightning's logging steps.

Timing covers the steady state only: a callback stamps ``time.perf_counter()`` at every
``on_train_batch_start``; the window runs from the start of batch ``warmup`` to the start of batch
``warmup + steps`` (so it holds exactly ``steps`` full iterations, data loading included). The plain loop
stamps at the same point (batch fetched, before the D step). Variants are interleaved in rounds (the
order rotates each round) and the median over rounds is reported, with per-round paired ratios.

Separate fits on a shared VM drift by 10-20% within minutes, more than the difference to measure. So
the script also runs "lockstep" fits (``--lockstep-rounds``): one ``ganlab`` fit whose callback runs the
plain loop in blocks of ``--lockstep-block`` steps every that many batches; both loops then share the same
minutes of machine time and the ratio is paired at the block level. Both numbers are reported.

Example (about 4-5 minutes on 2 CPU cores, one thread per side)::

    GANLAB_DATA_DIR=/work/shared/data .venv/bin/python bench/throughput.py

``--profile`` additionally runs cProfile over one ``ganlab`` fit (``throughput_profile.txt``) and fits with
timers on each per-step part (training_step, log_dict, gradient norms, finiteness check,
toggled_optimizer, Lightning's wrappers, data fetch, progress bar), so the overhead is measured directly.
``--ablations`` runs lockstep fits with those extras patched out (in this process only).
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
from ganlab.precision import pin_precision

RESULTS_DIR = Path(__file__).resolve().parent / "results"
LATENT_DIM = 100
LR = 2e-4
BETAS = (0.5, 0.999)

GANLAB_VARIANTS: dict[str, list[str]] = {
    "ganlab": ["logger=none", "callbacks=none"],
    "ganlab-nobar": ["logger=none", "callbacks=none", "+trainer.enable_progress_bar=false"],
    # ganlab logs (and computes gradient norms) only every trainer.log_every_n_steps batches; 1 = every step.
    "ganlab-log1": ["logger=none", "callbacks=none", "trainer.log_every_n_steps=1"],
    "ganlab-default": ["logger=tensorboard", "callbacks=default"],
}


# ------------------------------------------------------------------------------------------ timing
class BatchClock(L.Callback):
    """Stamps ``time.perf_counter()`` at every ``on_train_batch_start`` (after the batch is fetched).

    With a ``companion`` (a :class:`PlainLoop`), every ``block``-th hook first runs ``block`` plain-loop
    steps, stamping each ("lockstep" mode): the two loops alternate in blocks of ``block`` steps within
    one process, so slow drift and neighbours on the box affect both alike.
    """

    def __init__(self, companion: PlainLoop | None = None, block: int = 1) -> None:
        self.stamps: list[tuple[float, float]] = []
        self.companion = companion
        self.block = max(1, int(block))
        self.companion_stamps: list[tuple[float, float, float, float]] = []
        self.threads: int | None = None

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        if self.companion is not None and len(self.stamps) % self.block == 0:
            for _ in range(self.block):
                real = self.companion.next_batch()
                w0, c0 = time.perf_counter(), time.process_time()
                self.companion.step(real)
                w1, c1 = time.perf_counter(), time.process_time()
                self.companion_stamps.append((w0, c0, w1, c1))
        self.stamps.append((time.perf_counter(), time.process_time()))
        if self.threads is None:
            self.threads = torch.get_num_threads()


def lockstep_plan(args: argparse.Namespace) -> tuple[int, int, int]:
    """``(first timed block, timed blocks, ganlab batches to run)`` for a lockstep fit."""
    block = max(1, args.lockstep_block)
    first = -(-args.warmup // block)  # warm-up rounded up to whole blocks
    blocks = max(1, args.lockstep_steps // block)
    return first, blocks, (first + blocks) * block + 1


def lockstep_stats(clock: BatchClock, args: argparse.Namespace) -> dict[str, Any]:
    """Per block: plain time = its ``block`` plain steps; ganlab time = from their end to the next block."""
    first, blocks, _ = lockstep_plan(args)
    k, stamps = clock.block, clock.companion_stamps
    plain_w = plain_c = ganlab_w = ganlab_c = 0.0
    block_ratios = []
    for j in range(first, first + blocks):
        mine, after = stamps[j * k : (j + 1) * k], stamps[(j + 1) * k]
        pw, pc = sum(w1 - w0 for w0, _, w1, _ in mine), sum(c1 - c0 for _, c0, _, c1 in mine)
        gw, gc = after[0] - mine[-1][2], after[1] - mine[-1][3]
        plain_w, plain_c, ganlab_w, ganlab_c = plain_w + pw, plain_c + pc, ganlab_w + gw, ganlab_c + gc
        block_ratios.append(pw / gw)
    steps, batch = blocks * k, args.batch_size
    return {
        "steps": steps,
        "block": k,
        "plain_ms_per_step": 1000 * plain_w / steps,
        "ganlab_ms_per_step": 1000 * ganlab_w / steps,
        "plain_imgs_per_s": steps * batch / plain_w,
        "ganlab_imgs_per_s": steps * batch / ganlab_w,
        "ratio": plain_w / ganlab_w,
        "median_block_ratio": statistics.median(block_ratios),
        "block_ratios": block_ratios,
        "overhead_ms_per_step": 1000 * (ganlab_w - plain_w) / steps,
        "plain_cpu_ms_per_step": 1000 * plain_c / steps,
        "ganlab_cpu_ms_per_step": 1000 * ganlab_c / steps,
        "cpu_ratio": plain_c / ganlab_c,
        "overhead_cpu_ms_per_step": 1000 * (ganlab_c - plain_c) / steps,
    }


def window_stats(stamps: list[tuple[float, float]], warmup: int, steps: int, batch: int) -> dict[str, float]:
    """Throughput over ``stamps[warmup] .. stamps[warmup + steps]`` (wall clock and process CPU time).

    ``stamps`` holds ``(time.perf_counter(), time.process_time())`` pairs, one per batch. CPU time (all
    threads of this process) is a cross-check that is less sensitive to other processes on the box.
    """
    if len(stamps) < warmup + steps + 1:
        raise RuntimeError(f"only {len(stamps)} batch stamps, need {warmup + steps + 1}")
    window = stamps[warmup : warmup + steps + 1]
    seconds = window[-1][0] - window[0][0]
    cpu_seconds = window[-1][1] - window[0][1]
    per_step = [b[0] - a[0] for a, b in itertools.pairwise(window)]
    return {
        "seconds": seconds,
        "imgs_per_s": steps * batch / seconds,
        "ms_per_step": 1000 * seconds / steps,
        "median_step_ms": 1000 * statistics.median(per_step),
        "max_step_ms": 1000 * max(per_step),
        "cpu_seconds": cpu_seconds,
        "imgs_per_cpu_s": steps * batch / cpu_seconds,
    }


def fingerprint(*modules: torch.nn.Module) -> float:
    """A number that changes with any parameter: equal fingerprints mean identical initial weights."""
    total = 0.0
    for module in modules:
        for i, p in enumerate(module.parameters()):
            total += float(p.detach().double().sum()) * (i + 1) + float(p.detach().double().abs().sum())
    return total


# ------------------------------------------------------------------------------------- plain loop
class PlainLoop:
    """The hand-written loop: same nets, optimisers, loss and data; one D step then one G step per batch.

    ``bf16``: the networks run under ``torch.autocast(dtype=torch.bfloat16)`` with channels_last weights,
    the losses in float32: the fastest hand-written loop on a CPU with native bf16.
    """

    def __init__(self, real_images: torch.Tensor, batch_size: int, seed: int, bf16: bool = False) -> None:
        L.seed_everything(seed, workers=True, verbose=False)
        self.generator = DCGANGenerator(latent_dim=LATENT_DIM, channels=1, resolution=28, width=64)
        self.discriminator = DCGANDiscriminator(channels=1, resolution=28, width=64, norm="batch")
        self.init_fingerprint = fingerprint(self.generator, self.discriminator)
        self.autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)
        if bf16:
            self.generator.to(memory_format=torch.channels_last)
            self.discriminator.to(memory_format=torch.channels_last)
        self.generator.train()
        self.discriminator.train()
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=LR, betas=BETAS)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=LR, betas=BETAS)
        self.real_images = real_images
        self.batch_size = batch_size
        self.losses = (float("nan"), float("nan"))
        self._batches = self._epochs()

    def _epochs(self) -> Iterator[torch.Tensor]:
        """Shuffled batches forever, ``drop_last`` as ganlab's DataLoader."""
        n, batch = self.real_images.shape[0], self.batch_size
        while True:
            order = torch.randperm(n)
            for i in range(n // batch):
                yield self.real_images[order[i * batch : (i + 1) * batch]]

    def next_batch(self) -> torch.Tensor:
        return next(self._batches)

    def step(self, real: torch.Tensor) -> None:
        with self.autocast:
            self._step(real)

    def _step(self, real: torch.Tensor) -> None:
        generator, discriminator, batch = self.generator, self.discriminator, real.shape[0]
        # Discriminator step (G is only evaluated, as in ganlab: no_grad forward, train-mode BN).
        with torch.no_grad():
            fake = generator(torch.randn(batch, LATENT_DIM))
        d_loss = F.softplus(-discriminator(real).float()).mean() + F.softplus(discriminator(fake).float()).mean()
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()
        # Generator step on a fresh latent batch; D frozen so its weight gradients are not computed.
        discriminator.requires_grad_(False)
        g_loss = F.softplus(-discriminator(generator(torch.randn(batch, LATENT_DIM))).float()).mean()
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()
        discriminator.requires_grad_(True)
        self.losses = (d_loss.detach(), g_loss.detach())


def run_plain(real_images: torch.Tensor, args: argparse.Namespace, bf16: bool = False) -> dict[str, Any]:
    """Time the plain loop on its own: stamp after the batch is fetched, as Lightning's hook does."""
    loop = PlainLoop(real_images, args.batch_size, args.seed, bf16=bf16)
    stamps: list[tuple[float, float]] = []
    for _ in range(args.warmup + args.steps + 1):
        real = loop.next_batch()
        stamps.append((time.perf_counter(), time.process_time()))
        loop.step(real)
    result = window_stats(stamps, args.warmup, args.steps, args.batch_size)
    result.update(
        init_fingerprint=loop.init_fingerprint, final_d_loss=float(loop.losses[0]), final_g_loss=float(loop.losses[1])
    )
    return result


# ------------------------------------------------------------------------------------- ganlab side
def compose_config(variant: str, out_dir: str, args: argparse.Namespace, batches: int | None = None) -> DictConfig:
    """``ganlab train model=dcgan dataset=mnist loss=nsgan ...`` as Hydra composes it."""
    overrides = [
        "model=dcgan",
        "dataset=mnist",
        "loss=nsgan",
        f"seed={args.seed}",
        f"generator_steps={batches or args.warmup + args.steps + 1}",
        f"dataset.datamodule.batch_size={args.batch_size}",
        "dataset.download=false",
        f"paths.data_dir={args.data_dir}",
        f"paths.output_dir={out_dir}",
        *GANLAB_VARIANTS[variant],
    ]
    ganlab.config.register_resolvers()
    with hydra.initialize_config_dir(config_dir=ganlab.config.config_dir(), version_base="1.3"):
        cfg = hydra.compose("train", overrides=overrides)
    pin_precision(cfg.trainer)
    return cfg


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


def run_ganlab(
    variant: str,
    args: argparse.Namespace,
    profiler: cProfile.Profile | None = None,
    companion: PlainLoop | None = None,
    clock: BatchClock | None = None,
) -> dict[str, Any]:
    """One real ``Trainer.fit`` built the way ``ganlab.train.train`` builds it (lockstep with ``companion``)."""
    out_dir = tempfile.mkdtemp(prefix=f"ganlab-bench-{variant}-")
    try:
        clock = clock or BatchClock(companion, args.lockstep_block)
        companion = clock.companion
        cfg = compose_config(variant, out_dir, args, lockstep_plan(args)[2] if companion else None)
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
        trainer: L.Trainer = instantiate(cfg.trainer, callbacks=[*callbacks, clock], logger=loggers or False)
        with quiet(not args.show_progress):
            if profiler is not None:
                profiler.enable()
            try:
                trainer.fit(module, datamodule=datamodule)
            finally:
                if profiler is not None:
                    profiler.disable()
        if companion is None:
            result = window_stats(clock.stamps, args.warmup, args.steps, args.batch_size)
        else:
            result = lockstep_stats(clock, args)
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
            step_s = result["ganlab_ms_per_step" if companion else "ms_per_step"] / 1000
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


# Where ganlab's step time goes, timed directly: (owner, attribute, label). Timers add ~1 us per call.
def _instrumented_targets() -> list[tuple[Any, str, str]]:
    from lightning.pytorch.callbacks import RichProgressBar, TQDMProgressBar
    from lightning.pytorch.core.optimizer import LightningOptimizer
    from lightning.pytorch.loops.fetchers import _PrefetchDataFetcher
    from lightning.pytorch.trainer.connectors.logger_connector.logger_connector import _LoggerConnector

    return [
        (GANModule, "training_step", "GANModule.training_step (all of it)"),
        (GANModule, "manual_backward", "  manual_backward (incl. the backward pass)"),
        (torch.Tensor, "backward", "    of which torch.Tensor.backward"),
        (LightningOptimizer, "step", "  LightningOptimizer.step (incl. Adam)"),
        (torch.optim.Adam, "step", "    of which torch.optim.Adam.step"),
        (GANModule, "log_dict", "  self.log_dict"),
        (ganlab.module, "_grad_norm", "  _grad_norm"),
        (GANModule, "_checked_sum", "  _checked_sum incl. torch.isfinite"),
        (GANModule, "toggled_optimizer", "  toggled_optimizer enter+exit"),
        (GANModule, "optimizers", "  self.optimizers()"),
        (GANModule, "_schedulers", "  self._schedulers()"),
        (_PrefetchDataFetcher, "__next__", "data fetch (DataLoader)"),
        (_LoggerConnector, "update_train_step_metrics", "logger connector: update_train_step_metrics"),
        (TQDMProgressBar, "on_train_batch_end", "TQDM progress bar: on_train_batch_end"),
        (RichProgressBar, "on_train_batch_end", "Rich progress bar: on_train_batch_end"),
    ]


class _TimedContext:
    def __init__(self, inner: Any, record: Callable[[float, float], None]) -> None:
        self.inner, self.record = inner, record

    def __enter__(self) -> Any:
        t0 = time.perf_counter()
        try:
            return self.inner.__enter__()
        finally:
            self.record(t0, time.perf_counter() - t0)

    def __exit__(self, *exc: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return self.inner.__exit__(*exc)
        finally:
            self.record(t0, time.perf_counter() - t0)


@contextlib.contextmanager
def stopwatches(targets: list[tuple[Any, str, str]]) -> Iterator[dict[str, list[tuple[float, float]]]]:
    """Wrap each target with a timer; yields ``label -> [(start, seconds), ...]``."""
    calls: dict[str, list[tuple[float, float]]] = {label: [] for _, _, label in targets}
    with contextlib.ExitStack() as stack:
        for owner, name, label in targets:
            original = getattr(owner, name)
            record = calls[label].append

            def wrapper(*a: Any, _original: Any = original, _record: Any = record, _name: str = name, **kw: Any) -> Any:
                t0 = time.perf_counter()
                result = _original(*a, **kw)
                if _name == "toggled_optimizer":
                    return _TimedContext(result, lambda start, secs, _r=_record: _r((start, secs)))
                _record((t0, time.perf_counter() - t0))
                return result

            stack.enter_context(patched(owner, name, wrapper))
        yield calls


def breakdown(args: argparse.Namespace, lines: list[str], variant: str = "ganlab") -> dict[str, Any]:
    """Fits of the ``ganlab`` variant with timers on ganlab's and Lightning's per-step work (window only).

    The timers measure ganlab's parts directly, so the result does not hinge on comparing two noisy
    runs. Per component, the median over ``--profile-rounds`` fits.
    """
    fits: list[tuple[dict[str, Any], dict[str, dict[str, float]]]] = []
    for _ in range(args.profile_rounds):
        clock = BatchClock()
        with stopwatches(_instrumented_targets()) as calls:
            res = run_ganlab(variant, args, clock=clock)
        start = clock.stamps[args.warmup][0]
        end = clock.stamps[args.warmup + args.steps][0]
        table: dict[str, dict[str, float]] = {}
        for label, records in calls.items():
            inside = [secs for t0, secs in records if start <= t0 < end]
            if inside:
                table[label] = {
                    "ms_per_step": 1000 * sum(inside) / args.steps,
                    "calls_per_step": len(inside) / args.steps,
                }
        outside = res["ms_per_step"] - table["GANModule.training_step (all of it)"]["ms_per_step"]
        table["Lightning loop outside training_step (hooks, fetch, logging, bar)"] = {
            "ms_per_step": outside,
            "calls_per_step": 1.0,
        }
        fits.append((res, table))
    step_ms = statistics.median(res["ms_per_step"] for res, _ in fits)
    merged = {
        label: {
            "ms_per_step": statistics.median(t[label]["ms_per_step"] for _, t in fits if label in t),
            "calls_per_step": fits[0][1][label]["calls_per_step"],
        }
        for label in fits[0][1]
    }
    train_ms = merged["GANModule.training_step (all of it)"]["ms_per_step"]
    extras = ("  self.log_dict", "  _grad_norm", "  _checked_sum incl. torch.isfinite")
    extras += ("  toggled_optimizer enter+exit", "  self.optimizers()", "  self._schedulers()")
    extra_ms = sum(merged.get(label, {}).get("ms_per_step", 0.0) for label in extras)
    core_ms = train_ms - extra_ms
    outside_ms = merged["Lightning loop outside training_step (hooks, fetch, logging, bar)"]["ms_per_step"]

    def ms(label: str) -> float:
        return merged.get(label, {}).get("ms_per_step", 0.0)

    wrappers_ms = ms("  manual_backward (incl. the backward pass)") - ms("    of which torch.Tensor.backward")
    wrappers_ms += ms("  LightningOptimizer.step (incl. Adam)") - ms("    of which torch.optim.Adam.step")
    overhead_ms = extra_ms + outside_ms + wrappers_ms
    lines += [
        "",
        f"## Breakdown of `{variant}` ({' '.join(GANLAB_VARIANTS[variant])}; timers on each part, "
        f"median of {len(fits)} fit(s))",
        "",
        f"- ganlab step (batch start to batch start): {step_ms:.2f} ms",
        f"- ganlab's extras inside training_step: {extra_ms:.2f} ms; Lightning outside training_step: "
        f"{outside_ms:.2f} ms; together {extra_ms + outside_ms:.2f} ms = "
        f"{100 * (extra_ms + outside_ms) / step_ms:.1f}% of the step",
        f"- Lightning's wrappers around backward and optimizer.step: {wrappers_ms:.2f} ms",
        f"- all of that: {overhead_ms:.2f} ms per step, so without it ganlab would run "
        f"{step_ms / (step_ms - overhead_ms):.3f}x as fast (expected ratio vs a loop without it: "
        f"{(step_ms - overhead_ms) / step_ms:.3f})",
        f"- training_step minus ganlab's extras (networks, losses, backward, Adam, Lightning's wrappers): "
        f"{core_ms:.2f} ms",
        "",
        "| component | ms/step | calls/step |",
        "|---|---:|---:|",
    ]
    for label, row in merged.items():
        lines.append(
            f"| {label.strip()}{' (inside training_step)' if label.startswith('  ') else ''} "
            f"| {row['ms_per_step']:.3f} | {row['calls_per_step']:.1f} |"
        )
    print("\n".join(lines[-len(merged) - 10 :]), flush=True)
    return {
        "fits": [res for res, _ in fits],
        "components": merged,
        "ganlab_ms_per_step": step_ms,
        "extras_ms": extra_ms,
        "outside_training_step_ms": outside_ms,
        "training_step_core_ms": core_ms,
        "lightning_wrappers_ms": wrappers_ms,
        "overhead_ms": overhead_ms,
        "expected_ratio_without_overhead": (step_ms - overhead_ms) / step_ms,
    }


def profile(args: argparse.Namespace, lines: list[str]) -> dict[str, Any]:
    """cProfile one ``ganlab`` fit, then time its parts (:func:`breakdown`)."""
    profiler = cProfile.Profile()
    args.out.mkdir(parents=True, exist_ok=True)
    run_ganlab("ganlab", args, profiler=profiler)
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text).strip_dirs()
    stats.sort_stats("cumulative").print_stats(45)
    stats.sort_stats("tottime").print_stats(30)
    (args.out / "throughput_profile.txt").write_text(text.getvalue())
    lines += ["", "cProfile of one `ganlab` fit: `throughput_profile.txt`."]
    return {"breakdown": {variant: breakdown(args, lines, variant) for variant in args.breakdown_variants}}


def ablations(args: argparse.Namespace, real_images: torch.Tensor, lines: list[str]) -> dict[str, Any]:
    """Lockstep fits with one per-step extra patched out at a time (in this process only).

    Differences of a few ms per step are within the noise of a shared 2-core VM; the timers of
    :func:`breakdown` are the sharper tool, this is the end-to-end confirmation.
    """

    found: dict[str, Any] = {"ablation_rounds": args.profile_rounds, "ablations": {}}
    names = ["baseline", *ABLATIONS, "no progress bar", "all of the above"]
    everything = list(ABLATIONS)
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    for r in range(args.profile_rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            companion = PlainLoop(real_images, args.batch_size, args.seed)
            variant = "ganlab-nobar" if name in ("no progress bar", "all of the above") else "ganlab"
            with contextlib.ExitStack() as stack:
                for ablation in everything if name == "all of the above" else [name]:
                    if ablation in ABLATIONS:
                        stack.enter_context(ABLATIONS[ablation]())
                res = run_ganlab(variant, args, companion=companion)
            runs[name].append(res)
            print(
                f"  ablation round {r + 1}: {name:<22} overhead {res['overhead_ms_per_step']:+7.2f} ms/step wall "
                f"({res['overhead_cpu_ms_per_step']:+7.2f} CPU), ratio {res['ratio']:.3f}",
                flush=True,
            )
    lines += ["", "## Where the overhead goes: ablations in lockstep (ganlab, logger=none callbacks=none)", ""]
    lines += [
        "Each extra is patched out in this process only (ganlab's files are untouched). Overhead = ganlab's time "
        "per generator step minus the plain loop's, measured in lockstep (blocks) in the same fit; median over fits.",
        "",
        "| patched out | overhead wall ms/step | saved vs baseline | overhead CPU ms/step | ratio (wall) |",
        "|---|---:|---:|---:|---:|",
    ]
    base = statistics.median(res["overhead_ms_per_step"] for res in runs["baseline"])
    for name in names:
        overhead = statistics.median(res["overhead_ms_per_step"] for res in runs[name])
        found["ablations"][name] = {
            "overhead_ms_per_step": overhead,
            "overhead_cpu_ms_per_step": statistics.median(res["overhead_cpu_ms_per_step"] for res in runs[name]),
            "saved_ms_per_step": base - overhead,
            "ratio": statistics.median(res["ratio"] for res in runs[name]),
            "plain_ms_per_step": statistics.median(res["plain_ms_per_step"] for res in runs[name]),
            "rounds": runs[name],
        }
        a = found["ablations"][name]
        lines.append(
            f"| {name} | {overhead:+.2f} | {base - overhead:+.2f} | {a['overhead_cpu_ms_per_step']:+.2f} | "
            f"{a['ratio']:.3f} |"
        )
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
    parser.add_argument("--steps", type=int, default=50, help="timed generator steps (batches) per run")
    parser.add_argument("--warmup", type=int, default=10, help="untimed batches before the window")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the median is reported")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch.set_num_threads for both sides (1: robust when other jobs share the cores; try 2 on an idle box)",
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--lockstep-rounds",
        type=int,
        default=2,
        help="extra fits of the ganlab variant that run the plain loop inside the fit, alternating blocks (0: skip)",
    )
    parser.add_argument("--lockstep-steps", type=int, default=80, help="timed steps per side in a lockstep fit")
    parser.add_argument("--lockstep-variants", default="ganlab", help="comma-separated variants for lockstep fits")
    parser.add_argument("--lockstep-block", type=int, default=10, help="steps per block in lockstep fits")
    parser.add_argument(
        "--variants",
        default="ganlab,ganlab-default",
        help=f"comma-separated ganlab variants to run besides the plain loop: {', '.join(GANLAB_VARIANTS)}",
    )
    parser.add_argument("--data-dir", default=os.environ.get("GANLAB_DATA_DIR", "./data"))
    parser.add_argument("--profile", action="store_true", help="cProfile and a timed breakdown of the ganlab side")
    parser.add_argument(
        "--breakdown-variants", default="ganlab", help="comma-separated variants to time part by part (--profile)"
    )
    parser.add_argument("--ablations", action="store_true", help="lockstep fits with ganlab's extras patched out")
    parser.add_argument("--profile-rounds", type=int, default=2, help="fits per breakdown / per ablation")
    parser.add_argument("--show-progress", action="store_true", help="let progress bars write to the terminal")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="folder for throughput.json / .md")
    args = parser.parse_args(argv)
    args.variants = [v for v in args.variants.split(",") if v]
    args.breakdown_variants = [v for v in args.breakdown_variants.split(",") if v]
    args.lockstep_variants = [v for v in args.lockstep_variants.split(",") if v]
    unknown = [v for v in args.variants + args.breakdown_variants + args.lockstep_variants if v not in GANLAB_VARIANTS]
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

    # ganlab's default precision on this machine, which the lockstep companion loop matches
    ganlab_bf16 = cfg.trainer.precision == "bf16-mixed"
    sides = ["plain", "plain-bf16", *args.variants]
    rounds: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
    print(
        f"DCGAN/MNIST {tuple(real_images.shape)}, batch {args.batch_size}, {args.steps} timed steps after "
        f"{args.warmup} warm-up, {args.rounds} rounds, torch threads {args.threads}",
        flush=True,
    )
    for r in range(args.rounds):
        order = sides[r % len(sides) :] + sides[: r % len(sides)]
        for side in order:
            if side.startswith("plain"):
                res = run_plain(real_images, args, bf16=side == "plain-bf16")
            else:
                res = run_ganlab(side, args)
            rounds[side].append(res)
            print(
                f"  round {r + 1}: {side:<15} {res['imgs_per_s']:8.1f} imgs/s  {res['ms_per_step']:7.2f} ms/step"
                f"  (median step {res['median_step_ms']:.2f} ms)",
                flush=True,
            )
    lockstep: dict[str, list[dict[str, Any]]] = {v: [] for v in args.lockstep_variants}
    for r in range(args.lockstep_rounds if lockstep else 0):
        names = list(lockstep)
        for variant in names[r % len(names) :] + names[: r % len(names)]:
            companion = PlainLoop(real_images, args.batch_size, args.seed, bf16=ganlab_bf16)
            res = run_ganlab(variant, args, companion=companion)
            lockstep[variant].append(res)
            print(
                f"  lockstep {r + 1}: {variant:<13} plain {res['plain_imgs_per_s']:7.1f} imgs/s, ganlab "
                f"{res['ganlab_imgs_per_s']:7.1f} imgs/s, ratio {res['ratio']:.3f}, median block ratio "
                f"{res['median_block_ratio']:.3f} (ganlab {res['overhead_ms_per_step']:+.2f} ms/step)",
                flush=True,
            )

    same_init = len({round(res["init_fingerprint"], 6) for runs in rounds.values() for res in runs}) == 1
    summary: dict[str, Any] = {}
    plain = [res["imgs_per_s"] for res in rounds["plain"]]
    plain_bf16 = [res["imgs_per_s"] for res in rounds["plain-bf16"]]
    for side in sides:
        ips = [res["imgs_per_s"] for res in rounds[side]]
        paired = [a / b for a, b in zip(ips, plain, strict=True)]
        paired_bf16 = [a / b for a, b in zip(ips, plain_bf16, strict=True)]
        summary[side] = {
            "ratio_vs_plain_bf16_median_of_rounds": statistics.median(paired_bf16),
            "ratio_vs_plain_bf16_rounds": paired_bf16,
            "imgs_per_s_median": statistics.median(ips),
            "imgs_per_s_rounds": ips,
            "ms_per_step_median": statistics.median(res["ms_per_step"] for res in rounds[side]),
            "ratio_vs_plain_median_of_rounds": statistics.median(paired),
            "ratio_vs_plain_rounds": paired,
            "ratio_of_medians": statistics.median(ips) / statistics.median(plain),
            "imgs_per_cpu_s_median": statistics.median(res["imgs_per_cpu_s"] for res in rounds[side]),
            "cpu_ratio_vs_plain_median_of_rounds": statistics.median(
                a["imgs_per_cpu_s"] / b["imgs_per_cpu_s"] for a, b in zip(rounds[side], rounds["plain"], strict=True)
            ),
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
        "plain": "hand-written PyTorch loop, fp32",
        "plain-bf16": "hand-written PyTorch loop, bf16 autocast + channels_last, losses in fp32",
        "ganlab": "Trainer.fit, logger=none callbacks=none (Lightning's default Rich bar, checkpoint at end)",
        "ganlab-nobar": "as ganlab, +trainer.enable_progress_bar=false",
        "ganlab-log1": "as ganlab, trainer.log_every_n_steps=1 (log_dict + grad norms every step)",
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
        f"- ganlab's default precision here: {cfg.trainer.precision} (trainer.precision=auto), channels_last=true",
        f"- command: `{config['command']}`",
        "",
        "## Separate fits, interleaved (the order rotates each round; ratios paired within a round)",
        "",
        "| side | what | imgs/s (median) | ms/step | ratio vs plain (median of paired rounds) "
        "| ratio vs plain-bf16 | per round imgs/s | per round ratio | CPU-time ratio |",
        "|---|---|---:|---:|---:|---:|---|---|---:|",
    ]
    print(f"\n{'side':<15} {'imgs/s':>9} {'ms/step':>8} {'ratio':>7} {'cpu-ratio':>9}  per round imgs/s (ratio)")
    for side in sides:
        s = summary[side]
        per_round = ", ".join(f"{v:.1f}" for v in s["imgs_per_s_rounds"])
        per_ratio = ", ".join(f"{v:.3f}" for v in s["ratio_vs_plain_rounds"])
        lines.append(
            f"| {side} | {descriptions[side]} | {s['imgs_per_s_median']:.1f} | {s['ms_per_step_median']:.2f} | "
            f"{s['ratio_vs_plain_median_of_rounds']:.3f} | {s['ratio_vs_plain_bf16_median_of_rounds']:.3f} | "
            f"{per_round} | {per_ratio} | "
            f"{s['cpu_ratio_vs_plain_median_of_rounds']:.3f} |"
        )
        print(
            f"{side:<15} {s['imgs_per_s_median']:9.1f} {s['ms_per_step_median']:8.2f} "
            f"{s['ratio_vs_plain_median_of_rounds']:7.3f} {s['cpu_ratio_vs_plain_median_of_rounds']:9.3f}  "
            + ", ".join(
                f"{v:.1f} ({q:.3f})" for v, q in zip(s["imgs_per_s_rounds"], s["ratio_vs_plain_rounds"], strict=True)
            )
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

    lockstep_summary: dict[str, Any] = {}
    for variant, fits in lockstep.items():
        if not fits:
            continue
        keys = ("plain_imgs_per_s", "ganlab_imgs_per_s", "ratio", "median_block_ratio", "overhead_ms_per_step")
        lockstep_summary[variant] = {key: statistics.median(res[key] for res in fits) for key in (*keys, "cpu_ratio")}
        lockstep_summary[variant]["rounds"] = fits
    if lockstep_summary:
        first = next(iter(lockstep_summary.values()))["rounds"][0]
        block, steps = first["block"], first["steps"]
        lines += [
            "",
            f"## Lockstep: the plain loop inside a ganlab fit, alternating blocks of {block} steps",
            "",
            f"A callback runs {block} plain-loop steps every {block} ganlab batches; {steps} timed steps per side "
            "per fit. Both sides see the same minutes of machine time, so drift on the box cancels.",
            "",
            "| variant | fit | plain imgs/s | ganlab imgs/s | ratio | median block ratio | ganlab extra ms/step "
            "| CPU-time ratio |",
            "|---|---|---:|---:|---:|---:|---:|---:|",
        ]
        for variant, med in lockstep_summary.items():
            fits = med["rounds"]
            for i, res in enumerate([*fits, med]):
                name = "**median**" if i == len(fits) else str(i + 1)
                lines.append(
                    f"| {variant} | {name} | {res['plain_imgs_per_s']:.1f} | {res['ganlab_imgs_per_s']:.1f} | "
                    f"{res['ratio']:.3f} | {res['median_block_ratio']:.3f} | {res['overhead_ms_per_step']:+.2f} | "
                    f"{res['cpu_ratio']:.3f} |"
                )
            print(
                f"lockstep {variant} ({len(fits)} fit(s), blocks of {block}): plain {med['plain_imgs_per_s']:.1f} "
                f"imgs/s, ganlab {med['ganlab_imgs_per_s']:.1f} imgs/s, ratio {med['ratio']:.3f} (median block "
                f"ratio {med['median_block_ratio']:.3f}, CPU-time ratio {med['cpu_ratio']:.3f}); ganlab costs "
                f"{med['overhead_ms_per_step']:+.2f} ms per generator step more"
            )

    verdict = []
    if "ganlab" in summary:
        paired = summary["ganlab"]["ratio_vs_plain_rounds"]
        spread = max(paired) - min(paired)
        verdict.append(
            f"separate fits: ganlab/plain = {summary['ganlab']['ratio_vs_plain_median_of_rounds']:.3f} (median of "
            f"{len(paired)} paired rounds, range {min(paired):.3f}-{max(paired):.3f}"
            + ("; too noisy to resolve a 5% difference)" if spread > 0.1 else ")")
        )
    if "ganlab-default" in summary:
        default = summary["ganlab-default"]
        for name, key, goal in (
            ("plain fp32", "ratio_vs_plain_median_of_rounds", 1.6),
            ("plain bf16", "ratio_vs_plain_bf16_median_of_rounds", 0.95),
        ):
            verdict.append(
                f"ganlab default ({cfg.trainer.precision}, channels_last) / {name} = {default[key]:.3f} "
                f"-> goal >= {goal} {'met' if default[key] >= goal else 'NOT met'}"
            )
    for variant, med in lockstep_summary.items():
        ratio = med["ratio"]
        verdict.append(
            f"lockstep {variant} against the plain {'bf16' if ganlab_bf16 else 'fp32'} loop: ganlab/plain = "
            f"{ratio:.3f} -> target >= 0.95 {'met' if ratio >= 0.95 else 'NOT met'}"
        )
    if verdict:
        lines += ["", "## Verdict", "", *[f"- {v}" for v in verdict]]
        print("verdict: " + "; ".join(verdict))

    profiling = None
    if args.profile:
        profiling = profile(args, lines)
    if args.ablations:
        profiling = {**(profiling or {}), **ablations(args, real_images, lines)}
    env["loadavg_end"] = os.getloadavg()
    env["wall_s"] = time.perf_counter() - started
    lines += ["", f"Load average at end {env['loadavg_end'][0]:.2f}; wall time {env['wall_s']:.0f} s.", ""]

    args.out.mkdir(parents=True, exist_ok=True)
    payload = {
        "env": env,
        "config": config,
        "summary": summary,
        "rounds": rounds,
        "lockstep": lockstep_summary,
        "profiling": profiling,
    }
    (args.out / "throughput.json").write_text(json.dumps(payload, indent=2) + "\n")
    (args.out / "throughput.md").write_text("\n".join(lines))
    print(f"\nwrote {args.out / 'throughput.json'} and {args.out / 'throughput.md'} ({env['wall_s']:.0f} s)")


if __name__ == "__main__":
    main()
