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
    WassersteinGPLoss,
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


# --- Wasserstein with gradient penalty ----------------------------------------------------------------------------


def test_wasserstein_losses():
    loss = WassersteinGPLoss()
    assert_close(loss.discriminator_loss(logits(REAL), logits(FAKE)), scalar(mean(FAKE) - mean(REAL)))
    assert_close(loss.generator_loss(logits(FAKE)), scalar(-mean(FAKE)))


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


# --- shapes, dtypes, stability ---------------------------------------------------------------------------------------

ALL_LOSSES = [MinimaxLoss(), NonSaturatingLoss(), LeastSquaresLoss(), HingeLoss(), WassersteinGPLoss()]


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=lambda loss: type(loss).__name__)
def test_column_and_flat_logits_give_the_same_loss(loss):
    assert_close(
        loss.discriminator_loss(logits(REAL), logits(FAKE)),
        loss.discriminator_loss(logits(REAL, column=False), logits(FAKE, column=False)),
    )
    assert_close(loss.generator_loss(logits(FAKE)), loss.generator_loss(logits(FAKE, column=False)))


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=lambda loss: type(loss).__name__)
def test_half_precision_logits_give_float32_losses(loss):
    d = loss.discriminator_loss(logits(REAL).bfloat16(), logits(FAKE).bfloat16())
    g = loss.generator_loss(logits(FAKE).half())
    assert d.dtype == torch.float32
    assert g.dtype == torch.float32
    assert d.shape == g.shape == ()


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=lambda loss: type(loss).__name__)
def test_large_logits_give_finite_losses_and_gradients(loss):
    real = torch.tensor([[100.0], [-100.0]], requires_grad=True)
    fake = torch.tensor([[-100.0], [100.0]], requires_grad=True)
    d = loss.discriminator_loss(real, fake)
    g = loss.generator_loss(fake)
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
    assert repr(WassersteinGPLoss(5, True)) == "WassersteinGPLoss(gp_weight=5.0, one_sided=True)"


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
