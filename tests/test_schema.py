"""Every bad value is refused in one line, exit 2, before Hydra writes anything (issue #22)."""

from __future__ import annotations

import copy
import math
import re
from pathlib import Path
from typing import Any

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

from ganlab.cli import main
from ganlab.config import config_dir, register_resolvers
from ganlab.config_checks import EVAL_KEYS, SAMPLE_KEYS, TRAIN_KEYS, check_train_config
from ganlab.errors import GanlabError
from ganlab.schema import (
    Allowed,
    AtLeast,
    Decay,
    NonNegative,
    OneOf,
    Positive,
    Probability,
    parameter_rules,
    target_arguments,
)


@pytest.mark.parametrize(
    ("rule", "described", "accepted", "refused"),
    [
        (Positive, "a number > 0", [1e-4, 3, 2.5], [0, -1, "abc", True, None, math.nan]),
        (NonNegative, "a number >= 0", [0, 0.0, 7], [-1e-9, "0.1", False]),
        (Probability, "a number in [0, 1]", [0, 1, 0.5], [-0.1, 1.01]),
        (Decay, "a number in [0, 1)", [0, 0.999], [1, 1.0, -0.5]),
        (AtLeast(1), "an integer >= 1", [1, 10_000], [0, -5, 1.5, "3", True]),
        (AtLeast(0, nullable=True), "an integer >= 0, or null", [0, None], [-1]),
        (Positive(nullable=True), "a number > 0, or null", [None, 0.1], [0]),
        (OneOf("r1", "r2"), "one of r1, r2", ["r1"], ["r3", 1, None]),
        (Allowed("bool"), "true or false", [True, False], [1, "yes", None]),
    ],
)
def test_a_rule_says_what_it_allows_and_holds_to_it(rule, described, accepted, refused):
    assert rule.describe() == described
    assert all(rule.accepts(value) for value in accepted)
    assert not any(rule.accepts(value) for value in refused)


def test_a_class_declares_its_rules_in_its_signature():
    assert parameter_rules("ganlab.data.toy2d.Ring") == {
        "num_modes": AtLeast(1),
        "radius": Positive,
        "std": Positive,
    }
    assert parameter_rules("ganlab.tricks.ReplayBuffer") == {"size": AtLeast(1), "replay_probability": Probability}
    # a choice whose names are the owner's own table
    assert parameter_rules("ganlab.tricks.InstanceNoise")["schedule"] == OneOf("linear", "constant")
    assert parameter_rules("torch.optim.Adam") == {}  # other packages' arguments: TRAIN_KEYS names them


def test_a_value_set_through_an_interpolation_is_named_by_the_key_the_user_sets(compose_train):
    cfg = compose_train("model=dcgan", "dataset=mnist", "model.latent_dim=0")
    assert cfg.model.generator.latent_dim == 0  # ${model.latent_dim}
    with pytest.raises(GanlabError, match=r"^model.latent_dim=0: must be an integer >= 1$"):
        check_train_config(cfg)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["tricks=[packing]", "dataset.datamodule.batch_size=101"],
            "dataset.datamodule.batch_size=101: must be a multiple of tricks.packing.m=2 (e.g. 100)",
        ),
        (["trainer.accumulate_grad_batches=4"], "trainer.accumulate_grad_batches=4: ganlab steps G and D itself"),
        (["trainer.max_time=10min"], "trainer.max_time=10min: must be DD:HH:MM:SS"),
        (["optim.betas=[0.5,1.0]"], "optim.betas.1=1.0: must be a number in [0, 1)"),
    ],
)
def test_settings_that_need_more_than_a_range_are_refused(compose_train, overrides, message):
    with pytest.raises(GanlabError, match="^" + re.escape(message)):
        check_train_config(compose_train(*overrides))


