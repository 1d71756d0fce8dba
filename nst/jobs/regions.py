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
MaskFrames). A job's regions are read by one loader, an image's and a clip's
(JobRegions). The text of a region is parsed, without torch, by nst.jobs.regionspec.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from ..core.regions import EMPTY, Region, same_aspect
from ..errors import InputError
from ..pixels import video
from ..pixels.video import is_video
from .checkpoint import file_identity
from .inputs import list_frames
from .joblist import ClipJob, Job
from .regionspec import NONE, RegionSpec
from .runner import StyleBank

# A pixel whose channels differ by more than this (of 255) is colour; a grey JPEG's noise is less.
COLOUR = 16
Note = Callable[[str], None]


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


class MaskFrames:
    """A region's mask over the frames of a clip: a still image (the same for every frame), a folder
    of mask frames or a mask video, with as many frames as the clip. ``mask(t)`` is frame t's,
    asked in increasing t (a video is decoded forward, once). ``size`` is the clip's files' (width,
    height), ``name`` the clip, both for the aspect-ratio check; ``note`` hears, once, that the mask is
    in colour (``mask_values``)."""

    def __init__(self, path: str | Path, frames: int, size: tuple[int, int], name: str | Path | None = None,
                 note: Note | None = None) -> None:
        self.path = Path(path)
        self._note = note
        self.paths: list[Path] | None = None
        self.still: torch.Tensor | None = None
        self._decoded = None
        if self.path.is_dir():
            self.paths = list_frames(self.path)
            count = len(self.paths)
        elif is_video(self.path):
            count = video.probe(self.path).frames
        else:
            self.still = load_mask(self.path, self._once)
            count = frames
        if count != frames:
            raise InputError(f"mask {self.path} has {count} frames and the clip {frames}: a moving mask needs one "
                             "frame per frame of the clip")
        self._t, self._last = -1, None
        first = self.mask(0)
        check_aspect(first, self.path, size, name=name)
        self._reset()

    @property
    def moving(self) -> bool:
        return self.still is None

    def _once(self, message: str) -> None:
        """The note said for the first frame that needs it, not for every frame."""
        if self._note is not None:
            self._note(message)
        self._note = None

    def _reset(self) -> None:
        self._t, self._last, self._decoded = -1, None, None

    def mask(self, t: int) -> torch.Tensor:
        if self.still is not None:
            return self.still
        if self.paths is not None:
            return load_mask(self.paths[t], self._once)
        if t < self._t:
            self._reset()
        if self._decoded is None:
            self._decoded = video.read_frames(self.path)
        while self._t < t:
            img = next(self._decoded)
            self._t += 1
            self._last = img
        return mask_values(self._last, f"mask {self.path}", self._once)


class JobRegions:
    """The regions of a job (nst.jobs.joblist.Job or ClipJob), read before any work, image or clip
    alike: each region's mask, checked against the aspect ratio of the content's files (``size``);
    its style read into the ``bank``; the masks over its style images (``read_style_masks``). An
    image's mask is one still image; a clip's (``frames``: its frame count) a MaskFrames, still
    or moving. A still mask that is empty (``is_empty``) is left out and said: to ``on_empty``
    as it is found, or, without it, kept in ``empty`` for the caller to say later (a clip's, when
    its work begins). ``note`` hears what reading a file said (a mask in colour, a style's
    profile). ``at(t)``: frame t's Regions (nst.core.regions.Region); an image's is ``at()``."""

    def __init__(self, job: Job | ClipJob, bank: StyleBank, size: tuple[int, int], *, note: Note | None = None,
                 frames: int | None = None, on_empty: Note | None = None) -> None:
        self.bank = bank
        self.specs: list[RegionSpec] = []
        self.masks: list[torch.Tensor | MaskFrames] = []
        self.own: list[list[torch.Tensor | None]] = []
        self.empty: list[str] = []  # what on_empty would have heard
        for spec in job.regions:
            if frames is None:
                mask: torch.Tensor | MaskFrames = load_mask(spec.mask, note)
                check_aspect(mask, spec.mask, size, name=job.content)
            else:
                mask = MaskFrames(spec.mask, frames, size, name=job.content, note=note)
            if spec.style is not None:
                bank.read(spec.style, note)
            own = read_style_masks(spec, bank, note)
            still = mask if isinstance(mask, torch.Tensor) else mask.still
            if still is not None and is_empty(still):
                message = f"mask {spec.mask} is empty (black): its region is left out"
                (on_empty or self.empty.append)(message)
                continue
            self.specs.append(spec)
            self.masks.append(mask)
            self.own.append(own)

    def at(self, t: int = 0) -> list[Region]:
        """Frame t's regions (an image's: t 0), an empty still mask left out; a clip's asked in
        increasing t (MaskFrames.mask)."""
        masks = [m if isinstance(m, torch.Tensor) else m.mask(t) for m in self.masks]
        return regions_of(self.specs, masks, self.bank, self.own)
