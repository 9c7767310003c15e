"""The diagnosis: each rule on hand-built series, each on a real run built to trigger it, a healthy run that
triggers none, and ``ganlab doctor`` saying what the live callback said."""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import TensorBoardLogger

from ganlab import doctor
from ganlab.callbacks import Diagnosis
from ganlab.data.toy2d import Ring
from ganlab.diagnosis import (
    DiscriminatorAtChance,
    ExplodingGradients,
    Finding,
    ModeCollapse,
    NaNRisk,
    Oscillation,
    Rule,
    VanishingGradient,
    replay,
)
from ganlab.diagnosis.probes import DiversityProbe, ModesProbe, mean_pairwise_distance
from ganlab.errors import GanlabError, NonFiniteLoss
from tests.helpers import fit


def logged(every: int = 25, **signals: Sequence[float]) -> dict[str, list[tuple[int, float]]]:
    """Series logged every ``every`` generator steps from step ``every`` on, as ``train/<name>``
    (``diagnosis/<name>`` for the collapse signals)."""
    prefix = {"modes_covered": "diagnosis/", "diversity": "diagnosis/"}
    return {
        prefix.get(name, "train/") + name: [(every * (i + 1), float(v)) for i, v in enumerate(values)]
        for name, values in signals.items()
    }


RNG = np.random.default_rng(0)
NOISE = RNG.normal(size=200)
STEPS = np.arange(60)

# ------------------------------------------------------------------------------- rules on hand-built series
TRIGGERED = {
    "vanishing_gradient": (
        VanishingGradient(),
        logged(D_fake_prob=np.geomspace(0.5, 0.005, 20), g_grad_norm=np.geomspace(3.0, 0.02, 20)),
        "D is winning: D(G(z)) fell from 0.392 to 0.00637 and G's gradient norm from 2.3 to 0.026 over steps 50-500",
    ),
    "discriminator_at_chance": (
        DiscriminatorAtChance(),
        logged(D_separation=0.05 + 0.05 * NOISE[:12]),
        "D is at chance: the separation d' of its scores on real and fake samples was 0.0",
    ),
    "mode_collapse": (
        ModeCollapse(),
        logged(modes_covered=[0, 1, 4, 7, 8, 8, 6, 3, 2]),
        "mode collapse: modes covered fell from 8 to 2 over steps 125-225",
    ),
    "diversity_collapse": (
        ModeCollapse(),
        logged(diversity=[0.3, 0.8, 0.9, 0.85, 0.4, 0.3]),
        "mode collapse: sample diversity (mean pairwise pixel distance, generated over real) fell from 0.9 to 0.3",
    ),
    "oscillation": (
        Oscillation(),
        logged(d_loss=1 + (0.2 + STEPS / 20) * np.sin(2 * np.pi * STEPS / 8) + 0.05 * NOISE[:60]),
        "oscillation: train/d_loss swings with a period of about 200 steps",
    ),
    "exploding_gradients": (
        ExplodingGradients(),
        logged(d_grad_norm=[*(1 + 0.2 * NOISE[:15]), 5.0, 400.0], g_grad_norm=[2.0] * 17),
        "exploding gradients: D's gradient norm rose from 0.",
    ),
    "nan_risk": (
        NaNRisk(),
        logged(D_max_abs=[3, 5, 20, 55, 70, 90]),
        "NaN risk: D's scores reached |D| = 90 (at least 50 over steps 100-150)",
    ),
    "nan": (
        NaNRisk(),
        logged(D_max_abs=[3, 5, 4], g_grad_norm=[1.0, 2.0, math.inf]),
        "NaN: train/g_grad_norm is inf at step 75",
    ),
}

