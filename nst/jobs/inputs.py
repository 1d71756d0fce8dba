"""The inputs of a run, found without torch: a directory's images (its subfolders too if recursive,
the output folder left out), the STYLE argument (an image, a directory, or a blend of weighted
images) and a clip's frames in natural order ('f2.png' before 'f10.png'), as a run reads them and
``nst status`` counts them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from PIL import Image

from ..core.config import style_parts
from ..errors import InputError, Setting
from .styles import Style


def image_extensions() -> frozenset[str]:
    """Lower-case extensions of the files Pillow can open ('.jpg', '.png', ...): a directory's images."""
    return frozenset(ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN)


def list_images(folder: Path, recursive: bool = False, exclude: Path | None = None) -> list[Path]:
    """The images in ``folder`` (in its subfolders too if ``recursive``), sorted by relative path.

    Hidden files are left out, and so is anything under ``exclude`` (the output folder) when
    it is a subfolder, so that outputs do not become inputs of a re-run.
    """
    exts = image_extensions()
    skip = exclude.resolve() if exclude is not None else None
    if skip == folder.resolve():
        skip = None
    found = []
    for p in folder.rglob("*") if recursive else folder.iterdir():
        rel = p.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts) or p.suffix.lower() not in exts or not p.is_file():
            continue
        if skip is not None and p.resolve().is_relative_to(skip):
            continue
        found.append((rel.as_posix(), p))
    return [p for _, p in sorted(found)]


def expand(paths: Iterable[str | Path], recursive: bool = False, exclude: Path | None = None
           ) -> list[tuple[Path, str]]:
    """Each path, or a directory's images: (image, its folder relative to the directory, or '.').

    A path that is not a directory is taken as an image even if it is missing or broken: it
    fails when its job runs. A directory without images is an InputError. Duplicates are dropped.
    """
    out: list[tuple[Path, str]] = []
    seen: set[Path] = set()
    for path in map(Path, paths):
        if path.is_dir():
            images = list_images(path, recursive, exclude)
            if not images:
                hint = [] if recursive or not any(p.is_dir() for p in path.iterdir()) else \
                    [" (it has subfolders: add ", Setting("recursive", python="recursive=True"), ")"]
                raise InputError(f"{path}: no images in this directory", *hint)
            items = [(p, p.parent.relative_to(path).as_posix()) for p in images]
        else:
            items = [(path, ".")]
        for p, rel in items:
            key = p.resolve()
            if key not in seen:
                seen.add(key)
                out.append((p, rel))
    return out


def check_style(style: Iterable[tuple[str | Path, float]]) -> Style:
    """A blend as a Style: paths, finite weights >= 0, not all zero (checked by style_parts)."""
    return tuple((Path(p), w) for p, w in style_parts(list(style)))


def expand_styles(styles: Iterable[str | Path | Iterable[tuple[str | Path, float]]], recursive: bool = False,
                  exclude: Path | None = None) -> list[Style]:
    """Each style as a Style: an image, each of a directory's images (see ``expand``), or a blend."""
    out: list[Style] = []
    for s in styles:
        if isinstance(s, (str, Path)):
            out += [((p, 1.0),) for p, _ in expand([s], recursive, exclude)]
        else:
            out.append(check_style(s))
    return out


def parse_style(spec: str | Path) -> Path | Style:
    """The STYLE argument: an existing file or directory as it is; otherwise a blend
    'a.jpg+b.jpg:0.5' of image files, each with an optional weight (default 1), or one path.

    A path that exists is never split, so a file named 'a+b.jpg' is one style.
    """
    path = Path(spec)
    text = str(spec)
    if path.exists() or "+" not in text and ":" not in text:
        return path
    pairs = []
    for part in text.split("+"):
        name, sep, weight = part.rpartition(":")
        if not sep or not name or Path(part).exists():  # no weight, or a file whose name has a ':'
            pairs.append((Path(part), 1.0))
            continue
        try:
            pairs.append((Path(name), float(weight)))
        except ValueError:
            if not Path(name).exists():  # not a weight after a file: a name with a ':' (missing, it fails later)
                pairs.append((Path(part), 1.0))
                continue
            raise InputError(f"style {text!r}: the weight {weight!r} of {name} is not a number; a blend is "
                             "FILE[:WEIGHT]+FILE[:WEIGHT], e.g. a.jpg:2+b.jpg") from None
    if len(pairs) == 1 and pairs[0][1] == 1.0:
        return pairs[0][0]
    for p, _ in pairs:
        if not str(p) or p.is_dir():
            raise InputError(f"style blend {text!r}: {str(p)!r} is not an image file; a blend joins image "
                             "files with '+', e.g. a.jpg+b.jpg:0.5")
    return check_style(pairs)


def natural_key(name: str) -> tuple:
    """Sort key for names with numbers in them: 'f2.png' before 'f10.png' (case-insensitive)."""
    parts = tuple((0, int(part)) if part.isdigit() else (1, part.casefold())
                  for part in re.split(r"(\d+)", name) if part)
    return parts, name  # ties ('f2', 'f02') broken by the name itself


def list_frames(folder: Path) -> list[Path]:
    """The images in ``folder`` (not its subfolders; hidden files left out) in natural order: a clip's
    frames, as the run reads them and ``nst status`` counts them."""
    if not folder.is_dir():
        raise InputError(f"{folder}: not a directory of frames")
    frames = sorted(list_images(folder), key=lambda p: natural_key(p.name))
    if not frames:
        raise InputError(f"{folder}: no images in this directory")
    return frames
