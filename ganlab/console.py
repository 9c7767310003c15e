"""What ganlab prints: the config tree at start, result tables at the end, one-line errors."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from rich.console import Console
from rich.table import Table
from rich.tree import Tree

console = Console()
error_console = Console(stderr=True)


def config_tree(cfg: DictConfig, save_to: Path | None = None) -> None:
    """Print the resolved config as a tree (one branch per group) and save the text next to the run."""
    tree = Tree("[bold]config[/bold]")
    container = OmegaConf.to_container(cfg, resolve=True)
    for key, value in container.items():
        if isinstance(value, Mapping):
            tree.add(f"[bold cyan]{key}[/bold cyan]").add(OmegaConf.to_yaml(value).rstrip() or "{}")
        else:
            tree.add(f"[bold cyan]{key}[/bold cyan]: {value}")
    console.print(tree)
    if save_to is not None:
        save_to.parent.mkdir(parents=True, exist_ok=True)
        with save_to.open("w") as handle:
            Console(file=handle, width=120, color_system=None).print(tree)


def results_table(title: str, rows: Mapping[str, Any]) -> None:
    """A two-column table: what, where / value."""
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for name, value in rows.items():
        table.add_row(name, f"{value:.4g}" if isinstance(value, float) else str(value))
    console.print(table)


def print_error(message: str) -> None:
    error_console.print(f"[bold red]error:[/bold red] {message}", highlight=False, soft_wrap=True)
