"""End-to-end runs of the real `ganlab` command, checked through the files a user gets."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

pytestmark = pytest.mark.slow


def tensorboard_tags(run_dir: Path) -> dict[str, list[str]]:
    events = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"scalars": 0, "images": 0})
    events.Reload()
    return events.Tags()


def test_top_level_help_lists_commands(ganlab_env):
    script = shutil.which("ganlab", path=str(Path(sys.executable).parent))
    assert script, "the ganlab console script is not installed next to this Python"
    out = subprocess.run([script, "--help"], capture_output=True, text=True, env=ganlab_env, check=True).stdout
    assert "train" in out and "eval" in out


def test_train_help_shows_config_groups(run_ganlab):
    out = run_ganlab("train", "--help").stdout
    for group, option in [("model", "dcgan"), ("loss", "wgan_gp"), ("dataset", "ring8"), ("trainer", "ddp_cpu")]:
        assert group in out and option in out, f"{group}/{option} missing from --help"


def test_cfg_job_prints_composed_config(run_ganlab):
    out = run_ganlab("train", "model=dcgan", "loss=lsgan", "dataset=mnist", "--cfg", "job", "--resolve").stdout
    cfg = yaml.safe_load(out)
    assert cfg["model"]["generator"]["_target_"].endswith("DCGANGenerator")
    assert cfg["model"]["generator"]["resolution"] == 28
    assert cfg["loss"]["_target_"].endswith("LeastSquaresLoss")
    assert cfg["trainer"]["max_steps"] == 2 * cfg["generator_steps"]


def test_ring8_train_then_eval(run_ganlab, tmp_path):
    run_dir = tmp_path / "run"
    run_ganlab(
        "train",
        "generator_steps=300",
        "checkpoint_every=100",
        "callbacks.samples.every_n_steps=100",
        "metrics=[modes,nn1]",
        f"hydra.run.dir={run_dir}",
    )

    saved = yaml.safe_load((run_dir / ".hydra" / "config.yaml").read_text())
    assert saved["dataset"]["name"] == "ring8" and saved["generator_steps"] == 300
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["ganlab"]["generator_steps"] == 300
    assert checkpoint["ganlab"]["discriminator_steps"] == 300
    assert checkpoint["ganlab"]["run"]["choices"]["model"] == "mlp"
    assert sorted(p.name for p in (run_dir / "samples").iterdir()) == [
        "samples.gif",
        "step_000100.png",
        "step_000200.png",
        "step_000300.png",
    ]

    tags = tensorboard_tags(run_dir)
    for scalar in [
        "train/d_loss",
        "train/g_loss",
        "train/D_real",
        "train/D_fake",
        "train/d_grad_norm",
        "train/g_grad_norm",
        "train/lr_generator",
        "train/lr_discriminator",
        "final/modes_covered",
    ]:
        assert scalar in tags["scalars"], f"{scalar} not logged; got {tags['scalars']}"
    assert "samples" in tags["images"]
    events = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"images": 0})
    events.Reload()
    assert [image.step for image in events.Images("samples")] == [100, 200, 300]
    assert max(s.step for s in events.Scalars("train/g_loss")) <= 300

    train_metrics = json.loads((run_dir / "metrics.json").read_text())["metrics"]
    modes = {"modes_covered", "num_modes", "hq_fraction", "reverse_kl"}
    assert set(train_metrics) == modes | {"nn1_accuracy", "nn1_real", "nn1_fake"}

    out = run_ganlab("eval", f"ckpt={run_dir}/checkpoints/last.ckpt").stdout
    eval_dir = run_dir / "checkpoints" / "last_eval"
    report = json.loads((eval_dir / "metrics.json").read_text())
    metrics = report["metrics"]
    assert report["num_samples"] == 2500 and report["generator_steps"] == 300
    assert 0 <= metrics["modes_covered"] <= 8 and metrics["num_modes"] == 8
    assert 0.0 <= metrics["hq_fraction"] <= 1.0
    assert 0.0 <= metrics["reverse_kl"] <= math.log(8) + 1e-9
    assert (eval_dir / "samples.png").stat().st_size > 1000
    assert "modes_covered" in out
    # The run's metrics, and the same seed gives the same samples: training's final evaluation and eval agree.
    assert metrics == pytest.approx(train_metrics)
    # ... and the eval is in the run's TensorBoard, at the checkpoint's step.
    events = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    assert [(s.step, s.value) for s in events.Scalars("eval/nn1_accuracy")] == [
        (300, pytest.approx(metrics["nn1_accuracy"]))
    ]
    assert [image.step for image in events.Images("eval/samples")] == [300]


def test_dcgan_lsgan_on_mnist_then_fid(run_ganlab, tmp_path):
    run_dir = tmp_path / "mnist"
    run_ganlab(
        "train",
        "model=dcgan",
        "loss=lsgan",
        "dataset=mnist",
        "generator_steps=20",
        "model.generator.width=16",
        "model.discriminator.width=16",
        "callbacks.samples.every_n_steps=10",
        f"hydra.run.dir={run_dir}",
    )
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    assert "samples" in tensorboard_tags(run_dir)["images"]

    out_dir = tmp_path / "scores"
    run_ganlab("eval", f"ckpt={run_dir}", "num_samples=24", "batch_size=12", f"out_dir={out_dir}")
    report = json.loads((out_dir / "metrics.json").read_text())
    assert report["num_samples"] == 24
    assert math.isfinite(report["metrics"]["fid"]) and report["metrics"]["fid"] > 0
    assert (out_dir / "samples.png").is_file()


@pytest.mark.parametrize("loss", ["wgan_gp", "ragan"])  # a double backward; D(real) in the G step
def test_ddp_cpu_ranks_end_with_identical_generators(run_ganlab, tmp_path, loss):
    dump = tmp_path / "weights"
    run_ganlab(
        "train",
        "trainer=ddp_cpu",
        f"loss={loss}",
        "generator_steps=30",
        "callbacks=none",
        "logger=none",
        "+callbacks.dump._target_=tests.helpers.DumpGeneratorWeights",
        f"+callbacks.dump.out_dir={dump}",
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    rank0 = torch.load(dump / "rank0.pt", weights_only=True)
    rank1 = torch.load(dump / "rank1.pt", weights_only=True)
    assert rank0.keys() == rank1.keys()
    for name in rank0:
        torch.testing.assert_close(rank0[name], rank1[name], rtol=0, atol=0, msg=f"{name} differs between ranks")


def test_multirun_sweeps_two_jobs(run_ganlab, tmp_path):
    sweep = tmp_path / "sweep"
    run_ganlab("train", "-m", "loss=gan,nsgan", "generator_steps=20", "callbacks=none", f"hydra.sweep.dir={sweep}")
    for job, loss in [("0", "MinimaxLoss"), ("1", "NonSaturatingLoss")]:
        saved = yaml.safe_load((sweep / job / ".hydra" / "config.yaml").read_text())
        assert saved["loss"]["_target_"].endswith(loss)
        assert (sweep / job / "checkpoints" / "last.ckpt").is_file()
        assert (sweep / job / "metrics.json").is_file()
    assert (sweep / "multirun.yaml").is_file()

    table = run_ganlab("report", str(sweep), "--format", "csv", "--sort", "modes_covered").stdout
    header, *rows = table.strip().splitlines()
    assert header.split(",")[0] == "loss" and "modes_covered" in header.split(",")
    assert sorted(row.split(",")[0] for row in rows) == ["gan", "nsgan"]


def test_resume_continues_the_same_run(run_ganlab, tmp_path):
    run_dir = tmp_path / "run"
    run_ganlab(
        "train", "generator_steps=40", "seed=3", "callbacks.samples.every_n_steps=20", f"hydra.run.dir={run_dir}"
    )
    first_config = (run_dir / ".hydra" / "config.yaml").read_text()

    run_ganlab("train", f"ckpt_path={run_dir}/checkpoints/last.ckpt", "generator_steps=70")
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["ganlab"]["generator_steps"] == 70
    assert checkpoint["ganlab"]["run"]["config"]["seed"] == 3  # the run's own config, not the defaults
    assert (run_dir / ".hydra" / "config.yaml").read_text() == first_config
    assert len(list((run_dir / ".hydra").glob("resumed_*/config.yaml"))) == 1
    steps = [s.step for s in EventAccumulator(str(run_dir / "tensorboard")).Reload().Scalars("train/g_loss")]
    assert max(steps) > 40

    err = run_ganlab("train", f"ckpt_path={run_dir}", "model=dcgan", expect=2).stderr
    assert "cannot change model when resuming" in err


def test_a_moved_run_resumes_into_its_own_last_checkpoint(run_ganlab, tmp_path):
    run_ganlab("train", "generator_steps=20", "final_eval=false", f"hydra.run.dir={tmp_path / 'run'}")
    moved = tmp_path / "elsewhere"  # copied to another machine, or renamed
    shutil.move(tmp_path / "run", moved)
    run_ganlab("train", f"ckpt_path={moved}/checkpoints/last.ckpt", "generator_steps=30")
    assert sorted(p.name for p in (moved / "checkpoints").glob("*.ckpt")) == ["last.ckpt"]
    assert torch.load(moved / "checkpoints" / "last.ckpt", weights_only=True)["ganlab"]["generator_steps"] == 30


def test_eval_sample_set_metrics_on_a_ring_checkpoint(run_ganlab, tmp_path):
    run_dir = tmp_path / "ring"
    run_ganlab("train", "generator_steps=100", "final_eval=false", "logger=none", f"hydra.run.dir={run_dir}")
    out_dir = tmp_path / "scores"
    out = run_ganlab(
        "eval", f"ckpt={run_dir}", "metrics=[modes,nn1,precision_recall,density_coverage,kid]", f"out_dir={out_dir}"
    ).stdout
    report = json.loads((out_dir / "metrics.json").read_text())
    assert report["feature_extractor"] == {"_target_": "ganlab.metrics.Flatten"}  # the ring's own feature space
    metrics = report["metrics"]
    expected = {"modes_covered", "nn1_accuracy", "nn1_real", "nn1_fake", "precision", "recall", "density", "coverage"}
    assert expected | {"kid_mean", "kid_std"} <= set(metrics)
    assert 0.5 <= metrics["nn1_accuracy"] <= 1.0 and 0.0 <= metrics["coverage"] <= 1.0
    assert "nn1_accuracy" in out

    failed = run_ganlab(
        "eval", f"ckpt={run_dir}", "metrics=[nn1]", "feature_extractor=inception", f"out_dir={tmp_path / 'x'}", expect=2
    )
    assert "Inception features need images" in failed.stderr and "feature_extractor=pixels" in failed.stderr