def bad_values(rule: Allowed) -> list[Any]:
    """A wrong type, and every side of the range: negative, zero, non-integer, above the top."""
    if rule.kind == "bool":
        return ["maybe"]
    if rule.kind == "choice":
        return ["nonsense"]
    values: list[Any] = ["abc"]
    if rule.kind == "integer":
        values.append(0.5 if rule.low is None else rule.low + 0.5)
    if rule.low is not None:
        values += [rule.low, rule.low - 1] if rule.low_open else [rule.low - 1]
    if rule.high is not None:
        values += [rule.high] if rule.high_open else [rule.high + 1]
    return values


#: the ``ganlab train`` config groups whose options are walked
WALKED_GROUPS = ("model", "loss", "dataset", "optim", "tricks", "trainer", "callbacks", "metrics")
#: what an option needs beside it to make a run (a VAE's optimiser trains a VAE only)
COMPANIONS = {("optim", "vae"): ["model=vae"]}


def group_options() -> list[tuple[str, str]]:
    root = Path(config_dir())
    return [(group, path.stem) for group in WALKED_GROUPS for path in sorted((root / group).glob("*.yaml"))]


def choose(group: str, option: str) -> list[str]:
    chosen = f"{group}=[{option}]" if group in ("tricks", "metrics") else f"{group}={option}"
    return [chosen, *COMPANIONS.get((group, option), [])]


def documented_keys(cfg: DictConfig, group: str) -> dict[str, Allowed]:
    """``{key: rule}`` of the group's keys a user sets: its classes' arguments, and ganlab train's own keys."""
    keys = {key: rule for key, _, rule in target_arguments(cfg) if key.startswith(f"{group}.")}
    for key, rule in TRAIN_KEYS.items():
        entry = key.rsplit(".", 1)[0] if key[-1].isdigit() else key  # optim.betas.1: the list optim.betas
        if key.startswith(f"{group}.") and OmegaConf.select(cfg, entry, throw_on_resolution_failure=False) is not None:
            keys[key] = rule
    return keys


def with_value(cfg: DictConfig, key: str, value: Any) -> tuple[DictConfig, str]:
    """A copy of ``cfg`` with ``key`` set to ``value``, and the command-line override that sets it."""
    changed = copy.deepcopy(cfg)
    parent, _, last = key.rpartition(".")
    if last.isdigit():  # a list entry (optim.betas.1) is given as the whole list
        entries = OmegaConf.select(changed, parent)
        entries[int(last)] = value
        return changed, f"{parent}=[{','.join(map(str, entries))}]"
    OmegaConf.update(changed, key, value)
    return changed, f"{key}={value}"


@pytest.fixture(scope="module")
def existing_run(ganlab_env, tmp_path_factory) -> tuple[Path, dict[Path, int]]:
    """A run dir holding a finished run, and the modification time of each file in it."""
    from tests.conftest import run_cli

    root = tmp_path_factory.mktemp("existing")
    run = ("train", "generator_steps=2", "logger=none", "final_eval=false", f"hydra.run.dir={root}/run")
    run_cli(run, ganlab_env, root)
    return root / "run", {path: path.stat().st_mtime_ns for path in (root / "run").rglob("*")}


#: the keys (with their rules) already tried through the CLI: options share many (every dataset's batch size)
THROUGH_THE_CLI: set[tuple[str, Allowed]] = set()


