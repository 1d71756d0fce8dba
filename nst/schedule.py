"""The coarse-to-fine schedule: at which sizes G is optimised, with how many evaluations each."""

from __future__ import annotations

import math

from .config import Config


def schedule(cfg: Config) -> list[tuple[int, int]]:
    """(long edge, evaluations of J) for each scale, coarsest first.

    Scales are a factor sqrt(2) apart in long edge (half the pixels each step down), ending at
    cfg.size and never below 64 px; the evaluations are split as measured in benchmarks/README.md.
    """
    sizes = [cfg.size]
    while len(sizes) < cfg.scales and round(sizes[0] / math.sqrt(2)) >= 64:
        sizes.insert(0, round(sizes[0] / math.sqrt(2)))
    evals = split_evaluations(cfg.iterations, len(sizes))
    return list(zip(sizes, evals))


def split_evaluations(total: int, n: int) -> list[int]:
    """``total`` evaluations over ``n`` scales, coarsest first: half to the finest scale, the
    other half shared equally by the coarser ones (3 scales: 1/4, 1/4, 1/2)."""
    if n == 1:
        return [total]
    share = total // 2 // (n - 1)
    return [share] * (n - 1) + [total - share * (n - 1)]
