r"""Generator loss landscapes: each loss's :math:`L_G` and :math:`\partial L_G / \partial \ell` against D(G(z)).

For one fake sample with discriminator logit :math:`\ell`, the generator minimises :math:`L_G(\ell)`;
the gradient that reaches G through D is :math:`\partial L_G / \partial \ell \cdot \partial \ell /
\partial \theta_G`. Drawn against :math:`D(G(z)) = \sigma(\ell)`, the first factor shows why the
saturating minimax loss stalls (Goodfellow et al. 2014, section 3): :math:`L_G = \log(1 - \sigma(\ell))`
has :math:`\partial L_G / \partial \ell = -\sigma(\ell) \to 0` as :math:`D(G(z)) \to 0`, exactly when D
rejects the fakes, while the non-saturating :math:`-\log \sigma(\ell)` has :math:`\sigma(\ell) - 1 \to -1`.

Both curves come from the loss classes themselves: :meth:`GANLoss.generator_loss` evaluated on each
logit, and its derivative by autograd, so a figure can never disagree with the code that trains.
Critic losses (WGAN, hinge) and f-GAN's raw outputs have no probability; their axis is
:math:`\sigma(\ell)` of the same raw output, for a common scale. Relativistic losses also need
D(real): they are drawn with the real logit at 0 (:math:`D(x) = 1/2`).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import Tensor

from ganlab.losses.base import GANLoss


def generator_landscape(loss: GANLoss, d_of_fake: Tensor) -> tuple[Tensor, Tensor]:
    r"""``(L_G, dL_G/dlogit)`` at each :math:`D(G(z))` in ``d_of_fake`` (shape ``(K,)``, values in (0, 1)).

    Each point is its own one-sample batch ``logit(D(G(z)))`` of shape ``(1, 1)``.
    """
    values, slopes = [], []
    for d in d_of_fake.double():
        logit = torch.logit(d).reshape(1, 1).float().requires_grad_()
        real = torch.zeros(1, 1) if loss.generator_needs_real_logits else None
        value = loss.generator_loss(logit, real)
        (slope,) = torch.autograd.grad(value, logit)
        values.append(value.detach())
        slopes.append(slope.reshape(()))
    return torch.stack(values), torch.stack(slopes)


def landscape_figure(losses: Mapping[str, GANLoss], points: int = 199) -> Tensor:
    """One picture, two panels (:math:`L_G` and :math:`\\partial L_G/\\partial \\ell` over D(G(z))), a curve per loss.

    Returns:
        ``(3, H, W)`` float tensor in [0, 1] (:func:`ganlab.plotting.save_png` writes it).
    """
    import matplotlib
    from matplotlib.figure import Figure

    from ganlab.plotting import figure_image

    d = torch.linspace(0.0, 1.0, points + 2)[1:-1]
    fig = Figure(figsize=(13, 4.6), dpi=100)
    left, right = fig.subplots(1, 2)
    colours = matplotlib.colormaps["tab20"]
    for index, (name, loss) in enumerate(losses.items()):
        value, slope = generator_landscape(loss, d)
        # the two losses of the lesson stand out; the rest are context (some coincide: dashes tell them apart)
        style = {"color": colours(index % 20), "lw": 1.3, "ls": ("-", "--", ":")[index % 3]}
        if name in ("gan", "nsgan"):
            style.update(lw=3.0, ls="-", color="black" if name == "gan" else "tab:red")
        left.plot(d, value.clamp(-6, 6), label=name, **style)
        right.plot(d, slope.clamp(-6, 6), label=name, **style)
    left.set(title="generator loss $L_G$", xlabel="$D(G(z))$", ylim=(-6.2, 6.2))
    right.set(title=r"its slope $\partial L_G / \partial \ell$: what reaches G", xlabel="$D(G(z))$", ylim=(-6.2, 6.2))
    for axis in (left, right):
        axis.axhline(0, color="0.6", lw=0.8)
        axis.grid(alpha=0.3)
    right.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8)
    fig.tight_layout()
    return figure_image(fig)


def configured_losses() -> dict[str, GANLoss]:
    """Every ``conf/loss`` option at its defaults, and f-GAN once per divergence (``fgan:<divergence>``)."""
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate

    from ganlab.config import config_dir, register_resolvers
    from ganlab.losses import DIVERGENCES

    register_resolvers()
    names = sorted(path.stem for path in (Path(config_dir()) / "loss").glob("*.yaml"))
    losses: dict[str, GANLoss] = {}
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        for name in names:
            overrides = [f"loss={name}"]
            if name == "fgan":
                for divergence in DIVERGENCES:
                    cfg = compose("train", overrides=[*overrides, f"loss.divergence={divergence}"])
                    losses[f"fgan:{divergence}"] = instantiate(cfg.loss)
            else:
                losses[name] = instantiate(compose("train", overrides=overrides).loss)
    return losses


def main(argv: Sequence[str]) -> None:
    """``ganlab landscape [--out FILE]``: the figure of every configured loss, as a PNG."""
    from ganlab.console import console
    from ganlab.plotting import save_png

    parser = argparse.ArgumentParser(prog="ganlab landscape", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("landscape.png"), help="where the PNG goes")
    args = parser.parse_args(list(argv))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_png(landscape_figure(configured_losses()), str(args.out))
    console.print(f"wrote {args.out}", highlight=False)
