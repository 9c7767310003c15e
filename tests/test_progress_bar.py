"""The run's one progress bar: generator steps of the whole run, rate, time left, losses, and the sweep job."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.slow

QUIET = ("logger=none", "final_eval=false", "callbacks.samples.animation=false", "trainer.log_every_n_steps=5")


def bar_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if "━" in line]


def test_the_bar_counts_generator_steps_over_epochs_and_shows_the_game(run_ganlab):
    # 4 critic steps per batch, 5 batches an epoch: Lightning's own bar counts 5 optimiser steps a batch and
    # restarts every epoch; ganlab's counts the run's generator steps, over 6 epochs
    run = ("generator_steps=30", "optim.n_critic=4", "dataset.datamodule.num_train=500", *QUIET)
    out = run_ganlab("train", *run).stdout
    (line,) = bar_lines(out)
    progress = r"^train .* 30/30 +[\d.]+ steps/s +0:00:\d\d eta 0:00:00 +d_loss \d+\.\d{3} +g_loss -?\d+\.\d{3}"
    assert re.search(progress, line), line
    assert re.search(r"D\(x\) 0\.\d{3} +D\(G\(z\)\) 0\.\d{3}$", line.rstrip())  # nsgan: sigmoid probabilities
    assert "Epoch" not in out


def test_a_resumed_run_counts_on_to_the_runs_total(run_ganlab, tmp_path):
    run_ganlab("train", "generator_steps=20", *QUIET, "hydra.run.dir=run")
    out = run_ganlab("train", f"ckpt_path={tmp_path}/run/checkpoints/last.ckpt", "generator_steps=40").stdout
    assert " 40/40 " in bar_lines(out)[-1]


def test_each_job_of_a_sweep_says_which_of_how_many_it_is(run_ganlab):
    out = run_ganlab("train", "-m", "seed=1,2", "loss=gan,nsgan", "generator_steps=10", *QUIET, "hydra.sweep.dir=sweep")
    assert [line.split()[:2] for line in bar_lines(out.stdout)] == [["job", f"{n}/4"] for n in range(1, 5)]
