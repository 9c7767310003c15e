"""``trainer.precision=auto``: the fastest numerics the hardware runs natively.

bf16 mixed precision (``torch.autocast`` with bfloat16; weights, optimiser state and losses stay float32)
is only a speed-up where the chip computes in bf16 natively: a CUDA GPU that supports it, or a CPU with
AVX512-BF16 or AMX (x86) or the BF16 extension (Arm). Elsewhere (an AVX2 laptop, say) bf16 is emulated
and slower than float32, so ``auto`` picks ``32-true`` there.
"""

from __future__ import annotations

import platform
from pathlib import Path

import torch
from omegaconf import DictConfig

AUTO = "auto"
BF16 = "bf16-mixed"
FP32 = "32-true"

# /proc/cpuinfo flags of CPUs that compute bf16 dot products in hardware
_NATIVE_BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})


def cpu_flags(cpuinfo: str | None = None) -> set[str]:
    """The CPU feature flags Linux reports (``flags`` on x86, ``Features`` on Arm); empty elsewhere."""
    if cpuinfo is None:
        path = Path("/proc/cpuinfo")
        cpuinfo = path.read_text(errors="replace") if path.is_file() else ""
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("flags", "features"):
            flags.update(value.split())
    return flags


def native_bf16_cpu(flags: set[str] | None = None) -> str | None:
    """The flag that shows this CPU computes bf16 natively (``avx512_bf16``, ``amx_bf16``, ``bf16``), or None."""
    found = sorted(_NATIVE_BF16_CPU_FLAGS & (cpu_flags() if flags is None else flags))
    return found[0] if found else None


def uses_cuda(accelerator: str) -> bool:
    """Whether Lightning's ``accelerator`` setting ends up on a CUDA GPU on this machine."""
    return accelerator in ("gpu", "cuda") or (accelerator == AUTO and torch.cuda.is_available())


def resolve_precision(requested: str | int, accelerator: str, flags: set[str] | None = None) -> tuple[str, str]:
    """``(precision, why)``: ``auto`` resolved for this machine; any other value is kept as given.

    Args:
        requested: ``trainer.precision`` (``auto``, or one of Lightning's values such as ``32-true``).
        accelerator: ``trainer.accelerator`` (``auto``, ``cpu``, ``gpu``, ...).
        flags: the CPU's feature flags; ``None``: this machine's (:func:`cpu_flags`).
    """
    if str(requested) != AUTO:
        return str(requested), "as configured"
    if uses_cuda(accelerator):
        if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
            return BF16, f"{torch.cuda.get_device_name()} computes bf16 natively"
        return FP32, "this GPU has no native bf16"
    if accelerator not in ("cpu", AUTO):
        return FP32, f"accelerator={accelerator}: bf16 is only chosen automatically on CUDA GPUs and CPUs"
    flag = native_bf16_cpu(flags)
    if flag:
        return BF16, f"the CPU computes bf16 natively ({flag})"
    return FP32, f"this {platform.machine()} CPU lacks native bf16 (avx512_bf16, amx_bf16 or bf16): it would emulate it"


def pin_precision(trainer: DictConfig) -> str:
    """Replace ``trainer.precision=auto`` by this machine's choice before the Trainer is built; returns why.

    The pinned value is what a run's checkpoint keeps, so a resumed run computes as it did before.
    """
    trainer.precision, why = resolve_precision(trainer.precision, trainer.accelerator)
    return why
