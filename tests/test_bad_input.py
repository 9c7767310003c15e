"""Bad input gets one clear line, a non-zero exit, no traceback, and leaves earlier results alone."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.slow


def assert_one_clear_line(stderr: str, *fragments: str) -> None:
    assert "Traceback" not in stderr, stderr
    for fragment in fragments:
        assert fragment in stderr, f"{fragment!r} not in: {stderr}"


def test_unknown_model_lists_the_options(run_ganlab):
    err = run_ganlab("train", "model=nope", expect=1).stderr
    assert_one_clear_line(err, "model/nope", "dcgan", "mlp")


def test_report_of_a_directory_without_runs(run_ganlab, tmp_path):
    err = run_ganlab("report", str(tmp_path), expect=2).stderr
    assert_one_clear_line(err, "no ganlab runs", "ganlab train -m")


def test_unknown_ragan_variant_lists_the_options(run_ganlab):
    err = run_ganlab("train", "loss=ragan", "loss.variant=wgan", "generator_steps=1", expect=2).stderr
    assert_one_clear_line(err, "loss.variant=wgan: must be one of nsgan, lsgan, hinge")


def test_eval_without_checkpoint_file(run_ganlab, tmp_path):
    err = run_ganlab("eval", f"ckpt={tmp_path}/missing.ckpt", expect=2).stderr
    assert_one_clear_line(err, "checkpoint not found", "missing.ckpt")


class RunsCodeWhenUnpickled:
    """What a tampered checkpoint could hold: unpickling it with weights_only=False would create ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize(
    ("command", "damage"), [("eval", "garbage"), ("eval", "truncated"), ("eval", "tampered"), ("train", "tampered")]
)
def test_a_damaged_checkpoint_is_one_clear_line_and_never_runs_code(run_ganlab, tmp_path, command, damage):
    ckpt, marker = tmp_path / "broken.ckpt", tmp_path / "code_ran"
    if damage == "garbage":
        ckpt.write_bytes(b"this is not a checkpoint\n" * 10)
    elif damage == "truncated":
        torch.save({"state_dict": {"w": torch.zeros(1000)}, "ganlab": {"run": {}}}, ckpt)
        ckpt.write_bytes(ckpt.read_bytes()[:500])
    else:
        torch.save({"state_dict": {}, "ganlab": {"run": {}}, "extra": RunsCodeWhenUnpickled(marker)}, ckpt)
    argument = f"ckpt={ckpt}" if command == "eval" else f"ckpt_path={ckpt}"
    err = run_ganlab(command, argument, expect=2).stderr
    assert_one_clear_line(err, "cannot read checkpoint", "broken.ckpt")
    assert ckpt.exists() and not marker.exists()


def test_missing_dataset_offline_names_the_folder_and_fix(run_ganlab, tmp_path):
    empty = tmp_path / "no-data"
    err = run_ganlab(
        "train",
        "dataset=fashion_mnist",
        "dataset.download=false",
        f"paths.data_dir={empty}",
        f"hydra.run.dir={tmp_path / 'run'}",
        expect=2,
    ).stderr
    assert_one_clear_line(err, "fashion_mnist not found", str(empty), "GANLAB_DATA_DIR")


def test_traceback_flag_shows_the_traceback(run_ganlab, tmp_path):
    err = run_ganlab("eval", f"ckpt={tmp_path}/missing.ckpt", "traceback=true", expect=1).stderr
    assert "Traceback" in err and "GanlabError" in err
