"""Sweeps: the cluster launcher configs compose (there is no cluster here), and an Optuna search runs for real."""

from __future__ import annotations

import json

import pytest
import yaml

from ganlab.errors import GanlabError
from ganlab.train import objective

SLURM = ("hydra/launcher=slurm", "trainer=slurm", "hydra.launcher.partition=gpu", "hydra.launcher.nodes=2")


def test_slurm_launcher_and_trainer_compose_into_one_multi_node_ddp_job(run_ganlab):
    gpus = "hydra.launcher.gpus_per_node=4"
    launcher = yaml.safe_load(run_ganlab("train", *SLURM, gpus, "--cfg", "hydra").stdout)["hydra"]["launcher"]
    assert launcher["_target_"].endswith("submitit_launcher.SlurmLauncher")
    assert (launcher["partition"], launcher["nodes"], launcher["gpus_per_node"]) == ("gpu", 2, 4)
    assert launcher["tasks_per_node"] == "${.gpus_per_node}"  # one task per GPU, as Lightning's SLURM support needs
    assert launcher["max_num_timeout"] > 0  # time-outs are requeued
    trainer = yaml.safe_load(run_ganlab("train", *SLURM, gpus, "--cfg", "job", "--resolve").stdout)["trainer"]
    assert (trainer["accelerator"], trainer["devices"], trainer["num_nodes"]) == ("gpu", 4, 2)
    assert trainer["strategy"]["_target_"].endswith("DDPStrategy")
    assert trainer["plugins"] == [
        {"_target_": "lightning.pytorch.plugins.environments.SLURMEnvironment", "auto_requeue": False}
    ]


@pytest.mark.slow
def test_optuna_search_on_ring8_returns_each_jobs_final_reverse_kl(run_ganlab, tmp_path):
    sweep_dir = tmp_path / "search"
    run_ganlab(
        "train",
        "-m",
        "hparams_search=ring8_optuna",
        "hydra.sweeper.n_trials=2",
        "generator_steps=50",
        "logger=none",
        "callbacks.samples.every_n_steps=1000",
        f"hydra.sweep.dir={sweep_dir}",
    )
    found = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    finals = [json.loads((sweep_dir / str(job) / "metrics.json").read_text())["metrics"] for job in (0, 1)]
    assert found["best_value"] == pytest.approx(min(final["reverse_kl"] for final in finals))
    assert set(found["best_params"]) == {"optim.lr", "optim.n_critic", "loss"}


def test_the_objective_is_one_final_value_or_a_clear_error():
    results = {"modes_covered": 7.0, "reverse_kl": 0.2}
    assert objective(results, None) == results
    assert objective(results, "reverse_kl") == 0.2
    with pytest.raises(GanlabError, match=r"optimized_metric=fid is not among .*'modes_covered', 'reverse_kl'"):
        objective(results, "fid")
