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


def sweep_position() -> tuple[int, int | None] | None:
    """``(job, jobs)``, counted from 1, when this process runs a job of a ``-m`` sweep (else None).

    ``jobs`` is the Optuna sweeper's ``n_trials``, or the product of the sizes of the sweep's
    choices (``loss=gan,nsgan seed=1,2,3``: 6) from the command line and ``hydra.sweeper.params``;
    None where the sweep cannot be counted here (a launcher that runs jobs in other processes).
    """
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException
    from hydra.types import RunMode

    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return None
    hydra_cfg = HydraConfig.get()
    job = int(hydra_cfg.job.num) + 1
    if hydra_cfg.sweeper.get("n_trials"):
        return job, int(hydra_cfg.sweeper.n_trials)
    params = hydra_cfg.sweeper.get("params") or {}
    given = [arg for arg in _launch_argv[2:] if not arg.startswith("-")] + [f"{k}={v}" for k, v in params.items()]
    if not _launch_argv:
        return job, None
    jobs = 1
    try:
        for override in OverridesParser.create().parse_overrides(given):
            if override.is_sweep_override():
                jobs *= len(list(override.sweep_string_iterator()))
    except (HydraException, ValueError, TypeError):
        return job, None
    return job, jobs
