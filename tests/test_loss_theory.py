"""The losses reach what their theory says, on 1-D Gaussians where the truth is known.

P = N(0, 1) plays the data, Q = N(1, 1) the generator. A small critic is trained on each loss's
discriminator objective alone (the generator is frozen at Q); its value at the end is compared with
the quantity the theory says it converges to, computed by numerical integration and, where one
exists, checked against a closed form.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats
from torch import nn

from ganlab.losses import DIVERGENCES, FDivergenceLoss, GANLoss, LeastSquaresLoss, MinimaxLoss, WassersteinGPLoss

P, Q = stats.norm(0.0, 1.0), stats.norm(1.0, 1.0)
EVAL_SAMPLES = 400_000


def sample_p(n: int) -> torch.Tensor:
    return torch.randn(n, 1)


def sample_q(n: int) -> torch.Tensor:
    return torch.randn(n, 1) + 1.0


def train_critic(loss: GANLoss, steps: int = 1000, batch: int = 1024, lr: float = 2e-3) -> nn.Module:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(1, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 1))
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    for _ in range(steps):
        real, fake = sample_p(batch), sample_q(batch)
        value = loss.discriminator_loss(net(real), net(fake)) + loss.penalty(net, real, fake)
        opt.zero_grad()
        value.backward()
        opt.step()
    return net


def on_fresh_samples(net: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(1)
    with torch.no_grad():
        return net(sample_p(EVAL_SAMPLES)), net(sample_q(EVAL_SAMPLES))


def f_divergence(name: str) -> float:
    """D_f(P||Q) = ∫ q f(p/q) dx by quadrature, with f taken from the loss's own table."""
    f = DIVERGENCES[name].generator_fn

    def integrand(x: float) -> float:
        return Q.pdf(x) * float(f(torch.tensor(P.pdf(x) / Q.pdf(x), dtype=torch.float64)))

    return integrate.quad(integrand, -12, 13, limit=200)[0]


CLOSED_FORM = {  # unit variances, means 1 apart
    "kl": 0.5,
    "reverse_kl": 0.5,
    "pearson": math.e - 1.0,
    "squared_hellinger": 2.0 * (1.0 - math.exp(-1.0 / 8.0)),
}


@pytest.mark.parametrize("name", sorted(CLOSED_FORM))
def test_quadrature_matches_closed_forms(name):
    assert f_divergence(name) == pytest.approx(CLOSED_FORM[name], rel=1e-6)


# χ² weighs the left tail, where p/q = exp(1/2 - x) grows fast: the critic needs larger outputs there
# and more samples to learn them.
HARDER = {"pearson": {"steps": 1500, "batch": 2048}}


@pytest.mark.parametrize("name", sorted(DIVERGENCES))
def test_trained_critic_reaches_the_f_divergence(name):
    """Nowozin et al. 2016, eq. 4: E_P[T] - E_Q[f*(T)] <= D_f(P||Q), with equality at T = f'(p/q).

    A trained critic must come within 5% below the truth, and may exceed it only by the Monte-Carlo
    error of the final estimate (2%).
    """
    loss = FDivergenceLoss(divergence=name)
    bound = float(loss.variational_bound(*on_fresh_samples(train_critic(loss, **HARDER.get(name, {})))))
    truth = f_divergence(name)
    assert truth - 0.05 * abs(truth) <= bound <= truth + 0.02 * abs(truth), f"bound {bound:.4f}, truth {truth:.4f}"


def test_minimax_discriminator_reaches_its_optimum():
    """D*(x) = p/(p+q), and the game's value there is -log 4 + 2 JSD(P||Q) (Goodfellow et al. 2014, Thm 1)."""
    loss = MinimaxLoss()
    net = train_critic(loss)
    grid = torch.linspace(-2.0, 3.0, 51).unsqueeze(1)
    with torch.no_grad():
        learned = torch.sigmoid(net(grid)).squeeze(1).double()
    p, q = P.pdf(grid.squeeze(1).numpy()), Q.pdf(grid.squeeze(1).numpy())
    torch.testing.assert_close(learned, torch.from_numpy(p / (p + q)), atol=0.03, rtol=0)

    value = -float(loss.discriminator_loss(*on_fresh_samples(net)))
    jsd = f_divergence("jensen_shannon") / 2.0  # Nowozin's JS row is 2·JSD
    assert value == pytest.approx(-math.log(4.0) + 2.0 * jsd, abs=0.01)