@pytest.mark.parametrize(("group", "option"), group_options())
def test_every_bad_value_of_every_documented_key_is_one_line_and_exit_2(existing_run, capsys, group, option):
    """Each bad value against the checks; one of each key's (in turn) through the real CLI, in process.

    The CLI composes the config itself (about 0.2 s a call), so a key shared by several options goes through it once.
    """
    run_dir, before = existing_run
    register_resolvers()
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose("train", overrides=choose(group, option))
    check_train_config(cfg)  # the option as shipped passes
    keys = documented_keys(cfg, group)
    tried = 0
    for turn, (key, rule) in enumerate(keys.items()):
        values = bad_values(rule)
        for value in values:
            changed, override = with_value(cfg, key, value)
            with pytest.raises(GanlabError, match=rf"^{re.escape(key)}=.*: must be {re.escape(rule.describe())}$"):
                check_train_config(changed)
            tried += 1
        if (key, rule) in THROUGH_THE_CLI:
            continue
        THROUGH_THE_CLI.add((key, rule))
        _, override = with_value(cfg, key, values[turn % len(values)])
        with pytest.raises(SystemExit) as stopped:
            main(["ganlab", "train", *choose(group, option), override, f"hydra.run.dir={run_dir}"])
        out, err = capsys.readouterr()
        assert stopped.value.code == 2 and out == "", (override, out, err)
        assert err.startswith(f"error: {key}=") and err.count("\n") == 1 and "Traceback" not in err, (override, err)
    assert {path: path.stat().st_mtime_ns for path in run_dir.rglob("*")} == before
    with capsys.disabled():
        print(f"\n{group}={option}: {len(keys)} keys, {tried} bad values")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("command", "message"),
    [
        (("train", "optim.lr=-1"), "optim.lr=-1: must be a number > 0"),
        (
            ("train", "model=dcgan", "dataset=mnist", "model.latent_dim=0"),
            "model.latent_dim=0: must be an integer >= 1",
        ),
        (("train", "seed=abc"), "seed=abc: must be an integer"),
        (("train", "generator_steps=-5"), "generator_steps=-5: must be an integer >= 1"),
        (("eval", "num_samples=0", "metrics=[fid]"), "num_samples=0: must be an integer >= 1, or null"),
    ],
)
def test_the_issues_commands_stop_in_one_line_and_leave_the_run_alone(run_ganlab, tiny_mnist_run, command, message):
    before = {path: path.stat().st_mtime_ns for path in tiny_mnist_run.rglob("*")}
    where = f"ckpt={tiny_mnist_run}" if command[0] == "eval" else f"hydra.run.dir={tiny_mnist_run}"
    result = run_ganlab(*command, where, expect=2, timeout=120)
    assert result.stderr == f"error: {message}\n" and result.stdout == ""
    assert {path: path.stat().st_mtime_ns for path in tiny_mnist_run.rglob("*")} == before


@pytest.mark.slow
def test_lightnings_run_limits_are_reachable_keys(run_ganlab, tmp_path):
    """max_time stops a run long before its generator_steps; limit_train_batches, deterministic and benchmark apply."""
    limits = ("trainer.max_time=00:00:00:03", "trainer.limit_train_batches=0.5", "trainer.deterministic=true")
    run_ganlab("train", "generator_steps=1000000", *limits, "trainer.benchmark=false", "hydra.run.dir=run")
    checkpoint = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)
    assert 0 < checkpoint["ganlab"]["generator_steps"] < 1_000_000
    saved = checkpoint["ganlab"]["run"]["config"]["trainer"]
    assert (saved["max_time"], saved["limit_train_batches"], saved["deterministic"]) == ("00:00:00:03", 0.5, True)


@pytest.mark.parametrize(("command", "keys"), [("eval", EVAL_KEYS), ("sample", SAMPLE_KEYS)])
def test_every_bad_value_of_evals_and_samples_keys_is_one_line_and_exit_2(existing_run, capsys, command, keys):
    """Refused before the checkpoint is read: nothing is written next to it (``checkpoints/last_eval/``)."""
    run_dir, before = existing_run
    for key, rule in keys.items():
        for value in bad_values(rule):
            with pytest.raises(SystemExit) as stopped:
                main(["ganlab", command, f"ckpt={run_dir}", f"{key}={value}"])
            out, err = capsys.readouterr()
            assert stopped.value.code == 2 and out == "", (key, value, err)
            assert err == f"error: {key}={value}: must be {rule.describe()}\n"
    assert {path: path.stat().st_mtime_ns for path in run_dir.rglob("*")} == before


def test_traceback_true_shows_where_a_bad_value_was_refused(existing_run):
    with pytest.raises(GanlabError, match=r"^optim.lr=-1: must be a number > 0$") as err:
        main(["ganlab", "train", "optim.lr=-1", "traceback=true", f"hydra.run.dir={existing_run[0]}"])
    assert err.traceback[-1].path.name == "schema.py"