HEALTHY = {
    # the non-saturating loss: D rejects the fakes but G's gradient holds
    "vanishing_gradient": (
        VanishingGradient(),
        logged(D_fake_prob=np.geomspace(0.5, 0.005, 20), g_grad_norm=3 + NOISE[:20]),
    ),
    "discriminator_at_chance": (DiscriminatorAtChance(), logged(D_separation=1.2 + 0.3 * NOISE[:12])),
    # at chance, but not for the whole window yet (the first steps of every run)
    "discriminator_at_chance_early": (DiscriminatorAtChance(), logged(D_separation=[0.0] * 8)),
    # a dip of one measurement, and a fall from a peak too low to mean anything
    "mode_collapse": (ModeCollapse(), logged(modes_covered=[0, 2, 6, 8, 8, 3, 8, 7, 8])),
    "mode_collapse_early": (ModeCollapse(), logged(modes_covered=[0, 1, 2, 0, 0, 1, 0])),
    "oscillation_steady": (Oscillation(), logged(d_loss=1 + 0.5 * np.sin(2 * np.pi * STEPS / 8))),
    "oscillation_noise": (Oscillation(), logged(d_loss=1.2 + 0.2 * NOISE[:60], g_loss=1 + 0.3 * NOISE[60:120])),
    # G's gradient norm on the ring grows some 20-fold over a healthy run
    "exploding_gradients": (
        ExplodingGradients(),
        logged(g_grad_norm=np.geomspace(1.5, 40, 120) * (1 + 0.3 * NOISE[:120])),
    ),
    "nan_risk": (NaNRisk(), logged(D_max_abs=[3, 5, 60, 8, 9, 11])),
}


@pytest.mark.parametrize("case", TRIGGERED)
def test_each_rule_fires_on_its_failure_with_a_message_and_the_steps_it_rests_on(case):
    rule, series, message = TRIGGERED[case]
    finding = rule.check(series)
    assert finding is not None, f"{rule} found nothing in {series}"
    assert finding.rule == rule.name and finding.message.startswith(message), finding.message
    assert finding.line() == f"diagnosis: step {finding.step}: {finding.message}; {finding.remedy}"
    assert finding.step == max(step for points in series.values() for step, _ in points)
    assert finding.evidence and all(name in series for name in finding.evidence)
    assert "=" in finding.remedy  # an override to try
    assert Finding.from_dict(json.loads(json.dumps(finding.to_dict()))) == finding


@pytest.mark.parametrize("case", HEALTHY)
def test_each_rule_is_quiet_on_a_healthy_series(case):
    rule, series = HEALTHY[case]
    assert rule.check(series) is None


def test_rules_that_read_a_signal_the_run_did_not_log_do_not_apply():
    wgan = logged(d_loss=[0.1] * 10, g_loss=[0.2] * 10, g_grad_norm=[1.0] * 10, D_separation=[1.0] * 10)
    assert not VanishingGradient().applies(wgan)  # no D(G(z)) as a probability for a critic
    assert VanishingGradient().check(wgan) is None
    assert DiscriminatorAtChance().applies(wgan)
    assert not ModeCollapse().applies(wgan) and ModeCollapse().applies(logged(diversity=[1.0]))


def test_replay_reports_each_finding_once_at_the_step_where_it_first_held():
    # D at chance from step 25 to 300, then D recovers: the finding stands, at step 225 (the first full window)
    series = logged(D_separation=[0.0] * 12 + [2.0] * 20, D_max_abs=[1.0] * 32)
    findings = replay([DiscriminatorAtChance(), NaNRisk()], series)
    assert [(f.rule, f.step) for f in findings] == [("discriminator_at_chance", 225)]
    assert DiscriminatorAtChance().check(series) is None  # the whole series alone no longer shows it


def test_the_configured_rules_are_the_classes_defaults():
    """conf/callbacks/default.yaml spells each threshold out for users to see and tune; they must not drift."""
    for name, node in doctor.default_rules_config().items():
        rule: Rule = instantiate(node)
        bare: Rule = instantiate({"_target_": node._target_})
        assert rule.name == name and vars(rule) == vars(bare), name


