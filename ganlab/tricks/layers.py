"""Finding and replacing the first and last weight layers of a discriminator, for tricks that insert layers."""

from __future__ import annotations

import torch
from torch import nn

from ganlab.errors import GanlabError

_WEIGHT_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def weight_layers(network: nn.Module) -> list[tuple[str, nn.Module]]:
    """``(name, layer)`` of every linear/convolution layer, in registration (= forward) order."""
    if not getattr(network, "single_stream", True):
        raise GanlabError(
            f"{type(network).__name__} has one first and one last layer per input stream (LAPGAN: per pyramid "
            "level), and this trick rebuilds D's first or last layer: drop it from tricks="
        )
    layers = [(name, m) for name, m in network.named_modules() if isinstance(m, _WEIGHT_LAYERS)]
    if not layers:
        raise GanlabError(f"{type(network).__name__} has no linear or convolution layer for this trick to modify")
    return layers


def replace_layer(network: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    setattr(network.get_submodule(parent_name) if parent_name else network, child, new)


@torch.no_grad()
def with_more_inputs(layer: nn.Module, extra: int) -> nn.Module:
    """A copy of ``layer`` taking ``extra`` more input features/channels, appended after the old ones.

    The old weights are kept and the new ones start at zero, so the widened layer computes the same
    function until training moves the new weights.
    """
    if isinstance(layer, nn.Linear):
        wider: nn.Module = nn.Linear(layer.in_features + extra, layer.out_features, bias=layer.bias is not None)
    else:
        wider = type(layer)(
            layer.in_channels + extra,
            layer.out_channels,
            layer.kernel_size,
            stride=layer.stride,
            padding=layer.padding,
            dilation=layer.dilation,
            groups=layer.groups,
            bias=layer.bias is not None,
            padding_mode=layer.padding_mode,
        )
    wider = wider.to(layer.weight.device, layer.weight.dtype)
    wider.weight.zero_()
    wider.weight[:, : layer.weight.shape[1]] = layer.weight
    if layer.bias is not None:
        wider.bias.copy_(layer.bias)
    return wider


class BeforeOutput(nn.Module):
    """Runs ``statistic`` on the features entering D's output layer and appends its result to them."""

    def __init__(self, statistic: nn.Module, output_layer: nn.Module) -> None:
        super().__init__()
        self.statistic = statistic
        self.output_layer = output_layer

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.output_layer(torch.cat([features, self.statistic(features)], dim=1))


def insert_before_output(discriminator: nn.Module, statistic: nn.Module, extra: int) -> None:
    """Feed ``statistic(features)`` (``extra`` more features or channels) into D's output layer."""
    name, layer = weight_layers(discriminator)[-1]
    replace_layer(discriminator, name, BeforeOutput(statistic, with_more_inputs(layer, extra)))
