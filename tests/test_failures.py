"""Runs that survive failure, driven as a user meets it: a real process killed with SIGKILL, then resumed."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import torch

from ganlab.checkpoint import load_checkpoint

RUN = (
    "generator_steps=400",
    "checkpoint_every=20",
    "logger=none",
    "final_eval=false",
    "callbacks.samples.every_n_steps=1000",
)


def generator_steps(run_dir) -> int:
    return load_checkpoint(run_dir / "checkpoints" / "last.ckpt")["ganlab"]["generator_steps"]


def test_a_killed_run_resumes_from_its_last_checkpoint_and_a_new_run_never_overwrites_it(
    run_ganlab, ganlab_env, tmp_path
):
    run_dir = tmp_path / "run"
    args = ["train", *RUN, "resume=auto", f"hydra.run.dir={run_dir}"]
    process = subprocess.Popen(
        [sys.executable, "-m", "ganlab", *args],
        cwd=tmp_path,
        env=ganlab_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    last = run_dir / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 300
    while not (last.is_file() and generator_steps(run_dir) >= 60):  # killed while it keeps writing checkpoints
        assert process.poll() is None, process.stderr.read().decode()[-3000:]
        assert time.monotonic() < deadline, "no checkpoint within 5 minutes"
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    stderr = process.stderr.read()
    process.stderr.close()
    assert process.returncode == -signal.SIGKILL, stderr
    killed_at = generator_steps(run_dir)  # the last checkpoint is whole: it loads
    assert 60 <= killed_at < 400 and killed_at % 20 == 0
    original_config = (run_dir / ".hydra" / "config.yaml").read_text()

    run_ganlab(*args)  # the same command again, as a requeued cluster job would run it
    assert generator_steps(run_dir) == 400
    assert (run_dir / ".hydra" / "config.yaml").read_text() == original_config
    assert len(list((run_dir / ".hydra").glob("resumed_*/config.yaml"))) == 1

    finished = last.read_bytes()
    refused = run_ganlab(*[a for a in args if a != "resume=auto"], "seed=7", expect=2)
    assert "already holds a run" in refused.stderr and "resume=auto" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert last.read_bytes() == finished
    assert (run_dir / ".hydra" / "config.yaml").read_text() == original_config
    assert "seed=7" not in (run_dir / ".hydra" / "overrides.yaml").read_text()
    assert torch.load(last, weights_only=True)["ganlab"]["generator_steps"] == 400


def test_a_nan_loss_stops_the_run_keeps_the_last_finite_weights_and_is_reported_failed(run_ganlab, tmp_path):
    sweep = tmp_path / "sweep"
    run_dir = sweep / "0"
    nan_at_30 = ("+tricks.recorder._target_=tests.helpers.RecordingTrick", "+tricks.recorder.nan_from_step=30")
    failed = run_ganlab("train", *RUN, *nan_at_30, f"hydra.run.dir={run_dir}", expect=2)
    (line,) = failed.stderr.strip().splitlines()
    assert "non-finite discriminator loss at generator step 30" in line and "recorded=nan" in line
    checkpoint = load_checkpoint(run_dir / "checkpoints" / "last.ckpt")
    assert checkpoint["ganlab"]["generator_steps"] == 30  # the weights after step 30, not those of step 20
    assert all(torch.isfinite(value).all() for value in checkpoint["state_dict"].values() if value.is_floating_point())
    assert json.loads((run_dir / "failed.json").read_text())["generator_steps"] == 30

    report = run_ganlab("report", str(sweep), "--format", "csv").stdout
    assert "failed: non-finite discriminator loss at generator step 30" in report
