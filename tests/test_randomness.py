"""The random generators' states a checkpoint carries: restored, they draw again what they drew."""

from __future__ import annotations

import io
import random

import numpy as np
import torch

from ganlab.randomness import capture_random_states, give_rank_its_own_stream, restore_random_states


def draws() -> tuple[list[float], list[float], list[float]]:
    return torch.randn(3).tolist(), np.random.randn(3).tolist(), [random.random() for _ in range(3)]


def test_restored_states_repeat_every_generators_draws_and_load_with_weights_only():
    torch.manual_seed(0), np.random.seed(0), random.seed(0)
    draws()
    buffer = io.BytesIO()
    torch.save(capture_random_states(), buffer)
    first = draws()
    buffer.seek(0)
    restore_random_states(torch.load(buffer, weights_only=True))  # what a checkpoint from someone else allows
    assert draws() == first


def test_each_ddp_rank_but_the_first_gets_its_own_stream():
    def stream(rank: int) -> list[float]:
        torch.manual_seed(42)  # every process of a DDP run starts from the same seed
        give_rank_its_own_stream(rank)
        return torch.randn(4).tolist()

    torch.manual_seed(42)
    single_process = torch.randn(4).tolist()
    assert stream(0) == single_process
    assert len({tuple(stream(rank)) for rank in range(4)}) == 4
