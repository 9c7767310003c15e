"""``ganlab report``: a sweep directory becomes one table, seeds aggregated, failures listed."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import pytest
import yaml

from ganlab.errors import GanlabError
from ganlab.report import collect, render


def make_job(root: Path, name: str, overrides: list[str], metrics: dict[str, float] | None) -> None:
    job = root / name
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    if metrics is not None:
        (job / "metrics.json").write_text(json.dumps({"num_samples": 2500, "metrics": metrics}))


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    for i, (loss, seed, modes) in enumerate([("gan", 1, 2), ("gan", 2, 4), ("nsgan", 1, 8), ("nsgan", 2, 7)]):
        overrides = [f"loss={loss}", f"seed={seed}", "dataset=ring8"]
        make_job(tmp_path, str(i), overrides, {"modes_covered": modes, "num_modes": 8})
    make_job(tmp_path, "4", ["loss=hinge", "seed=1", "dataset=ring8"], None)
    make_job(tmp_path, "5", ["loss=wgan", "seed=1", "dataset=ring8"], None)
    failure = {"generator_steps": 30, "error": "non-finite discriminator loss at generator step 30"}
    (tmp_path / "5" / "failed.json").write_text(json.dumps(failure))
    return tmp_path


def test_csv_groups_by_swept_keys_and_aggregates_seeds(sweep):
    table = list(csv.DictReader(io.StringIO(render(collect(sweep), fmt="csv"))))
    # dataset was not swept, seed is aggregated
    assert list(table[0]) == ["loss", "modes_covered", "num_modes", "n", "status"]
    by_loss = {row["loss"]: row for row in table}
    assert by_loss["gan"]["modes_covered"] == f"3 ± {math.sqrt(2):.2g}"  # mean 3, sample std sqrt(2)
    assert by_loss["nsgan"]["modes_covered"] == f"7.5 ± {math.sqrt(0.5):.2g}"
    assert by_loss["gan"]["n"] == by_loss["nsgan"]["n"] == "2"
    assert by_loss["hinge"]["status"].startswith("no metrics (unfinished")
    assert by_loss["wgan"]["status"].startswith("failed: non-finite discriminator loss at generator step 30")


def test_sort_by_a_metric(sweep):
    markdown = render(collect(sweep), sort="modes_covered", descending=True, fmt="markdown")
    lines = markdown.splitlines()
    assert lines[0] == "| loss | modes_covered | num_modes | n |"
    assert lines[2].startswith("| nsgan |") and lines[3].startswith("| gan |")
    assert f"{sweep / '4'}: no metrics" in markdown and f"{sweep / '5'}: failed: non-finite" in markdown


def test_unknown_sort_metric_names_the_known_ones(sweep):
    with pytest.raises(GanlabError, match="modes_covered"):
        render(collect(sweep), sort="fid")


def test_directory_without_runs_is_a_clear_error(tmp_path):
    with pytest.raises(GanlabError, match="no ganlab runs"):
        collect(tmp_path)
    with pytest.raises(GanlabError, match="no such directory"):
        collect(tmp_path / "missing")


def test_terminal_table_shows_list_overrides_literally(tmp_path):
    make_job(tmp_path, "0", ["tricks=[]", "seed=1"], {"modes_covered": 7})
    make_job(tmp_path, "1", ["tricks=[ema,r1]", "seed=1"], {"modes_covered": 8})
    table = render(collect(tmp_path), fmt="table")
    assert "[ema,r1]" in table and "[]" in table
