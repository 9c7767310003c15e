"""The generator loss landscapes, computed from the loss classes: values, slopes, the figure and its command."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from PIL import Image

from ganlab.config import config_dir
from ganlab.landscape import configured_losses, generator_landscape
from ganlab.losses import LeastSquaresLoss, MinimaxLoss, NonSaturatingLoss, WassersteinLoss


def test_minimax_and_non_saturating_values_and_slopes_match_the_hand_computed_ones():
    d = torch.tensor([0.1, 0.25, 0.5, 0.9])
    value, slope = generator_landscape(MinimaxLoss(), d)
    torch.testing.assert_close(value, torch.log(1 - d))  # L_G = log(1 - D)
    torch.testing.assert_close(slope, -d)  # d/dl log(1 - sigmoid(l)) = -sigmoid(l)
    value, slope = generator_landscape(NonSaturatingLoss(), d)
    torch.testing.assert_close(value, -torch.log(d))  # L_G = -log D
    torch.testing.assert_close(slope, d - 1)  # d/dl -log sigmoid(l) = sigmoid(l) - 1
    _, slope = generator_landscape(WassersteinLoss(), d)
    torch.testing.assert_close(slope, -torch.ones(4))  # L_G = -l: the same push everywhere
    # LSGAN (a=0, b=1, c=1): L_G = (l - 1)^2 / 2, slope l - 1 at l = logit(D)
    _, slope = generator_landscape(LeastSquaresLoss(a=0.0, b=1.0, c=1.0), torch.tensor([0.5]))
    assert slope.item() == pytest.approx(-1.0)


def test_the_saturating_slope_vanishes_as_d_rejects_the_fakes_and_the_non_saturating_one_does_not():
    rejecting = torch.tensor([1e-2, 1e-3, 1e-4])
    _, saturating = generator_landscape(MinimaxLoss(), rejecting)
    _, non_saturating = generator_landscape(NonSaturatingLoss(), rejecting)
    assert saturating.abs().tolist() == pytest.approx(rejecting.tolist(), rel=1e-3)  # -> 0 with D(G(z))
    assert (saturating.abs()[1:] < saturating.abs()[:-1]).all()
    assert non_saturating.abs().tolist() == pytest.approx((1 - rejecting).tolist(), rel=1e-3)  # -> 1


def test_every_configured_loss_is_drawn_with_finite_values():
    losses = configured_losses()
    stems = {path.stem for path in (Path(config_dir()) / "loss").glob("*.yaml")}
    assert stems - {"fgan"} <= set(losses)
    assert {"fgan:kl", "fgan:reverse_kl", "fgan:jensen_shannon"} <= set(losses)
    d = torch.linspace(0.05, 0.95, 7)
    for name, loss in losses.items():
        value, slope = generator_landscape(loss, d)
        assert torch.isfinite(value).all() and torch.isfinite(slope).all(), name


@pytest.mark.slow
def test_ganlab_landscape_writes_the_figure(run_ganlab, tmp_path):
    out = tmp_path / "figures" / "landscape.png"
    printed = run_ganlab("landscape", "--out", str(out)).stdout
    assert f"wrote {out}" in printed.replace("\n", "")
    with Image.open(out) as image:
        width, height = image.size
    assert math.isclose(width / height, 13 / 4.6, rel_tol=0.05) and width >= 1000
