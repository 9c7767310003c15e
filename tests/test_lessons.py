"""Lessons: each runs end to end at a tiny scale and writes a page of its own numbers; the lab book; the maths."""

from __future__ import annotations

import json
import math

import pytest
import torch

from ganlab.lessons.base import Check, Result
from ganlab.lessons.command import lesson_names
from ganlab.lessons.optimal_discriminator import game_value, jensen_shannon
from ganlab.lessons.page import _number


def normal(x: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    return torch.exp(-0.5 * ((x - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))


def test_the_game_value_at_d_star_is_minus_log_4_plus_twice_the_jsd():
    x = torch.linspace(-12, 12, 20001, dtype=torch.float64)
    p, q = normal(x, -1.0, 1.0), normal(x, 1.5, 0.7)
    jsd = jensen_shannon(p, q, x)
    assert 0 < jsd < math.log(2)
    assert game_value(p, q, p / (p + q), x) == pytest.approx(-math.log(4) + 2 * jsd, abs=1e-6)
    # any other D does worse: here a D that is too sure everywhere
    assert game_value(p, q, (p / (p + q)) ** 2, x) < -math.log(4) + 2 * jsd
    assert jensen_shannon(p, p, x) == pytest.approx(0.0, abs=1e-12)
    far = normal(x, 9.0, 0.5)  # (almost) disjoint from p: JSD = log 2
    assert jensen_shannon(normal(x, -9.0, 0.5), far, x) == pytest.approx(math.log(2), abs=1e-6)


def test_a_verdict_is_that_of_the_checks():
    assert Result(checks=[Check("a", "1", True), Check("b", "2", True)]).verdict == "agrees"
    assert Result(checks=[Check("a", "1", True), Check("b", "2", False)]).verdict == "does not agree"
    assert Result().verdict == "does not agree"  # nothing checked is nothing shown


#: the tests that read the tiny book run on one worker (pytest -n 2 --dist loadgroup), which builds it once
ON_THE_BOOKS_WORKER = pytest.mark.xdist_group("tiny_book")


@pytest.fixture(scope="module")
def tiny_book(ganlab_env, tmp_path_factory):
    from tests.conftest import run_cli

    root = tmp_path_factory.mktemp("lessons")
    # 12 lessons of tiny runs: about 4 minutes on an idle machine, over 10 on a loaded one
    run_cli(("lesson", "all", "lesson.scale=tiny", f"out_dir={root}"), ganlab_env, root, timeout=1800)
    return root


@ON_THE_BOOKS_WORKER
@pytest.mark.slow
@pytest.mark.parametrize("name", lesson_names())
def test_each_lesson_writes_its_figures_and_a_page_of_its_own_numbers(tiny_book, name):
    folder = tiny_book / name
    record = json.loads((folder / "results.json").read_text())
    assert record["figures"] and all((folder / f"{stem}.png").is_file() for stem in record["figures"])
    page = (folder / "lesson.md").read_text()
    for key, value in record["numbers"].items():
        assert f"| `{key}` | {_number(value)} |" in page
    assert record["verdict"] == ("agrees" if all(c["holds"] for c in record["checks"]) else "does not agree")
    assert f"**Verdict: {record['verdict']}.**" in page
    # the exact commands a reader can rerun: the lesson's runs, and the evaluations some lessons add
    commands = record["commands"]
    assert any(c.startswith("ganlab train ") for c in commands)
    assert all(c.startswith(("ganlab train ", "ganlab eval ")) for c in commands)


@ON_THE_BOOKS_WORKER
@pytest.mark.slow
def test_the_lab_book_lists_every_lesson_and_embeds_its_figures(tiny_book):
    index = (tiny_book / "index.md").read_text()
    html = (tiny_book / "index.html").read_text()
    for name in lesson_names():
        record = json.loads((tiny_book / name / "results.json").read_text())
        assert f"({name}/lesson.md)" in index and record["verdict"] in index
        assert f'<section id="{name}">' in html
    figures = sum(len(json.loads((tiny_book / n / "results.json").read_text())["figures"]) for n in lesson_names())
    assert html.count('src="data:image/png;base64,') == figures


@ON_THE_BOOKS_WORKER
@pytest.mark.slow
def test_a_rerun_lesson_reuses_its_finished_runs_and_other_settings_make_new_ones(run_ganlab, tiny_book):
    runs = tiny_book / "optimal_discriminator" / "runs"
    before = {p: p.stat().st_mtime for p in runs.rglob("last.ckpt")}
    run_ganlab("lesson", "optimal_discriminator", "lesson.scale=tiny", f"out_dir={tiny_book}")
    assert {p: p.stat().st_mtime for p in runs.rglob("last.ckpt")} == before
    run_ganlab("lesson", "optimal_discriminator", "lesson.scale=tiny", "lesson.mean=0.8", f"out_dir={tiny_book}")
    assert len(list(runs.rglob("last.ckpt"))) == len(before) + 1
    record = json.loads((tiny_book / "optimal_discriminator" / "results.json").read_text())
    assert any("model.generator.mean=0.8" in command for command in record["commands"])


@pytest.mark.parametrize(
    ("args", "message"),
    [(("nope",), "unknown lesson 'nope'"), (("minimax", "lesson.scale=huge"), "lesson.scale='huge'")],
)
def test_bad_lessons_are_refused_in_one_line(run_ganlab, args, message):
    result = run_ganlab("lesson", *args, expect=2)
    assert message in result.stderr and "Traceback" not in result.stderr


def test_the_list_shows_every_lesson_with_its_cost_in_the_curriculum_order(run_ganlab):
    lines = run_ganlab("lesson", "--list").stdout.splitlines()
    assert [line.split()[1] for line in lines] == lesson_names()
    assert lesson_names()[:3] == ["minimax", "optimal_discriminator", "divergences"]  # issue #21's order
    assert lines[0].startswith(" 1. minimax") and all("minute" in line for line in lines)


@pytest.mark.slow
def test_the_optimal_discriminator_lesson_agrees_at_the_default_scale(run_ganlab, tmp_path):
    run_ganlab("lesson", "optimal_discriminator", f"out_dir={tmp_path}")
    record = json.loads((tmp_path / "optimal_discriminator" / "results.json").read_text())
    assert all(check["holds"] for check in record["checks"]), record["checks"]


def test_the_exact_reverse_kl_seeks_a_mode_and_the_forward_kl_covers_both_at_the_default_scale():
    from ganlab.data.toy1d import GaussianMixture1D
    from ganlab.lessons.divergences import exact_fit

    # the divergences lesson's target (conf/dataset/bimodal1d.yaml), start and default steps
    target = GaussianMixture1D(means=[-2.0, 2.0], stds=[0.5, 0.5], weights=[0.7, 0.3])
    mu, sigma = exact_fit(target, "reverse_kl", steps=2000)
    assert abs(mu - -2.0) < 0.5 and sigma < 1.0  # the heavier mode, narrower than the start
    mu, sigma = exact_fit(target, "kl", steps=2000)
    target_std = math.sqrt(0.5**2 + 2.0**2 - (0.7 * -2.0 + 0.3 * 2.0) ** 2)  # 1.9
    assert sigma > 0.8 * target_std  # covers both modes
