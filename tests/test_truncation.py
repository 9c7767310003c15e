"""The truncation trick: latents kept near the mode, and an eval sweep over the threshold tabulated by report."""

from __future__ import annotations

import csv
import io
import json

import pytest
import torch

from ganlab.models import MLPGenerator


def test_truncation_keeps_every_latent_entry_inside_the_threshold():
    generator = MLPGenerator(16, [2])
    assert generator.sample_latent(4000, rng=torch.Generator().manual_seed(0)).abs().max() > 3
    generator.truncation = 0.5
    z = generator.sample_latent(4000, rng=torch.Generator().manual_seed(0))
    assert z.abs().max() <= 0.5
    assert z.std() == pytest.approx(0.28, abs=0.02)  # a standard normal truncated to [-0.5, 0.5]


def test_an_eval_sweep_over_truncation_writes_one_folder_per_value_and_report_tabulates_them(
    run_ganlab, tiny_mnist_run, tmp_path
):
    out_dir = tmp_path / "trade_off"
    sweep = ["eval", "-m", f"ckpt={tiny_mnist_run}", "truncation=0.5,2.0", "num_samples=40"]
    run_ganlab(*sweep, "metrics=[nn1]", "feature_extractor=pixels", f"out_dir={out_dir}")
    for value in ("0.5", "2.0"):
        (folder,) = out_dir.glob(f"*truncation={value}")  # named by the swept and set values
        report = json.loads((folder / "metrics.json").read_text())
        assert report["truncation"] == float(value) and 0.0 <= report["metrics"]["nn1_accuracy"] <= 1.0
    rows = list(csv.DictReader(io.StringIO(run_ganlab("report", str(out_dir), "--format", "csv").stdout)))
    assert [row["truncation"] for row in rows] == ["0.5", "2.0"]
