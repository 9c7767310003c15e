"""BigGAN's modified orthogonal regularisation of one network's linear and convolution weights."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from ganlab.errors import GanlabError
from ganlab.schema import NonNegative, OneOf
from ganlab.tricks.base import StepContext, Trick

if TYPE_CHECKING:
    from ganlab.module import GANModule

_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_TRANSPOSED_CONVS = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
_LAYERS = (nn.Linear, *_CONVS, *_TRANSPOSED_CONVS)


def filter_matrix(layer: nn.Module) -> Tensor:
    """The weight of a linear or convolution layer as a ``(out, in·k·k)`` matrix: one row per output filter.

    A spectrally normalised layer gives its raw weight ``W``, not ``W/sigma(W)``: the authors' code
    regularises the parameter itself, and the power-iteration estimate ``sigma`` stays out of the term.
    """
    weight = layer.weight
    if parametrize.is_parametrized(layer, "weight"):
        # parametrisations with several originals (weight norm's g and v) have no single raw weight: use W itself
        weight = getattr(layer.parametrizations.weight, "original", weight)
    if isinstance(layer, _TRANSPOSED_CONVS):
        weight = weight.transpose(0, 1)  # stored (in, out, k, k)
    return weight.reshape(weight.shape[0], -1)


def off_diagonal_gram_norm(matrix: Tensor) -> Tensor:
    r"""``‖W Wᵀ ⊙ (1 - I)‖²_F`` for ``W`` of shape ``(rows, cols)``: the squared inner products of distinct rows.

    For tall matrices the ``rows x rows`` Gram matrix would be large (BigGAN's first linear layer
    has ``channels·base²`` rows and a handful of columns), so the same value is computed as
    :math:`\lVert W^\top W\rVert_F^2 - \sum_i \lVert w_i\rVert^4`: :math:`W W^\top` and
    :math:`W^\top W` share their non-zero eigenvalues, hence their Frobenius norms.
    """
    rows, cols = matrix.shape
    if rows <= cols:
        gram = matrix @ matrix.T
        off_diagonal = 1 - torch.eye(rows, device=gram.device, dtype=gram.dtype)
        return (gram * off_diagonal).square().sum()
    return (matrix.T @ matrix).square().sum() - matrix.square().sum(dim=1).square().sum()


def orthogonal_layers(network: nn.Module) -> Iterator[nn.Module]:
    """The linear and convolution layers of ``network`` (embeddings and normalisation layers are neither)."""
    return (layer for layer in network.modules() if isinstance(layer, _LAYERS))


def orthogonal_penalty(network: nn.Module) -> Tensor:
    """``Σ_W ‖W Wᵀ ⊙ (1 - I)‖²_F`` over :func:`orthogonal_layers`, each ``W`` as :func:`filter_matrix` (unweighted)."""
    return torch.stack([off_diagonal_gram_norm(filter_matrix(layer)) for layer in orthogonal_layers(network)]).sum()


class OrthogonalRegularization(Trick):
    r"""BigGAN's modified orthogonal regularisation (Brock et al. 2019, eq. 3), added to one player's loss.

    .. math:: R_\beta = \beta \sum_W \lVert W W^\top \odot (\mathbf{1} - I)\rVert_F^2

    over every linear and convolution weight ``W`` of the network, flattened to ``(out, in·k·k)``
    so that each row is one output filter (the paper's :math:`W^\top W` with filters as columns).
    Unlike full orthogonal regularisation, :math:`\lVert W^\top W - I\rVert_F^2`, it penalises only
    the inner products of distinct filters, not their norms; the paper finds that this makes the
    generator amenable to the truncation trick. Embeddings (BigGAN's shared class embedding) and
    normalisation gains are not linear or convolution layers and are left alone; BigGAN's
    conditional batch-norm projections are linear layers and are regularised, as in the authors'
    code. Spectrally normalised layers are regularised through their raw weight
    (:func:`filter_matrix`).

    The authors' code adds the gradient :math:`2\beta\,(W W^\top \odot (\mathbf{1} - I))\,W` by hand,
    half the gradient of :math:`R_\beta`: their ``G_ortho=1e-4`` corresponds to ``weight=5e-5`` here.
    :class:`~ganlab.models.biggan.BigGANGenerator` brings this trick itself; any other model adds it
    with ``tricks=[orthogonal_regularization]``. Logged as ``train/g_orthogonal`` (``train/d_orthogonal``).

    Args:
        weight: :math:`\beta` (1e-4 in the paper).
        network: ``generator`` (the paper) or ``discriminator``, the network regularised and the
            player whose loss the term joins.

    Raises:
        GanlabError: an unknown ``network``, or (at setup) a network without linear or convolution layers.
    """

    NETWORKS = ("generator", "discriminator")

    def __init__(
        self,
        weight: Annotated[float, NonNegative] = 1e-4,
        network: Annotated[str, OneOf(*OrthogonalRegularization.NETWORKS)] = "generator",
    ) -> None:
        if network not in self.NETWORKS:
            raise GanlabError(f"orthogonal regularisation of {network!r}: use network=generator or discriminator")
        self.weight = float(weight)
        self.network = network

    def setup(self, module: GANModule) -> None:
        if next(orthogonal_layers(getattr(module, self.network)), None) is None:
            raise GanlabError(f"orthogonal regularisation found no linear or convolution layer in the {self.network}")

    def _term(self, context: StepContext) -> dict[str, Tensor]:
        # looked up each step: tricks set up later may wrap or replace the network's layers
        return {"orthogonal": self.weight * orthogonal_penalty(getattr(context.module, self.network))}

    def generator_terms(self, context: StepContext) -> dict[str, Tensor]:
        return self._term(context) if self.network == "generator" else {}

    def discriminator_terms(self, context: StepContext) -> dict[str, Tensor]:
        return self._term(context) if self.network == "discriminator" else {}
