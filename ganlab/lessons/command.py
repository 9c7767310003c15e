"""``ganlab lesson NAME [overrides]``, ``ganlab lesson all`` and ``ganlab lesson --list``.

A lesson writes ``outputs/lessons/NAME/`` (``paths.log_dir``/lessons): its figures, ``results.json`` and
``lesson.md``. ``all`` runs every lesson, then writes the lab book, ``index.md`` and a self-contained
``index.html``. Overrides set the lesson's config (``lesson.scale=full``, ``out_dir=...``, a lesson's own
knobs as in ``conf/lesson/NAME.yaml``).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import yaml
from omegaconf import DictConfig

from ganlab.errors import GanlabError


def lesson_specs() -> dict[str, dict]:
    """Each lesson's YAML (``conf/lesson/NAME.yaml``) by name, in the lab book's order (their ``chapter``)."""
    from ganlab.config import config_dir

    specs = {path.stem: yaml.safe_load(path.read_text()) for path in (Path(config_dir()) / "lesson").glob("*.yaml")}
    return dict(sorted(specs.items(), key=lambda item: item[1]["chapter"]))


def lesson_names() -> list[str]:
    return list(lesson_specs())


def compose_lesson(name: str, overrides: Sequence[str]) -> DictConfig:
    """``conf/lessons.yaml`` with ``lesson=NAME`` and the user's overrides."""
    from hydra import compose, initialize_config_dir

    from ganlab.config import config_dir, register_resolvers

    if name not in lesson_names():
        raise GanlabError(f"unknown lesson {name!r}: choose one of {', '.join(lesson_names())} (ganlab lesson --list)")
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    register_resolvers()
    try:
        with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
            return compose("lessons", overrides=[f"lesson={name}", *overrides])
    except (HydraException, OmegaConfBaseException) as err:
        first = str(err).strip().splitlines()[0]
        raise GanlabError(f"lesson {name}: {first} (the lesson's settings: conf/lesson/{name}.yaml)") from None


def run_lesson(name: str, overrides: Sequence[str]) -> dict:
    """Run one lesson and write its page; returns its ``results.json`` record."""
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    from ganlab.console import console
    from ganlab.lessons.base import Lab
    from ganlab.lessons.page import write_lesson

    cfg = compose_lesson(name, overrides)
    try:
        lesson = instantiate(cfg.lesson)
    except InstantiationException as err:  # a lesson that refuses its settings says why in a GanlabError
        cause = err.__cause__
        raise (cause if isinstance(cause, GanlabError) else GanlabError(f"lesson {name}: {err}")) from None
    out_dir = Path(cfg.out_dir) / name
    console.print(f"lesson {name}: {lesson.title} ({lesson.cost} at the default scale) -> {out_dir}")
    lab = Lab(out_dir)
    record = write_lesson(lesson, lesson.run(lab), lab, out_dir)
    console.print(f"lesson {name}: {record['verdict']}; {out_dir / 'lesson.md'}", highlight=False)
    return record


def main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(prog="ganlab lesson", description=__doc__.split("\n\n")[0])
    parser.add_argument("name", nargs="?", help="a lesson's name, or all")
    parser.add_argument("overrides", nargs="*", help="config overrides, e.g. lesson.scale=full")
    parser.add_argument("--list", action="store_true", help="show the lessons and their cost")
    args = parser.parse_args(list(argv))
    if args.list or not args.name:
        for name, spec in lesson_specs().items():
            print(f"{spec['chapter']:>2}. {name:24} {spec['cost']:>16}   {spec['title']}")
        return
    if args.name != "all":
        run_lesson(args.name, args.overrides)
        return
    from ganlab.lessons.page import write_book

    for name in lesson_names():
        run_lesson(name, args.overrides)
    root = Path(compose_lesson(lesson_names()[0], args.overrides).out_dir)
    index_md, index_html = write_book(root, lesson_names())
    print(f"lab book: {index_md} and {index_html}")
