"""Scores during training: the callback's values equal a single-process eval, under DDP too; best.ckpt follows them."""

from __future__ import annotations

import json

import pytest
import torch
from hydra.utils import instantiate
from lightning.pytorch.loggers import TensorBoardLogger
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from ganlab.errors import GanlabError
from ganlab.evaluate import score
from ganlab.module import GANModule
from tests.helpers import fit


def test_callback_scores_equal_eval_and_keep_the_best_checkpoint(compose_train, tmp_path):
    cfg = compose_train("generator_steps=40", "dataset.datamodule.num_test=500")
    callback = instantiate(
        cfg.callbacks.metrics, every_n_steps=20, num_samples=500, monitor="hq_fraction", mode="max", dirpath=tmp_path
    )
    seen: list[float] = []
    best_of_seen = callback._keep_best

    def record(trainer, results):
        seen.append(results["hq_fraction"])
        best_of_seen(trainer, results)

    callback._keep_best = record
    cfg.trainer.max_steps = 2 * cfg.generator_steps
    trainer = instantiate(cfg.trainer, logger=False, callbacks=[callback], enable_progress_bar=False)
    module = GANModule.from_config(cfg)
    trainer.fit(module, datamodule=instantiate(cfg.dataset.datamodule))

    assert len(seen) == 2  # steps 20 and 40
    final = score(module, trainer.datamodule, cfg.dataset.metrics, 500, 250, 0, None).values
    assert float(trainer.callback_metrics["val/hq_fraction"]) == pytest.approx(final["hq_fraction"])
    assert float(trainer.callback_metrics["val/modes_covered"]) == final["modes_covered"]
    best = torch.load(tmp_path / "best.ckpt", weights_only=True)
    assert best["ganlab"]["generator_steps"] == (20 if seen[0] >= seen[1] else 40)  # a tie keeps the earlier one


def test_callback_is_off_by_default_and_refuses_a_monitor_it_does_not_compute(compose_train, tmp_path):
    cfg = compose_train("generator_steps=20")
    trainer, _ = fit(cfg)
    assert not any(key.startswith("val/") for key in trainer.callback_metrics)
    callback = instantiate(cfg.callbacks.metrics, every_n_steps=10, num_samples=100, monitor="fid", dirpath=tmp_path)
    cfg.trainer.max_steps = 2 * cfg.generator_steps
    trainer = instantiate(cfg.trainer, logger=False, callbacks=[callback], enable_progress_bar=False)
    module = GANModule.from_config(cfg)
    with pytest.raises(GanlabError, match="monitor=fid is not among the computed values"):
        trainer.fit(module, datamodule=instantiate(cfg.dataset.datamodule))


def test_callback_logs_the_metrics_pictures_and_the_latent_probes_to_tensorboard(compose_train, tmp_path):
    cfg = compose_train(
        "dataset=mnist",
        "model=dcgan",
        "model.generator.width=8",
        "model.discriminator.width=8",
        "generator_steps=2",
        "metrics=[memorization,interpolation]",
        "feature_extractor=pixels",
        "callbacks.metrics.every_n_steps=2",
        "callbacks.metrics.num_samples=50",
    )
    callback = instantiate(cfg.callbacks.metrics)
    cfg.trainer.max_steps = 2 * cfg.generator_steps
    logger = TensorBoardLogger(str(tmp_path), name="tb", version="")
    trainer = instantiate(cfg.trainer, logger=logger, callbacks=[callback], enable_progress_bar=False)
    trainer.fit(GANModule.from_config(cfg), datamodule=instantiate(cfg.dataset.datamodule))
    logger.experiment.flush()

    events = EventAccumulator(str(tmp_path / "tb"), size_guidance={"images": 0})
    events.Reload()
    images = {
        "val/memorization",
        "val/memorization_distances",
        "val/interpolation_linear",
        "val/interpolation_spherical",
    }
    assert images <= set(events.Tags()["images"])
    assert [image.step for image in events.Images("val/interpolation_spherical")] == [2]
    assert "val/memorization_pixel_ratio" in events.Tags()["scalars"]


@pytest.mark.slow
def test_ddp_scores_equal_the_single_process_eval(run_ganlab, tmp_path):
    run_dir = tmp_path / "run"
    run_ganlab(
        "train",
        "trainer=ddp_cpu",
        "generator_steps=30",
        "final_eval=false",
        "callbacks.metrics.every_n_steps=30",
        "callbacks.metrics.num_samples=1000",
        f"hydra.run.dir={run_dir}",
    )
    events = EventAccumulator(str(run_dir / "tensorboard"))
    events.Reload()
    during = {tag: events.Scalars(tag)[-1] for tag in events.Tags()["scalars"] if tag.startswith("val/")}
    assert {event.step for event in during.values()} == {30}

    run_ganlab("eval", f"ckpt={run_dir}", "num_samples=1000", f"out_dir={tmp_path / 'eval'}")
    single = json.loads((tmp_path / "eval" / "metrics.json").read_text())["metrics"]
    assert set(during) == {f"val/{name}" for name in single}
    for name, value in single.items():
        assert during[f"val/{name}"].value == pytest.approx(value, rel=1e-5), name
