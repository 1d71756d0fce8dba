"""The coarse-to-fine schedule: at which sizes G is optimised, with how many evaluations each."""

from __future__ import annotations

import math

from .config import Config

# scales='auto': sizes up to SINGLE_MAX run at a single scale (at 384 and 512 px coarse to fine
# reached the same J in the same time: benchmarks/README.md); larger ones start at a size between
# AUTO_BASE and 2 AUTO_BASE and double up to the full size.
AUTO_BASE = 512
SINGLE_MAX = 2 * AUTO_BASE - 1
MIN_SCALE = 64  # scales=N makes no scale smaller than this (long edge, px)


def schedule(cfg: Config) -> list[tuple[int, int]]:
    """(long edge, evaluations of J) for each scale, coarsest first.

    ``scales`` N: N scales a factor sqrt(2) apart in long edge (half the pixels each step down),
    ending at cfg.size and never below 64 px, half the evaluations at the full size (see
    split_evaluations). ``scales`` 'auto': a single scale up to SINGLE_MAX px; above it a
    pyramid that doubles from between AUTO_BASE and 2 AUTO_BASE px to cfg.size, each level with
    half the evaluations of the one before (see auto_schedule).
    """
    if cfg.scales == "auto":
        return auto_schedule(cfg.size, cfg.iterations)
    sizes = [cfg.size]
    while len(sizes) < cfg.scales and round(sizes[0] / math.sqrt(2)) >= MIN_SCALE:
        sizes.insert(0, round(sizes[0] / math.sqrt(2)))
    evals = split_evaluations(cfg.iterations, len(sizes))
    return list(zip(sizes, evals))


def auto_schedule(size: int, total: int) -> list[tuple[int, int]]:
    """The pyramid of scales='auto': 4096 px and 60 evaluations -> 512: 32, 1024: 16, 2048: 8,
    4096: 4. An evaluation at twice the size costs 4 times as much, so each level takes about
    twice the time of the one before and the full size, where an evaluation costs most, gets
    the fewest: the large structures form where they are cheap, the full size adds detail."""
    halvings = max(0, int(math.log2(size / AUTO_BASE))) if size > SINGLE_MAX else 0
    levels = max(1, min(halvings + 1, total))  # at least one evaluation per level, the finest kept
    sizes = [round(size / 2**i) for i in range(levels - 1, -1, -1)]
    weights = [2 ** (levels - 1 - i) for i in range(levels)]
    evals = _apportion(total, weights)
    return list(zip(sizes, evals))


def _apportion(total: int, weights: list[int]) -> list[int]:
    """``total`` split in proportion to ``weights``, each part >= 1 (largest remainders)."""
    exact = [total * w / sum(weights) for w in weights]
    parts = [max(1, math.floor(x)) for x in exact]
    order = sorted(range(len(parts)), key=lambda i: exact[i] - math.floor(exact[i]), reverse=True)
    i = 0
    while sum(parts) < total:
        parts[order[i % len(parts)]] += 1
        i += 1
    while sum(parts) > total:  # the max(1, .) took too much: from the largest part
        parts[parts.index(max(parts))] -= 1
    return parts


def split_evaluations(total: int, n: int) -> list[int]:
    """``total`` evaluations over ``n`` scales, coarsest first: half to the finest scale, the
    other half shared equally by the coarser ones (3 scales: 1/4, 1/4, 1/2)."""
    if n == 1:
        return [total]
    share = total // 2 // (n - 1)
    return [share] * (n - 1) + [total - share * (n - 1)]


def expected_seconds(elapsed: float, first: float, scale: int, evaluations: list[int], work: list[float],
                     done: int = 1) -> float:
    """The whole optimisation's expected seconds, after ``done`` evaluations of ``scale``.

    ``elapsed``: seconds so far; ``first``: what an evaluation at this scale takes (measured: the
    mean of the latest ones); ``evaluations`` and ``work`` per scale: how many evaluations are left
    there and what one costs relatively (nst.core.planner.Plan.work: the network's pixels per
    evaluation, tiles' halos and extra passes included). Each later evaluation at a scale is
    assumed to cost ``first`` x its work / this scale's work.
    """
    rest = (evaluations[scale] - done) * first
    rest += sum(n * first * w / work[scale] for n, w in zip(evaluations[scale + 1:], work[scale + 1:]))
    return elapsed + rest
