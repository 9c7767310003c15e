"""Lesson ``mode_collapse``: its YAML builds the lesson, and its checks read the table as the page says."""

from __future__ import annotations

from hydra.utils import instantiate

from ganlab.lessons.command import compose_lesson
from ganlab.lessons.mode_collapse import ModeCollapse


def lesson(*overrides: str):
    return instantiate(compose_lesson("mode_collapse", overrides).lesson)


def table(modes: dict[str, tuple[float, float]]) -> dict:
    """The lesson's table from each method's mean modes covered on (ring8, grid25); other columns 0."""
    rows = {}
    for method, per_dataset in modes.items():
        for dataset, covered in zip(("ring8", "grid25"), per_dataset, strict=True):
            rows[method, dataset, "modes_covered"] = (covered, 0.0)
            rows[method, dataset, "hq_fraction"] = rows[method, dataset, "reverse_kl"] = (0.0, 0.0)
    return rows


def test_the_scales_shrink_steps_seeds_and_mixtures():
    default, tiny, full = lesson(), lesson("lesson.scale=tiny"), lesson("lesson.scale=full")
    assert default.baseline == "nsgan" and len(default.methods) == 6
    assert (default.datasets, len(default.seeds)) == (["ring8", "grid25"], 3)
    assert (tiny.datasets, tiny.seeds, tiny.steps) == (["ring8"], [1], 8)
    assert full.steps > default.steps > tiny.steps


def test_a_method_counters_collapse_only_by_covering_more_modes_somewhere_and_fewer_nowhere():
    methods = {name: [] for name in ("nsgan", "better", "level", "trades")}
    study = ModeCollapse(methods, name="mode_collapse", title="", lectures=[], cost="", chapter=4)
    numbers = {"ring8_num_modes": 8.0, "grid25_num_modes": 25.0}
    modes = {"nsgan": (6.0, 25.0), "better": (8.0, 25.0), "level": (6.0, 25.0), "trades": (8.0, 24.0)}
    base, *others = study._checks(table(modes), numbers)
    assert base.holds  # 6 of 8 on the ring: the baseline collapses
    assert [check.holds for check in others] == [True, False, False]
    # a baseline that covers every mode shows no collapse to counter: its check fails, and so do the others'
    full = {name: (8.0, 25.0) for name in modes}
    assert not any(check.holds for check in study._checks(table(full), numbers))
