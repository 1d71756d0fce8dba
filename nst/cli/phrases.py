"""How the progress and result lines say numbers: durations ('3 min 05 s'), counts ('2
evaluations') and cost terms (rounding noise next to J said as 0). Text only: no stream, no state."""

from __future__ import annotations

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


def cost(value: float, weight: float, J: float) -> str:
    """A cost term for display: 0 when ``weight * value`` is rounding noise next to J (see
    nst.cli.report.negligible), else 4 significant digits. J_content is about 1e-13 at the first
    evaluation of a run started from the content, where its exact value is 0."""
    return "0" if weight > 0 and negligible(weight * value, J) else f"{value:.4g}"

