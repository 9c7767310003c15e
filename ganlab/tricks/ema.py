"""An exponential moving average of the generator's weights, used for samples and evaluation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from ganlab.schema import AtLeast, Decay
from ganlab.tricks.base import StepContext, Trick

if TYPE_CHECKING:
    from ganlab.module import GANModule


class EMA(Trick):
    r"""Generator weights averaged over training (Yazici et al. 2019).

    .. math:: \bar\theta_t = \beta\,\bar\theta_{t-1} + (1-\beta)\,\theta_t

    After each generator step from ``start_step`` on, the average is updated with PyTorch's
    ``AveragedModel`` (``get_ema_multi_avg_fn``); the first update copies G. Buffers (batch-norm
    statistics) are averaged too. Training still updates G itself; sample grids, the final
    evaluation and ``ganlab eval`` use the averaged copy, which is saved in checkpoints as
    ``generator_ema``.

    Args:
        decay: :math:`\beta`, e.g. 0.999.
        start_step: generator steps before averaging begins (early weights are poor).
    """

    def __init__(self, decay: Annotated[float, Decay] = 0.999, start_step: Annotated[int, AtLeast(0)] = 0) -> None:
        self.decay = float(decay)
        self.start_step = int(start_step)
        self.averaged: AveragedModel | None = None

    def setup(self, module: GANModule) -> None:
        self.averaged = AveragedModel(
            module.generator, multi_avg_fn=get_ema_multi_avg_fn(self.decay), use_buffers=True
        ).requires_grad_(False)
        # As a submodule it moves with the module between devices and lives in its state_dict.
        module.add_module("generator_ema", self.averaged)

    def after_generator_step(self, context: StepContext) -> None:
        if context.module.generator_steps > self.start_step:
            self.averaged.update_parameters(context.module.generator)

    def sampling_generator(self, generator: nn.Module) -> nn.Module:
        if self.averaged is None or int(self.averaged.n_averaged) == 0:
            return generator
        return self.averaged.module