def test_mean_pairwise_distance_is_the_mean_over_distinct_pairs():
    assert mean_pairwise_distance(torch.tensor([[0.0, 0.0], [3.0, 4.0]])) == pytest.approx(5.0)
    triangle = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.5, math.sqrt(3) / 2]])  # equilateral, side 1
    assert mean_pairwise_distance(triangle) == pytest.approx(1.0)
    assert mean_pairwise_distance(torch.ones(5, 1, 4, 4)) == 0.0


def test_the_probes_measure_coverage_on_the_datas_own_scale():
    ring = Ring()
    assert ModesProbe(ring).measure(ring.centers.repeat(4, 1)) == {"diagnosis/modes_covered": 8.0}
    assert ModesProbe(ring).measure(ring.centers[:1].repeat(32, 1)) == {"diagnosis/modes_covered": 1.0}
    real = torch.randn(256, 1, 8, 8)
    probe = DiversityProbe(real)
    assert probe.measure(real)["diagnosis/diversity"] == pytest.approx(1.0)
    assert probe.measure(real[:1].repeat(16, 1, 1, 1))["diagnosis/diversity"] == 0.0  # one image, 16 times
    assert probe.measure(real * 0.5)["diagnosis/diversity"] == pytest.approx(0.5)


def test_diagnosis_json_keeps_the_findings_of_a_run_resumed_from_before_them(tmp_path):
    out = tmp_path / "diagnosis.json"
    earlier = DiscriminatorAtChance().check(logged(D_separation=[0.0] * 9))
    out.write_text(json.dumps({"findings": [earlier.to_dict()]}))
    callback = Diagnosis([DiscriminatorAtChance(), NaNRisk()], every_n_steps=None, out_file=str(out))
    callback.findings = [NaNRisk().check(logged(D_max_abs=[60, 70, 80]))]
    trainer, module = SimpleNamespace(is_global_zero=True), SimpleNamespace(generator_steps=300)
    callback._write(trainer, module)
    report = json.loads(out.read_text())
    assert [f["rule"] for f in report["findings"]] == ["nan_risk", "discriminator_at_chance"]  # by step: 75, 225
    assert report["generator_steps"] == 300 and report["rules"] == ["discriminator_at_chance", "nan_risk"]


# -------------------------------------------------------------------------------------- real runs
TINY_MNIST = (
    "dataset=mnist",
    "model=dcgan",
    "model.generator.width=8",
    "model.discriminator.width=8",
    "dataset.datamodule.batch_size=32",
    "generator_steps=150",
    "trainer.log_every_n_steps=5",
)
# D's SGD learning rate grows 2% a step from 0.05, past where the least-squares game is stable (about 1.0)
GROWING_LR = (
    "loss=lsgan",
    "generator_steps=300",
    "trainer.log_every_n_steps=1",
    "optim.discriminator._target_=torch.optim.SGD",
    "~optim.discriminator.betas",
    "optim.discriminator.lr=0.05",
    "optim.discriminator_scheduler=null",
    "+optim.discriminator_scheduler._target_=torch.optim.lr_scheduler.ExponentialLR",
    "+optim.discriminator_scheduler._partial_=true",
    "+optim.discriminator_scheduler.gamma=1.02",
)
# G's learning rate multiplied by 10 at step 600, when the run covers the ring's 8 modes. R1 for the first 600
# steps, because without it the plain run's coverage by step 600 depends on the seed and on the CPU's kernels
# (without R1, 5 of 8 seed x precision trials collapsed on cue; with R1, 10 of 10 reached 7 or 8 modes and fell to 0)
G_LR_JUMP = (
    "tricks=[r1]",
    "generator_steps=700",
    "optim.generator_scheduler=null",
    "+optim.generator_scheduler._target_=torch.optim.lr_scheduler.StepLR",
    "+optim.generator_scheduler._partial_=true",
    "+optim.generator_scheduler.step_size=600",
    "+optim.generator_scheduler.gamma=10.0",
)
REAL_RUNS = {
    # the saturating loss on MNIST: D rejects the fakes within ~100 steps and G's gradient dies
    "vanishing_gradient": (*TINY_MNIST, "loss=gan"),
    # a D that never learns (lr 0): G's samples soon score as more real than the data
    "discriminator_at_chance": ("optim.discriminator.lr=0", "generator_steps=250"),
    "mode_collapse": (*G_LR_JUMP, "callbacks.diagnosis.every_n_steps=25"),
    # WGAN without its clipping (the paper's RMSProp, five critic steps): the critic is unbounded and the game
    # spirals outward (Mescheder et al. 2018)
    "oscillation": (
        "loss=wgan",
        "loss.clip_value=null",
        "optim.lr=1e-4",
        "generator_steps=520",
        "trainer.log_every_n_steps=10",
        "callbacks.diagnosis.every_n_steps=null",
    ),
    "exploding_gradients": GROWING_LR,
    # Adam at lr 0.05: D's logits pass 50
    "nan_risk": ("optim.lr=0.05", "generator_steps=200", "trainer.log_every_n_steps=10"),
}


