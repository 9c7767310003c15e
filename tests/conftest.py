"""Shared fixtures: the offline data and weights in ../shared, and the real ganlab CLI in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

from ganlab.config import config_dir, register_resolvers
from ganlab.precision import pin_precision

# Under pytest-xdist each of the two workers, and every CLI run it starts, computes on one thread:
# two workers of two threads each would fight over two cores, and an in-process run compared
# bit for bit with a CLI run must use the same thread count.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[1]
# Test data and the FID Inception weights live beside the checkout (see ../shared/README.md);
# GANLAB_SHARED_DIR points elsewhere when the layout differs.
SHARED = Path(os.environ.get("GANLAB_SHARED_DIR", REPO.parent / "shared")).resolve()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not (SHARED / "data" / "MNIST" / "raw").is_dir():
        pytest.fail(f"test data not found in {SHARED}: set GANLAB_SHARED_DIR to the folder holding data/ and torch/")
    return SHARED


@pytest.fixture(scope="session")
def ganlab_env(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for CLI runs: offline data, offline Inception weights, a per-session stats cache."""
    env = dict(os.environ)
    env.update(
        GANLAB_DATA_DIR=str(shared_dir / "data"),
        TORCH_HOME=str(shared_dir / "torch"),
        GANLAB_CACHE_DIR=str(tmp_path_factory.mktemp("cache")),
        PYTHONPATH=os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]),
        PYTHONUNBUFFERED="1",
        COLUMNS="200",
    )
    return env


def run_cli(args: tuple[str, ...], env: dict[str, str], cwd: Path, expect: int = 0, timeout: int = 600):
    """Run ``python -m ganlab <args>`` in ``cwd``; fail with its output if the exit code is unexpected."""
    proc = subprocess.run(
        [sys.executable, "-m", "ganlab", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode != expect:
        pytest.fail(
            f"ganlab {' '.join(args)} exited {proc.returncode}, expected {expect}\n"
            f"--- stdout ---\n{proc.stdout[-6000:]}\n--- stderr ---\n{proc.stderr[-6000:]}"
        )
    return proc


@pytest.fixture
def run_ganlab(ganlab_env: dict[str, str], tmp_path: Path) -> Callable[..., subprocess.CompletedProcess]:
    """Run ``python -m ganlab <args>`` in ``tmp_path`` (see :func:`run_cli`)."""

    def run(*args: str, expect: int = 0, timeout: int = 600) -> subprocess.CompletedProcess:
        return run_cli(args, ganlab_env, tmp_path, expect, timeout)

    return run


@pytest.fixture(scope="session")
def tiny_mnist_run(ganlab_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run dir of a 2-step, width-8 DCGAN on the shared MNIST, trained once for the eval tests."""
    root = tmp_path_factory.mktemp("tiny_mnist")
    dims = ("model.generator.width=8", "model.discriminator.width=8")
    run_cli(
        (
            "train",
            "dataset=mnist",
            "model=dcgan",
            "generator_steps=2",
            *dims,
            "logger=none",
            f"hydra.run.dir={root}/run",
        ),
        ganlab_env,
        root,
    )
    return root / "run"


@pytest.fixture
def compose_train(tmp_path: Path, shared_dir: Path) -> Callable[..., DictConfig]:
    """The real ``conf/train.yaml`` composed with overrides, outputs in ``tmp_path`` (no Hydra run)."""

    def make(*overrides: str) -> DictConfig:
        register_resolvers()
        with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
            cfg = compose("train", overrides=[f"paths.data_dir={shared_dir / 'data'}", *overrides])
        with open_dict(cfg):
            cfg.paths.output_dir = str(tmp_path)
        pin_precision(cfg.trainer)  # as `ganlab train` does before it builds the Trainer
        return cfg

    return make


@pytest.fixture
def offline_hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty torch hub cache and no network for downloads (a proxy on the discard port refuses at once)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path
