"""A style as the jobs hold it: a blend of (path, weight) pairs, a single style being one pair with
weight 1.0; its label and its JSON. Without torch: the job lists (nst.jobs.joblist) and the runner
(nst.jobs.runner) both use it."""

from __future__ import annotations

from pathlib import Path

# A style is a blend: (path, weight) pairs; a single style is one pair with weight 1.0.
Style = tuple[tuple[Path, float], ...]


def style_label(style: Style) -> str:
    """The style's file name, or a blend's joined with '+'."""
    return "+".join(p.name for p, _ in style)


def style_to_json(style: Style) -> str | list[list]:
    """A style as a JSON record gives it: a single style's path, or a blend's [[path, weight], ...]."""
    if len(style) == 1 and style[0][1] == 1.0:
        return str(style[0][0])
    return [[str(p), w] for p, w in style]
