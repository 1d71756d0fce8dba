"""Regions as given, without torch: ``MASK=STYLE`` parsed into a RegionSpec, a job's mask template
filled in, and the STYLE argument checked for a region's syntax; so that ``nst status --region ...``
and planning a run's jobs (nst.jobs.joblist) read regions without torch. The masks themselves are
read, with torch, by nst.jobs.regions.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..core.config import style_parts
from ..errors import InputError, Setting
from .styles import Style

NONE = "none"


@dataclass(frozen=True)
class RegionSpec:
    """One region as given: its ``mask`` (a path; before a job's fields are filled in, a template),
    its ``style`` (None: keep the photo) and each style image's own mask, if any."""

    mask: str | Path
    style: Style | None
    style_masks: tuple[Path | None, ...] = ()

    @property
    def name(self) -> str:
        return Path(self.mask).stem

    def label(self) -> str:
        """MASK=STYLE as given back in messages and records."""
        if self.style is None:
            return f"{self.mask}={NONE}"
        parts = [f"{p}{'@' + str(m) if m else ''}{':' + format(w, 'g') if w != 1 else ''}"
                 for (p, w), m in zip(self.style, self.masks)]
        return f"{self.mask}={'+'.join(parts)}"

    @property
    def masks(self) -> tuple[Path | None, ...]:
        return self.style_masks or (None,) * len(self.style or ())

    def files(self) -> list[Path]:
        """Every file the region reads: its mask, its styles and their masks."""
        return [Path(self.mask), *(p for p, _ in self.style or ()), *(m for m in self.masks if m is not None)]


def parse_region(spec: str) -> RegionSpec:
    """'MASK=STYLE' -> RegionSpec; STYLE is ``none`` or FILE[@MASK][:WEIGHT] joined by '+'.

    A name that exists as a file is never split (a mask named 'a=b.png', a style 'a+b.jpg' or
    'wave@2x.jpg'); otherwise MASK ends at the first '=', and a style's own mask follows its
    last '@'.
    """
    mask, style = _split_mask(str(spec))
    if style.strip().lower() == NONE:
        return RegionSpec(mask, None)
    parts, masks = [], []
    for part in [style] if Path(style).exists() else style.split("+"):
        path, own, w = _style_part(part, spec)
        parts.append((path, w))
        masks.append(Path(own) if own else None)
    style_parts(parts)  # weights: finite, >= 0, not all zero
    return RegionSpec(mask, tuple((Path(p), w) for p, w in parts), tuple(masks) if any(masks) else ())


def _split_mask(spec: str) -> tuple[str, str]:
    """MASK and STYLE of 'MASK=STYLE': at the first '=' unless a longer MASK names a file."""
    cuts = [i for i, c in enumerate(spec) if c == "="]
    cut = next((i for i in cuts if Path(spec[:i]).is_file()), cuts[0] if cuts else None)
    if cut is None or not spec[:cut].strip() or not spec[cut + 1:].strip():
        raise InputError(f"region {spec!r}: expected MASK=STYLE, e.g. sky.png=wave.jpg (or sky.png=none)")
    return spec[:cut], spec[cut + 1:]


def _style_part(part: str, spec: str) -> tuple[str, str, float]:
    """(style file, its own mask or '', weight) of one FILE[@MASK][:WEIGHT] of a region's style."""
    if not part:
        raise InputError(f"region {spec!r}: an empty style in the blend; a style is FILE[@MASK][:WEIGHT] "
                         "joined by '+'")
    name, colon, weight = part.rpartition(":")
    if not colon or not name or Path(part).exists():
        name, weight = part, "1"
    try:
        w = float(weight)
    except ValueError:
        raise InputError(f"region {spec!r}: the weight {weight!r} of {name} is not a number; a style is "
                         "FILE[@MASK][:WEIGHT] joined by '+', e.g. a.jpg:2+b.jpg@b_sea.png") from None
    if Path(name).exists() or "@" not in name:
        return name, "", w
    path, _, own = name.rpartition("@")
    if not path:
        raise InputError(f"region {spec!r}: a style is missing before '@'")
    if not own:
        raise InputError(f"region {spec!r}: a mask is missing after '@' (STYLE@MASK)")
    return path, own, w


def check_whole_style(text: str | Path) -> None:
    """InputError if the style of the whole picture (the STYLE argument), ``text``, names no file
    but is written as a region's (``none``, STYLE@MASK, MASK=STYLE): the error says where it
    belongs. Otherwise nothing (a missing file fails when it is read, as before)."""
    text = str(text)
    if Path(text).exists():
        return
    for part in [text, *text.split("+")]:
        name, colon, _ = part.rpartition(":")  # a blend's weight
        if not colon or not name or Path(part).exists():
            name = part
        if not name.strip() or Path(name).exists():
            continue
        if name.strip().lower() == NONE:
            what, region = "'none' (keep the photo)", "MASK=none"
        elif "=" in name:
            what, region = "MASK=STYLE", name
        elif "@" in name.strip("@"):
            what, region = "STYLE@MASK (a style from the white part of its own mask)", f"MASK={name}"
        else:
            continue
        raise InputError(f"{name}: no such file; {what} is for a region: give a STYLE for the picture and ",
                         Setting("region", region, python=f"regions=[parse_region({region!r})]"))


FIELDS = ("content", "style", "index", "parent", "dir")


def fill(spec: RegionSpec, values: Mapping[str, object]) -> RegionSpec:
    """The region of one job: its mask path's template fields filled in from ``values``."""
    text = str(spec.mask)
    try:
        names = [f for _, f, _, _ in string.Formatter().parse(text) if f is not None]
    except ValueError as e:
        raise InputError(f"region mask {text!r}: {e}") from None
    if not names:
        return spec
    unknown = [n for n in names if n not in FIELDS]
    if unknown:
        raise InputError(f"region mask {text!r}: unknown field {{{unknown[0]}}}; allowed: "
                         + " ".join(f"{{{f}}}" for f in FIELDS))
    try:
        path = text.format(**{k: values[k] for k in FIELDS if k in values})
    except (KeyError, ValueError, TypeError) as e:
        raise InputError(f"region mask {text!r}: {e}") from None
    return RegionSpec(path, spec.style, spec.style_masks)
