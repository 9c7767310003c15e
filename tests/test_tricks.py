"""Tricks do what their papers say, alone and in combination."""

from __future__ import annotations

import functools
import itertools
import math
import random
from pathlib import Path

import lightning as L
import pytest
import torch
from torch import nn
from torch.testing import assert_close

from ganlab.config import config_dir
from ganlab.errors import GanlabError
from ganlab.losses import LeastSquaresLoss, NonSaturatingLoss
from ganlab.models.dcgan import DCGANDiscriminator
from ganlab.models.mlp import MLPDiscriminator, MLPGenerator
from ganlab.models.stylegan import StyleGANGenerator
from ganlab.module import GANModule
from ganlab.tricks import (
    EMA,
    MADGAN,
    DiffAugment,
    GradientPenalty,
    HistoricalAveraging,
    InstanceNoise,
    LabelSmoothing,
    MinibatchDiscrimination,
    MinibatchStdDev,
    NoisyLabels,
    Packing,
    ReplayBuffer,
    StepContext,
)
from ganlab.tricks.diffaugment import brightness, cutout, translate
from ganlab.tricks.minibatch import MinibatchDiscriminationLayer, MinibatchStdDevLayer
from ganlab.tricks.multi_generator import MultiGenerator, generator_index
from ganlab.tricks.packing import pack
from ganlab.tricks.unrolled import unrolled_update
from tests.helpers import fit

TRICKS = sorted(path.stem for path in (Path(config_dir()) / "tricks").glob("*.yaml"))
# Tricks that only make sense for images.
IMAGE_TRICKS = {"diffaugment"}


# --- labels ---------------------------------------------------------------------------------------------------------


def test_one_sided_label_smoothing_moves_only_the_real_target():
    real, fake = LabelSmoothing(0.1).discriminator_labels(torch.ones(4), torch.zeros(4), module=None)
    assert_close(real, torch.full((4,), 0.9))
    assert_close(fake, torch.zeros(4))
    _, fake = LabelSmoothing(0.1, two_sided=True).discriminator_labels(torch.ones(4), torch.zeros(4), module=None)
    assert_close(fake, torch.full((4,), 0.1))


def test_smoothed_log_loss_is_the_cross_entropy_with_the_soft_target():
    logit = 0.8
    sigmoid = 1 / (1 + math.exp(-logit))
    expected = -(0.9 * math.log(sigmoid) + 0.1 * math.log(1 - sigmoid)) - math.log(1 - 1 / (1 + math.exp(0.3)))
    value = NonSaturatingLoss().discriminator_loss(
        torch.tensor([[logit]]), torch.tensor([[-0.3]]), real_targets=torch.tensor([0.9]), fake_targets=torch.zeros(1)
    )
    assert_close(value, torch.tensor(expected, dtype=torch.float32))


def test_lsgan_soft_label_means_an_interpolated_target():
    loss = LeastSquaresLoss(a=-1.0, b=1.0, c=0.0)
    # label 0.9 -> target -1 + 0.9 * 2 = 0.8; a logit of 0.8 on real costs nothing
    value = loss.discriminator_loss(torch.tensor([[0.8]]), torch.tensor([[-1.0]]), torch.tensor([0.9]), torch.zeros(1))
    assert_close(value, torch.tensor(0.0))


def test_noisy_labels_flip_the_configured_fraction():
    torch.manual_seed(0)
    n, p = 200_000, 0.05
    real, fake = NoisyLabels(p).discriminator_labels(torch.ones(n), torch.zeros(n), module=None)
    assert set(real.unique().tolist()) == {0.0, 1.0} and set(fake.unique().tolist()) == {0.0, 1.0}
    tolerance = 4 * math.sqrt(p * (1 - p) / n)
    assert abs((real == 0).float().mean().item() - p) < tolerance
    assert abs((fake == 1).float().mean().item() - p) < tolerance


