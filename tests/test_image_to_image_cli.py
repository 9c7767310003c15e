"""pix2pix, CycleGAN and SRGAN through the real ``ganlab`` command: train, eval, translate a folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from PIL import Image

from ganlab.errors import GanlabError
from ganlab.metrics import PairedImageQuality
from ganlab.module import GANModule
from ganlab.translate import input_images
from tests.helpers import fit

pytestmark = pytest.mark.slow

# (model, dataset, tiny-width overrides): each model on its built-in task
TASKS = {
    "pix2pix": ("mnist_edges", ["model.generator.width=8", "model.discriminator.width=8"]),
    "cyclegan": (
        "mnist_thickness",
        ["model.generator.width=4", "model.generator.n_blocks=1", "model.discriminator.width=4"],
    ),
    "srgan": (
        "mnist_superres",
        [
            "model.generator.width=8",
            "model.generator.num_blocks=1",
            "model.discriminator.width=4",
            "model.discriminator.hidden=16",
        ],
    ),
}


def write_pngs(folder: Path, count: int, side: int) -> list[Path]:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    paths = [folder / f"digit_{i}.png" for i in range(count)]
    for path in paths:
        Image.fromarray(rng.integers(0, 256, (side, side), dtype=np.uint8), "L").save(path)
    return paths


@pytest.mark.parametrize("model", list(TASKS))
def test_train_eval_and_translate_a_folder(run_ganlab, tmp_path, model):
    dataset, tiny = TASKS[model]
    run_dir = tmp_path / "run"
    run_ganlab(
        "train", f"model={model}", f"dataset={dataset}", *tiny, "generator_steps=6", "checkpoint_every=6",
        "dataset.datamodule.batch_size=8", "logger=none", f"hydra.run.dir={run_dir}",
    )  # fmt: skip
    grid = Image.open(run_dir / "samples" / "step_000006.png")
    rows = 8  # dataset.sample_grid_size: input | output | target (CycleGAN: A->B->A rows, then B->A->B rows)
    assert grid.width < grid.height and grid.height >= rows * 28

    out = tmp_path / "eval"
    run_ganlab("eval", f"ckpt={run_dir}", "metrics=[psnr_ssim]", "num_samples=40", f"out_dir={out}")
    report = json.loads((out / "metrics.json").read_text())
    assert report["num_samples"] == 40
    values = report["metrics"]
    assert set(values) == {"psnr", "ssim", "psnr_baseline", "ssim_baseline"}
    assert all(np.isfinite(v) for v in values.values()) and 0 < values["psnr"] < 100

    inputs = write_pngs(tmp_path / "mine", 3, side=40)  # any size: resized to the trained input size
    directions = ["AtoB", "BtoA"] if model == "cyclegan" else ["AtoB"]
    for direction in directions:
        out = tmp_path / direction
        run_ganlab(
            "translate", f"ckpt={run_dir}", f"input={tmp_path / 'mine'}", f"output={out}", f"direction={direction}"
        )
        for path in inputs:
            with Image.open(out / f"{path.stem}.png") as made:
                assert made.size == (28, 28) and made.mode == "L"
    if model == "cyclegan":  # two different translators
        a_to_b, b_to_a = (np.asarray(Image.open(tmp_path / d / "digit_0.png")) for d in directions)
        assert not np.array_equal(a_to_b, b_to_a)


def test_translate_refuses_a_noise_model_and_writing_over_its_inputs(run_ganlab, tmp_path, tiny_mnist_run):
    write_pngs(tmp_path / "in", 1, side=28)
    noise_model = run_ganlab(
        "translate", f"ckpt={tiny_mnist_run}", f"input={tmp_path / 'in'}", f"output={tmp_path / 'o'}", expect=2
    )
    assert "makes images from noise" in noise_model.stderr and len(noise_model.stderr.strip().splitlines()) == 1
    same = run_ganlab(
        "translate", f"ckpt={tiny_mnist_run}", f"input={tmp_path / 'in'}", f"output={tmp_path / 'in'}", expect=2
    )
    assert "is the input folder" in same.stderr and (tmp_path / "in" / "digit_0.png").exists()


def test_translate_needs_a_folder_of_images(tmp_path):
    with pytest.raises(GanlabError, match="is not a folder"):
        input_images(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    with pytest.raises(GanlabError, match="holds no images"):
        input_images(tmp_path / "empty")


def test_a_translation_model_on_a_dataset_without_inputs_is_refused(run_ganlab):
    wrong = run_ganlab("train", "model=pix2pix", "dataset=mnist", expect=2)
    assert "has no inputs to translate" in wrong.stderr


def test_srresnet_trains_g_on_its_content_loss_and_leaves_d_alone(compose_train):
    cfg = compose_train(
        "model=srresnet",
        "dataset=mnist_superres",
        *TASKS["srgan"][1],
        "generator_steps=3",
        "dataset.datamodule.batch_size=8",
    )
    module = GANModule.from_config(cfg)
    d_before = {k: v.clone() for k, v in module.discriminator.state_dict().items()}
    g_before = {k: v.clone() for k, v in module.generator.state_dict().items()}
    _, module = fit(cfg, module)
    assert module.generator_steps == 3 and module.discriminator_steps == 0
    assert not module.optimizers()[1].optimizer.state  # D's optimiser never saw a gradient
    assert all(torch.equal(v, module.discriminator.state_dict()[k]) for k, v in d_before.items())
    assert any(not torch.equal(v, module.generator.state_dict()[k]) for k, v in g_before.items())


# narrow models, 150 steps on their built-in task: (overrides, the output's PSNR/SSIM margin over the trivial
# translation's). Measured: pix2pix 14.6 dB vs the edge map copied 9.8; srgan x4 15.4 dB / 0.62 vs bicubic
# 14.7 / 0.56; cyclegan 12.4 dB vs the thin digit copied 8.5 (its SSIM is not past the copy's yet).
BEAT_THE_BASELINE = {
    "pix2pix": (
        ["dataset=mnist_edges", "model.generator.width=16", "model.discriminator.width=16"],
        {"psnr": 2.0},
    ),
    "srgan": (
        ["dataset=mnist_superres", "dataset.scale=4", "model.generator.width=16", "model.generator.num_blocks=2",
         "model.discriminator.width=8", "model.discriminator.hidden=64"],
        {"psnr": 0.3, "ssim": 0.03},
    ),
    "cyclegan": (
        ["dataset=mnist_thickness", "model.generator.width=8", "model.generator.n_blocks=1",
         "model.discriminator.width=8", "dataset.datamodule.batch_size=16"],
        {"psnr": 2.0},
    ),
}  # fmt: skip


@pytest.mark.parametrize("model", list(BEAT_THE_BASELINE))
def test_each_model_learns_its_task_past_the_trivial_baseline(compose_train, model):
    overrides, margins = BEAT_THE_BASELINE[model]
    cfg = compose_train(f"model={model}", *overrides, "generator_steps=150")
    _, module = fit(cfg)
    assert module.generator_steps == 150 and all(p.isfinite().all() for p in module.parameters())
    examples = instantiate(cfg.dataset.datamodule).examples(200)
    torch.manual_seed(0)
    metric = PairedImageQuality()
    outputs = module.generate(module.generator.sample_latent(200), {"source": examples["source"]})
    metric.update(outputs, examples["source"], examples["real"])
    values = metric.compute()
    for name, margin in margins.items():
        assert values[name] > values[f"{name}_baseline"] + margin, (name, values)


@pytest.mark.parametrize(
    ("model", "dataset", "folders"),
    [("pix2pix", "paired_folder", ["A", "B"]), ("cyclegan", "unpaired_folder", ["trainA", "trainB"])],
)
def test_the_models_train_on_a_users_own_folders(compose_train, tmp_path, model, dataset, folders):
    rng = np.random.default_rng(0)
    for folder in folders:
        (tmp_path / folder).mkdir()
        for i in range(10):
            pixels = rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)
            Image.fromarray(pixels, "RGB").save(tmp_path / folder / f"photo_{i}.png")
    cfg = compose_train(
        f"model={model}", f"dataset={dataset}", f"dataset.root={tmp_path}", "dataset.resolution=32",
        "model.generator.width=4", "model.discriminator.width=4", "generator_steps=2",
        "dataset.datamodule.batch_size=4",
    )  # fmt: skip
    _, module = fit(cfg)
    assert module.generator_steps == 2 and all(torch.isfinite(p).all() for p in module.parameters())
    picture = module.sample_picture(torch.zeros(2, 0), instantiate(cfg.dataset.datamodule))
    assert picture.shape[0] == 3 and picture.shape[-1] == 3 * 32 + 4 * 2  # input | output | target, 32 px, padded
