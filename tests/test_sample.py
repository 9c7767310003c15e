"""`ganlab sample`: the samples `ganlab eval` scores, as files other tools read (PNG, npz, npy, CSV)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from PIL import Image

from ganlab.config import register_resolvers
from ganlab.evaluate import restore
from ganlab.generative import module_class
from ganlab.metrics.features import image_bytes
from ganlab.metrics.suite import sample_batches
from ganlab.sample import write_npz, write_pngs, write_points


def test_image_bytes_floor_the_unit_range_as_torchmetrics_does():
    images = torch.tensor([-1.0, -0.5, 0.0, 0.999, 1.0, 3.0]).reshape(1, 1, 2, 3)
    # (x + 1) / 2 * 255 = 0, 63.75, 127.5, 254.87, 255, clamped 255: floored, as (x * 255).byte() does
    assert image_bytes(images).flatten().tolist() == [0, 63, 127, 254, 255, 255]


def test_pngs_hold_the_bytes_and_a_conditional_models_labels(tmp_path):
    grey = torch.rand(5, 1, 4, 6) * 2 - 1
    labels = {"label": torch.tensor([0, 1, 2, 0, 1])}
    assert (
        write_pngs([(grey[:3], {"label": labels["label"][:3]}), (grey[3:], {"label": labels["label"][3:]})], tmp_path)
        == 5
    )
    first = Image.open(tmp_path / "000000.png")
    assert first.mode == "L" and first.size == (6, 4)
    assert np.array_equal(np.array(first), image_bytes(grey[:1])[0, 0].numpy())
    rows = list(csv.DictReader((tmp_path / "labels.csv").open()))
    assert [(r["file"], r["label"]) for r in rows] == [(f"00000{i}.png", str(y)) for i, y in enumerate([0, 1, 2, 0, 1])]


def test_npz_is_nhwc_bytes_and_points_are_float_columns(tmp_path):
    rgb = torch.rand(4, 3, 5, 5) * 2 - 1
    assert write_npz([(rgb, {})], tmp_path) == 4
    arrays = np.load(tmp_path / "samples.npz")
    assert arrays["images"].shape == (4, 5, 5, 3) and arrays["images"].dtype == np.uint8 and "labels" not in arrays
    points = torch.tensor([[0.5, -1.0], [2.0, 3.0]])
    write_points([(points, {})], tmp_path, "csv")
    assert (tmp_path / "samples.csv").read_text().splitlines() == ["x,y", "0.5,-1.0", "2.0,3.0"]
    write_points([(points, {})], tmp_path, "npy")
    assert np.array_equal(np.load(tmp_path / "samples.npy"), points.numpy())


def test_a_class_conditional_model_draws_the_classes_in_turn_as_eval_does(compose_train):
    cfg = compose_train("dataset=mnist", "model=dcgan", "model.conditioning=concat", "model.generator.width=8")
    module = module_class(cfg).from_config(cfg)
    given = [g["label"] for _, g in sample_batches(module, None, num_samples=25, batch_size=7, seed=0)]
    assert [len(y) for y in given] == [7, 7, 7, 4]
    assert torch.cat(given).tolist() == [i % 10 for i in range(25)]


@pytest.mark.slow
def test_the_files_are_the_samples_eval_scores(run_ganlab, tiny_mnist_run, tmp_path, shared_dir):
    run_ganlab("sample", f"ckpt={tiny_mnist_run}", "num_samples=7", "batch_size=3", f"out={tmp_path / 'png'}")
    assert sorted(p.name for p in (tmp_path / "png").iterdir()) == [f"{i:06d}.png" for i in range(7)]
    paths = OmegaConf.create({"data_dir": str(shared_dir / "data"), "cache_dir": None, "output_dir": str(tmp_path)})
    register_resolvers()
    _, _, _, module = restore(tiny_mnist_run, paths, "cpu")
    with torch.no_grad():
        scored = torch.cat([fake for fake, _ in sample_batches(module, None, 7, 3, seed=0)])
    written = np.stack([np.array(Image.open(tmp_path / "png" / f"{i:06d}.png")) for i in range(7)])
    assert np.array_equal(written, image_bytes(scored)[:, 0].numpy())

    # another batch size, the same samples
    run_ganlab("sample", f"ckpt={tiny_mnist_run}", "num_samples=7", "format=npz", f"out={tmp_path / 'npz'}")
    assert np.array_equal(np.load(tmp_path / "npz" / "samples.npz")["images"][..., 0], written)

    run_ganlab("sample", f"ckpt={tiny_mnist_run}", "num_samples=6", "real=true", f"out={tmp_path / 'real'}")
    assert len(list((tmp_path / "real").glob("*.png"))) == 6


@pytest.mark.slow
def test_earlier_samples_are_never_overwritten_and_formats_fit_the_data(run_ganlab, tiny_mnist_run, tmp_path):
    out = tmp_path / "samples"
    run_ganlab("sample", f"ckpt={tiny_mnist_run}", "num_samples=2", f"out={out}")
    before = {p: p.stat().st_mtime_ns for p in out.iterdir()}
    err = run_ganlab("sample", f"ckpt={tiny_mnist_run}", "num_samples=2", f"out={out}", expect=2).stderr
    assert err == f"error: out={out} already holds files; give another out=DIR (or remove them) to write new samples\n"
    assert {p: p.stat().st_mtime_ns for p in out.iterdir()} == before
    err = run_ganlab("sample", f"ckpt={tiny_mnist_run}", "format=csv", f"out={tmp_path / 'x'}", expect=2).stderr
    assert "format=csv: this model's samples are images; use format=png or npz" in err


@pytest.mark.slow
def test_torch_fidelity_on_the_exported_pngs_gives_ganlab_evals_fid(
    run_ganlab, tiny_mnist_run, tmp_path, shared_dir, monkeypatch
):
    """The same bytes reach the same Inception: only the FID arithmetic differs (torch-fidelity: scipy's sqrtm)."""
    import torch_fidelity

    monkeypatch.setenv("TORCH_HOME", str(shared_dir / "torch"))  # its weights file is the one torchmetrics reads
    n = ("num_samples=50",)  # the same bytes reach the same network: any count agrees
    run_ganlab("eval", f"ckpt={tiny_mnist_run}", *n, "metrics=[fid]", f"out_dir={tmp_path / 'eval'}", timeout=900)
    ours = json.loads((tmp_path / "eval" / "metrics.json").read_text())["metrics"]["fid"]
    run_ganlab("sample", f"ckpt={tiny_mnist_run}", *n, f"out={tmp_path / 'fake'}")
    run_ganlab("sample", f"ckpt={tiny_mnist_run}", *n, "real=true", f"out={tmp_path / 'real'}")
    theirs = torch_fidelity.calculate_metrics(
        input1=str(tmp_path / "fake"), input2=str(tmp_path / "real"), fid=True, cuda=False, verbose=False
    )["frechet_inception_distance"]
    assert theirs == pytest.approx(ours, rel=0.005)