def test_lsgan_pearson_generator_minimises_a_chi_squared_divergence():
    """Mao et al. 2017, section 3.2: D*(x) = (b p + a q)/(p + q), and with b - c = 1, b - a = 2 the
    generator's objective there is C(G) = ½ E_p[(D* - c)²] + ½ E_q[(D* - c)²] = ½ χ²_Pearson(p + q || 2q).
    """
    loss = LeastSquaresLoss(a=-1.0, b=1.0, c=0.0)
    net = train_critic(loss)
    grid = torch.linspace(-2.0, 3.0, 51).unsqueeze(1)
    with torch.no_grad():
        learned = net(grid).squeeze(1).double()
    p, q = P.pdf(grid.squeeze(1).numpy()), Q.pdf(grid.squeeze(1).numpy())
    torch.testing.assert_close(learned, torch.from_numpy((loss.b * p + loss.a * q) / (p + q)), atol=0.05, rtol=0)

    on_p, on_q = on_fresh_samples(net)
    objective = float(loss.generator_loss(on_p) + loss.generator_loss(on_q))  # generator_loss is ½ E[(D - c)²]
    chi_squared = integrate.quad(lambda x: (Q.pdf(x) - P.pdf(x)) ** 2 / (P.pdf(x) + Q.pdf(x)), -12, 13)[0]
    assert objective == pytest.approx(chi_squared / 2.0, rel=0.03)


def gradient_penalty_gap(gp_weight: float) -> float:
    """The critic gap E_P[f] - E_Q[f] at the optimum of the WGAN-GP objective, in 1-D.

    Writing E_P[f] - E_Q[f] = ∫ f'(t) (F_Q(t) - F_P(t)) dt and the penalty as
    λ ∫ r(t) (|f'(t)| - 1)² dt, with r the density of the interpolates, the objective is maximised
    pointwise by |f'| = 1 + |F_P - F_Q| / (2λr), so the gap is
    W1 + ∫ (F_P - F_Q)² / (2λr) dt: the soft penalty lets the critic overshoot W1 by O(1/λ).
    Interpolates εx + (1-ε)y of independent x ~ P, y ~ Q with ε ~ U[0, 1] are N(1-ε, ε² + (1-ε)²) given ε.
    """

    def interpolate_density(t: float) -> float:
        return integrate.quad(lambda e: stats.norm.pdf(t, 1 - e, np.sqrt(e * e + (1 - e) ** 2)), 0, 1)[0]

    w1 = integrate.quad(lambda t: abs(P.cdf(t) - Q.cdf(t)), -10, 11)[0]

    def overshoot(t: float) -> float:
        return (P.cdf(t) - Q.cdf(t)) ** 2 / (2 * gp_weight * interpolate_density(t))

    return w1 + integrate.quad(overshoot, -10, 11, limit=200)[0]


@pytest.mark.parametrize("gp_weight", [10.0, 100.0])
def test_wgan_gp_critic_gap_approaches_the_wasserstein_distance(gp_weight):
    """For equal variances W1(P, Q) = |mu_P - mu_Q| = 1; the GP critic's gap tends to it as λ grows."""
    assert gradient_penalty_gap(1e6) == pytest.approx(1.0, abs=1e-5)
    real_scores, fake_scores = on_fresh_samples(train_critic(WassersteinGPLoss(gp_weight=gp_weight), lr=1e-3))
    gap = float(real_scores.mean() - fake_scores.mean())
    assert gap == pytest.approx(gradient_penalty_gap(gp_weight), rel=0.01)
    assert gap == pytest.approx(1.0, rel=0.06)
