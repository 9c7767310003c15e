"""``ganlab report DIR --plot``: each final metric of a sweep per setting, mean ± std over seeds, as one PNG.

A sweep over one numeric value (``optim.lr=1e-4,3e-4,1e-3``, ``truncation=0.5,0.7,1.0``,
``generator_steps=...``) is drawn as a curve against it, one line per setting of the other swept keys
(a log axis where the values span more than a decade); any other sweep as bars, one per setting.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ganlab.errors import GanlabError
from ganlab.report import Group, Job, group, mean_std, swept_keys

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: subplots per row of the figure
COLUMNS = 3


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def numeric_key(groups: Sequence[Group], keys: Sequence[str]) -> str | None:
    """The swept key whose values are all numbers (at least 2 of them), if there is exactly one such key."""
    numeric = [
        key
        for key in keys
        if all(_number(g.settings[key]) is not None for g in groups) and len({g.settings[key] for g in groups}) > 1
    ]
    return numeric[0] if len(numeric) == 1 else None


def plot_report(jobs: Sequence[Job], path: Path) -> Path:
    """Draw every final metric of the finished ``jobs`` into the PNG ``path``; return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    report_figure(jobs).savefig(path, dpi=110)
    return path


def varying_metrics(groups: Sequence[Group]) -> list[str]:
    """The metrics worth a plot: those whose value differs somewhere (not a dataset's ``num_modes``), else all."""
    metrics = sorted({name for entry in groups for name in entry.metrics})
    varying = [m for m in metrics if len({v for entry in groups for v in entry.metrics.get(m, [])}) > 1]
    return varying or metrics


def report_figure(jobs: Sequence[Job]) -> Figure:
    """One subplot per metric: bars per setting, or curves along the one swept number."""
    from matplotlib.figure import Figure

    keys = swept_keys(jobs)
    groups = group(jobs, keys)
    metrics = varying_metrics(groups)
    if not metrics:
        raise GanlabError("no finished job has metrics to plot (final_eval=false, or every job failed)")
    along = numeric_key(groups, keys)
    rows = math.ceil(len(metrics) / COLUMNS)
    columns = min(COLUMNS, len(metrics))
    fig = Figure(figsize=(4.8 * columns, 3.6 * rows), layout="constrained")
    seeds = max(entry.n for entry in groups)
    fig.suptitle(f"{len(jobs)} jobs, mean ± std over seeds (up to {seeds} per setting)")
    for index, metric in enumerate(metrics):
        ax = fig.add_subplot(rows, columns, index + 1)
        if along is None:
            _bars(ax, groups, keys, metric)
        else:
            _curves(ax, groups, keys, along, metric)
        ax.set_title(metric)
        ax.grid(alpha=0.3)
    return fig


def _label(settings: dict[str, str], keys: Sequence[str]) -> str:
    return ", ".join(f"{key}={settings[key]}" for key in keys) or "all jobs"


def _bars(ax, groups: Sequence[Group], keys: Sequence[str], metric: str) -> None:
    shown = [g for g in groups if g.metrics.get(metric)]
    stats = [mean_std(g.metrics[metric]) for g in shown]
    positions = range(len(shown))
    ax.bar(positions, [m for m, _ in stats], yerr=[s for _, s in stats], capsize=4, color="tab:blue", alpha=0.8)
    ax.set_xticks(list(positions), [_label(g.settings, keys) for g in shown], rotation=30, ha="right", fontsize=8)


def _curves(ax, groups: Sequence[Group], keys: Sequence[str], along: str, metric: str) -> None:
    others = [key for key in keys if key != along]
    lines: dict[str, list[tuple[float, float, float]]] = {}
    for entry in groups:
        if entry.metrics.get(metric):
            mean, std = mean_std(entry.metrics[metric])
            lines.setdefault(_label(entry.settings, others), []).append((float(entry.settings[along]), mean, std))
    for label, points in lines.items():
        xs, means, stds = zip(*sorted(points), strict=True)
        ax.errorbar(xs, means, yerr=stds, marker="o", capsize=4, label=label)
    values = [x for points in lines.values() for x, _, _ in points]
    if min(values) > 0 and max(values) / min(values) > 10:
        ax.set_xscale("log")
    ax.set_xlabel(along)
    if len(lines) > 1:
        ax.legend(fontsize=8)
