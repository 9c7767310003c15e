"""Adversarial losses: values against hand-computed formulas, gradients, penalties, stability."""

import math

import pytest
import torch
from torch.testing import assert_close

from ganlab.errors import GanlabError
from ganlab.losses import (
    FDivergenceLoss,
    HingeLoss,
    LeastSquaresLoss,
    MinimaxLoss,
    NonSaturatingLoss,
    RelativisticAverageLoss,
    WassersteinGPLoss,
    WassersteinLoss,
)

REAL = [2.0, -1.0, 0.5]
FAKE = [0.5, -3.0, -0.2]


def sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


def mean(values):
    values = list(values)
    return sum(values) / len(values)


def logits(values, column=True):
    t = torch.tensor(values, dtype=torch.float32)
    return t.unsqueeze(1) if column else t


def scalar(value):
    return torch.tensor(value, dtype=torch.float32)


# --- the original game and its non-saturating variant -------------------------------------------------------------


def test_minimax_discriminator_loss_is_binary_cross_entropy():
    # L_D = -E[log D(x)] - E[log(1 - D(G(z)))], D = sigmoid(logit)
    expected = -mean(math.log(sigmoid(r)) for r in REAL) - mean(math.log(1 - sigmoid(f)) for f in FAKE)
    assert_close(MinimaxLoss().discriminator_loss(logits(REAL), logits(FAKE)), scalar(expected))


def test_minimax_discriminator_loss_at_chance_is_two_log_two():
    loss = MinimaxLoss().discriminator_loss(torch.zeros(4, 1), torch.zeros(4, 1))
    assert_close(loss, scalar(2 * math.log(2)))


def test_minimax_generator_loss_is_saturating():
    # L_G = E[log(1 - D(G(z)))]
    expected = mean(math.log(1 - sigmoid(f)) for f in FAKE)
    assert_close(MinimaxLoss().generator_loss(logits(FAKE)), scalar(expected))


def test_non_saturating_generator_loss():
    # L_G = -E[log D(G(z))]
    expected = -mean(math.log(sigmoid(f)) for f in FAKE)
    assert_close(NonSaturatingLoss().generator_loss(logits(FAKE)), scalar(expected))


def test_non_saturating_discriminator_loss_equals_minimax():
    expected = -mean(math.log(sigmoid(r)) for r in REAL) - mean(math.log(1 - sigmoid(f)) for f in FAKE)
    assert_close(NonSaturatingLoss().discriminator_loss(logits(REAL), logits(FAKE)), scalar(expected))


def _generator_grad(loss, values):
    fake = logits(values).requires_grad_(True)
    loss.generator_loss(fake).backward()
    return fake.grad.squeeze(1)


def test_generator_gradients_match_the_formulas():
    n = len(FAKE)
    # d/dl log(1 - sigmoid(l)) = -sigmoid(l);  d/dl -log sigmoid(l) = -(1 - sigmoid(l))
    saturating = torch.tensor([-sigmoid(f) / n for f in FAKE])
    non_saturating = torch.tensor([-(1 - sigmoid(f)) / n for f in FAKE])
    assert_close(_generator_grad(MinimaxLoss(), FAKE), saturating)
    assert_close(_generator_grad(NonSaturatingLoss(), FAKE), non_saturating)


def test_saturating_gradient_vanishes_when_fakes_are_confidently_rejected():
    rejected = [-20.0, -15.0]
    saturating = _generator_grad(MinimaxLoss(), rejected)
    non_saturating = _generator_grad(NonSaturatingLoss(), rejected)
    # sigmoid(-15) / 2 ~ 1.5e-7: the generator learns nothing from the saturating loss
    assert saturating.abs().max() < 1e-6
    # the non-saturating loss keeps a gradient of about -1/N per sample
    assert_close(non_saturating, torch.tensor([-0.5, -0.5]), atol=1e-6, rtol=0)


# --- least squares -------------------------------------------------------------------------------------------------


def test_lsgan_default_targets():
    # a=0 (fake), b=1 (real), c=1 (generator)
    d_expected = 0.5 * mean((r - 1) ** 2 for r in REAL) + 0.5 * mean(f**2 for f in FAKE)
    g_expected = 0.5 * mean((f - 1) ** 2 for f in FAKE)
    loss = LeastSquaresLoss()
    assert_close(loss.discriminator_loss(logits(REAL), logits(FAKE)), scalar(d_expected))
    assert_close(loss.generator_loss(logits(FAKE)), scalar(g_expected))


