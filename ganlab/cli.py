"""The ``ganlab`` command: ``ganlab train [overrides]``, ``ganlab eval ckpt=PATH [overrides]``,
``ganlab sample ckpt=PATH out=DIR``, ``ganlab translate ckpt=PATH input=DIR output=DIR``, ``ganlab report DIR``,
``ganlab landscape``, ``ganlab doctor RUN_DIR`` and ``ganlab lesson NAME``."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

from omegaconf import DictConfig

from ganlab import __version__

USAGE = f"""ganlab {__version__}: a laboratory for Generative Adversarial Networks

usage: ganlab <command> [hydra overrides and flags]

commands:
  train      train a GAN               ganlab train model=dcgan loss=lsgan dataset=mnist
  eval       score a checkpoint        ganlab eval ckpt=outputs/<date>/<time>/checkpoints/last.ckpt
  sample     write a checkpoint's      ganlab sample ckpt=outputs/<date>/<time> num_samples=10000 out=DIR
             samples as files          (format=png|npz, npy|csv for 2-D data; real=true: the real test images)
  translate  apply an image-to-image   ganlab translate ckpt=outputs/<date>/<time> input=DIR output=DIR
             model to a folder
  report     tabulate (and plot)       ganlab report multirun/<date>/<time> --sort modes_covered --plot
             a sweep
  landscape  every loss's generator    ganlab landscape --out landscape.png
             objective and its slope against D(G(z))
  doctor     diagnose a finished run   ganlab doctor outputs/<date>/<time>
             from its logs (D winning, mode collapse, oscillation, ...)
  lesson     a lecture's demonstration  ganlab lesson minimax; ganlab lesson --list; ganlab lesson all
             run, measured, checked and written up (outputs/lessons/)

train, eval, sample and translate are Hydra apps over conf/: `ganlab train --help` lists the config groups and their
options, `ganlab train --cfg job` prints the composed config, `ganlab train -m loss=gan,nsgan seed=1,2`
runs a sweep. Tab completion in bash: eval "$(ganlab -sc install=bash)"
`ganlab report --help`, `ganlab landscape --help`, `ganlab doctor --help` and `ganlab lesson --help` list their
options.
"""


def _guarded(task: Callable[[DictConfig], Any]) -> Callable[[DictConfig], Any]:
    """Report ganlab's own errors as one line and exit 2; ``traceback=true`` shows the traceback."""

    def run(cfg: DictConfig) -> Any:
        from hydra.errors import InstantiationException
        from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException

        from ganlab.console import print_error
        from ganlab.errors import GanlabError

        try:
            return task(cfg)
        except (GanlabError, InstantiationException, OmegaConfBaseException) as err:
            # A class or resolver that refuses its config raises GanlabError inside Hydra's instantiate
            # or OmegaConf's interpolation, which wrap it.
            cause: BaseException | None = err
            while cause is not None and not isinstance(cause, (GanlabError, MissingMandatoryValue)):
                cause = cause.__cause__ or cause.__context__
            if cfg.get("traceback") or cause is None:
                raise
            if isinstance(cause, MissingMandatoryValue):
                key = cause.full_key or str(cause).split(": ")[-1]
                print_error(f"{key} has no value: give it on the command line, e.g. {key}=...")
            else:
                print_error(str(cause))
            raise SystemExit(2) from None

    run.__name__ = task.__name__
    run.__module__ = task.__module__
    return run


def _train(cfg: DictConfig) -> Any:
    from ganlab.train import objective, train

    return objective(train(cfg), cfg.get("optimized_metric"))


def _eval(cfg: DictConfig) -> Any:
    from ganlab.evaluate import evaluate

    return evaluate(cfg)


def _sample(cfg: DictConfig) -> Any:
    from ganlab.sample import sample

    return sample(cfg)


def _translate(cfg: DictConfig) -> Any:
    from ganlab.translate import translate

    return translate(cfg)


#: the checks (in ganlab.config_checks) a command's composed config passes before Hydra creates its run dir
PREFLIGHT = {"train": "check_train_config", "eval": "check_eval_config", "sample": "check_sample_config"}


COMMANDS: dict[str, tuple[Callable[[DictConfig], Any], str]] = {
    "train": (_train, "train"),
    "eval": (_eval, "eval"),
    "sample": (_sample, "sample"),
    "translate": (_translate, "translate"),
}


# Commands that are no Hydra app: their module's ``main(argv)`` parses its own flags.
PLAIN_COMMANDS = {
    "report": "ganlab.report",
    "landscape": "ganlab.landscape",
    "doctor": "ganlab.doctor",
    "lesson": "ganlab.lessons.command",
}


def _plain_command(command: str, argv: list[str]) -> None:
    import importlib

    from ganlab.console import print_error
    from ganlab.errors import GanlabError

    try:
        importlib.import_module(PLAIN_COMMANDS[command]).main(argv)
    except GanlabError as err:
        print_error(str(err))
        raise SystemExit(2) from None


def _shell_completion(argv: list[str]) -> None:
    """Hydra's shell completion for ``ganlab <command> ...``.

    ``eval "$(ganlab -sc install=bash)"`` installs Hydra's script for the ``ganlab`` program; its
    queries arrive here as ``ganlab -sc query=bash`` with the line in ``COMP_LINE``: the subcommand
    is completed here, and the rest of the line is handed to that subcommand's Hydra app.
    """
    from ganlab.hydra_app import run_app

    line = os.environ.get("COMP_LINE", "")
    words = line.split()
    command = words[1] if len(words) > 1 else ""
    querying = any(arg.startswith("query") for arg in argv[2:])
    if querying and (command not in COMMANDS or (len(words) == 2 and not line.endswith(" "))):
        print(" ".join(name for name in COMMANDS if name.startswith(command)))
        return
    if querying:
        os.environ["COMP_LINE"] = line.replace(f" {command}", "", 1)
        point = int(os.environ.get("COMP_POINT", len(line)))
        os.environ["COMP_POINT"] = str(max(0, point - len(command) - 1))
    else:
        command = "train"  # any app writes the same install script
    task, config_name = COMMANDS[command]
    run_app(_guarded(task), config_name, [argv[0], "", *argv[1:]], command="")


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    command = argv[1] if len(argv) > 1 else None
    if command in ("-sc", "--shell-completion"):
        _shell_completion(argv)
        return
    if command in (None, "-h", "--help", "help"):
        print(USAGE)
        return
    if command in ("-V", "--version"):
        print(__version__)
        return
    if command in PLAIN_COMMANDS:
        _plain_command(command, argv[2:])
        return
    if command not in COMMANDS:
        known = ", ".join([*COMMANDS, *PLAIN_COMMANDS])
        print(
            f"error: unknown command {command!r}; choose one of: {known} (ganlab --help)",
            file=sys.stderr,
        )
        raise SystemExit(2)
    from ganlab.hydra_app import run_app

    task, config_name = COMMANDS[command]
    overrides = argv[2:]
    # flags (--help, --cfg, -m sweeps) are Hydra's; a sweep's jobs check their own configs as they start
    if command in PREFLIGHT and not any(arg.startswith("-") for arg in overrides):
        from ganlab import config_checks
        from ganlab.schema import preflight

        preflight(getattr(config_checks, PREFLIGHT[command]), config_name, overrides)
    run_app(_guarded(task), config_name, argv, command)
