"""``logger=[tensorboard,csv,wandb,mlflow]``: one run, the same keys in every logger, pictures where they show."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest

from ganlab.config_checks import check_train_config
from ganlab.errors import GanlabError

#: runs ``ganlab train`` in this process, then reads what W&B (offline) holds of the run: its summary's keys
TRAIN_THEN_READ_WANDB = """
import json, sys
import wandb
from ganlab.cli import main
main(["ganlab", *sys.argv[1:]])
print("WANDB_KEYS=" + json.dumps(sorted(wandb.run.summary.keys())))
wandb.finish()
"""

#: what one logger alone writes: its own step counters, and W&B's media entries
OWN = {"step", "_runtime", "_step", "_timestamp", "trainer/global_step", "samples", "final/samples"}


def tensorboard_tags(log_dir) -> dict[str, set[str]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tags: dict[str, set[str]] = {"scalars": set(), "images": set()}
    for events in log_dir.glob("events.out.tfevents.*"):
        accumulator = EventAccumulator(str(events), size_guidance={"images": 0, "scalars": 0}).Reload()
        for kind in tags:
            tags[kind] |= set(accumulator.Tags()[kind])
    return tags


@pytest.mark.slow
def test_every_logger_gets_the_same_keys_and_the_pictures_where_it_can_show_them(ganlab_env, tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # to read the local store, as ganlab's logger writes it
    env = {**ganlab_env, "WANDB_MODE": "offline", "WANDB_SILENT": "true", "GANLAB_OUTPUT_DIR": str(tmp_path)}
    run = tmp_path / "run"
    args = ["train", "logger=[tensorboard,csv,wandb,mlflow]", "generator_steps=60", "trainer.log_every_n_steps=10"]
    args += ["callbacks.samples.every_n_steps=30", "callbacks.samples.animation=false", f"hydra.run.dir={run}"]
    proc = subprocess.run(
        [sys.executable, "-c", TRAIN_THEN_READ_WANDB, *args], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    wandb_keys = set(json.loads(proc.stdout.split("WANDB_KEYS=")[1].splitlines()[0])) - OWN

    tensorboard = tensorboard_tags(run / "tensorboard")
    with (run / "csv" / "metrics.csv").open() as handle:
        csv_keys = set(next(csv.reader(handle))) - OWN
    client = MlflowClient(tracking_uri=f"file:{tmp_path / 'mlruns'}")
    (mlflow_run,) = client.search_runs([e.experiment_id for e in client.search_experiments()])
    mlflow_keys = set(mlflow_run.data.metrics)

    assert {"train/d_loss", "train/g_loss", "train/D_real_prob", "final/modes_covered"} <= csv_keys
    assert tensorboard["scalars"] - OWN == csv_keys == mlflow_keys == wandb_keys
    assert mlflow_run.data.params["loss"] == "nsgan"  # the HParams of TensorBoard, as MLflow params
    assert "samples" in tensorboard["images"]
    assert {a.path for a in client.list_artifacts(mlflow_run.info.run_id, "samples")} == {
        "samples/step_000030.png",
        "samples/step_000060.png",
    }
    assert "csv" in proc.stdout and "mlflow ui --backend-store-uri" in proc.stdout  # where each one is


def test_a_logger_whose_package_is_missing_names_the_extra(compose_train, monkeypatch):
    from ganlab import config_checks

    monkeypatch.setitem(config_checks.LOGGER_PACKAGES, "csv", ("ganlab_no_such_package", "csv"))
    with pytest.raises(GanlabError, match=r"^logger=csv needs the ganlab_no_such_package package, which is not"):
        check_train_config(compose_train("logger=[csv]"))
    check_train_config(compose_train("logger=[wandb,mlflow]"))  # both installed with ganlab[dev]
