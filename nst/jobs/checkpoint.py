"""Partial results: what an unfinished run keeps beside its output, so that a re-run finishes it.

An output ``out.jpg`` is written only when its run is complete ("exists = complete", which
``--skip-existing`` and scripts rely on). Until then its partial state lives beside it:

- ``out.partial.jpg``: the best G so far, in the output's format, for people to look at
  (``nst info`` shows its settings and how far it got);
- ``out.partial.pt``: what resuming needs: the optimiser's state at full precision (float32: the
  iterate, its gradient, L-BFGS's curvature pairs or Adam's moments; see nst.core.optim), the best G,
  the scale of the schedule and the evaluations done, and the settings that decide the result.

Both are written atomically and removed when the output is written. A state whose settings
differ from the re-run's, or that cannot be read, is not used: ``load`` raises StaleState with
the reason in one line.
"""

from __future__ import annotations

from dataclasses import dataclass
import hashlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from ..core.config import INITS, Config
from ..core.runs import RunState
from ..errors import NSTError, one_line
from ..pixels.images import atomic_write, save_image, to_pil
from . import provenance
from .outputs import partial_paths

# Seconds between periodic checkpoints: what a SIGKILL or a power cut can lose at most. A checkpoint
# costs milliseconds at 384 px (an image and a float32 copy of G), under a second at 2048 px, so a
# minute costs < 1 % of any run and makes a run that is killed lose at most about a minute.
CHECKPOINT_EVERY = 60.0
VERSION = 1
# Config fields that do not decide the result: how it is computed, not what. A run interrupted on
# one device may be finished on another (a cluster gives other GPUs), in another precision, with
# other tiles (exact: nst.core.tiling) or another memory budget (the optimiser's state is fitted to the
# plan made then: Stylizer.run).
NOT_SETTINGS = ("device", "precision", "tile", "max_memory")
# Files above this size are identified by size and modification time instead of their sha256.
HASH_LIMIT = 64 << 20


class StaleState(NSTError):
    """A partial state that cannot be resumed: unreadable, or made with other settings."""


def preview_path(output: str | Path) -> Path:
    """The visible partial result of ``output``: out.jpg -> out.partial.jpg (named by nst.jobs.outputs)."""
    return partial_paths(output)[0]


def state_path(output: str | Path) -> Path:
    """What resuming ``output`` needs: out.jpg -> out.partial.pt (named by nst.jobs.outputs)."""
    return partial_paths(output)[1]