def test_label_tricks_refuse_a_loss_without_labels(compose_train):
    with pytest.raises(GanlabError, match=r"HingeLoss does not have.*loss=gan, nsgan, lsgan"):
        GANModule.from_config(compose_train("loss=hinge", "tricks=[label_smoothing]"))


# --- instance noise -------------------------------------------------------------------------------------------------


class _Steps(nn.Module):
    """Stands in for the GAN module where a trick reads only its networks and step counters."""

    def __init__(self, generator: nn.Module | None = None, generator_steps: int = 0) -> None:
        super().__init__()
        self.generator = generator
        self.generator_steps = generator_steps


def test_instance_noise_sigma_follows_its_schedule():
    linear = InstanceNoise(std=0.2, anneal_steps=100)
    assert [linear.sigma(t) for t in (0, 50, 100, 150)] == pytest.approx([0.2, 0.1, 0.0, 0.0])
    assert InstanceNoise(std=0.2, anneal_steps=100, schedule="constant").sigma(150) == 0.2


def test_instance_noise_has_the_scheduled_std_on_both_inputs_and_vanishes_at_the_end():
    trick = InstanceNoise(std=0.2, anneal_steps=100)
    real, fake = torch.zeros(100_000, 2), torch.ones(100_000, 2)
    noisy_real, noisy_fake = trick.discriminator_inputs(real, fake, _Steps(generator_steps=50))
    assert noisy_real.std().item() == pytest.approx(0.1, rel=0.02)
    assert (noisy_fake - fake).std().item() == pytest.approx(0.1, rel=0.02)
    same_real, same_fake = trick.generator_step_inputs(real, fake, _Steps(generator_steps=100))
    assert same_real is real and same_fake is fake


# --- EMA ------------------------------------------------------------------------------------------------------------


def test_ema_weights_equal_the_closed_form():
    beta = 0.9
    generator = nn.Linear(1, 1, bias=False)
    holder = _Steps(generator)
    trick = EMA(decay=beta)
    trick.setup(holder)
    thetas = [2.0, -1.0, 4.0]
    for step, theta in enumerate(thetas, start=1):
        generator.weight.data.fill_(theta)
        holder.generator_steps = step
        trick.after_generator_step(StepContext(holder, torch.zeros(1), torch.zeros(1)))
    # the first update copies; then avg <- beta avg + (1 - beta) theta
    expected = beta**2 * thetas[0] + (1 - beta) * (beta * thetas[1] + thetas[2])
    assert trick.sampling_generator(generator).weight.item() == pytest.approx(expected)
    assert generator.weight.item() == 4.0  # training weights untouched


def test_ema_samples_come_from_the_averaged_generator_and_survive_a_checkpoint(compose_train, tmp_path):
    trainer, module = fit(compose_train("tricks=[ema]", "tricks.ema.decay=0.9", "generator_steps=20"))
    assert module.sampling_generator is module.generator_ema.module
    z = module.generator.sample_latent(8)
    assert not torch.equal(module.generate(z), module.generator(z))
    trainer.save_checkpoint(tmp_path / "ema.ckpt")
    restored = GANModule.from_config(compose_train("tricks=[ema]", "tricks.ema.decay=0.9"))
    restored.load_state_dict(torch.load(tmp_path / "ema.ckpt", weights_only=True)["state_dict"])
    assert_close(restored.generate(z), module.generate(z))


# --- historical averaging and replay ---------------------------------------------------------------------------------


def test_historical_averaging_penalty_is_exact():
    holder = _Steps(nn.Linear(1, 1, bias=False))
    holder.discriminator = nn.Linear(1, 1, bias=False)
    holder.generator.weight.data.fill_(1.0)
    trick = HistoricalAveraging(weight=0.5)
    trick.setup(holder)  # theta_1 = 1
    holder.generator.weight.data.fill_(3.0)
    trick.after_generator_step(StepContext(holder, torch.zeros(1), torch.zeros(1)))  # mean of 1, 3 = 2
    holder.generator.weight.data.fill_(6.0)
    context = StepContext(holder, torch.zeros(1), torch.zeros(1))
    (value,) = trick.generator_terms(context).values()
    assert_close(value, torch.tensor(0.5 * (6.0 - 2.0) ** 2))
    value.backward()
    assert_close(holder.generator.weight.grad, torch.tensor([[2 * 0.5 * (6.0 - 2.0)]]))
    assert trick.discriminator_terms(context)["historical_average"].item() == 0.0  # D has not moved


