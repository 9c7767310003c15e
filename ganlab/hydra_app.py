"""Running a Hydra app as a subcommand (``ganlab train ...``) without breaking Lightning's DDP launch."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import Any

import hydra
from omegaconf import DictConfig

from ganlab.config import config_dir, register_resolvers

_launch_argv: list[str] = []


def run_app(task: Callable[[DictConfig], Any], config_name: str, argv: list[str], command: str) -> None:
    """Run ``task`` as a Hydra app over ``conf/<config_name>.yaml`` with ``argv[2:]`` as Hydra's arguments.

    Hydra reads its arguments from ``sys.argv[1:]``, so the subcommand is taken out while Hydra
    parses; :func:`launch_argv` puts it back for code that re-executes the command line.
    """
    register_resolvers()
    _launch_argv[:] = argv
    app = hydra.main(version_base="1.3", config_path=config_dir(), config_name=config_name)(task)
    sys.argv = [f"{argv[0]} {command}".strip(), *argv[2:]]
    try:
        app()
    finally:
        sys.argv = list(argv)


@contextlib.contextmanager
def launch_argv() -> Iterator[None]:
    """The full command line (``ganlab train ...``) in ``sys.argv`` while Lightning starts DDP workers.

    Lightning re-runs ``sys.argv`` (plus ``hydra.run.dir=...``) for each extra process.
    """
    hydra_argv = sys.argv
    sys.argv = list(_launch_argv) or hydra_argv
    try:
        yield
    finally:
        sys.argv = hydra_argv
