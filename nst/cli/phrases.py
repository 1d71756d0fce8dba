"""How the progress and result lines say numbers: durations ('3 min 05 s'), counts ('2
evaluations'), a run's tally of its jobs, and cost terms (rounding noise next to J said as 0).
Text only: no stream, no state."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .report import negligible


def duration(seconds: float) -> str:
    """'42 s', '3 min 05 s', '2 h 04 min'."""
    s = round(seconds)
    if s < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def plural(n: int, word: str) -> str:
    """'1 evaluation', '2 evaluations'."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def tally(prefix: str, counts: Mapping[str, int], kinds: Sequence[str], not_run: int, shard: str = "") -> str:
    """The counts of a run's last line, an image run's and a clip run's alike: 'nst: 1 done, 0
    skipped, 0 failed, 1 interrupted, 2 claimed by other workers, 1 not run (shard 0/2)'. ``kinds``
    are always said, 'interrupted', 'claimed' and ``not_run`` only when not 0, ``shard`` in brackets."""
    line = prefix + ", ".join(f"{counts[k]} {k}" for k in kinds)
    if counts["interrupted"]:
        line += f", {counts['interrupted']} interrupted"
    if counts["claimed"]:
        line += f", {counts['claimed']} claimed by other workers"
    if not_run:
        line += f", {not_run} not run"
    return line + (f" ({shard})" if shard else "")


def cost(value: float, weight: float, J: float) -> str:
    """A cost term for display: 0 when ``weight * value`` is rounding noise next to J (see
    nst.cli.report.negligible), else 4 significant digits. J_content is about 1e-13 at the first
    evaluation of a run started from the content, where its exact value is 0."""
    return "0" if weight > 0 and negligible(weight * value, J) else f"{value:.4g}"

