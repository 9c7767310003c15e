"""Where the configs live, and the OmegaConf resolvers they use."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from omegaconf import OmegaConf

from ganlab.errors import GanlabError


def config_dir() -> str:
    """Absolute path of the shipped ``conf/`` (installed as the ``ganlab.conf`` package)."""
    import ganlab.conf

    return str(Path(ganlab.conf.__file__).parent)


def optimizer_steps(generator_steps: int, n_critic: int) -> int:
    """Lightning's ``global_step`` after ``generator_steps`` batches: n_critic D steps + 1 G step each."""
    return int(generator_steps) * (int(n_critic) + 1)


def run_dir_for(ckpt_path: str | None, new_dir: str) -> str:
    """A resumed run writes into the run directory of its checkpoint; a new run into ``new_dir``.

    A checkpoint path that does not exist also gets ``new_dir``: the run then stops with a
    "checkpoint not found" error, without creating folders next to the mistyped path.
    """
    if not ckpt_path or not Path(ckpt_path).expanduser().exists():
        return new_dir
    ckpt = Path(ckpt_path).expanduser().resolve()
    if ckpt.is_dir():
        return str(ckpt)
    return str(ckpt.parent.parent if ckpt.parent.name == "checkpoints" else ckpt.parent)


def holds_a_run(run_dir: str | Path) -> bool:
    """Whether ``run_dir`` already holds a run's checkpoints (which a new run must not overwrite)."""
    return any((Path(run_dir) / "checkpoints").glob("*.ckpt"))


def resumable_checkpoint(ckpt_path: str | None, resume: str | None, run_dir: str | Path) -> str | None:
    """The checkpoint a run continues from: ``ckpt_path``, else with ``resume=auto`` the run dir's ``last.ckpt``."""
    if ckpt_path:
        return ckpt_path
    last = Path(run_dir) / "checkpoints" / "last.ckpt"
    return str(last) if resume == "auto" and last.is_file() else None


def _job_overrides(overrides: list[str]) -> set[str]:
    """The overrides that define a job: not Hydra's own, not how it is resumed."""
    return {o for o in overrides if not o.lstrip("+~").split("=")[0].startswith(("hydra", "resume", "ckpt_path"))}


def check_same_job(run_dir: str | Path, overrides: list[str]) -> None:
    """Refuse ``resume=auto`` into a run dir whose run had other overrides (``.hydra/overrides.yaml``).

    A rerun sweep gives each job the directory of the job with its number. With a grid sweep that
    is the same job; with a sampling sweeper (Optuna) it is another trial, which must not continue
    someone else's weights under its own hyperparameters.
    """
    saved = Path(run_dir) / ".hydra" / "overrides.yaml"
    if not saved.is_file():
        return
    before, now = _job_overrides(yaml.safe_load(saved.read_text()) or []), _job_overrides(overrides)
    if before != now:
        raise GanlabError(
            f"resume=auto: {run_dir} holds another job (overrides {sorted(before)}, this one {sorted(now)}); "
            "rerun a sweep with the same command, continue that run with ckpt_path=... and your changes, "
            "or use a new sweep dir"
        )


def hydra_subdir_for(ckpt_path: str | None, resume: str | None, run_dir: str, stamp: str) -> str | None:
    """Where Hydra saves the run's config.

    A resume keeps the original ``.hydra/`` and adds ``.hydra/resumed_<stamp>/``. A new run aimed at
    a directory that already holds a run saves nothing (``None``), so that the old run's config and
    overrides survive the "already holds a run" error that stops it.
    """
    resumed = resumable_checkpoint(ckpt_path, resume, run_dir)
    if resumed and Path(resumed).expanduser().exists():
        return f".hydra/resumed_{stamp}"
    return None if holds_a_run(run_dir) else ".hydra"


def eval_dir_for(ckpt: str, out_dir: str | None, suffix: str = "eval") -> str:
    """``ganlab eval`` writes next to the checkpoint, in ``<checkpoint stem>_eval/``, unless told otherwise.

    ``ganlab sample`` writes into ``<checkpoint stem>_samples/`` (``suffix``).
    """
    if out_dir:
        return out_dir
    path = Path(ckpt).expanduser()
    if path.is_dir():
        path = path / "checkpoints" / "last.ckpt"
    return str(path.parent / f"{path.stem}_{suffix}")


def _classes_for(conditioning: str, dataset_classes: int | None) -> int:
    from ganlab.models.conditioning import classes_for  # torch is imported only when a config needs it

    return classes_for(conditioning, dataset_classes)


def _divide(numerator: int, denominator: int) -> int:
    """Integer division for sizes (``${ganlab.divide:${dataset.resolution},${dataset.scale}}``)."""
    return int(numerator) // int(denominator)


def _source_shape(dataset: Any, index: int) -> int:
    """Entry ``index`` of an image-to-image dataset's ``source_shape``, the inputs' ``[channels, height, width]``.

    Raises:
        GanlabError: the dataset gives no inputs (``model=pix2pix dataset=mnist``, say).
    """
    shape = dataset.get("source_shape") if hasattr(dataset, "get") else None
    if shape is None:
        raise GanlabError(
            f"this model translates images and dataset={dataset.get('name')} has no inputs to translate: use "
            "an image-to-image dataset (mnist_edges, mnist_thickness, mnist_superres, paired_folder, unpaired_folder)"
        )
    return int(shape[int(index)])


def register_resolvers() -> None:
    """Register ganlab's resolvers (idempotent); needed before Hydra composes ``conf/``."""
    for name, function in {
        "ganlab.optimizer_steps": optimizer_steps,
        "ganlab.run_dir": run_dir_for,
        "ganlab.hydra_subdir": hydra_subdir_for,
        "ganlab.eval_dir": eval_dir_for,
        "ganlab.num_classes": _classes_for,
        "ganlab.divide": _divide,
        "ganlab.source_shape": _source_shape,
    }.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, function)