def test_replay_buffer_fills_then_mixes_in_stored_fakes_at_the_configured_rate():
    torch.manual_seed(0)
    buffer = ReplayBuffer(size=100, replay_probability=0.3)
    first = torch.arange(100.0).unsqueeze(1)  # 0..99 fill the pool and pass through unchanged
    assert_close(buffer.mix(first), first)
    fresh = torch.full((20_000, 1), -1.0)
    seen = buffer.mix(fresh)
    replayed = seen.squeeze(1) >= 0
    assert abs(replayed.float().mean().item() - 0.3) < 0.02
    assert set(seen[replayed].squeeze(1).tolist()) <= set(range(100))  # replayed samples are stored ones
    assert (buffer.pool == -1.0).any()  # the new fakes took their slots


# --- layers inserted into D: minibatch statistics, packing, feature matching ------------------------------------------


def discriminators() -> list[nn.Module]:
    torch.manual_seed(0)
    return [MLPDiscriminator([2], hidden_dims=[16, 16]), DCGANDiscriminator(1, 28, width=8, norm="none")]


def holder_for(discriminator: nn.Module) -> _Steps:
    holder = _Steps()
    holder.discriminator = discriminator
    return holder


def test_minibatch_stddev_statistic_by_hand():
    x = torch.tensor([[0.0, 4.0], [2.0, 4.0], [0.0, 4.0], [2.0, 4.0]])
    # one group of 4: feature stds 1 and 0, mean 0.5 (plus the 1e-8 under the square root)
    assert_close(MinibatchStdDevLayer(4)(x), torch.full((4, 1), 0.5), atol=1e-4, rtol=0)
    maps = MinibatchStdDevLayer(2)(torch.randn(6, 3, 5, 5))
    assert maps.shape == (6, 1, 5, 5)


def test_minibatch_discrimination_closeness_by_hand():
    layer = MinibatchDiscriminationLayer(in_features=2, num_kernels=1, kernel_dim=2)
    with torch.no_grad():
        layer.T.copy_(torch.eye(2))
    features = torch.tensor([[0.0, 0.0], [1.0, 0.5], [0.0, 0.0]])
    far = math.exp(-1.5)  # L1 distance between sample 1 and the others
    assert_close(layer(features), torch.tensor([[far + 1.0], [2 * far], [far + 1.0]]))


@pytest.mark.parametrize("trick", [MinibatchStdDev(), MinibatchDiscrimination(num_kernels=4, kernel_dim=3)])
def test_minibatch_layers_start_as_the_same_function(trick):
    for discriminator in discriminators():
        x = torch.randn(8, 2) if isinstance(discriminator, MLPDiscriminator) else torch.randn(8, 1, 28, 28)
        before = discriminator(x)
        trick.setup(holder_for(discriminator))
        assert_close(discriminator(x), before)  # new inputs start with zero weight
        assert any(p.grad is None for p in discriminator.parameters())
        discriminator(x).sum().backward()  # and they are trained
        output_layer = [m for m in discriminator.modules() if isinstance(m, (nn.Linear, nn.Conv2d))][-1]
        assert output_layer.weight.grad[:, -1].abs().sum() > 0


