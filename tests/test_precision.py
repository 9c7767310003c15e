"""trainer.precision=auto, channels_last, the bf16 Inception, and a start-up that imports no torch."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
import torchvision
from lightning.pytorch.callbacks import ModelCheckpoint

from ganlab.checkpoint import load_checkpoint
from ganlab.errors import GanlabError
from ganlab.metrics.features import InceptionFeatures
from ganlab.precision import cpu_flags, native_bf16_cpu, resolve_precision
from tests.helpers import fit

X86_ZEN4 = (
    "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni\n\nprocessor\t: 1\nflags\t\t: fpu\n"
)
X86_LAPTOP = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma\n"
ARM_V9 = "processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\n"
TINY_DCGAN = (
    "model=dcgan",
    "dataset=mnist",
    "dataset.download=false",
    "model.generator.width=8",
    "model.discriminator.width=8",
    "dataset.datamodule.batch_size=16",
)


def test_cpu_flags_are_read_from_x86_and_arm_cpuinfo():
    assert {"avx512_bf16", "avx2", "fpu"} <= cpu_flags(X86_ZEN4)
    assert cpu_flags(ARM_V9) == {"fp", "asimd", "sve", "bf16", "i8mm"}
    assert cpu_flags("") == set()


def test_auto_picks_bf16_only_where_the_cpu_computes_it_natively():
    assert native_bf16_cpu(cpu_flags(X86_LAPTOP)) is None
    assert resolve_precision("auto", "cpu", cpu_flags(X86_LAPTOP))[0] == "32-true"
    assert resolve_precision("auto", "cpu", cpu_flags(X86_ZEN4)) == (
        "bf16-mixed",
        "the CPU computes bf16 natively (avx512_bf16)",
    )
    assert resolve_precision("auto", "cpu", {"amx_bf16", "amx_tile"})[0] == "bf16-mixed"
    assert resolve_precision("auto", "cpu", cpu_flags(ARM_V9))[0] == "bf16-mixed"
    # what the user asks for is kept, whatever the chip
    assert resolve_precision("32-true", "cpu", cpu_flags(X86_ZEN4)) == ("32-true", "as configured")
    assert resolve_precision("bf16-mixed", "cpu", cpu_flags(X86_LAPTOP))[0] == "bf16-mixed"
    assert resolve_precision("auto", "mps", cpu_flags(X86_ZEN4))[0] == "32-true"


@pytest.mark.skipif(torch.cuda.is_available(), reason="accelerator=auto means the GPU here")
def test_auto_on_a_machine_without_a_gpu_follows_its_cpu():
    assert resolve_precision("auto", "auto")[0] == ("bf16-mixed" if native_bf16_cpu() else "32-true")


@pytest.mark.slow
@pytest.mark.parametrize("asked", ["auto", "32-true"])
def test_train_prints_and_saves_the_precision_it_resolved(run_ganlab, tmp_path, asked):
    run_dir = tmp_path / "run"
    out = run_ganlab(
        "train", "generator_steps=2", "logger=none", "final_eval=false", f"trainer.precision={asked}",
        f"hydra.run.dir={run_dir}",
    ).stdout  # fmt: skip
    expected, why = resolve_precision(asked, "cpu")
    assert f"precision: {expected}: {why}" in out
    saved = load_checkpoint(run_dir / "checkpoints" / "last.ckpt")["ganlab"]["run"]["config"]
    assert saved["trainer"]["precision"] == expected  # a resume computes as this run did, on any machine
    assert f"precision: {expected}" in (run_dir / "config_tree.log").read_text()


def _is_channels_last(weight: torch.Tensor) -> bool:
    return weight.is_contiguous(memory_format=torch.channels_last) and not weight.is_contiguous()


@pytest.mark.parametrize("channels_last", [True, False])
def test_channels_last_stores_every_convolution_weight_and_adam_moment_in_that_layout(compose_train, channels_last):
    cfg = compose_train(*TINY_DCGAN, "generator_steps=2", f"channels_last={channels_last}")
    _, module = fit(cfg)
    convs = [m for m in module.modules() if isinstance(m, torch.nn.modules.conv._ConvNd) and m.weight.shape[1] > 1]
    assert len(convs) == 3  # both of G's and D's convolutions with more than one input channel
    assert all(_is_channels_last(conv.weight) == channels_last for conv in convs)
    state = {**module.optimizers()[0].optimizer.state, **module.optimizers()[1].optimizer.state}
    moments = [state[conv.weight]["exp_avg"] for conv in convs]
    assert all(_is_channels_last(moment) == channels_last for moment in moments)


def test_a_bf16_channels_last_dcgan_resumes_to_the_same_weights_as_the_uninterrupted_run(compose_train, tmp_path):
    cfg = compose_train(*TINY_DCGAN, "generator_steps=6", "trainer.precision=bf16-mixed", "channels_last=true")
    every_step = ModelCheckpoint(dirpath=tmp_path / "all", filename="{step}", every_n_train_steps=2, save_top_k=-1)
    _, uninterrupted = fit(cfg, callbacks=[every_step])
    _, resumed = fit(cfg, ckpt_path=tmp_path / "all" / "step=6.ckpt")  # after 3 of the 6 generator steps
    assert resumed.generator_steps == 6
    after, before = resumed.state_dict(), uninterrupted.state_dict()
    assert after.keys() == before.keys() and all(torch.equal(after[key], before[key]) for key in after)


def test_bf16_inception_is_a_feature_space_of_its_own(shared_dir, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(shared_dir / "torch"))
    digits = torchvision.datasets.MNIST(root=shared_dir / "data", train=False).data[:4]
    images = digits[:, None].float() / 127.5 - 1
    fp32, bf16 = InceptionFeatures(), InceptionFeatures(precision="bf16")
    assert (fp32.name, bf16.name) == ("inception2048", "inception2048-bf16")  # cached features never mix
    exact, fast = fp32(images), bf16(images)
    assert exact.shape == fast.shape == (4, 2048)
    relative = (fast - exact).norm() / exact.norm()
    assert 0 < relative < 0.05  # bf16 rounds (so the numbers differ) but describes the same images
    with pytest.raises(GanlabError, match=r"feature_extractor\.precision=fp16 is not an option"):
        InceptionFeatures(precision="fp16")


@pytest.mark.parametrize("args", [["train", "--help"], ["train", "--cfg", "job"], ["train", "model=nonexistent"]])
def test_help_config_and_config_errors_answer_without_importing_torch(ganlab_env, args):
    """torch and Lightning take seconds to import; ``--help``, ``--cfg`` and composition errors need neither."""
    probe = (
        "import sys\nfrom ganlab.cli import main\n"
        f"try:\n    main(['ganlab', *{args!r}])\nexcept SystemExit:\n    pass\n"
        "print('imported:', sorted(m for m in ('torch', 'lightning') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", probe], env=ganlab_env, capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip().splitlines()[-1] == "imported: []", proc.stdout[-2000:] + proc.stderr[-2000:]
