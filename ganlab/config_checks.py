"""What ``ganlab train``'s and ``ganlab eval``'s configs may hold, checked before anything is written.

The checks that need no torch come first, so that a mistyped value is refused within a second.
"""

from __future__ import annotations

import importlib.util
import re

from omegaconf import DictConfig

from ganlab.errors import GanlabError
from ganlab.schema import (
    AtLeast,
    Boolean,
    Decay,
    Integer,
    NonNegative,
    OneOf,
    Positive,
    check_keys,
    check_targets,
    parameter_rules,
)

#: ``ganlab train``'s own keys, and the torch optimisers' and the Lightning Trainer's that conf/ sets
TRAIN_KEYS = {
    "seed": Integer,
    "generator_steps": AtLeast(1),
    "checkpoint_every": AtLeast(1),
    "channels_last": Boolean,
    "final_eval": Boolean,
    "traceback": Boolean,
    "optim.lr": Positive,
    # 0 freezes a player (a lesson trains D alone against a fixed G)
    "optim.generator.lr": NonNegative,
    "optim.discriminator.lr": NonNegative,
    "optim.betas.0": Decay,
    "optim.betas.1": Decay,
    "optim.alpha": Decay,
    "optim.gradient_clip_val": Positive(nullable=True),
    "dataset.datamodule.batch_size": AtLeast(1),
    "dataset.eval_samples": AtLeast(1),
    "trainer.num_nodes": AtLeast(1),
    "trainer.log_every_n_steps": AtLeast(1),
    "trainer.limit_train_batches": Positive(nullable=True),
    "trainer.deterministic": Boolean,
    "trainer.benchmark": Boolean,
}

#: ``ganlab eval``'s keys
EVAL_KEYS = {
    "num_samples": AtLeast(1, nullable=True),
    "batch_size": AtLeast(1),
    "seed": Integer,
    "truncation": Positive(nullable=True),
    "traceback": Boolean,
}

#: ``ganlab sample``'s keys
SAMPLE_KEYS = {
    **EVAL_KEYS,
    "format": OneOf("png", "npz", "npy", "csv", nullable=True),
    "real": Boolean,
}

#: the package each optional logger needs (``logger=wandb``), and the ganlab extra that installs it
LOGGER_PACKAGES = {"wandb": ("wandb", "wandb"), "mlflow": ("mlflow", "mlflow")}

_MAX_TIME = re.compile(r"\d+:\d{1,2}:\d{1,2}:\d{1,2}")


def check_train_config(cfg: DictConfig) -> None:
    """Refuse, in one line, a value ``ganlab train`` cannot run with.

    Raises:
        GanlabError: names the key, the value and what is allowed.
    """
    check_keys(cfg, TRAIN_KEYS)
    trainer = cfg.trainer
    if trainer.get("accumulate_grad_batches", 1) != 1:
        raise GanlabError(
            f"trainer.accumulate_grad_batches={trainer.accumulate_grad_batches}: ganlab steps G and D itself "
            "(manual optimisation), which Lightning cannot accumulate; raise dataset.datamodule.batch_size instead"
        )
    max_time = trainer.get("max_time")
    if max_time is not None and not _MAX_TIME.fullmatch(str(max_time)):
        raise GanlabError(f"trainer.max_time={max_time}: must be DD:HH:MM:SS (00:02:30:00 is 2.5 hours), or null")
    check_logger_packages(cfg)
    check_targets(cfg)
    check_batch_multiples(cfg)
    from ganlab.generative import module_class  # imports Lightning

    cls = module_class(cfg)
    check_keys(
        cfg, {"optim.n_critic": parameter_rules(f"{cls.__module__}.{cls.__qualname__}").get("n_critic", AtLeast(0))}
    )


def check_logger_packages(cfg: DictConfig) -> None:
    """Refuse a logger whose package is not installed, naming the extra that installs it."""
    for name in cfg.get("logger") or {}:
        package, extra = LOGGER_PACKAGES.get(name, (None, None))
        if package and importlib.util.find_spec(package) is None:
            raise GanlabError(
                f"logger={name} needs the {package} package, which is not installed: pip install 'ganlab[{extra}]'"
            )


def check_batch_multiples(cfg: DictConfig) -> None:
    """Refuse a batch size that a trick cannot split (PacGAN's packs of m, its ``batch_multiple_of``)."""
    from hydra.utils import get_class

    batch_size = cfg.dataset.datamodule.get("batch_size")
    for name, node in (cfg.get("tricks") or {}).items():
        if node is None or not isinstance(batch_size, int):
            continue
        key = getattr(get_class(node._target_), "batch_multiple_of", None)
        if key and batch_size % int(node[key]):
            multiple = int(node[key])
            raise GanlabError(
                f"dataset.datamodule.batch_size={batch_size}: must be a multiple of tricks.{name}.{key}={multiple} "
                f"(e.g. {max(multiple, batch_size - batch_size % multiple)})"
            )


def check_eval_config(cfg: DictConfig) -> None:
    """Refuse, in one line, a value ``ganlab eval`` cannot run with (before the checkpoint is read)."""
    check_keys(cfg, EVAL_KEYS)


def check_sample_config(cfg: DictConfig) -> None:
    """Refuse, in one line, a value ``ganlab sample`` cannot run with (before the checkpoint is read)."""
    check_keys(cfg, SAMPLE_KEYS)
