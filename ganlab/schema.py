"""What each config value may be, checked before a run starts.

A class that ``conf/`` instantiates declares its arguments' types in its signature, and their ranges
with ``Annotated``::

    def __init__(self, std: Annotated[float, NonNegative], anneal_steps: Annotated[int, AtLeast(0)] = 0): ...

:func:`check_targets` reads those declarations for every ``_target_`` node of a composed config and
refuses the first value that breaks one, in one line that names the key, the value and what is allowed
(``tricks.instance_noise.std=-1: must be a number >= 0``). Keys that no ganlab class owns (a torch
optimiser's ``lr``, the Trainer's options) are listed by the command that uses them and checked with
:func:`check_keys`.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
import re
import sys
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Union

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from ganlab.errors import GanlabError


@dataclasses.dataclass(frozen=True)
class Allowed:
    """The values a config key accepts: a kind (``number``, ``integer``, ``bool``, ``choice``), a range, choices.

    ``low``/``high`` bound numbers and integers (open bounds exclude the limit); ``nullable`` also accepts null.
    """

    kind: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] = ()
    nullable: bool = False

    def accepts(self, value: Any) -> bool:
        if value is None:
            return self.nullable
        if self.kind == "bool":
            return isinstance(value, bool)
        if self.kind == "choice":
            return value in self.choices
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.kind == "integer" and not isinstance(value, int):
            return False
        if math.isnan(value):
            return False
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        return self.high is None or not (value > self.high or (self.high_open and value == self.high))

    def describe(self) -> str:
        if self.kind == "bool":
            text = "true or false"
        elif self.kind == "choice":
            text = "one of " + ", ".join(self.choices)
        else:
            text = "an integer" if self.kind == "integer" else "a number"
            if self.low is not None and self.high is not None:
                text += f" in {'(' if self.low_open else '['}{_plain(self.low)}, {_plain(self.high)}"
                text += ")" if self.high_open else "]"
            elif self.low is not None:
                text += f" {'>' if self.low_open else '>='} {_plain(self.low)}"
            elif self.high is not None:
                text += f" {'<' if self.high_open else '<='} {_plain(self.high)}"
        return text + (", or null" if self.nullable else "")

    def __call__(self, nullable: bool = True) -> Allowed:
        """The same rule that also accepts (or refuses) null: ``Positive(nullable=True)``."""
        return dataclasses.replace(self, nullable=nullable)


def _plain(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else str(bound)


def AtLeast(low: int, nullable: bool = False) -> Allowed:
    """An integer ``>= low`` (steps, sizes, counts)."""
    return Allowed("integer", low=low, nullable=nullable)


Integer = Allowed("integer")
Boolean = Allowed("bool")
#: a number > 0: learning rates, scales, temperatures
Positive = Allowed("number", low=0, low_open=True)
#: a number >= 0: weights of loss terms, noise levels
NonNegative = Allowed("number", low=0)
#: a probability in [0, 1]
Probability = Allowed("number", low=0, high=1)
#: a decay rate in [0, 1): Adam's betas, EMA decays
Decay = Allowed("number", low=0, high=1, high_open=True)


def OneOf(*choices: str, nullable: bool = False) -> Allowed:
    """One of the given names."""
    return Allowed("choice", choices=tuple(choices), nullable=nullable)


_PLAIN_TYPES = {int: Integer, float: Allowed("number"), bool: Boolean}


def _rule(annotation: Any) -> Allowed | None:
    """The rule a parameter's annotation states: its Annotated range, else what its plain type allows."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        declared = next((m for m in annotation.__metadata__ if isinstance(m, Allowed)), None)
        return declared or _rule(annotation.__origin__)
    if origin in (Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        rule = _rule(members[0]) if len(members) == 1 else None
        return rule(nullable=True) if rule and len(members) < len(typing.get_args(annotation)) else rule
    return _PLAIN_TYPES.get(annotation)


@functools.cache
def parameter_rules(target: str) -> Mapping[str, Allowed]:
    """``{parameter: rule}`` of a ganlab class or function named by a ``_target_`` (empty for other packages')."""
    if not target.startswith("ganlab."):
        return {}
    from hydra.utils import get_object

    try:
        owner = get_object(target)
        parameters = inspect.signature(owner).parameters
    except (ImportError, AttributeError, TypeError, ValueError):
        return {}  # instantiate names the problem with the target itself
    scope = {**vars(typing), **vars(sys.modules[owner.__module__])}
    rules = {key: _rule(_annotation(p.annotation, scope)) for key, p in parameters.items()}
    return {key: rule for key, rule in rules.items() if rule is not None}


def _annotation(annotation: Any, scope: dict[str, Any]) -> Any:
    """A parameter's annotation, evaluated if postponed (a name imported only for type checkers gives None)."""
    if not isinstance(annotation, str):
        return annotation
    try:
        return eval(annotation, scope)
    except (NameError, AttributeError, TypeError, SyntaxError):
        return None


def refuse(key: str, value: Any, allowed: Allowed) -> GanlabError:
    """The one-line error for ``key=value`` outside ``allowed``."""
    shown = "null" if value is None else str(value).lower() if isinstance(value, bool) else value
    return GanlabError(f"{key}={shown}: must be {allowed.describe()}")


def _value(node: DictConfig | ListConfig, key: str | int) -> tuple[bool, Any]:
    """``(checkable, value)`` of one entry: entries that are missing or do not resolve are for later errors."""
    try:
        if OmegaConf.is_missing(node, key):
            return False, None
        value = node[key]
    except (OmegaConfBaseException, GanlabError, ValueError, TypeError, KeyError):
        return False, None
    return not isinstance(value, (DictConfig, ListConfig)), value


def _source_key(raw: Any, full_key: str) -> str:
    """The key the user sets: ``model.latent_dim`` rather than ``model.generator.latent_dim: ${model.latent_dim}``."""
    match = re.fullmatch(r"\$\{([A-Za-z0-9_.]+)\}", raw) if isinstance(raw, str) else None
    return match.group(1) if match else full_key


def target_arguments(cfg: DictConfig) -> Iterator[tuple[str, Any, Allowed]]:
    """``(key the user sets, value, rule)`` of each declared argument of each ganlab ``_target_`` in ``cfg``."""
    for path, node in _target_nodes(cfg, ""):
        checkable, target = _value(node, "_target_")
        rules = parameter_rules(target) if checkable and isinstance(target, str) else {}
        raw = OmegaConf.to_container(node, resolve=False) if rules else {}
        for key, rule in rules.items():
            checkable, value = _value(node, key) if key in node else (False, None)
            if checkable:
                yield _source_key(raw[key], f"{path}{key}"), value, rule


def check_targets(cfg: DictConfig) -> None:
    """Check every argument of every ganlab ``_target_`` in ``cfg`` against its class's declared rules.

    Raises:
        GanlabError: the first value a rule refuses, naming the key the user sets.
    """
    for key, value, rule in target_arguments(cfg):
        if not rule.accepts(value):
            raise refuse(key, value, rule)


def _target_nodes(node: Any, path: str) -> Iterator[tuple[str, DictConfig]]:
    if isinstance(node, DictConfig):
        if "_target_" in node:
            yield path, node
        entries: Iterator[Any] = iter(node.keys())
    elif isinstance(node, ListConfig):
        entries = iter(range(len(node)))
    else:
        return
    for key in entries:
        checkable, child = _child(node, key)
        if checkable:
            yield from _target_nodes(child, f"{path}{key}.")


def _child(node: DictConfig | ListConfig, key: Any) -> tuple[bool, Any]:
    try:
        if OmegaConf.is_missing(node, key) or OmegaConf.is_interpolation(node, key):
            return False, None  # an interpolated node is checked where it is defined
        return True, node[key]
    except (OmegaConfBaseException, GanlabError, ValueError, TypeError, KeyError):
        return False, None


def check_keys(cfg: DictConfig, rules: Mapping[str, Allowed]) -> None:
    """Check the dotted keys of ``rules`` (list entries by index: ``optim.betas.1``) where ``cfg`` has them."""
    for key, rule in rules.items():
        *parents, last = key.split(".")
        node = OmegaConf.select(cfg, ".".join(parents), throw_on_missing=False) if parents else cfg
        index: str | int = int(last) if isinstance(node, ListConfig) and last.isdigit() else last
        if not isinstance(node, (DictConfig, ListConfig)) or not _present(node, index):
            continue
        checkable, value = _value(node, index)
        if checkable and not rule.accepts(value):
            raw = OmegaConf.to_container(node, resolve=False)[index]  # type: ignore[index]
            raise refuse(_source_key(raw, key), value, rule)


def _present(node: DictConfig | ListConfig, key: str | int) -> bool:
    return key in node if isinstance(node, DictConfig) else isinstance(key, int) and key < len(node)


def preflight(check: Callable[[DictConfig], None], config_name: str, overrides: list[str]) -> None:
    """Compose ``conf/<config_name>.yaml`` with ``overrides`` and ``check`` it, before Hydra makes a run dir.

    Composition problems (an unknown group option, a malformed override) are left to Hydra's own
    messages when the app runs.
    """
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException

    from ganlab.config import config_dir, register_resolvers

    register_resolvers()
    try:
        with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
            cfg = compose(config_name=config_name, overrides=overrides)
    except (HydraException, OmegaConfBaseException):
        return
    try:
        check(cfg)
    except GanlabError:
        if cfg.get("traceback") is True:  # not traceback=maybe, the value refused
            raise
        from ganlab.console import print_error

        print_error(str(sys.exc_info()[1]))
        raise SystemExit(2) from None
