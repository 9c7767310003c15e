"""A lesson's page (``lesson.md``, ``results.json``, its figures) and the lab book of all of them.

``results.json`` holds everything a page shows, so the markdown page and the book's HTML are both rendered
from it: the claim, the commands, the numbers, the checks and the verdict computed from them, the figures'
file names.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ganlab.lessons.base import Lab, Lesson, Result
from ganlab.plotting import save_png


def write_lesson(lesson: Lesson, result: Result, lab: Lab, out_dir: Path) -> dict[str, Any]:
    """Write ``out_dir/{results.json, lesson.md, <figure>.png}``; returns the record in ``results.json``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for stem, image in result.figures.items():
        save_png(image, str(out_dir / f"{stem}.png"))
    record = {
        **lesson.describe(),
        "scale": lesson.scale,
        "commands": lab.commands,
        "numbers": result.numbers,
        "checks": [vars(check) for check in result.checks],
        "verdict": result.verdict,
        "figures": sorted(result.figures),
    }
    (out_dir / "results.json").write_text(json.dumps(record, indent=2))
    (out_dir / "lesson.md").write_text(markdown(record))
    return record


def _number(value: float) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def markdown(record: Mapping[str, Any], figure_prefix: str = "") -> str:
    """The page of one lesson, in markdown; figures are linked as ``<figure_prefix><stem>.png``."""
    lines = [
        f"# {record['title']}",
        "",
        f"*Lesson `{record['name']}`, from lectures {', '.join(record['lectures'])}; scale `{record['scale']}`.*",
        "",
        f"**The claim.** {record['claim']}",
        "",
        f"**Verdict: {record['verdict']}.**",
        "",
        *(f"- {'holds' if c['holds'] else 'fails'}: {c['claim']} Measured: {c['measured']}." for c in record["checks"]),
        "",
        "## Numbers",
        "",
        "| name | value |",
        "| --- | ---: |",
        *(f"| `{name}` | {_number(value)} |" for name, value in record["numbers"].items()),
        "",
        "## Figures",
        "",
        *(f"![{stem}]({figure_prefix}{stem}.png)\n" for stem in record["figures"]),
        "## Commands",
        "",
        "```bash",
        *record["commands"],
        "```",
        "",
    ]
    return "\n".join(lines)


def html_section(record: Mapping[str, Any], folder: Path) -> str:
    """One lesson as an HTML section, its figures embedded as base64 PNGs (the book needs no other file)."""
    checks = "".join(
        f"<li><b>{'holds' if c['holds'] else 'fails'}</b>: {html.escape(c['claim'])} "
        f"Measured: {html.escape(c['measured'])}.</li>"
        for c in record["checks"]
    )
    numbers = "".join(
        f"<tr><td><code>{html.escape(name)}</code></td><td>{_number(value)}</td></tr>"
        for name, value in record["numbers"].items()
    )
    figures = "".join(
        f'<figure><img alt="{stem}" src="data:image/png;base64,'
        f'{base64.b64encode((folder / f"{stem}.png").read_bytes()).decode()}"><figcaption>{stem}</figcaption></figure>'
        for stem in record["figures"]
    )
    commands = html.escape("\n".join(record["commands"]))
    return (
        f'<section id="{record["name"]}"><h2>{html.escape(record["title"])}</h2>'
        f"<p><i>Lesson <code>{record['name']}</code>, lectures {', '.join(record['lectures'])}; "
        f"scale <code>{record['scale']}</code>.</i></p>"
        f"<p><b>The claim.</b> {html.escape(record['claim'])}</p>"
        f"<p><b>Verdict: {record['verdict']}.</b></p><ul>{checks}</ul>"
        f"<table><tr><th>name</th><th>value</th></tr>{numbers}</table>{figures}"
        f"<pre>{commands}</pre></section>"
    )


STYLE = (
    "body{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.4}"
    "img{max-width:100%}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px}"
    "pre{background:#f4f4f4;padding:8px;overflow-x:auto}"
)


def write_book(root: Path, names: Sequence[str]) -> tuple[Path, Path]:
    """``root/index.md`` (a table of the lessons and their verdicts, linking each page) and ``root/index.html``
    (every lesson's page, figures embedded), from the lessons' ``results.json``."""
    records = [(name, json.loads((root / name / "results.json").read_text())) for name in names]
    rows = [
        f"| {number} | [{r['title']}]({name}/lesson.md) | `{name}` | {r['verdict']} |"
        for number, (name, r) in enumerate(records, 1)
    ]
    index_md = root / "index.md"
    header = ["# The ganlab lab book", "", "| | lesson | name | verdict |", "| ---: | --- | --- | --- |"]
    index_md.write_text("\n".join([*header, *rows, ""]))
    contents = "".join(
        f'<li><a href="#{name}">{html.escape(r["title"])}</a>: {r["verdict"]}</li>' for name, r in records
    )
    sections = "".join(html_section(record, root / name) for name, record in records)
    index_html = root / "index.html"
    index_html.write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>The ganlab lab book</title><style>{STYLE}</style>"
        f"</head><body><h1>The ganlab lab book</h1><ol>{contents}</ol>{sections}</body></html>"
    )
    return index_md, index_html