def file_identity(path: str | Path) -> str:
    """The identity of an input file's contents: its sha256, or size and mtime for a large file.
    For a directory (the frames of a clip): the names, sizes and mtimes of the files in it."""
    path = Path(path)
    if path.is_dir():
        digest = hashlib.sha256()
        for p in sorted(path.iterdir()):
            if p.is_file():
                st = p.stat()
                digest.update(f"{p.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        return "files=" + digest.hexdigest()
    st = path.stat()
    if st.st_size > HASH_LIMIT:
        return f"size={st.st_size},mtime_ns={st.st_mtime_ns}"
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return "sha256=" + digest.hexdigest()


def settings(cfg: Config, content: str | Path, style: Sequence[tuple[str | Path, float]],
             regions: Sequence | None = None) -> dict:
    """The settings that decide an output: every Config field of its provenance record (less
    NOT_SETTINGS), with the content, style, init and weights files by the identity of their
    contents rather than their paths (a moved folder still resumes; an edited image does not).
    ``regions``: the identity of the job's regions' files (nst.jobs.regions.identity), if any."""
    rec = provenance.record(cfg, content, style, "")["settings"]
    out = {k: v for k, v in rec.items() if k not in NOT_SETTINGS}
    out["content"] = file_identity(content)
    out["style"] = [[file_identity(p), float(w)] for p, w in style]
    if cfg.init not in INITS:
        out["init"] = file_identity(cfg.init)
    if cfg.weights is not None:
        out["weights"] = file_identity(cfg.weights)
    for k in ("content_layers", "style_layers"):  # tuples -> lists, as they come back from a file
        out[k] = [list(x) if isinstance(x, tuple) else x for x in out[k]]
    if regions:
        out["regions"] = list(regions)
    return out


def save(output: str | Path, state: RunState, setting: dict, description: dict | None = None) -> Path:
    """Keep ``state`` as the partial result of ``output``; return the preview's path.

    The state file first, then the preview (each atomic), so a kill in between leaves a state
    and an older preview, never a state that does not match its settings. ``description`` is the
    provenance record to store in the preview, with the progress added.
    """
    output = Path(output)
    preview, path = partial_paths(output)
    data = {"version": VERSION, "output": output.name, "settings": setting, "G": state.G.float().cpu(),
            "scale": state.scale, "done": state.done, "i": state.i, "total": state.total,
            "J": state.J, "J_content": state.J_content, "J_style": state.J_style, "optimizer": state.optimizer,
            "evaluated": state.evaluated}
    with atomic_write(path) as f:
        torch.save(data, f)
    rec = {**(description or {}), "partial": {"evaluations": state.i, "total": state.total}}
    save_image(to_pil(state.image), preview, description=provenance.dumps(rec))
    return preview


def load(output: str | Path, setting: dict) -> RunState | None:
    """The partial state kept for ``output``, if any and if made with ``setting``; None if there is none.

    Raises StaleState, naming the file and why in one line, if it cannot be read or was made
    with other settings (the first that differs is named).
    """
    output = Path(output)
    path = state_path(output)
    if not path.exists():
        return None
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(data, dict) or data.get("version") != VERSION:
            raise ValueError(f"not a version {VERSION} nst state")
        G = data["G"]
        if not isinstance(G, torch.Tensor) or G.dim() != 4 or G.dtype != torch.float32:
            raise ValueError("no float32 image in it")
        kept = data["settings"]
        optimizer = data.get("optimizer")
        if optimizer is not None and not isinstance(optimizer, dict):
            raise ValueError("a bad optimizer state")
        state = RunState(G, G, int(data["scale"]), int(data["done"]), int(data["i"]),
                         int(data["total"]), _float(data.get("J")), _float(data.get("J_content")),
                         _float(data.get("J_style")), optimizer=optimizer, evaluated=data.get("evaluated"))
    except Exception as e:  # a truncated, corrupt or foreign file
        detail = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise StaleState(f"{path}: unreadable ({type(e).__name__}{': ' + detail if detail else ''})") from None
    if data.get("output") != output.name:
        raise StaleState(f"{path}: it is the partial result of {data.get('output')}, not of {output.name}")
    diff = _differences(kept, setting)
    if diff:
        raise StaleState(f"{path}: made with other settings ({'; '.join(diff)})")
    return state


@dataclass(frozen=True)
class Kept:
    """What the last state saved was, without its tensors (at 8192² each image-sized one is 0.5 GiB,
    which the run's memory plan, nst.core.planner, does not hold twice)."""

    i: int
    total: int
    J: float | None
    J_content: float | None
    J_style: float | None
    stopped: bool

    @classmethod
    def of(cls, state: RunState) -> Kept:
        return cls(state.i, state.total, state.J, state.J_content, state.J_style, state.stopped)


class Keeper:
    """The partial result of one output as its run goes: pass it as ``Stylizer.run(on_state=...)``.

    Each state is saved beside ``output`` (``save``), at once: the run hands out states that share
    its tensors (``Stylizer.run``'s on_state). ``kept`` is what was saved last (a Kept), ``stopped``
    the state the run stopped at, if it stopped early. A state that cannot be saved (a full disk)
    does not stop the run: ``note`` hears of it once, and ``error`` keeps the last such error.
    ``make_dirs`` creates the output's folder first.
    """

    def __init__(self, output: str | Path, setting: dict, description: dict | None = None,
                 make_dirs: bool = False, note: Callable[[str], None] | None = None) -> None:
        self.output, self.setting, self.description = Path(output), setting, description
        self.make_dirs, self.note = make_dirs, note
        self.kept: Kept | None = None
        self.stopped: RunState | None = None
        self.error: Exception | None = None

    def __call__(self, state: RunState) -> None:
        if state.stopped:
            self.stopped = state
        try:
            if self.make_dirs:
                self.output.parent.mkdir(parents=True, exist_ok=True)
            save(self.output, state, self.setting, self.description)
        except (NSTError, OSError) as e:  # e.g. a full disk: the run goes on, its output may still fit
            if self.error is None and self.note is not None:
                self.note(f"{one_line(e)}; no partial result kept")
            self.error = e
            return
        self.kept = Kept.of(state)

    @property
    def problem(self) -> str | None:
        """Why the state the run stopped at is not what is kept (None if it is)."""
        if self.stopped is None or (self.kept is not None and self.kept.stopped):
            return None
        why = f"{one_line(self.error)}; " if self.error is not None else ""
        return why + (f"the partial result of evaluation {self.kept.i} is kept" if self.kept else "nothing kept")


def remove(output: str | Path) -> None:
    """Remove the partial files of ``output`` (after it was written)."""
    for p in partial_paths(output):
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass


def _float(x) -> float | None:
    return None if x is None else float(x)


def _differences(old: dict, new: dict) -> list[str]:
    """'style_weight 10, now 30' for every key whose value differs, the input files first."""
    out = []
    for key in sorted(set(old) | set(new), key=lambda k: (k not in ("content", "style"), k)):
        a, b = old.get(key), new.get(key)
        if a != b:
            out.append(f"the {key} file changed" if key in ("content", "style", "init", "weights")
                       else "the regions changed" if key == "regions"
                       else f"{key} {_show(a)}, now {_show(b)}")
    return out


def _show(value) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:g}"
    if isinstance(value, list):  # layers: as on the command line
        return ",".join(x if isinstance(x, str) else f"{x[0]}:{x[1]:g}" for x in value)
    return repr(value)

