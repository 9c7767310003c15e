"""``init_generator``: a run's G starts from another run's generator weights (SRGAN from SRResNet)."""

from __future__ import annotations

import pytest
import torch

from ganlab.checkpoint import load_checkpoint
from ganlab.errors import GanlabError
from ganlab.module import GANModule

# the tiny_mnist_run fixture's model
TINY_DCGAN = ("dataset=mnist", "model=dcgan", "model.generator.width=8", "model.discriminator.width=8")


def saved_weights(run_dir, network: str) -> dict[str, torch.Tensor]:
    state = load_checkpoint(run_dir / "checkpoints" / "last.ckpt")["state_dict"]
    return {k.removeprefix(f"{network}."): v for k, v in state.items() if k.startswith(f"{network}.")}


def test_g_starts_from_the_runs_weights_and_d_from_scratch(compose_train, tiny_mnist_run):
    module = GANModule.from_config(compose_train(*TINY_DCGAN), generator_weights=tiny_mnist_run)
    generator = saved_weights(tiny_mnist_run, "generator")
    assert generator.keys() == module.generator.state_dict().keys()
    assert all(torch.equal(v, generator[k]) for k, v in module.generator.state_dict().items())
    discriminator = saved_weights(tiny_mnist_run, "discriminator")
    assert not all(torch.equal(v, discriminator[k]) for k, v in module.discriminator.state_dict().items())


def test_historical_averaging_starts_its_average_at_the_loaded_weights(compose_train, tiny_mnist_run):
    cfg = compose_train(*TINY_DCGAN, "tricks=[historical_averaging]")
    module = GANModule.from_config(cfg, generator_weights=tiny_mnist_run)
    (averaging,) = module.tricks
    generator = saved_weights(tiny_mnist_run, "generator")
    names = [name for name, _ in module.generator.named_parameters()]
    assert all(
        torch.equal(mean, generator[name]) for name, mean in zip(names, averaging.means["generator"], strict=True)
    )


def test_a_generator_of_another_shape_is_refused_in_one_line(compose_train, tiny_mnist_run):
    cfg = compose_train("dataset=mnist", "model=dcgan", "model.generator.width=16")
    with pytest.raises(GanlabError, match=r"does not fit this model's \(shape: .*\); pass a run of the same") as err:
        GANModule.from_config(cfg, generator_weights=tiny_mnist_run)
    assert "\n" not in str(err.value)
    with pytest.raises(GanlabError, match="checkpoint not found"):
        GANModule.from_config(cfg, generator_weights=tiny_mnist_run / "nowhere")


@pytest.mark.slow
def test_ganlab_train_init_generator_trains_on_from_the_given_weights(run_ganlab, tmp_path, tiny_mnist_run):
    run_dir = tmp_path / "finetune"
    # G lr 0: the one step leaves the loaded weights where they are, so the checkpoint shows where G began
    run_ganlab(
        "train", *TINY_DCGAN, f"init_generator={tiny_mnist_run}", "optim.generator.lr=0", "generator_steps=1",
        "logger=none", f"hydra.run.dir={run_dir}",
    )  # fmt: skip
    started = saved_weights(tiny_mnist_run, "generator")
    after = saved_weights(run_dir, "generator")
    parameters = [k for k in started if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))]
    assert parameters and all(torch.equal(after[k], started[k]) for k in parameters)
    assert load_checkpoint(run_dir / "checkpoints" / "last.ckpt")["ganlab"]["generator_steps"] == 1
