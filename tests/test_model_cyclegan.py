"""CycleGAN: the translator pair's outputs, the cycle and identity losses, the per-domain discriminators, training."""

import functools

import pytest
import torch
from torch import nn

from ganlab.errors import GanlabError
from ganlab.losses import LeastSquaresLoss
from ganlab.models.cyclegan import CycleGANDiscriminator, CycleGANGenerator, ResnetTranslator
from ganlab.models.pix2pix import PatchGANDiscriminator, UNetGenerator, patch_map_side
from ganlab.module import GANModule
from ganlab.tricks.base import StepContext
from ganlab.tricks.cycle import CycleConsistency
from ganlab.tricks.layers import weight_layers
from ganlab.tricks.replay_buffer import ReplayBuffer
from tests.helpers import fit_batches

WIDTH, BLOCKS = 4, 2


def images(n: int, channels: int, side: int = 28) -> torch.Tensor:
    return torch.rand(n, channels, side, side) * 2 - 1


def small_generator(source_channels: int = 1, channels: int = 3, **kwargs) -> CycleGANGenerator:
    return CycleGANGenerator(source_channels, channels, 28, width=WIDTH, n_blocks=BLOCKS, **kwargs)


def module_for(gen: CycleGANGenerator) -> GANModule:
    return GANModule(
        generator=gen,
        discriminator=CycleGANDiscriminator(gen.source_channels, gen.channels, gen.resolution, width=WIDTH),
        loss=LeastSquaresLoss(),
        generator_optimizer=functools.partial(torch.optim.Adam, lr=2e-4, betas=(0.5, 0.999)),
        discriminator_optimizer=functools.partial(torch.optim.Adam, lr=2e-4, betas=(0.5, 0.999)),
    )