def test_packed_discriminator_scores_a_pack_of_copies_as_one_sample():
    for discriminator in discriminators():
        x = torch.randn(4, 2) if isinstance(discriminator, MLPDiscriminator) else torch.randn(4, 1, 28, 28)
        single = discriminator(x)
        Packing(m=3).setup(holder_for(discriminator))
        copies = x.repeat_interleave(3, dim=0)  # x0 x0 x0 x1 x1 x1 ...
        assert pack(copies, 3).shape == (4, 3 * x.shape[1], *x.shape[2:])
        assert_close(discriminator(pack(copies, 3)), single)


def test_packing_needs_a_batch_divisible_by_m():
    with pytest.raises(GanlabError, match="multiple of m = 4"):
        pack(torch.zeros(10, 2), 4)


def test_feature_matching_matches_the_mean_of_the_last_hidden_features(compose_train):
    module = GANModule.from_config(compose_train("tricks=[feature_matching]", "tricks.feature_matching.weight=2.0"))
    real, fake = torch.randn(32, 2), torch.randn(32, 2, requires_grad=True)
    hidden = module.discriminator.features  # flatten and the hidden stack: what enters the output layer
    expected = 2.0 * ((hidden(real).mean(0) - hidden(fake).mean(0)) ** 2).sum()
    (value,) = module.tricks[0].generator_terms(StepContext(module, real, fake)).values()
    assert_close(value, expected)
    value.backward()
    assert fake.grad.abs().sum() > 0


def test_feature_matching_names_the_layers_it_could_use(compose_train):
    with pytest.raises(GanlabError, match=r"no layer 'nope'; choose one of body, body.0"):
        GANModule.from_config(compose_train("tricks=[feature_matching]", "tricks.feature_matching.layer=nope"))


# --- DiffAugment -----------------------------------------------------------------------------------------------------


def test_translate_moves_pixels_and_fills_with_zeros():
    image = torch.zeros(2, 1, 6, 6)
    image[:, 0, 2, 3] = 1.0
    moved = translate(image, torch.tensor([[2, 1], [5, 0]]))  # (dx, dy)
    assert moved[0, 0, 3, 5] == 1.0 and moved[0].sum() == 1.0
    assert moved[1].sum() == 0.0  # shifted out of the picture


def test_cutout_zeroes_one_square_of_half_the_side():
    torch.manual_seed(0)
    holes = (cutout(torch.ones(500, 1, 8, 8)) == 0).float()
    assert holes.sum(dim=(1, 2, 3)).max() == 16  # 4 x 4 when the square lies inside
    assert holes.sum(dim=(1, 2, 3)).min() >= 1
    rows, cols = holes.amax(dim=(1, 3)), holes.amax(dim=(1, 2))
    assert_close(holes.sum(dim=(1, 2, 3)), rows.sum(dim=1) * cols.sum(dim=1))  # one rectangle


def test_brightness_shifts_each_image_by_one_constant():
    x = torch.randn(4, 3, 5, 5)
    shift = brightness(x) - x
    assert_close(shift, shift[:, :1, :1, :1].expand_as(shift))
    assert shift.abs().max() <= 0.5


def test_diffaugment_lets_the_gradient_reach_the_fakes_and_refuses_points():
    fake = torch.randn(4, 3, 16, 16, requires_grad=True)
    DiffAugment().augment(fake).sum().backward()
    assert fake.grad.abs().sum() > 0
    with pytest.raises(GanlabError, match="needs images"):
        DiffAugment().augment(torch.randn(4, 2))
    with pytest.raises(GanlabError, match="unknown DiffAugment policy 'blur'"):
        DiffAugment("color,blur")


# --- unrolled GAN ---------------------------------------------------------------------------------------------------


def trained_generator(compose_train, *overrides: str) -> dict[str, torch.Tensor]:
    L.seed_everything(0, verbose=False)
    _, module = fit(compose_train(*overrides, "generator_steps=10"))
    return {name: p.detach().clone() for name, p in module.generator.named_parameters()}