def test_lsgan_custom_targets():
    a, b, c = -1.0, 1.0, 0.0
    loss = LeastSquaresLoss(a=a, b=b, c=c)
    # by hand: real residuals (1, -2, -0.5), fake residuals to a=-1: (1.5, -2, 0.8)
    d_expected = 0.5 * (1 + 4 + 0.25) / 3 + 0.5 * (2.25 + 4 + 0.64) / 3
    g_expected = 0.5 * (0.25 + 9 + 0.04) / 3
    assert_close(loss.discriminator_loss(logits(REAL), logits(FAKE)), scalar(d_expected))
    assert_close(loss.generator_loss(logits(FAKE)), scalar(g_expected))


def test_lsgan_is_zero_at_its_targets():
    loss = LeastSquaresLoss(a=-1, b=1, c=0.5)
    assert_close(loss.discriminator_loss(torch.ones(3, 1), -torch.ones(3, 1)), scalar(0.0))
    assert_close(loss.generator_loss(torch.full((3, 1), 0.5)), scalar(0.0))


# --- hinge -----------------------------------------------------------------------------------------------------------


def test_hinge_losses():
    d_expected = mean(max(0.0, 1 - r) for r in REAL) + mean(max(0.0, 1 + f) for f in FAKE)
    assert_close(d_expected, (0 + 2 + 0.5) / 3 + (1.5 + 0 + 0.8) / 3)  # the hand computation
    loss = HingeLoss()
    assert_close(loss.discriminator_loss(logits(REAL), logits(FAKE)), scalar(d_expected))
    assert_close(loss.generator_loss(logits(FAKE)), scalar(-mean(FAKE)))


def test_hinge_ignores_samples_beyond_the_margin():
    real = logits(REAL).requires_grad_(True)  # 2.0 is beyond the +1 margin
    fake = logits(FAKE).requires_grad_(True)  # -3.0 is beyond the -1 margin
    HingeLoss().discriminator_loss(real, fake).backward()
    assert_close(real.grad.squeeze(1), torch.tensor([0.0, -1 / 3, -1 / 3]))
    assert_close(fake.grad.squeeze(1), torch.tensor([1 / 3, 0.0, 1 / 3]))


# --- Wasserstein: weight clipping and gradient penalty ------------------------------------------------------------


@pytest.mark.parametrize("loss", [WassersteinLoss(), WassersteinGPLoss()], ids=lambda loss: type(loss).__name__)
def test_wasserstein_losses(loss):
    assert_close(loss.discriminator_loss(logits(REAL), logits(FAKE)), scalar(mean(FAKE) - mean(REAL)))
    assert_close(loss.generator_loss(logits(FAKE)), scalar(-mean(FAKE)))


def test_weight_clipping_clamps_every_critic_parameter():
    critic = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.LeakyReLU(0.2), torch.nn.Linear(8, 1))
    torch.nn.init.uniform_(critic[0].weight, -1.0, 1.0)
    before = [p.detach().clone() for p in critic.parameters()]
    WassersteinLoss(clip_value=0.05).after_discriminator_step(critic)
    for old, new in zip(before, critic.parameters(), strict=True):
        assert_close(new.detach(), old.clamp(-0.05, 0.05))
    assert (critic[0].weight.abs() == 0.05).any()  # the clip was active, not vacuous


@pytest.mark.parametrize("loss", [WassersteinLoss(clip_value=None), WassersteinGPLoss(), HingeLoss()])
def test_losses_without_clipping_leave_the_critic_alone(loss):
    critic = torch.nn.Linear(2, 1)
    torch.nn.init.constant_(critic.weight, 3.0)
    loss.after_discriminator_step(critic)
    assert_close(critic.weight.detach(), torch.full((1, 2), 3.0))


def linear_critic(w):
    """f(x) = w . flatten(x): its gradient is w everywhere, so the interpolation point does not matter."""
    return lambda x: (x.flatten(1) @ w).unsqueeze(1)


@pytest.mark.parametrize(
    ("w", "gp_weight", "expected"),
    [
        ([3.0, 4.0], 10.0, 10.0 * (5.0 - 1.0) ** 2),  # ||w|| = 5
        ([3.0, 4.0], 2.5, 2.5 * (5.0 - 1.0) ** 2),
        ([0.6, 0.8], 10.0, 0.0),  # ||w|| = 1: no penalty
        ([0.3, 0.4], 10.0, 10.0 * (0.5 - 1.0) ** 2),  # two-sided: norms below 1 are penalised too
    ],
)
def test_gradient_penalty_of_a_linear_critic(w, gp_weight, expected):
    torch.manual_seed(0)
    real, fake = torch.randn(6, 2), torch.randn(6, 2)
    penalty = WassersteinGPLoss(gp_weight=gp_weight).penalty(linear_critic(torch.tensor(w)), real, fake)
    assert_close(penalty, scalar(expected))


