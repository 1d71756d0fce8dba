"""Regions of a job: masks read from files, each with its style (nst.core.regions does the maths).

A region is written ``MASK=STYLE``: the white part of the image MASK (grey: partly; black: not
at all) gets STYLE, an image or a blend ``a.jpg:2+b.jpg``, or ``none`` to keep the photo there.
A mask in colour is read by its brightest channel (pure red, green or blue is the region, as
white is), and said so (``mask_values``). A mask is data, not colour: its ICC profile, if any, is
not applied.
A style image that holds several textures can give one of them: ``wave.jpg@sea.png`` takes the
style from the white part of ``sea.png`` (a mask over the style image). MASK may hold the name
template's fields ({content}, {parent}, {dir}, {index}, {style}) so that each content of a batch
has its own mask; for a clip it may also be a video or a folder of frames (moving regions:
nst.jobs.clips.MaskFrames).
"""

from __future__ import annotations

import os
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from ..core.config import style_parts
from ..core.regions import EMPTY, Region, same_aspect
from ..errors import InputError, Setting
from .checkpoint import file_identity
from .runner import Style, StyleBank

NONE = "none"
# A pixel whose channels differ by more than this (of 255) is colour; a grey JPEG's noise is less.
COLOUR = 16
Note = Callable[[str], None]


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


def load_mask(path: str | Path, note: Note | None = None) -> torch.Tensor:
    """A mask file as (H, W) float32 in [0, 1]: its grey levels (white 1; 16-bit and float images
    scaled by their range), or its alpha channel where it has transparent pixels (what a paint
    program's layer exports), or, in colour, its brightest channel (``mask_values``: ``note``
    hears so); turned upright by its EXIF orientation, as photos are. Its colour profile is not
    applied: a mask's numbers are data."""
    path = Path(path)
    try:
        with Image.open(path) as img:
            img.load()
            img = ImageOps.exif_transpose(img)
            if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
                alpha = img.convert("RGBA").getchannel("A")
                if alpha.getextrema()[0] < 255:
                    return torch.from_numpy(np.asarray(alpha, np.float32) / 255.0)
            if img.mode.startswith("I;16") or img.mode in ("I", "F"):
                a = np.asarray(img, np.float32)
                top = 1.0 if img.mode == "F" else 65535.0 if img.mode != "I" or a.max() > 255 else 255.0
                return torch.from_numpy(np.clip(a / top, 0, 1))
            return mask_values(img, f"mask {path}", note)
    except FileNotFoundError:
        raise InputError(f"mask {path}: no such file") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise InputError(f"mask {path}: not a readable image ({type(e).__name__})") from None


def mask_values(img: Image.Image, name: str = "the mask", note: Note | None = None) -> torch.Tensor:
    """An 8-bit mask image (a file's, or a mask video's frame) as (H, W) float32 in [0, 1]: its grey
    levels; or, if it is in colour (some pixel's channels more than COLOUR apart), its brightest
    channel, max(R, G, B), so that paint of any pure colour is the region as white is (its grey
    level would make pure red 30 %), and ``note`` hears so in one line, naming ``name``."""
    if img.mode not in ("L", "1"):
        rgb = np.asarray(img.convert("RGB"))
        brightest = rgb.max(axis=-1)
        if int((brightest - rgb.min(axis=-1)).max(initial=0)) > COLOUR:
            if note is not None:
                note(f"{name} is in colour, not grey: read by its brightest channel (pure red, green or blue "
                     "is the region, as white is)")
            return torch.from_numpy(brightest.astype(np.float32) / 255.0)
    return torch.from_numpy(np.asarray(img.convert("L"), np.float32) / 255.0)


def check_aspect(mask: torch.Tensor, path: str | Path, size: tuple[int, int], what: str = "content",
                 name: str | Path | None = None) -> None:
    """InputError naming both files' sizes unless ``mask`` (as read from its file ``path``) has the
    aspect ratio of the ``what`` (content, style) ``name`` whose file is ``size`` (width, height)."""
    (mh, mw), (cw, ch) = mask.shape[-2:], size
    if not same_aspect((mw, mh), (cw, ch)):
        named = f"{what} {name}" if name is not None else what
        raise InputError(f"mask {path} is {mw}x{mh} and the {named} {cw}x{ch}: a mask needs the {what}'s "
                         "aspect ratio (any size)")


def is_empty(mask: torch.Tensor) -> bool:
    """Nothing of the picture is in the region (its share below nst.core.regions.EMPTY)."""
    return float(mask.mean()) < EMPTY


def names(specs: Sequence[RegionSpec]) -> list[str]:
    """Each region's name in logs: its mask's file name without extension, made unique ('rest'
    is the rest of the picture's)."""
    out: list[str] = []
    for spec in specs:
        name, n = spec.name, 2
        while name in out or name == "rest":
            name, n = f"{spec.name}-{n}", n + 1
        out.append(name)
    return out


def read_style_masks(spec: RegionSpec, bank: StyleBank, note: Note | None = None) -> list[torch.Tensor | None]:
    """The masks over the region's style images, checked against each style's aspect ratio
    (``note``: see ``load_mask``)."""
    out = []
    for (p, _), m in zip(spec.style or (), spec.masks):
        if m is None:
            out.append(None)
            continue
        mask = load_mask(m, note)
        check_aspect(mask, m, bank.image(p).size, what="style", name=p)
        if is_empty(mask):
            raise InputError(f"mask {m} over the style {p} is empty (black): it gives no style")
        out.append(mask)
    return out


def regions_of(specs: Sequence[RegionSpec], masks: Sequence[torch.Tensor], bank: StyleBank,
               style_masks: Sequence[Sequence[torch.Tensor | None]]) -> list[Region]:
    """The library's Regions of a job: each mask with its style's Targets (none: no style)."""
    out = []
    for spec, name, mask, own in zip(specs, names(specs), masks, style_masks):
        if spec.style is None:
            out.append(Region(mask, None, name=name))
            continue
        keyed = [((p, str(m)), bank.image(p), w, t) for (p, w), m, t in zip(spec.style, spec.masks, own)]
        out.append(Region(mask, bank.masked_targets(keyed), bank.images(spec.style), name=name))
    return out


def records(specs: Sequence[RegionSpec]) -> list[dict]:
    """Each region as an output's provenance records it: its mask (absolute path, and the sha256 of
    its contents: of a folder of mask frames, its files' names, sizes and times), its style
    (a path, a blend's [[path, weight], ...], or "none") and the style's own masks."""
    out = []
    for s in specs:
        rec = {"mask": os.path.abspath(s.mask), "mask_sha256": _digest(s.mask)}
        if s.style is None:
            rec["style"] = NONE
        else:
            rec["style"] = [[os.path.abspath(p), float(w)] for p, w in s.style]
            if any(m is not None for m in s.masks):
                rec["style_masks"] = [None if m is None else os.path.abspath(m) for m in s.masks]
        out.append(rec)
    return out


def _digest(path: str | Path) -> str:
    ident = file_identity(path)
    return ident.split("=", 1)[1] if ident.startswith(("sha256=", "files=")) else ident


def identity(specs: Sequence[RegionSpec]) -> list:
    """What decides a job's result of its regions, by the contents of their files (for resuming)."""
    return [[file_identity(s.mask), None if s.style is None else
             [[file_identity(p), w, None if m is None else file_identity(m)] for (p, w), m in zip(s.style, s.masks)]]
            for s in specs]