def diagnosed(compose_train, tmp_path: Path, *overrides: str, logger: bool = False) -> tuple[Diagnosis, dict]:
    """Train ``overrides`` in this process with the configured diagnosis callback; its findings by rule.

    ``logger``: log to TensorBoard in ``tmp_path/tensorboard``, as ``ganlab train`` does.
    """
    cfg = compose_train(*overrides)
    callback = instantiate(cfg.callbacks.diagnosis)
    tensorboard = TensorBoardLogger(str(tmp_path), name="tensorboard", version="") if logger else False
    # the runs built to blow up end on a non-finite loss; the callback spoke before
    with contextlib.suppress(NonFiniteLoss):
        fit(cfg, callbacks=[callback], logger=tensorboard)
    return callback, {f.rule: f for f in callback.findings}


@pytest.mark.parametrize("rule", REAL_RUNS)
def test_a_real_run_built_to_trigger_a_rule_triggers_it_live(rule, compose_train, tmp_path, capsys):
    _, findings = diagnosed(compose_train, tmp_path, *REAL_RUNS[rule])
    assert rule in findings, f"{rule} not found; found {[f.line() for f in findings.values()]}"
    printed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("diagnosis:")]
    assert findings[rule].line() in printed
    assert len(printed) == len(findings)  # each finding once
    report = json.loads((tmp_path / "diagnosis.json").read_text())  # written at the end, or on the NaN
    assert rule in [f["rule"] for f in report["findings"]]


def test_a_healthy_run_triggers_nothing_and_the_doctor_agrees(compose_train, tmp_path, capsys):
    callback, findings = diagnosed(
        compose_train, tmp_path, "generator_steps=600", "callbacks.diagnosis.every_n_steps=50", logger=True
    )
    assert findings == {}
    assert "diagnosis:" not in capsys.readouterr().out
    assert len(callback.series["diagnosis/modes_covered"]) == 12
    assert json.loads((tmp_path / "diagnosis.json").read_text())["findings"] == []

    doctor.main([str(tmp_path)])  # returns: exit status 0
    out = capsys.readouterr().out
    assert out.startswith(f"no problem found in 24 logged steps (generator steps 25-600) of {tmp_path}")
    assert "not checked" not in out  # every signal the rules read was logged, diagnosis/modes_covered too


def test_the_diagnosis_survives_a_resume_without_repeating_itself(compose_train, tmp_path, capsys):
    cfg = compose_train(*REAL_RUNS["discriminator_at_chance"], "generator_steps=300")
    every = ModelCheckpoint(dirpath=tmp_path / "all", filename="{step}", every_n_train_steps=500, save_top_k=-1)
    whole = instantiate(cfg.callbacks.diagnosis)
    fit(cfg, callbacks=[whole, every])
    assert [f.step for f in whole.findings] == [225]
    capsys.readouterr()
    resumed = instantiate(cfg.callbacks.diagnosis)
    fit(cfg, callbacks=[resumed], ckpt_path=tmp_path / "all" / "step=250.ckpt")  # ("step": generator steps)
    assert "diagnosis:" not in capsys.readouterr().out  # said before the checkpoint, not again
    assert resumed.findings == whole.findings and resumed.series == whole.series