def test_gradient_penalty_on_image_shaped_inputs():
    # w has 4 entries (1, 1, 1, 1) on a (1, 2, 2) image: ||w|| = 2
    torch.manual_seed(0)
    real, fake = torch.randn(5, 1, 2, 2), torch.randn(5, 1, 2, 2)
    penalty = WassersteinGPLoss(gp_weight=3.0).penalty(linear_critic(torch.ones(4)), real, fake)
    assert_close(penalty, scalar(3.0 * (2.0 - 1.0) ** 2))


def test_one_sided_penalty_ignores_gradient_norms_below_one():
    torch.manual_seed(0)
    real, fake = torch.randn(6, 2), torch.randn(6, 2)
    loss = WassersteinGPLoss(gp_weight=10.0, one_sided=True)
    assert_close(loss.penalty(linear_critic(torch.tensor([0.3, 0.4])), real, fake), scalar(0.0))
    assert_close(loss.penalty(linear_critic(torch.tensor([3.0, 4.0])), real, fake), scalar(160.0))


def test_gradient_penalty_trains_the_critic():
    w = torch.tensor([3.0, 4.0], requires_grad=True)
    penalty = WassersteinGPLoss(gp_weight=10.0).penalty(linear_critic(w), torch.randn(4, 2), torch.randn(4, 2))
    penalty.backward()
    # d/dw 10 (||w|| - 1)^2 = 20 (||w|| - 1) w / ||w|| = 20 * 4 * (0.6, 0.8)
    assert_close(w.grad, torch.tensor([48.0, 64.0]))


def quadratic_critic(x):
    """f(x) = ||x||^2 / 2, whose gradient at x is x itself."""
    return 0.5 * (x.flatten(1) ** 2).sum(1, keepdim=True)


def test_gradient_penalty_does_not_reach_the_samples():
    # with the quadratic critic the penalty depends on the interpolate, hence on real and fake; it must not
    # send gradients back into the generator (or the real batch)
    real = torch.randn(4, 2, requires_grad=True)
    fake = torch.randn(4, 2, requires_grad=True)
    penalty = WassersteinGPLoss(gp_weight=10.0).penalty(quadratic_critic, real, fake)
    assert penalty.item() > 0
    penalty.backward()
    assert fake.grad is None
    assert real.grad is None


def test_gradient_penalty_is_evaluated_between_real_and_fake():
    # the quadratic critic's gradient is x; real and fake on one ray at radii 2 and 4, so every
    # interpolate has gradient norm in [2, 4] and a penalty in [1, 9] (times gp_weight 1)
    real = torch.tensor([[2.0, 0.0]]).repeat(64, 1)
    fake = torch.tensor([[4.0, 0.0]]).repeat(64, 1)
    torch.manual_seed(0)
    penalty = WassersteinGPLoss(gp_weight=1.0).penalty(quadratic_critic, real, fake).item()
    assert 1.0 < penalty < 9.0
    # with real == fake the interpolate is that point: norm 3 -> (3 - 1)^2 = 4
    point = torch.tensor([[0.0, 3.0]]).repeat(8, 1)
    assert_close(WassersteinGPLoss(gp_weight=1.0).penalty(quadratic_critic, point, point), scalar(4.0))


def test_losses_without_a_regulariser_have_zero_penalty():
    real, fake = torch.randn(3, 2), torch.randn(3, 2)
    for loss in (MinimaxLoss(), NonSaturatingLoss(), LeastSquaresLoss(), HingeLoss()):
        assert_close(loss.penalty(linear_critic(torch.tensor([3.0, 4.0])), real, fake), scalar(0.0))


# --- relativistic average GANs (Jolicoeur-Martineau 2019) ----------------------------------------------------------

RELATIVISTIC_BY_HAND = {  # (penalty for "more real", penalty for "more fake")
    "nsgan": (lambda x: -math.log(sigmoid(x)), lambda x: -math.log(1 - sigmoid(x))),
    "lsgan": (lambda x: (x - 1) ** 2, lambda x: (x + 1) ** 2),
    "hinge": (lambda x: max(0.0, 1 - x), lambda x: max(0.0, 1 + x)),
}


