"""MAD-GAN: k generators and a discriminator that also tells which generator made each fake."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganlab.errors import GanlabError
from ganlab.models.base import Generator
from ganlab.schema import AtLeast, NonNegative
from ganlab.tricks.base import StepContext, Trick
from ganlab.tricks.layers import replace_layer, weight_layers
from ganlab.tricks.packing import Packing
from ganlab.tricks.replay_buffer import ReplayBuffer

if TYPE_CHECKING:
    from ganlab.module import GANModule


def generator_index(num: int, k: int, device: torch.device | str = "cpu") -> Tensor:
    """Which of k generators makes each of ``num`` samples: contiguous blocks, as ``torch.tensor_split`` cuts."""
    sizes = [len(block) for block in torch.arange(num).tensor_split(k)]
    return torch.repeat_interleave(torch.arange(k, device=device), torch.tensor(sizes, device=device))


class MultiGenerator(Generator):
    """k generators of one architecture behind the :class:`Generator` interface.

    A batch of ``N`` latent codes (and conditions) is cut into k contiguous blocks, block i goes
    through generator i, and the outputs are joined in order, so sample ``j`` always comes from
    generator ``generator_index(N, k)[j]``. Generator 0 is the original network; each other one is
    a copy whose every parameter tensor holds a random permutation of the original's entries: a
    fresh draw of the same i.i.d. initialisation, whatever initialiser the model used.

    Shapes: ``(N, latent_dim) -> (N, *sample shape)``.
    """

    def __init__(self, generator: Generator, k: int) -> None:
        super().__init__(generator.latent_dim, generator.num_classes)
        self.condition_keys = generator.condition_keys
        self.generators = nn.ModuleList([generator] + [_reshuffled_copy(generator) for _ in range(k - 1)])

    @property
    def truncation(self) -> float | None:
        return self._truncation

    @truncation.setter
    def truncation(self, value: float | None) -> None:
        # every generator truncates its own way (StyleGAN's ψ acts inside the network)
        self._truncation = value
        for generator in getattr(self, "generators", ()):
            generator.truncation = value

    def sample_latent(self, num: int, device: torch.device | str = "cpu", rng: torch.Generator | None = None) -> Tensor:
        return self.generators[0].sample_latent(num, device, rng)

    def discriminator_view(self, batch: Mapping[str, Tensor]) -> Tensor:
        return self.generators[0].discriminator_view(batch)

    def forward(self, z: Tensor, **condition: Tensor) -> Tensor:
        k = len(self.generators)
        blocks = z.tensor_split(k)
        conditions = {key: value.tensor_split(k) for key, value in condition.items()}
        outputs = [
            generator(block, **{key: parts[i] for key, parts in conditions.items()})
            for i, (generator, block) in enumerate(zip(self.generators, blocks, strict=True))
            if len(block)
        ]
        return torch.cat(outputs)


@torch.no_grad()
def _reshuffled_copy(network: nn.Module) -> nn.Module:
    twin = copy.deepcopy(network)
    for parameter in twin.parameters():
        flat = parameter.view(-1)
        flat.copy_(flat[torch.randperm(flat.numel(), device=flat.device)])
    return twin


class GeneratorClassifierHead(nn.Module):
    r"""D's output layer widened to k + 1 logits: k "made by generator i" classes and "real".

    It returns the real-vs-fake logit of that (k+1)-way softmax,
    :math:`\ell_{\text{real}} - \log\sum_{i\le k} e^{\ell_i}`, whose sigmoid is
    :math:`p(\text{real}\mid x)`, so every loss keeps seeing one score per sample; inside
    :meth:`generator_logits` it returns the k generator logits instead.
    """

    def __init__(self, output_layer: nn.Module) -> None:
        super().__init__()
        self.output_layer = output_layer
        self._generator_logits = False

    def forward(self, features: Tensor) -> Tensor:
        logits = self.output_layer(features).flatten(1)
        fake_logits, real_logit = logits[:, :-1], logits[:, -1:]
        if self._generator_logits:
            return fake_logits
        return real_logit - torch.logsumexp(fake_logits, dim=1, keepdim=True)

    @contextmanager
    def generator_logits(self) -> Iterator[None]:
        """Within this block D returns ``(N, k)`` logits over which generator made each sample."""
        self._generator_logits = True
        try:
            yield
        finally:
            self._generator_logits = False


def _widened_output(layer: nn.Module, outputs: int) -> nn.Module:
    if isinstance(layer, nn.Linear):
        wide: nn.Module = nn.Linear(layer.in_features, outputs, bias=layer.bias is not None)
    else:
        wide = type(layer)(
            layer.in_channels,
            outputs,
            layer.kernel_size,
            stride=layer.stride,
            padding=layer.padding,
            dilation=layer.dilation,
            bias=layer.bias is not None,
            padding_mode=layer.padding_mode,
        )
    return wide.to(layer.weight.device, layer.weight.dtype)


class MADGAN(Trick):
    r"""MAD-GAN (Ghosh et al. 2018): k generators share one discriminator that also classifies which made a fake.

    D has k + 1 outputs, classes 1..k for "made by :math:`G_i`" and k + 1 for "real", and is
    trained with the (k+1)-way cross-entropy; each generator wants its fakes called real:

    .. math::
        \max_D\; \mathbb{E}_{x\sim P}\log D_{k+1}(x) + \sum_{i=1}^k \mathbb{E}_{z}\log D_i(G_i(z)),
        \qquad \min_{G_i}\; -\mathbb{E}_z \log D_{k+1}(G_i(z)).

    Because D must tell the generators apart, they are pushed towards different modes. ganlab
    splits that cross-entropy in two: the run's loss sees the real-vs-fake logit of D's softmax
    (see :class:`GeneratorClassifierHead`), and this trick adds the "which generator" cross-entropy
    on the fakes, logged as ``train/d_generator_id``. For a fake made by :math:`G_i`,
    :math:`-\log D_i = -\log(1-p_{\text{real}}) - \log p(i\mid\text{fake})`, so with ``loss=gan``
    or ``nsgan`` and ``weight=1`` D's loss is exactly MAD-GAN's cross-entropy and ``loss=nsgan``
    gives its generator objective; other losses use the real-vs-fake logit as their score. Each
    batch is split evenly between the generators (:class:`MultiGenerator`), and so are samples for
    grids and evaluation. D runs once more on the fakes in its step to read the generator logits.

    Not combinable with ``packing`` (a pack mixes generators) or ``replay_buffer`` (replayed fakes
    lose their generator). Under ``unrolled`` the look-ahead D steps use the run's loss only.

    Args:
        k: number of generators.
        weight: factor on the generator-identification cross-entropy.
    """

    # The generator and D's output layer must be rebuilt before other tricks copy or wrap them.
    setup_first = True

    def __init__(self, k: Annotated[int, AtLeast(1)] = 4, weight: Annotated[float, NonNegative] = 1.0) -> None:
        if int(k) < 2:
            raise GanlabError(f"multi_generator: k must be at least 2, got {k}")
        self.k = int(k)
        self.weight = float(weight)
        self.head: GeneratorClassifierHead | None = None

    def setup(self, module: GANModule) -> None:
        clashing = sorted(type(t).__name__ for t in module.tricks if isinstance(t, (Packing, ReplayBuffer)))
        if clashing:
            raise GanlabError(
                f"multi_generator cannot be combined with {', '.join(clashing)}: D must know which generator made "
                "each fake; drop one of them from tricks="
            )
        module.generator = MultiGenerator(module.generator, self.k)
        name, output_layer = weight_layers(module.discriminator)[-1]
        self.head = GeneratorClassifierHead(_widened_output(output_layer, self.k + 1))
        replace_layer(module.discriminator, name, self.head)

    def discriminator_terms(self, context: StepContext) -> dict[str, Tensor]:
        with self.head.generator_logits():
            logits = context.module.discriminator(context.fake, **context.condition)
        made_by = generator_index(logits.shape[0], self.k, device=logits.device)
        return {"generator_id": self.weight * F.cross_entropy(logits.float(), made_by)}