def test_unrolling_zero_steps_is_exactly_the_plain_step(compose_train):
    plain = trained_generator(compose_train)
    zero = trained_generator(compose_train, "tricks=[unrolled]", "tricks.unrolled.steps=0")
    three = trained_generator(compose_train, "tricks=[unrolled]", "tricks.unrolled.steps=3")
    for name in plain:
        torch.testing.assert_close(zero[name], plain[name], rtol=0, atol=0)
    assert any(not torch.equal(three[name], plain[name]) for name in plain)


@pytest.mark.parametrize("optimizer_class", [torch.optim.Adam, torch.optim.SGD])
def test_unrolled_update_equals_the_optimizer_step(optimizer_class):
    torch.manual_seed(0)
    weight = nn.Parameter(torch.randn(5))
    optimizer = optimizer_class([weight], lr=0.1)
    for _ in range(3):  # build up Adam's moment estimates
        weight.grad = torch.randn(5)
        optimizer.step()
    grad = torch.randn(5)
    predicted = unrolled_update(optimizer, {"w": weight})({"w": weight.detach()}, {"w": grad})["w"]
    weight.grad = grad
    optimizer.step()
    assert_close(predicted, weight.detach())


# --- Lipschitz devices ----------------------------------------------------------------------------------------------


def test_spectral_norm_keeps_every_discriminator_layer_1_lipschitz(compose_train):
    """With one power iteration per step the estimate of sigma(W) trails W a little during training;
    with W held still it converges and every normalised layer has spectral norm 1."""
    torch.manual_seed(0)
    _, module = fit(compose_train("tricks=[spectral_norm]", "generator_steps=50"))
    layers = [m for m in module.discriminator.modules() if isinstance(m, nn.Linear)]
    assert len(layers) == 4
    for layer in layers:
        assert torch.linalg.matrix_norm(layer.weight.detach(), ord=2).item() <= 1.15
    module.discriminator.train()
    with torch.no_grad():
        for _ in range(200):
            module.discriminator(torch.zeros(1, 2))
    for layer in layers:
        assert torch.linalg.matrix_norm(layer.weight.detach(), ord=2).item() == pytest.approx(1.0, abs=0.01)


def test_weight_clipping_trick_clamps_the_discriminator(compose_train):
    _, module = fit(
        compose_train("tricks=[weight_clipping]", "tricks.weight_clipping.clip_value=0.02", "generator_steps=5")
    )
    assert max(p.abs().max().item() for p in module.discriminator.parameters()) <= 0.02


# --- gradient penalties ---------------------------------------------------------------------------------------------


def linear_critic(w: torch.Tensor):
    return lambda x: (x @ w).unsqueeze(1)


@pytest.mark.parametrize(
    ("kind", "expected"), [("r1", 0.5 * 2.0 * 25.0), ("r2", 0.5 * 2.0 * 25.0), ("dragan", 2.0 * 16.0)]
)
def test_penalties_of_a_linear_critic(kind, expected):
    # grad of w.x is w everywhere, |w| = 5
    w = torch.tensor([3.0, 4.0], requires_grad=True)
    value = GradientPenalty(kind, weight=2.0).penalty(linear_critic(w), torch.randn(16, 2), torch.randn(16, 2))
    assert_close(value, torch.tensor(expected))
    (grad,) = torch.autograd.grad(value, w)
    # d/dw of gamma/2 |w|^2 is gamma w; of lambda (|w| - 1)^2 it is 2 lambda (|w| - 1) w/|w|
    expected_grad = 2.0 * w if kind != "dragan" else 2 * 2.0 * (5.0 - 1.0) * w / 5.0
    assert_close(grad, expected_grad.detach())


def test_r1_of_a_quadratic_critic_is_the_mean_squared_norm_of_the_data():
    real = torch.tensor([[1.0, 2.0], [0.0, -3.0]])
    critic = lambda x: 0.5 * (x**2).sum(dim=1, keepdim=True)  # noqa: E731  gradient x
    value = GradientPenalty("r1", weight=4.0).penalty(critic, real, torch.zeros(2, 2))
    assert_close(value, torch.tensor(0.5 * 4.0 * (5.0 + 9.0) / 2))


