"""Sizes in bytes as people write them (``4G``, ``512M``) and read them (``4.0 GiB``): no torch."""

from __future__ import annotations

import math
import re

from .errors import InputError

_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}

def memory_arg(n: int) -> str:
    """Bytes as a --max-memory value that is at least ``n``: '768M', '1.4G'."""
    if n < 2**30:
        return f"{-(-n // 2**20)}M"
    return f"{math.ceil(n / 2**30 * 10) / 10:g}G"


def parse_memory(text: str | int | float) -> int:
    """'4G', '4GiB', '4gb', '512M', '1.5G', '3000000000' -> bytes (K, M, G, T are powers of 1024)."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value, unit = float(text), ""
    else:
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kmgt]?)(i?b)?\s*", str(text), re.IGNORECASE)
        if m is None:
            raise InputError(f"memory size {text!r} is not allowed; expected a number with an optional "
                             f"unit K, M, G or T, e.g. 4G or 512M")
        value, unit = float(m.group(1)), m.group(2).lower()
    n = int(value * _UNITS[unit])
    if n < 2**26 or not math.isfinite(value):
        raise InputError(f"memory size {text!r} is not allowed; expected at least 64M")
    return n


def format_bytes(n: float) -> str:
    """Bytes for people: '4.0 GiB', '512 MiB'."""
    if abs(n) >= 2**30:
        return f"{n / 2**30:.1f} GiB"
    return f"{n / 2**20:.0f} MiB"


