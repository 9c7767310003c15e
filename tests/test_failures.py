"""Runs that survive failure, driven as a user meets it: a real process stopped by SIGTERM, killed with
SIGKILL, or diverging to NaN, then resumed; and resuming that continues exactly where the run stopped."""

from __future__ import annotations

import csv
import io
import json
import signal
import subprocess
import sys
import time

import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities.exceptions import SIGTERMException

from ganlab.callbacks import StopCheckpoint
from ganlab.checkpoint import load_checkpoint
from tests.helpers import SignalSelf, fit

RUN = (
    "generator_steps=400",
    "checkpoint_every=20",
    "logger=none",
    "final_eval=false",
    "callbacks.samples.every_n_steps=1000",
)


def generator_steps(run_dir) -> int:
    return load_checkpoint(run_dir / "checkpoints" / "last.ckpt")["ganlab"]["generator_steps"]


def same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[key], b[key]) for key in a)


def signal_mid_run(args: list[str], signum: int, run_dir, after_step: int, env, cwd) -> tuple[int, str]:
    """Start ``ganlab <args>``, send ``signum`` once ``last.ckpt`` is past ``after_step``; its exit code and stderr."""
    process = subprocess.Popen(
        [sys.executable, "-m", "ganlab", *args], cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    last = run_dir / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 300
    while not (last.is_file() and generator_steps(run_dir) > after_step):  # signalled while it keeps checkpointing
        assert process.poll() is None, process.stderr.read().decode()[-3000:]
        assert time.monotonic() < deadline, "no checkpoint within 5 minutes"
        time.sleep(0.2)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=120)
    return process.returncode, stderr.decode()


def test_a_run_stopped_by_sigterm_or_killed_resumes_exactly_and_a_new_run_never_overwrites_it(
    run_ganlab, ganlab_env, compose_train, tmp_path
):
    run_dir = tmp_path / "run"
    last = run_dir / "checkpoints" / "last.ckpt"
    args = ["train", *RUN, "resume=auto", f"hydra.run.dir={run_dir}"]

    code, stderr = signal_mid_run(args, signal.SIGTERM, run_dir, 40, ganlab_env, tmp_path)
    assert code == 2, stderr
    (line,) = stderr.strip().splitlines()
    stopped_at = generator_steps(run_dir)  # the step it was in when the signal came, not the last multiple of 20
    assert f"stopped by a termination signal after generator step {stopped_at}" in line and "resume=auto" in line
    assert json.loads((run_dir / "failed.json").read_text())["generator_steps"] == stopped_at

    code, stderr = signal_mid_run(args, signal.SIGKILL, run_dir, stopped_at + 40, ganlab_env, tmp_path)
    assert code == -signal.SIGKILL, stderr
    killed_at = generator_steps(run_dir)  # the last checkpoint is whole: it loads
    assert stopped_at + 40 < killed_at < 400 and killed_at % 20 == 0
    original_config = (run_dir / ".hydra" / "config.yaml").read_text()

    run_ganlab(*args)  # the same command again, as a requeued cluster job would run it
    assert generator_steps(run_dir) == 400
    assert not (run_dir / "failed.json").exists()  # finished: no longer failed in `ganlab report`
    _, uninterrupted = fit(compose_train(*RUN))
    assert same_weights(load_checkpoint(last)["state_dict"], uninterrupted.state_dict())
    assert (run_dir / ".hydra" / "config.yaml").read_text() == original_config
    assert len(list((run_dir / ".hydra").glob("resumed_*/config.yaml"))) == 2

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


@pytest.mark.parametrize("stop", ["checkpoint-at-epoch-end", "checkpoint-mid-epoch", "sigterm", "sigusr1"])
def test_a_resumed_run_draws_the_same_batches_and_noise_as_the_uninterrupted_run(compose_train, tmp_path, stop):
    # 5 batches an epoch; instance noise, replay-buffer swaps and 2 critic steps all draw random numbers each step.
    cfg = compose_train(
        "generator_steps=12",
        "dataset.datamodule.num_train=500",
        "dataset.datamodule.batch_size=100",
        "tricks=[instance_noise,replay_buffer]",
        "optim.n_critic=2",
    )
    every_step = ModelCheckpoint(dirpath=tmp_path / "all", filename="{step}", every_n_train_steps=3, save_top_k=-1)
    _, uninterrupted = fit(cfg, callbacks=[every_step])
    if stop.startswith("checkpoint"):
        resume_after = 5 if stop.endswith("epoch-end") else 7
        checkpoint = tmp_path / "all" / f"step={3 * resume_after}.ckpt"
    else:
        signum = signal.SIGTERM if stop == "sigterm" else signal.SIGUSR1
        with pytest.raises(SIGTERMException):
            fit(cfg, callbacks=[StopCheckpoint(str(tmp_path)), SignalSelf(at_step=7, signum=signum)])
        checkpoint = tmp_path / "last.ckpt"
        assert load_checkpoint(checkpoint)["ganlab"]["generator_steps"] == 7  # the step the signal came in
        assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL
    _, resumed = fit(cfg, ckpt_path=checkpoint)
    assert resumed.generator_steps == 12
    assert same_weights(resumed.state_dict(), uninterrupted.state_dict())


def test_a_sweep_killed_half_way_and_rerun_gives_one_table_of_every_job(run_ganlab, ganlab_env, tmp_path):
    sweep = tmp_path / "sweep"
    args = ["train", "-m", "seed=1,2,3", *RUN, "generator_steps=100", "final_eval=true", "resume=auto"]
    args.append(f"hydra.sweep.dir={sweep}")
    code, stderr = signal_mid_run(args, signal.SIGKILL, sweep / "1", 20, ganlab_env, tmp_path)
    assert code == -signal.SIGKILL, stderr
    first_job = (sweep / "0" / "metrics.json").read_text()  # done before the kill
    assert not (sweep / "1" / "metrics.json").exists() and not (sweep / "2").exists()

    run_ganlab(*args)  # the same command again
    assert generator_steps(sweep / "1") == 100 and generator_steps(sweep / "2") == 100
    assert (sweep / "0" / "metrics.json").read_text() == first_job  # finished jobs are scored again, not retrained
    rows = list(csv.DictReader(io.StringIO(run_ganlab("report", str(sweep), "--format", "csv").stdout)))
    (row,) = rows  # seeds aggregate into one row of the three jobs
    assert row["n"] == "3", row

    other = [a if a != "seed=1,2,3" else "seed=4,5" for a in args]  # another sweep aimed at the same dir
    refused = run_ganlab(*other, expect=2)
    assert "holds another job" in refused.stderr and generator_steps(sweep / "0") == 100