@pytest.mark.parametrize("variant", sorted(RELATIVISTIC_BY_HAND))
def test_relativistic_average_losses_by_hand(variant):
    more_real, more_fake = RELATIVISTIC_BY_HAND[variant]
    real_rel = [r - mean(FAKE) for r in REAL]  # C(x_r) - E[C(x_f)]
    fake_rel = [f - mean(REAL) for f in FAKE]  # C(x_f) - E[C(x_r)]
    d_expected = mean(map(more_real, real_rel)) + mean(map(more_fake, fake_rel))
    g_expected = mean(map(more_real, fake_rel)) + mean(map(more_fake, real_rel))
    loss = RelativisticAverageLoss(variant)
    assert_close(loss.discriminator_loss(logits(REAL), logits(FAKE)), scalar(d_expected))
    assert_close(loss.generator_loss(logits(FAKE), logits(REAL)), scalar(g_expected))


def test_relativistic_generator_gradient_flows_through_both_terms():
    # d/df_j of L_G: through (f_j - mean(r)) in the first term and through -mean(f) in the second
    fake = logits(FAKE).requires_grad_(True)
    RelativisticAverageLoss("lsgan").generator_loss(fake, logits(REAL)).backward()
    real_rel = [r - mean(FAKE) for r in REAL]
    fake_rel = [f - mean(REAL) for f in FAKE]
    second = -mean(2 * (x + 1) for x in real_rel) / len(FAKE)
    expected = [2 * (x - 1) / len(FAKE) + second for x in fake_rel]
    assert_close(fake.grad.squeeze(1), torch.tensor(expected))


def test_relativistic_loss_asks_for_real_logits_in_the_generator_step():
    assert RelativisticAverageLoss.generator_needs_real_logits
    assert not NonSaturatingLoss.generator_needs_real_logits
    with pytest.raises(ValueError, match="real samples"):
        RelativisticAverageLoss().generator_loss(logits(FAKE))


def test_relativistic_rejects_unknown_variant():
    with pytest.raises(GanlabError, match="nsgan, lsgan, hinge"):
        RelativisticAverageLoss("wgan")


# --- shapes, dtypes, stability ---------------------------------------------------------------------------------------

ALL_LOSSES = [
    MinimaxLoss(),
    NonSaturatingLoss(),
    LeastSquaresLoss(),
    HingeLoss(),
    WassersteinLoss(),
    WassersteinGPLoss(),
    *(RelativisticAverageLoss(variant) for variant in sorted(RELATIVISTIC_BY_HAND)),
]


def loss_id(loss) -> str:
    return repr(loss).replace(" ", "")


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=loss_id)
def test_column_and_flat_logits_give_the_same_loss(loss):
    assert_close(
        loss.discriminator_loss(logits(REAL), logits(FAKE)),
        loss.discriminator_loss(logits(REAL, column=False), logits(FAKE, column=False)),
    )
    assert_close(
        loss.generator_loss(logits(FAKE), logits(REAL)),
        loss.generator_loss(logits(FAKE, column=False), logits(REAL, column=False)),
    )


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=loss_id)
def test_several_scores_per_sample_give_the_mean_of_each_scores_loss(loss):
    # LAPGAN scores each pyramid level, a PatchGAN each patch: every score column plays its own game
    torch.manual_seed(0)
    real, fake = torch.randn(5, 3), torch.randn(5, 3)
    columns = range(real.shape[1])
    assert_close(
        loss.discriminator_loss(real, fake),
        torch.stack([loss.discriminator_loss(real[:, [c]], fake[:, [c]]) for c in columns]).mean(),
    )
    assert_close(
        loss.generator_loss(fake, real),
        torch.stack([loss.generator_loss(fake[:, [c]], real[:, [c]]) for c in columns]).mean(),
    )


