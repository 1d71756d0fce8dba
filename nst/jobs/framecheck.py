"""Frames made already, checked before any frame of a sequence is made: the provenance each frame output
holds (frame_record), whether an existing output holds this run's settings (matches) or which setting
differs (difference), frames made with other settings refused unless they are to be made again
(check_made, OtherSettings), and that the input frames all have one size, from their headers (check_sizes).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

from PIL import Image

from ..errors import InputError, Setting
from ..pixels.images import read_description
from . import checkpoint, provenance


def frame_record(base: dict, index: int) -> dict:
    """The provenance stored in frame ``index``'s output: ``base`` with the frame's number."""
    return {**base, "sequence": {**base.get("sequence", {}), "frame": index}}


def _deciding(settings: object) -> object:
    """The settings that decide a frame: all but how it was computed (device, precision), as
    for partial results (nst.jobs.checkpoint.NOT_SETTINGS)."""
    if not isinstance(settings, dict):
        return settings
    return {k: v for k, v in settings.items() if k not in checkpoint.NOT_SETTINGS}


def matches(path: Path, record: dict) -> bool:
    """Whether ``path`` exists and holds the settings of ``record`` (the same settings, sequence
    settings and frame: the versions, device and precision may differ)."""
    return path.is_file() and difference(path, record) is None


def difference(path: Path, record: dict) -> str | None:
    """Why the existing frame output ``path`` is not the frame of ``record``, in words: the first
    setting that differs with its two values (``style_weight 10, now 30``; the settings, then the
    sequence's), or that it holds no nst settings; None if it is that frame (see ``matches``)."""
    try:
        text = read_description(path)
        stored = json.loads(text) if text else None
    except (InputError, json.JSONDecodeError):
        stored = None
    if not isinstance(stored, dict) or not isinstance(stored.get("settings"), dict):
        return "no nst settings stored in it"
    record = json.loads(provenance.dumps(record))  # as stored: tuples become lists
    for old, new in ((_deciding(stored["settings"]), _deciding(record["settings"])),
                     (stored.get("sequence"), record["sequence"])):
        if not isinstance(old, dict):
            return "no sequence settings stored in it"
        for key in [*new, *(k for k in old if k not in new)]:
            if old.get(key) != new.get(key):
                if key == "regions":
                    return "the regions differ"
                return f"{key} {_show(old.get(key))}, now {_show(new.get(key))}"
    return None


def _show(value: object) -> str:
    """A setting's value as a message says it: 10, conv4_2, conv1_1:0.5,..., 192x128, a path."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:g}"
    if value is None:
        return "none"
    if isinstance(value, list) and len(value) == 2 and all(isinstance(x, int) for x in value):
        return f"{value[0]}x{value[1]}"  # a frame size
    if isinstance(value, list) and all(isinstance(x, str) or (isinstance(x, list) and len(x) == 2) for x in value):
        return ",".join(x if isinstance(x, str) else f"{x[0]}:{_show(x[1])}" for x in value)  # layers, a blend
    return str(value) if isinstance(value, str) else json.dumps(value)


class OtherSettings(InputError):
    """Frame outputs that exist, made with other settings than this run's: refused, not replaced
    (unless the caller says to replace them)."""


REPLACE = Setting("replace", python="replace=True")  # stylize_frames' way to say: make them again
RESTART = Setting("restart", python="restart=True")  # and nst.jobs.clips.run_clips' (the command's --restart)


def check_made(outputs: Sequence[Path], record: dict, *, first: int = 0, replace: bool = False,
               note: Callable[[str], None] | None = None, remedy: Setting = REPLACE,
               folder: Path | None = None) -> list[bool]:
    """Before any frame is made: the ``outputs`` that exist but were made with other settings than
    ``record`` (frame t = ``first`` + i; see ``difference``) are refused, in one line naming how
    many, the first, the first setting that differs with its old and new values, and ``remedy``,
    the setting that makes them again (an OtherSettings error, ``folder`` named in it); with
    ``replace`` they are made again, and ``note`` hears so in one line. Returns, for each output,
    whether it is made with these settings (``matches``)."""
    reasons = [difference(p, frame_record(record, first + i)) if p.is_file() else "" for i, p in enumerate(outputs)]
    stale = [(p, why) for p, why in zip(outputs, reasons) if why]  # "": missing, None: made
    made = [why is None for why in reasons]
    if not stale:
        return made
    path, why = stale[0]
    what = f"{len(stale)} frame{'' if len(stale) == 1 else 's'} made with other settings ({path.name}: {why})"
    if not replace:
        raise OtherSettings(f"{folder if folder is not None else path.parent}: {what}; ", remedy,
                            " makes them again with these settings")
    if note is not None:
        note(f"{what}; making them again")
    return made


def check_sizes(paths: Sequence[Path]) -> None:
    """Before any frame is made: InputError unless the image files ``paths`` all have one size
    (after their EXIF orientation), read from their headers only, without decoding them."""
    first = None
    for p in paths:
        size = _header_size(p)
        if first is None:
            first = size
        elif size != first:
            raise InputError(f"{p}: {size[0]}x{size[1]}, but {paths[0].name} is {first[0]}x{first[1]}; the frames "
                             "of a sequence must all have one size")


def _header_size(path: Path) -> tuple[int, int]:
    """An image file's (width, height) as load_image gives it (EXIF orientation applied), from its
    header. A PNG whose orientation comes after its pixels is measured as stored; load_image's
    frames are checked again as they are read."""
    try:
        with Image.open(path) as img:
            w, h = img.size
            if "exif" in img.info:
                exif = Image.Exif()
                exif.load(img.info["exif"])
            else:
                exif = img.getexif() if img.format != "PNG" else {}  # a PNG's would decode it
            orientation = exif.get(0x0112)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, SyntaxError, ValueError):
        raise InputError(f"{path}: not an image Pillow can read") from None
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)
