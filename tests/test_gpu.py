"""What ganlab does on a CUDA GPU: bf16 where it is native, channels_last, cuDNN benchmark, data kept on the GPU.

Skipped where there is no CUDA GPU (CI has none); run on a GPU machine with ``pytest tests/test_gpu.py``.
"""

from __future__ import annotations

import pytest
import torch

from ganlab.precision import resolve_precision
from tests.helpers import fit

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

TINY_DCGAN = ("model=dcgan", "dataset=mnist", "dataset.download=false", "trainer=gpu", "generator_steps=3")


def test_auto_precision_on_a_gpu_is_bf16_where_the_gpu_has_it():
    expected = "bf16-mixed" if torch.cuda.is_bf16_supported() else "32-true"
    assert resolve_precision("auto", "gpu")[0] == resolve_precision("auto", "auto")[0] == expected


def test_a_gpu_run_keeps_mnist_on_the_gpu_with_channels_last_weights_and_cudnn_benchmark(compose_train):
    trainer, module = fit(compose_train(*TINY_DCGAN))
    assert trainer.train_dataloader.dataset.tensors["real"].device.type == "cuda"
    assert torch.backends.cudnn.benchmark
    conv = module.discriminator.modules()
    weights = [m.weight for m in conv if isinstance(m, torch.nn.Conv2d) and m.weight.shape[1] > 1]
    assert weights and all(w.is_cuda and w.is_contiguous(memory_format=torch.channels_last) for w in weights)
    assert module.generator_steps == 3


@pytest.mark.slow
def test_eval_scores_fid_on_the_gpu_with_either_inception_precision(run_ganlab, tmp_path):
    run = tmp_path / "run"
    run_ganlab("train", *TINY_DCGAN, "logger=none", f"hydra.run.dir={run}")
    for extra in ([], ["feature_extractor=inception", "feature_extractor.precision=bf16"]):
        out = run_ganlab("eval", f"ckpt={run}", "device=cuda", "num_samples=100", "metrics=[fid]", *extra).stdout
        assert "fid" in out