def write_run(run_dir: Path, series: dict[str, list[tuple[int, float]]]) -> Path:
    """A run directory with ``series`` as TensorBoard scalars and a ``.hydra/config.yaml`` (the default rules)."""
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(run_dir / "tensorboard"))
    for name, points in series.items():
        for step, value in points:
            writer.add_scalar(name, value, step)
    writer.close()
    (run_dir / ".hydra").mkdir(parents=True)
    (run_dir / ".hydra" / "config.yaml").write_text("seed: 42\n")
    return run_dir


def test_doctor_diagnoses_each_job_of_a_multirun_and_exits_1_when_one_has_a_problem(tmp_path, capsys):
    healthy = logged(d_loss=1.2 + 0.1 * NOISE[:20], D_separation=1.0 + 0.2 * NOISE[20:40])
    at_chance = logged(d_loss=1.39 + 0.01 * NOISE[:20], D_separation=0.02 * NOISE[20:40])
    for job, series in enumerate([healthy, at_chance]):
        write_run(tmp_path / "sweep" / str(job), series)
    with pytest.raises(SystemExit) as stop:
        doctor.main([str(tmp_path / "sweep")])
    assert stop.value.code == 1
    out = capsys.readouterr().out
    first, second = out.split(f"{tmp_path / 'sweep' / '1'}:")
    assert "no problem found in 20 logged steps" in first and "diagnosis:" not in first
    assert "diagnosis: step 225: D is at chance" in second
    assert "    based on train/D_separation: step 50 " in second
    # the rules read signals these logs lack: said, not silently skipped
    assert "not checked, their signals were not logged: vanishing_gradient, mode_collapse" in second
    doctor.main([str(tmp_path / "sweep" / "0" / "tensorboard")])  # the log folder itself stands for its run


def test_doctor_uses_the_rules_the_run_was_trained_with(tmp_path, capsys):
    run = write_run(tmp_path / "run", logged(D_separation=[0.2] * 12))
    config = "callbacks:\n  diagnosis:\n    rules:\n      discriminator_at_chance: null\n"
    (run / ".hydra" / "config.yaml").write_text(config)
    doctor.main([str(run)])  # the rule that would fire was dropped for this run
    assert "no problem found" in capsys.readouterr().out


def test_doctor_errors_name_the_problem(tmp_path):
    with pytest.raises(GanlabError, match="no such directory"):
        doctor.main([str(tmp_path / "missing")])
    (tmp_path / "run" / ".hydra").mkdir(parents=True)
    with pytest.raises(GanlabError, match="the run was made with logger=none"):
        doctor.main([str(tmp_path / "run")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(GanlabError, match="holds no ganlab run: give a run directory"):
        doctor.main([str(tmp_path / "empty")])
    with pytest.raises(GanlabError, match=r"no job under .* has TensorBoard logs"):
        doctor.main([str(tmp_path)])


@pytest.mark.slow
def test_ganlab_doctor_prints_the_finding_ganlab_train_printed(run_ganlab, tmp_path):
    train = run_ganlab("train", *REAL_RUNS["vanishing_gradient"], f"hydra.run.dir={tmp_path / 'run'}")
    live = [line for line in train.stdout.splitlines() if line.startswith("diagnosis:")]
    assert len(live) == 1 and "D is winning" in live[0], train.stdout[-3000:]
    saved = json.loads((tmp_path / "run" / "diagnosis.json").read_text())
    assert [finding["line"] for finding in saved["findings"]] == live

    report = run_ganlab("doctor", str(tmp_path / "run"), expect=1)
    assert [line for line in report.stdout.splitlines() if line.startswith("diagnosis:")] == live
    assert "    based on train/g_grad_norm: step " in report.stdout
    failed = run_ganlab("doctor", str(tmp_path / "missing"), expect=2)
    assert (
        failed.stderr.strip()
        == f"error: no such directory: {tmp_path / 'missing'} (give a run directory, e.g. outputs/<date>/<time>)"
    )
