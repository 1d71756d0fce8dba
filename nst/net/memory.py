"""The device's memory as this process sees it: what it holds, what is free, the default budget.

On the CPU the budget is the process's resident memory (what ``ps`` shows as RSS), so what is
already in use (PyTorch itself, the network, the images) counts. On a GPU it is the memory
PyTorch allocates there. The plans that fit a budget are nst.core.planner's.
"""

from __future__ import annotations

import ctypes
import functools
import os

import torch

# Of the memory available when a run starts, the default budget takes this fraction (other
# programs keep the rest); on a GPU nothing else usually runs, but the CUDA context needs room.
SAFE_FRACTION = {"cpu": 0.75, "cuda": 0.9, "mps": 0.75}

def _meminfo(key: str) -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


@functools.cache
def _libc():
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim  # glibc only
        return libc
    except (OSError, AttributeError):
        return None


# Allocations at least this large are mmapped, and so given back to the system when freed.
MMAP_THRESHOLD = 1 << 20
# The most glibc's own heap policy made the loop's peak RSS over what bound_heap gives (measured
# at 1024², benchmarks/README.md, "The loop's own memory": up to 1.8x): a plan whose estimate
# times this is within its budget runs with glibc's default, which is much faster (a page
# fault per 4 KiB of every freed and remade tensor otherwise: a bfloat16 evaluation at 384²
# took 0.50 s bounded against 0.32 s, issue #34 in benchmarks/README.md).
HEAP_SLACK = 2
_M_MMAP_THRESHOLD = -3  # mallopt's parameter number (malloc.h)


def bound_heap() -> None:
    """Make the resident memory follow the memory in use (glibc only; nothing elsewhere).

    glibc raises its mmap threshold each time a large block is freed (up to 32 MiB), after
    which image-sized tensors come from the heap, whose freed blocks stay resident and
    fragment: measured, the loop's peak RSS was 1.8x what it holds (benchmarks/README.md).
    A fixed threshold keeps every tensor above it in its own mapping, returned when freed, so
    the budget (``max_memory``) bounds the RSS. Process-wide, and for the rest of the process:
    nst.core.network calls it on the CPU when a plan comes near its budget (HEAP_SLACK). The
    price is a page fault for every 4 KiB of each such tensor made again, every evaluation.
    """
    libc = _libc()
    if libc is not None:
        libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)


def release_freed() -> None:
    """Give the memory freed by earlier tensors back to the system (glibc's malloc_trim): glibc
    keeps freed heap memory resident for reuse, which a measurement of what is in use would
    count (measured: 0.5 GiB after a tiled evaluation at 768 px). Nothing elsewhere."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


def in_use(device: torch.device) -> int:
    """The memory this process holds now on ``device``: resident memory on the CPU (after
    release_freed), PyTorch's allocations on a GPU."""
    if device.type == "cuda":
        return torch.cuda.memory_allocated(device)
    if device.type == "mps":
        return torch.mps.current_allocated_memory()
    release_freed()
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):  # not Linux: the peak so far, an overestimate
        import resource  # Unix only: at the top it would break importing nst on Windows
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return rss if os.uname().sysname == "Darwin" else rss * 1024


def available(device: torch.device) -> int:
    """Memory free for this process on ``device`` now (on the CPU: MemAvailable of /proc/meminfo)."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
    if device.type == "mps":
        return max(0, torch.mps.recommended_max_memory() - torch.mps.driver_allocated_memory())
    avail = _meminfo("MemAvailable")
    if avail is None:
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            avail = 8 * 2**30  # no way to tell: assume a modest machine
    return avail


def default_budget(device: torch.device) -> int:
    """What is in use now plus SAFE_FRACTION of what is available: ``max_memory`` when not given."""
    return in_use(device) + int(SAFE_FRACTION.get(device.type, 0.75) * available(device))


