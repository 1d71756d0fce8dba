"""Where the network runs and in what precision, and what running out of memory looks like."""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Iterator
from pathlib import Path

import torch

from ..errors import InputError, NSTError, Setting

PRECISIONS = ("auto", "float32", "bfloat16")
# CPU feature flags (Linux /proc/cpuinfo) of native bfloat16 arithmetic: AVX512-BF16 or AMX.
_NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def resolve_device(name: str) -> torch.device:
    """'auto' -> cuda, then mps, then cpu; otherwise check the named device exists."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, ValueError):
        raise InputError(f"device {name!r} is not allowed; expected auto, cpu, cuda, cuda:N or mps") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(f"device {name!r}: CUDA is not available here; use ", Setting("device", "cpu"), " or auto")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise InputError(f"device {name!r}: only {torch.cuda.device_count()} CUDA device(s) here")
    elif dev.type == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise InputError(f"device {name!r}: MPS is not available here; use ", Setting("device", "cpu"), " or auto")
    elif dev.type != "cpu":
        raise InputError(f"device {name!r} is not allowed; expected auto, cpu, cuda, cuda:N or mps")
    return dev


@functools.cache
def cpu_native_bf16() -> bool:
    """Whether this CPU does bfloat16 arithmetic natively (AVX512-BF16 or AMX), read at run time.

    Without it oneDNN emulates bfloat16, which is slower than float32.
    """
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:  # not Linux: no way to tell cheaply; float32 is the safe choice
        return False
    return any(f in flags for f in _NATIVE_BF16_FLAGS) and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def resolve_precision(name: str, device: torch.device) -> torch.dtype:
    """The dtype the network runs in: 'float32', 'bfloat16', or 'auto': bfloat16 on CUDA when the
    GPU supports it and on a CPU with native bfloat16 (cpu_native_bf16), float32 elsewhere. The
    costs and Grams are always float32.

    On the CPU, 'auto' follows the time to a given J, measured in benchmarks/README.md (AVX512-BF16
    on an AMD EPYC): an evaluation is about 1.6x faster and J falls only slightly more slowly per
    evaluation. Without native support oneDNN emulates bfloat16, slower than float32."""
    if name not in PRECISIONS:
        raise InputError(f"precision {name!r} is not allowed; expected {' | '.join(PRECISIONS)}")
    if name == "float32":
        return torch.float32
    if name == "bfloat16":
        if device.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise InputError(f"precision 'bfloat16': {device} does not support it; use ", Setting("precision", "float32"))
        return torch.bfloat16
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    if device.type == "cpu" and cpu_native_bf16():
        return torch.bfloat16
    return torch.float32


def autocast(device: torch.device, dtype: torch.dtype) -> contextlib.AbstractContextManager:
    """Run the network's convolutions in ``dtype`` (autocast), or as they are for float32."""
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


_OOM_MESSAGES = ("out of memory", "can't allocate memory", "cannot allocate memory")


@contextlib.contextmanager
def memory_guard(size: int, device: torch.device, budget: int | None = None, tile: str | int = "auto"
                 ) -> Iterator[None]:
    """Turn running out of memory (CUDA, MPS or CPU) into an NSTError naming the size, the memory
    budget and tiling, and what to try: a smaller max_memory (nst plans tiles and the
    optimiser's state within it; the memory ran out because something else took it or the
    plan's estimate was short), tile='auto', or half the pixels (the long edge / sqrt 2).
    """
    try:
        yield
    except (RuntimeError, MemoryError) as e:  # torch.OutOfMemoryError is a RuntimeError
        if not (isinstance(e, MemoryError) or any(m in str(e).lower() for m in _OOM_MESSAGES)):
            raise
        smaller = max(16, int(size / math.sqrt(2)) // 16 * 16)
        if device.type == "cuda":
            torch.cuda.empty_cache()
        try_: list[list[object]] = []
        if budget is not None:
            try_.append(["a smaller ", Setting("max_memory"), f" than {budget / 2**30:.1f}G"])
        if tile != "auto":
            try_.append([Setting("tile", "auto")])
        try_.append([Setting("size", smaller)])
        advice = [*(x for part in try_[:-1] for x in [*part, ", "])][:-1]
        raise NSTError(f"out of memory on {device} at ", Setting("size", size), "; try ", *advice,
                       *([" or "] if len(try_) > 1 else []), *try_[-1]) from e
