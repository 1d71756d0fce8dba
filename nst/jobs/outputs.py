"""Whether an output can be written, found out before any work: its folder exists (or is made)
and takes a new file. A run that could only fail at its end fails at its start instead. And the
names of what a run keeps beside an output (its partial result), without torch."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from ..errors import InputError


def check_folder(folder: str | Path, make: bool = True, *, for_path: str | Path | None = None) -> None:
    """InputError naming ``for_path`` (default: ``folder``) unless a new file can be made in
    ``folder``: it is a folder or, with ``make``, can be made one (it is made), and a file can be
    created in it (tried with an empty temporary file, removed at once)."""
    folder = Path(folder) if str(folder) else Path(".")
    name = Path(for_path) if for_path is not None else folder
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{name}: {folder} is a file, not a folder")
    if not folder.exists():
        above = folder.parent
        while not above.exists() and above != above.parent:
            above = above.parent
        if above.exists() and not above.is_dir():
            raise InputError(f"{name}: {above} is a file, not a folder")
        if not make:
            raise InputError(f"{name}: the folder {folder} does not exist")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise InputError(f"{name}: cannot make the folder {folder} ({e.strerror or e})") from None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".nst-check.", dir=folder)
        os.close(fd)
        os.unlink(tmp)
    except OSError as e:
        raise InputError(f"{name}: cannot write into {folder} ({e.strerror or e})") from None


def check_file(path: str | Path, make: bool = True) -> None:
    """InputError naming ``path`` unless a file can be written there (see check_folder); a
    directory of that name is not a place for a file."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a directory; give a file name")
    check_folder(path.parent, make, for_path=path)


def check_files(paths: Iterable[str | Path], make: bool = True) -> None:
    """check_file for each path, each folder tried once."""
    tried: set[Path] = set()
    for p in map(Path, paths):
        if p.is_dir():
            raise InputError(f"{p}: is a directory; give a file name")
        folder = p.parent.absolute()
        if folder not in tried:
            check_folder(p.parent, make, for_path=p)
            tried.add(folder)


def partial_paths(output: str | Path) -> tuple[Path, Path]:
    """The partial result that nst.jobs.checkpoint keeps beside ``output``: its preview (out.jpg ->
    out.partial.jpg) and what resuming needs (out.partial.pt); named here too, without torch, for
    ``nst status``."""
    output = Path(output)
    return output.with_name(f"{output.stem}.partial{output.suffix}"), output.with_name(f"{output.stem}.partial.pt")