@pytest.mark.parametrize("loss", [MinimaxLoss(), LeastSquaresLoss()], ids=loss_id)
def test_per_sample_soft_targets_apply_to_every_score_of_the_sample(loss):
    torch.manual_seed(0)
    real, fake = torch.randn(4, 3), torch.randn(4, 3)
    targets = {"real_targets": torch.tensor([0.9, 1.0, 0.8, 0.7]), "fake_targets": torch.tensor([0.0, 0.1, 0.0, 0.2])}
    per_column = [loss.discriminator_loss(real[:, [c]], fake[:, [c]], **targets) for c in range(3)]
    assert_close(loss.discriminator_loss(real, fake, **targets), torch.stack(per_column).mean())


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=loss_id)
def test_half_precision_logits_give_float32_losses(loss):
    d = loss.discriminator_loss(logits(REAL).bfloat16(), logits(FAKE).bfloat16())
    g = loss.generator_loss(logits(FAKE).half(), logits(REAL).half())
    assert d.dtype == torch.float32
    assert g.dtype == torch.float32
    assert d.shape == g.shape == ()


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=loss_id)
def test_large_logits_give_finite_losses_and_gradients(loss):
    real = torch.tensor([[100.0], [-100.0]], requires_grad=True)
    fake = torch.tensor([[-100.0], [100.0]], requires_grad=True)
    d = loss.discriminator_loss(real, fake)
    g = loss.generator_loss(fake, real.detach())
    (d + g).backward()
    assert torch.isfinite(d) and torch.isfinite(g)
    assert torch.isfinite(real.grad).all() and torch.isfinite(fake.grad).all()


def test_log_loss_at_large_logits_is_the_linear_asymptote():
    # -log sigmoid(-100) = 100 + log(1 + e^-100) = 100 in float32; naive log(sigmoid) would give inf
    d = MinimaxLoss().discriminator_loss(torch.full((2, 1), -100.0), torch.full((2, 1), 100.0))
    assert_close(d, scalar(200.0))
    assert_close(NonSaturatingLoss().generator_loss(torch.full((2, 1), -100.0)), scalar(100.0))
    assert_close(MinimaxLoss().generator_loss(torch.full((2, 1), 100.0)), scalar(-100.0))


def test_repr_names_the_hyperparameters():
    assert repr(LeastSquaresLoss(a=-1, b=1, c=0)) == "LeastSquaresLoss(a=-1.0, b=1.0, c=0.0)"
    assert repr(WassersteinGPLoss(5, True)) == "WassersteinGPLoss(clip_value=None, gp_weight=5.0, one_sided=True)"
    assert repr(RelativisticAverageLoss("hinge")) == "RelativisticAverageLoss(variant=hinge)"


# --- f-GAN (Nowozin et al. 2016): values at hand-picked logits, from the table's formulas ---------------------


def _fgan_expected(name: str, v_real: float, v_fake: float) -> tuple[float, float, float]:
    """(critic loss, saddle G loss, heuristic G loss) from g_f and f* of Nowozin et al., Table 2, by hand."""
    g = {
        "kl": lambda v: v,
        "reverse_kl": lambda v: -math.exp(-v),
        "pearson": lambda v: v,
        "squared_hellinger": lambda v: 1 - math.exp(-v),
        "jensen_shannon": lambda v: math.log(2) - math.log(1 + math.exp(-v)),
        "gan": lambda v: -math.log(1 + math.exp(-v)),
    }[name]
    conjugate = {
        "kl": lambda t: math.exp(t - 1),
        "reverse_kl": lambda t: -1 - math.log(-t),
        "pearson": lambda t: t * t / 4 + t,
        "squared_hellinger": lambda t: t / (1 - t),
        "jensen_shannon": lambda t: -math.log(2 - math.exp(t)),
        "gan": lambda t: -math.log(1 - math.exp(t)),
    }[name]
    bound = g(v_real) - conjugate(g(v_fake))
    return -bound, -conjugate(g(v_fake)), -g(v_fake)


@pytest.mark.parametrize("name", ["kl", "reverse_kl", "pearson", "squared_hellinger", "jensen_shannon", "gan"])
def test_fgan_losses_match_the_paper_table(name):
    v_real, v_fake = 0.7, -0.4
    d_expected, saddle_expected, heuristic_expected = _fgan_expected(name, v_real, v_fake)
    real, fake = torch.tensor([[v_real]]), torch.tensor([[v_fake]])
    saddle = FDivergenceLoss(name, generator_update="saddle")
    heuristic = FDivergenceLoss(name, generator_update="heuristic")
    torch.testing.assert_close(saddle.discriminator_loss(real, fake), torch.tensor(d_expected))
    torch.testing.assert_close(saddle.generator_loss(fake), torch.tensor(saddle_expected))
    torch.testing.assert_close(heuristic.generator_loss(fake), torch.tensor(heuristic_expected))


def test_fgan_rejects_unknown_divergence():
    with pytest.raises(GanlabError, match="jensen_shannon"):
        FDivergenceLoss("wasserstein")
