"""``ganlab report DIR``: one table for a whole sweep, seeds aggregated.

Every job of a Hydra multirun directory has ``.hydra/overrides.yaml`` (what was swept) and, when its
final evaluation ran, ``metrics.json``. Jobs are grouped by the swept overrides other than the seed;
each metric is shown as mean ± sample standard deviation over the group's seeds, with ``n``. Jobs
without metrics are listed below the table with their status, never silently dropped: failed (a
non-finite loss; ``failed.json`` says at which step), or killed, still running, or run with
``final_eval=false``.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ganlab.console import console
from ganlab.errors import GanlabError

AGGREGATED = ("seed",)


@dataclass
class Job:
    """One run of a sweep: its directory, its command-line overrides and its final metrics."""

    path: Path
    overrides: dict[str, str]
    metrics: dict[str, float] | None
    #: why the run stopped, from its ``failed.json`` (``ganlab train`` writes it on a non-finite loss)
    failure: str | None = None

    @property
    def status(self) -> str:
        if self.metrics is not None:
            return "ok"
        return f"failed: {self.failure}" if self.failure else "no metrics (unfinished, killed, or final_eval=false)"


@dataclass
class Group:
    """The jobs that share every swept override except the seed."""

    settings: dict[str, str]
    metrics: dict[str, list[float]] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return max((len(values) for values in self.metrics.values()), default=0)


def _parse_overrides(lines: list[str]) -> dict[str, str]:
    overrides = {}
    for line in lines:
        key, _, value = str(line).partition("=")
        overrides[key.lstrip("+~")] = value
    return overrides


def collect(sweep_dir: Path) -> list[Job]:
    """Every job under ``sweep_dir`` (a multirun directory, or one run directory)."""
    if not sweep_dir.is_dir():
        raise GanlabError(f"no such directory: {sweep_dir} (give a multirun directory, e.g. multirun/<date>/<time>)")
    jobs = []
    for overrides_file in sorted(sweep_dir.rglob(".hydra/overrides.yaml")):
        job_dir = overrides_file.parent.parent
        try:
            overrides = _parse_overrides(yaml.safe_load(overrides_file.read_text()) or [])
        except yaml.YAMLError as err:
            raise GanlabError(
                f"unreadable {overrides_file}: {err}; delete that job directory or fix the file"
            ) from None
        metrics_file = job_dir / "metrics.json"
        metrics = None
        if metrics_file.is_file():
            try:
                metrics = {k: float(v) for k, v in json.loads(metrics_file.read_text())["metrics"].items()}
            except (ValueError, KeyError, TypeError):
                metrics = None
        jobs.append(Job(job_dir, overrides, metrics, _failure(job_dir / "failed.json")))
    if not jobs:
        raise GanlabError(
            f"no ganlab runs under {sweep_dir}: expected <job>/.hydra/overrides.yaml (ganlab train -m ...)"
        )
    return jobs


def _failure(failed_file: Path) -> str | None:
    if not failed_file.is_file():
        return None
    try:
        return str(json.loads(failed_file.read_text())["error"])
    except (ValueError, KeyError, TypeError):
        return f"unreadable {failed_file.name}"


def swept_keys(jobs: Sequence[Job]) -> list[str]:
    """Override keys whose value differs between jobs, in the order they were given."""
    keys: list[str] = []
    for job in jobs:
        keys += [key for key in job.overrides if key not in keys]
    return [key for key in keys if len({job.overrides.get(key) for job in jobs}) > 1 and key not in AGGREGATED]


def group(jobs: Sequence[Job], keys: Sequence[str]) -> list[Group]:
    """Groups of finished jobs by the values of ``keys``, in order of first appearance."""
    groups: dict[tuple[str, ...], Group] = {}
    for job in jobs:
        if job.metrics is None:
            continue
        settings = {key: job.overrides.get(key, "") for key in keys}
        entry = groups.setdefault(tuple(settings.values()), Group(settings))
        for name, value in job.metrics.items():
            entry.metrics.setdefault(name, []).append(value)
    return list(groups.values())


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def _cell(values: Sequence[float] | None) -> str:
    if not values:
        return "-"
    mean, std = mean_std(values)
    return f"{mean:.3g} ± {std:.2g}" if len(values) > 1 else f"{mean:.3g}"


def sort_groups(groups: list[Group], metric: str | None, descending: bool) -> list[Group]:
    if metric is None:
        return groups
    known = {name for entry in groups for name in entry.metrics}
    if metric not in known:
        raise GanlabError(f"unknown metric {metric!r} to sort by: the runs have {', '.join(sorted(known)) or 'none'}")

    def key(entry: Group) -> float:
        values = entry.metrics.get(metric)
        return mean_std(values)[0] if values else math.nan

    ordered = sorted((g for g in groups if g.metrics.get(metric)), key=key, reverse=descending)
    return ordered + [g for g in groups if not g.metrics.get(metric)]


def rows(groups: Sequence[Group], keys: Sequence[str], metrics: Sequence[str]) -> list[list[str]]:
    return [
        [entry.settings[k] for k in keys] + [_cell(entry.metrics.get(m)) for m in metrics] + [str(entry.n)]
        for entry in groups
    ]


def render(jobs: Sequence[Job], sort: str | None = None, descending: bool = False, fmt: str = "table") -> str:
    """The report as text: ``table`` (rich, for the terminal), ``markdown`` or ``csv``."""
    keys = swept_keys(jobs)
    groups = sort_groups(group(jobs, keys), sort, descending)
    metrics = sorted({name for entry in groups for name in entry.metrics})
    header = [*keys, *metrics, "n"]
    body = rows(groups, keys, metrics)
    missing = [job for job in jobs if job.metrics is None]
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([*header, "status"])
        writer.writerows([*row, "ok"] for row in body)
        for job in missing:
            blanks = [""] * len(metrics)
            writer.writerow([job.overrides.get(k, "") for k in keys] + blanks + ["0", f"{job.status}: {job.path}"])
        return buffer.getvalue()
    if fmt == "markdown":
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in body]
        lines += [f"\n{job.path}: {job.status}" for job in missing]
        return "\n".join(lines) + "\n"
    table = Table(title=f"ganlab report: {len(jobs)} jobs, mean ± std over seeds", title_justify="left")
    for name in header:
        table.add_column(escape(name), justify="left" if name in keys else "right")
    for row in body:
        table.add_row(*(escape(cell) for cell in row))  # override values like [ema] are not markup
    # Wide enough for a sweep's columns when written to a file or a pipe; the terminal's width otherwise.
    buffer = io.StringIO()
    out = Console(file=buffer, width=console.width if console.is_terminal else 160, force_terminal=console.is_terminal)
    out.print(table)
    for job in missing:
        colour = "red" if job.failure else "yellow"
        out.print(f"{escape(str(job.path))}: [{colour}]{escape(job.status)}[/{colour}]", highlight=False)
    return buffer.getvalue()


def main(argv: Sequence[str]) -> None:
    """``ganlab report DIR [--sort METRIC] [--descending] [--format table|markdown|csv] [--output FILE]``
    ``[--plot [PNG]]``."""
    parser = argparse.ArgumentParser(prog="ganlab report", description=__doc__.split("\n\n")[0])
    parser.add_argument("sweep_dir", type=Path, help="a multirun directory (or a single run)")
    parser.add_argument("--sort", help="metric to sort the rows by, e.g. modes_covered or fid")
    parser.add_argument("--descending", action="store_true", help="largest first")
    parser.add_argument("--format", choices=("table", "markdown", "csv"), default="table")
    parser.add_argument("--output", type=Path, help="write the report to this file instead of the terminal")
    parser.add_argument(
        "--plot",
        nargs="?",
        const="",
        metavar="PNG",
        help="also draw each metric per setting (mean ± std over seeds; a curve along a swept number) into PNG "
        "(default: DIR/report.png)",
    )
    args = parser.parse_args(list(argv))
    jobs = collect(args.sweep_dir)
    text = render(jobs, args.sort, args.descending, args.format)
    if args.output is not None:
        args.output.write_text(text)
        console.print(f"wrote {args.output}", highlight=False)
    else:
        print(text, end="")
    if args.plot is not None:
        from ganlab.report_plot import plot_report

        plot = Path(args.plot) if args.plot else args.sweep_dir / "report.png"
        console.print(f"wrote {plot_report(jobs, plot)}", highlight=False)
