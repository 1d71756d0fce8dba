"""Provenance: the settings that made an output, stored as JSON in its metadata and read back."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .. import __version__
from ..core.config import INITS, Config
from ..errors import InputError
from ..pixels import video
from ..pixels.images import read_description

if TYPE_CHECKING:  # torch only where a record is made: `nst info` is quick
    import torch


def record(cfg: Config, content: str | Path, style: Sequence[tuple[str | Path, float]],
           device: torch.device | str, precision: torch.dtype | None = None,
           plans: Sequence[dict] = (), max_memory: int | None = None, regions: Sequence[dict] = ()) -> dict:
    """What made an output: ``{"nst", "torch", "device", "settings"}``, and ``"scales"``, ``"max_memory"``.

    ``settings`` holds every Config field plus ``content`` and ``style`` (absolute paths), so
    ``stylize(**settings)`` repeats a single-style run; a blend's ``style`` is [[path, weight], ...].
    ``device`` is the device the run resolved to (``settings["device"]`` is the one asked for);
    ``precision``, the network's dtype the run resolved to, replaces ``settings["precision"]``
    (so "auto" is recorded as what it meant on that machine); where it meant bfloat16 with float32
    taking over on a stall (Config.float32_on_stall), ``settings["precision"]`` stays "auto" (what
    repeats the run) and ``"precision"`` says what happened: ``{"network": "bfloat16",
    "float32_from": N}``, N the evaluation after which float32 took over (``took_over``; null:
    not yet, or bfloat16 to the end). ``settings["init"]``
    "auto" is recorded as what it meant for the run's length (Config.start).
    ``plans``: how each scale ran (nst.core.planner.Plan.to_json: size, tiles, optimiser, history), and
    ``max_memory`` the budget in bytes it was planned against (``settings["max_memory"]`` is the
    one asked for, null for the default): settings that depend on the machine, recorded as used.
    ``regions``: each region's record (nst.jobs.regions.records: its mask with the mask's sha256,
    its style), in ``settings["regions"]``.
    """
    import torch  # lazy: only where a record is made; nst info and nst status read records without torch
    settings = dataclasses.asdict(cfg)
    on_stall = cfg.float32_on_stall and precision is not None and precision != torch.float32
    if precision is not None and not on_stall:  # with float32 on a stall, "auto" is what repeats the run
        settings["precision"] = str(precision).removeprefix("torch.")
    if cfg.init not in INITS:
        settings["init"] = os.path.abspath(cfg.init)
    elif cfg.init == "auto":
        settings["init"] = cfg.start  # as "auto" meant for this run's length
    if cfg.weights is not None:
        settings["weights"] = os.path.abspath(cfg.weights)
    styles = [[os.path.abspath(p), float(w)] for p, w in style]
    settings = {"content": os.path.abspath(content),
                "style": styles[0][0] if len(styles) == 1 and styles[0][1] == 1.0 else styles,
                **settings}
    if regions:
        settings["regions"] = list(regions)
    rec = {"nst": __version__, "torch": torch.__version__, "device": str(device), "settings": settings}
    if on_stall:  # bfloat16, and float32 from a stall on (nst.core.scales)
        rec["precision"] = {"network": str(precision).removeprefix("torch."), "float32_from": None}
    if plans:
        rec["scales"] = list(plans)
    if max_memory is not None:
        rec["max_memory"] = max_memory
    return rec


def took_over(rec: dict, float32_from: int | None) -> dict:
    """``rec`` (a record's copy) saying the evaluation after which the float32 network took over
    from bfloat16 in the run that made the output (RunResult.float32_from), where it could."""
    if not isinstance(rec.get("precision"), dict):
        return rec
    return {**rec, "precision": {**rec["precision"], "float32_from": float32_from}}


def dumps(rec: dict) -> str:
    """The JSON stored in a file: ASCII (non-ASCII escaped), so it fits an EXIF text field."""
    return json.dumps(rec, ensure_ascii=True, sort_keys=False)


def read(path: str | Path) -> dict:
    """The record stored in an output of nst (an image, or a video's container metadata); InputError
    if the file holds none."""
    text = _stored_text(Path(path))
    try:
        rec = json.loads(text) if text else None
    except json.JSONDecodeError:
        rec = None
    if not isinstance(rec, dict) or "nst" not in rec or not isinstance(rec.get("settings"), dict):
        raise InputError(f"{path}: no nst settings stored in this file (it was not written by nst)")
    return rec


def _stored_text(path: Path) -> str | None:
    """The description in ``path``: an image's, else (a video extension, or a file Pillow cannot read
    that FFmpeg opens as a video) its container metadata. FFmpeg also opens a PNG or JPEG, so the
    image is tried first: an output renamed without its extension still reads as an image."""
    if path.suffix.lower() not in video.VIDEO_EXTENSIONS:
        try:
            return read_description(path)
        except InputError:
            if not video.is_video(path):
                raise
    return video.read_description(path)