def generator_terms(module: GANModule, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    gen = module.generator
    generated = gen(gen.sample_latent(batch["real"].shape[0]), **{k: batch[k] for k in gen.condition_keys})
    (trick,) = [t for t in module.tricks if isinstance(t, CycleConsistency)]
    context = StepContext(module, gen.discriminator_view(batch), generated, batch=batch, generated=generated)
    return trick.generator_terms(context)


class ShiftBy(nn.Module):
    """A stand-in translator that adds a constant to every pixel."""

    def __init__(self, shift: float) -> None:
        super().__init__()
        self.shift = shift

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.shift


# --- translators and generator -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("side", "n_downsampling"), [(28, 2), (32, 2), (32, 3), (64, 2)])
def test_translator_keeps_the_size_and_maps_channels(side, n_downsampling):
    net = ResnetTranslator(3, 1, width=WIDTH, n_downsampling=n_downsampling, n_blocks=BLOCKS)
    out = net(images(2, 3, side))
    assert out.shape == (2, 1, side, side)
    assert out.min() >= -1 and out.max() <= 1
    bottleneck = [m for m in net.modules() if m.__class__.__name__ == "ResidualBlock"]
    assert len(bottleneck) == BLOCKS and bottleneck[0].body[1].in_channels == WIDTH * 2**n_downsampling


@pytest.mark.parametrize(("source_channels", "channels"), [(1, 3), (3, 1), (3, 3)])
def test_training_output_is_fake_b_then_fake_a(source_channels, channels):
    torch.manual_seed(0)
    gen = small_generator(source_channels, channels)
    assert gen.latent_dim == 0 and gen.condition_keys == ("source", "real")
    a, b = images(2, source_channels), images(2, channels)
    out = gen(gen.sample_latent(2), source=a, real=b)
    assert out.shape == (2, channels + source_channels, 28, 28)
    torch.testing.assert_close(out[:, :channels], gen.a_to_b(a))
    torch.testing.assert_close(out[:, channels:], gen.b_to_a(b))
    view = gen.discriminator_view({"source": a, "real": b})
    assert view.shape == out.shape
    assert torch.equal(view[:, :channels], b) and torch.equal(view[:, channels:], a)


def test_sampling_translates_in_the_chosen_direction():
    torch.manual_seed(0)
    gen = small_generator(1, 3)
    a, b = images(2, 1), images(2, 3)
    z = gen.sample_latent(2)
    assert gen.direction == "AtoB"
    assert gen(z, source=a).shape == (2, 3, 28, 28)
    torch.testing.assert_close(gen(z, source=a), gen.a_to_b(a))
    gen.direction = "BtoA"
    assert gen(z, source=b).shape == (2, 1, 28, 28)
    torch.testing.assert_close(gen(z, source=b), gen.b_to_a(b))
    assert small_generator(direction="BtoA").direction == "BtoA"
    with pytest.raises(GanlabError, match="AtoB"):
        gen.direction = "sideways"
    with pytest.raises(ValueError, match="pass source"):
        gen(z)


def test_a_resolution_the_translators_cannot_halve_twice_is_refused():
    with pytest.raises(GanlabError, match=r"divisible by 4"):
        CycleGANGenerator(1, 3, 30, width=WIDTH)


# --- cycle and identity losses -------------------------------------------------------------------------------------


def test_the_generator_brings_the_cycle_loss_and_the_history_pool_with_the_papers_weights():
    cycle, pool = small_generator().implied_tricks()
    # halved, as the adversarial term is the mean of the two games where the paper sums them
    assert isinstance(cycle, CycleConsistency) and cycle.weight == 10.0 / 2 and cycle.identity_weight == 0.5
    assert isinstance(pool, ReplayBuffer) and pool.size == 50 and pool.replay_probability == 0.5
    assert small_generator(cycle_weight=0, pool_size=0).implied_tricks() == []


def test_translation_pictures_show_both_round_trips():
    torch.manual_seed(0)
    gen = small_generator(1, 3).eval()
    a, b = images(2, 1), images(3, 3)
    with torch.no_grad():
        inputs, translated, back = gen.translation_columns({"source": a, "real": b})
        assert inputs.shape == translated.shape == back.shape == (5, 3, 28, 28)
        torch.testing.assert_close(translated[:2], gen.a_to_b(a))
        torch.testing.assert_close(back[:2], gen.b_to_a(gen.a_to_b(a)).expand(-1, 3, -1, -1))
        torch.testing.assert_close(back[2:], gen.a_to_b(gen.b_to_a(b)))


def test_cycle_and_identity_losses_vanish_for_identity_translators():
    torch.manual_seed(0)
    gen = small_generator(3, 3)
    module = module_for(gen)
    batch = {"source": images(4, 3), "real": images(4, 3)}
    terms = generator_terms(module, batch)
    assert terms["cycle"] > 0 and terms["identity"] > 0
    gen.a_to_b, gen.b_to_a = nn.Identity(), nn.Identity()
    terms = generator_terms(module, batch)
    assert terms["cycle"].item() == 0.0 and terms["identity"].item() == 0.0


def test_losses_are_weighted_l1_means_over_pixels():
    torch.manual_seed(0)
    gen = small_generator(3, 3, cycle_weight=10.0, identity_weight=0.5)
    module = module_for(gen)
    # a constant shift: each translator adds 0.25, so a round trip is off by 0.5 and a single pass by 0.25
    gen.a_to_b = gen.b_to_a = ShiftBy(0.25)
    terms = generator_terms(module, {"source": images(2, 3), "real": images(2, 3)})
    # lambda = 10, halved like the mean adversarial term (the paper sums the two games)
    torch.testing.assert_close(terms["cycle"], torch.tensor(10.0 / 2 * (0.5 + 0.5)))
    torch.testing.assert_close(terms["identity"], torch.tensor(0.5 * 10.0 / 2 * (0.25 + 0.25)))


def test_identity_term_is_left_out_when_the_channels_differ_or_its_weight_is_zero():
    torch.manual_seed(0)
    terms = generator_terms(module_for(small_generator(1, 3)), {"source": images(2, 1), "real": images(2, 3)})
    assert set(terms) == {"cycle"}
    terms = generator_terms(
        module_for(small_generator(3, 3, identity_weight=0)), {"source": images(2, 3), "real": images(2, 3)}
    )
    assert set(terms) == {"cycle"}


def test_the_cycle_loss_needs_a_translator_pair():
    module = GANModule(
        generator=UNetGenerator(1, 3, 28, width=WIDTH),
        discriminator=PatchGANDiscriminator(3, resolution=28, width=WIDTH),
        loss=LeastSquaresLoss(),
        generator_optimizer=torch.optim.Adam,
        discriminator_optimizer=torch.optim.Adam,
        tricks=[CycleConsistency()],
    )
    batch = {"source": images(2, 1), "real": images(2, 3)}
    generated = module.generator(torch.zeros(2, 0), source=batch["source"])
    context = StepContext(module, batch["real"], generated, batch=batch, generated=generated)
    with pytest.raises(GanlabError, match="model=cyclegan"):
        CycleConsistency().generator_terms(context)


# --- discriminator -------------------------------------------------------------------------------------------------


def test_each_score_channel_sees_only_its_domain():
    torch.manual_seed(0)
    disc = CycleGANDiscriminator(1, 3, 28, width=WIDTH)
    x = images(2, 4)
    side = patch_map_side(28, disc.d_b.n_layers)
    before = disc(x)
    assert before.shape == (2, 2, side, side)
    b_changed = x.clone()
    b_changed[:, :3] += 0.5
    after = disc(b_changed)
    assert (after[:, 0] - before[:, 0]).abs().max() > 1e-6
    torch.testing.assert_close(after[:, 1], before[:, 1], rtol=0, atol=0)
    a_changed = x.clone()
    a_changed[:, 3:] += 0.5
    after = disc(a_changed)
    assert (after[:, 1] - before[:, 1]).abs().max() > 1e-6
    torch.testing.assert_close(after[:, 0], before[:, 0], rtol=0, atol=0)


def test_discriminator_is_two_instance_normed_patchgans_with_a_split_head():
    torch.manual_seed(0)
    disc = CycleGANDiscriminator(1, 3, 28, width=WIDTH)
    for patchgan, channels in ((disc.d_b, 3), (disc.d_a, 1)):
        assert patchgan.body[0].in_channels == channels and patchgan.condition_keys == ()
        assert any(isinstance(m, nn.InstanceNorm2d) for m in patchgan.modules())
        assert not any(isinstance(m, nn.BatchNorm2d) for m in patchgan.modules())
    x = images(2, 4)
    phi = disc.features(x)
    assert phi.shape[:2] == (2, disc.feature_dim)
    torch.testing.assert_close(disc.head(phi), torch.cat([disc.d_b(x[:, :3]), disc.d_a(x[:, 3:])], dim=1))
    with pytest.raises(GanlabError, match="per input stream"):
        weight_layers(disc)


# --- training ------------------------------------------------------------------------------------------------------


def test_a_tiny_training_run_adds_both_terms_and_ends_with_finite_weights():
    torch.manual_seed(0)
    gen = CycleGANGenerator(3, 3, 28, width=8, n_blocks=BLOCKS)
    module = module_for(gen)
    assert any(isinstance(t, CycleConsistency) for t in module.tricks)
    data = [{"source": images(1, 3)[0], "real": images(1, 3)[0]} for _ in range(8)]
    before = [p.detach().clone() for p in gen.parameters()]
    trainer = fit_batches(module, data)
    assert module.generator_steps == 2
    assert all(torch.isfinite(p).all() for p in module.parameters())
    assert any(not torch.equal(old, new) for old, new in zip(before, gen.parameters(), strict=True))
    for name in ("train/g_cycle", "train/g_identity", "train/g_adversarial", "train/d_adversarial"):
        assert torch.isfinite(trainer.callback_metrics[name])
    assert trainer.callback_metrics["train/g_cycle"] > 0