# --- MAD-GAN ----------------------------------------------------------------------------------------------------------


def test_multi_generator_sends_each_block_of_the_batch_through_its_own_generator():
    torch.manual_seed(0)
    generators = MultiGenerator(MLPGenerator(4, [2], hidden_dims=[8]), k=3)
    z = torch.randn(7, 4)
    made_by = generator_index(7, 3)
    assert made_by.tolist() == [0, 0, 0, 1, 1, 2, 2]
    expected = torch.stack([generators.generators[int(i)](z[j : j + 1])[0] for j, i in enumerate(made_by)])
    assert_close(generators(z), expected)
    first, second = (dict(g.named_parameters()) for g in generators.generators[:2])
    for name, weight in first.items():  # a new draw of the same initial values, not the same network
        assert_close(second[name].flatten().sort().values, weight.flatten().sort().values)
    assert not torch.equal(first["net.0.0.weight"], second["net.0.0.weight"])


def test_multi_generator_passes_truncation_and_classes_on_to_its_generators():
    torch.manual_seed(0)
    stylegan = StyleGANGenerator(latent_dim=8, channels=1, resolution=28, width=8, w_dim=8, num_classes=3)
    generators = MultiGenerator(stylegan, k=2).eval()
    num, condition, per_row = generators.grid_condition(6)  # one row per class, as the inner generator draws
    assert (num, condition["label"].tolist(), per_row) == (6, [0, 0, 1, 1, 2, 2], 2)
    generators.truncation = 0.0  # StyleGAN truncates in w, inside each network: psi = 0 gives every z the mean w
    assert [g.truncation for g in generators.generators] == [0.0, 0.0]
    with torch.no_grad():
        images = generators(generators.sample_latent(4), label=torch.zeros(4, dtype=torch.long))
    assert_close(images[0], images[1])  # generator 0's two samples
    assert_close(images[2], images[3])  # generator 1's
    assert (images[0] - images[2]).abs().max() > 1e-4


def madgan_module(k: int) -> GANModule:
    torch.manual_seed(0)
    return GANModule(
        generator=MLPGenerator(4, [2], hidden_dims=[8]),
        discriminator=MLPDiscriminator([2], hidden_dims=[8]),
        loss=NonSaturatingLoss(),
        generator_optimizer=functools.partial(torch.optim.Adam),
        discriminator_optimizer=functools.partial(torch.optim.Adam),
        tricks=[MADGAN(k=k)],
    )


def test_madgan_losses_are_the_k_plus_1_class_cross_entropy():
    k = 3
    module = madgan_module(k)
    real, fake = torch.randn(5, 2), module.generator(torch.randn(6, 4))
    d_real, d_fake = module.discriminator(real), module.discriminator(fake)
    context = StepContext(module, real, fake, d_real, d_fake)
    (identification,) = module.tricks[0].discriminator_terms(context).values()
    d_loss = module.loss.discriminator_loss(d_real, d_fake) + identification
    # by hand: the widened output layer's k + 1 logits, the last one "real"
    head = module.tricks[0].head.output_layer
    features = module.discriminator.features
    log_p_real, log_p_fake = (torch.log_softmax(head(features(x)), dim=1) for x in (real, fake))
    made_by = torch.tensor([0, 0, 1, 1, 2, 2])
    expected = -log_p_real[:, k].mean() - log_p_fake[torch.arange(6), made_by].mean()
    assert_close(d_loss, expected)
    assert_close(module.loss.generator_loss(d_fake), -log_p_fake[:, k].mean())


def test_madgan_refuses_packing(compose_train):
    with pytest.raises(GanlabError, match="multi_generator cannot be combined with Packing"):
        GANModule.from_config(compose_train("tricks=[packing,multi_generator]"))


