"""Provenance: the settings that made an output, stored as JSON in its metadata and read back."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from pathlib import Path

import torch

from . import __version__
from .config import INITS, Config
from .errors import InputError
from .images import read_description


def record(cfg: Config, content: str | Path, style: Sequence[tuple[str | Path, float]],
           device: torch.device | str, precision: torch.dtype | None = None) -> dict:
    """What made an output: ``{"nst", "torch", "device", "settings"}``.

    ``settings`` holds every Config field plus ``content`` and ``style`` (absolute paths), so
    ``stylize(**settings)`` repeats a single-style run; a blend's ``style`` is [[path, weight], ...].
    ``device`` is the device the run resolved to (``settings["device"]`` is the one asked for);
    ``precision``, the network's dtype the run resolved to, replaces ``settings["precision"]``
    (so "auto" is recorded as what it meant on that machine).
    """
    settings = dataclasses.asdict(cfg)
    if precision is not None:
        settings["precision"] = str(precision).removeprefix("torch.")
    if cfg.init not in INITS:
        settings["init"] = os.path.abspath(cfg.init)
    if cfg.weights is not None:
        settings["weights"] = os.path.abspath(cfg.weights)
    styles = [[os.path.abspath(p), float(w)] for p, w in style]
    settings = {"content": os.path.abspath(content),
                "style": styles[0][0] if len(styles) == 1 and styles[0][1] == 1.0 else styles,
                **settings}
    return {"nst": __version__, "torch": torch.__version__, "device": str(device), "settings": settings}


def dumps(rec: dict) -> str:
    """The JSON stored in a file: ASCII (non-ASCII escaped), so it fits an EXIF text field."""
    return json.dumps(rec, ensure_ascii=True, sort_keys=False)


def read(path: str | Path) -> dict:
    """The record stored in an output of nst; InputError if the file holds none."""
    text = read_description(path)
    try:
        rec = json.loads(text) if text else None
    except json.JSONDecodeError:
        rec = None
    if not isinstance(rec, dict) or "nst" not in rec or not isinstance(rec.get("settings"), dict):
        raise InputError(f"{path}: no nst settings stored in this image (it was not written by nst)")
    return rec