def test_madgan_is_set_up_before_the_tricks_that_copy_or_wrap_networks(compose_train):
    cfg = compose_train("tricks=[ema,spectral_norm,minibatch_stddev,multi_generator]", "generator_steps=10")
    _, module = fit(cfg)
    assert isinstance(module.generator, MultiGenerator) and isinstance(module.generator_ema.module, MultiGenerator)
    assert len(module.generator.generators) == 4
    assert torch.isfinite(module.generate(module.generator.sample_latent(64))).all()


# --- every trick, alone and combined --------------------------------------------------------------------------------


def test_the_first_tricks_are_shipped():
    assert {"label_smoothing", "noisy_labels", "instance_noise", "ema", "spectral_norm", "weight_clipping"} <= set(
        TRICKS
    )
    assert {"r1", "r2", "dragan", "historical_averaging", "replay_buffer", "feature_matching"} <= set(TRICKS)
    assert {"minibatch_stddev", "minibatch_discrimination", "packing", "unrolled", "diffaugment"} <= set(TRICKS)
    assert "multi_generator" in TRICKS


@pytest.mark.parametrize("trick", TRICKS)
def test_each_trick_trains_the_ring_and_mnist(compose_train, trick):
    if trick not in IMAGE_TRICKS:
        trainer, module = fit(compose_train(f"tricks=[{trick}]", "generator_steps=50"))
        assert torch.isfinite(trainer.callback_metrics["train/d_loss"]) and module.generator_steps == 50
    mnist = compose_train(
        f"tricks=[{trick}]",
        "model=dcgan",
        "dataset=mnist",
        "generator_steps=10",
        "model.generator.width=8",
        "model.discriminator.width=8",
        "dataset.datamodule.batch_size=16",
        "trainer.log_every_n_steps=5",
    )
    trainer, _ = fit(mnist)
    assert torch.isfinite(trainer.callback_metrics["train/g_loss"])


# MAD-GAN must know which generator made each fake: packs and replayed fakes hide it (a test checks the error).
EXCLUSIVE = [{"multi_generator", "packing"}, {"multi_generator", "replay_buffer"}]
PAIRS = random.Random(0).sample(
    [pair for pair in itertools.combinations(sorted(set(TRICKS) - IMAGE_TRICKS), 2) if set(pair) not in EXCLUSIVE], 6
)


@pytest.mark.parametrize("pair", PAIRS, ids="+".join)
def test_pairs_of_tricks_train_together(compose_train, pair):
    trainer, module = fit(compose_train(f"tricks=[{','.join(pair)}]", "generator_steps=25"))
    assert len(module.tricks) == 2
    assert torch.isfinite(trainer.callback_metrics["train/d_loss"])
    assert torch.isfinite(module.generate(module.generator.sample_latent(64))).all()


def test_image_tricks_together_on_mnist(compose_train):
    cfg = compose_train(
        "tricks=[diffaugment,minibatch_stddev,ema,r1]",
        "model=dcgan",
        "dataset=mnist",
        "generator_steps=10",
        "model.generator.width=8",
        "model.discriminator.width=8",
        "dataset.datamodule.batch_size=16",
        "trainer.log_every_n_steps=5",
    )
    trainer, _ = fit(cfg)
    assert torch.isfinite(trainer.callback_metrics["train/d_loss"])


def test_pacgan_protocol_experiment_matches_the_paper_and_packs(compose_train):
    cfg = compose_train(
        "experiment=pacgan", "dataset=grid25", "tricks=[packing]", "tricks.packing.m=4", "trainer.log_every_n_steps=5"
    )
    assert cfg.model.latent_dim == 2 and cfg.dataset.datamodule.batch_size == 100
    assert cfg.optim.betas == [0.8, 0.999] and cfg.optim.lr == 1e-4 and cfg.generator_steps == 400_000
    cfg.generator_steps = 10
    trainer, module = fit(cfg)
    assert module.discriminator.body[1][0].linear.in_features == 2 * 4  # packed maxout input
    assert torch.isfinite(trainer.callback_metrics["train/d_loss"])
