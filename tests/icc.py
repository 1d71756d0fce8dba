"""ICC profiles built byte by byte for the colour-profile tests (ICC.1:2001, version 2), so that
they need no profile files on the machine: an RGB matrix/TRC profile (sRGB's primaries in any
order: red and green swapped, say), a grey one (a tone curve) and a CMYK one (a 2-point lut8 to
Lab whose corners are any colours). Little CMS reads them as it reads a camera's or a printer's.
"""

from __future__ import annotations

import struct

# sRGB's primaries adapted to D50 (the PCS white), as in every sRGB profile, and D50 itself.
SRGB_XYZ = {"red": (0.4361, 0.2225, 0.0139), "green": (0.3851, 0.7169, 0.0971), "blue": (0.1431, 0.0606, 0.7141)}
D50 = (0.9642, 1.0, 0.8249)
SRGB_CURVE = (2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045)  # parametric curve type 3


def _s15(x: float) -> bytes:
    return struct.pack(">i", round(x * 65536))


def _xyz(x: tuple[float, float, float]) -> bytes:
    return b"XYZ \0\0\0\0" + b"".join(map(_s15, x))


def _desc(text: str) -> bytes:
    ascii_ = text.encode("ascii") + b"\0"
    return (b"desc\0\0\0\0" + struct.pack(">I", len(ascii_)) + ascii_ + struct.pack(">II", 0, 0)
            + struct.pack(">HB", 0, 0) + b"\0" * 67)


def _text(text: str) -> bytes:
    return b"text\0\0\0\0" + text.encode("ascii") + b"\0"


def _para(params: tuple[float, ...] = SRGB_CURVE) -> bytes:
    return b"para\0\0\0\0" + struct.pack(">HH", 3, 0) + b"".join(map(_s15, params))


def _gamma(g: float) -> bytes:
    return b"curv\0\0\0\0" + struct.pack(">IH", 1, round(g * 256))


def _profile(device_class: bytes, space: bytes, pcs: bytes, tags: list[tuple[bytes, bytes]]) -> bytes:
    table, data = [], b""
    offset = 128 + 4 + 12 * len(tags)
    for sig, body in tags:
        table.append(struct.pack(">4sII", sig, offset + len(data), len(body)))
        data += body + b"\0" * (-len(body) % 4)
    size = offset + len(data)
    header = (struct.pack(">I", size) + b"\0" * 4 + struct.pack(">I", 0x02100000) + device_class + space + pcs
              + struct.pack(">6H", 2024, 1, 1, 0, 0, 0) + b"acsp" + b"\0" * 4 + b"\0" * 4 + b"\0" * 8 + b"\0" * 8
              + struct.pack(">I", 0) + b"".join(map(_s15, D50)) + b"\0" * 4 + b"\0" * 16 + b"\0" * 28)
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + b"".join(table) + data


def rgb_profile(description: str = "swapped red and green", red: str = "green", green: str = "red",
                blue: str = "blue") -> bytes:
    """An RGB display profile whose red, green and blue channels are sRGB's ``red``, ``green`` and
    ``blue`` primaries, with sRGB's tone curve: by default red and green swapped, so that a pixel
    stored as (255, 0, 0) is pure green to a colour-managed viewer."""
    return _profile(b"mntr", b"RGB ", b"XYZ ", [
        (b"desc", _desc(description)), (b"cprt", _text("no copyright, test data")), (b"wtpt", _xyz(D50)),
        (b"rXYZ", _xyz(SRGB_XYZ[red])), (b"gXYZ", _xyz(SRGB_XYZ[green])), (b"bXYZ", _xyz(SRGB_XYZ[blue])),
        (b"rTRC", _para()), (b"gTRC", _para()), (b"bTRC", _para())])


def grey_profile(gamma: float = 1.0) -> bytes:
    """A grey display profile with the tone curve x**gamma (1: linear light, so that a stored 128
    is brighter in sRGB, about 188)."""
    return _profile(b"mntr", b"GRAY", b"XYZ ", [
        (b"desc", _desc(f"grey, gamma {gamma:g}")), (b"cprt", _text("no copyright, test data")),
        (b"wtpt", _xyz(D50)), (b"kTRC", _gamma(gamma))])


def cmyk_profile(corners: dict[tuple[int, int, int, int], tuple[float, float, float]]) -> bytes:
    """A CMYK output profile (A2B0 only: enough to read CMYK through it) as a lut8 with two points
    per channel: ``corners`` maps each corner (c, m, y, k), each 0 or 1, to its colour as CIE Lab
    (L 0-100, a and b -128-127); between them Little CMS interpolates."""
    clut = b""
    for c in (0, 1):
        for m in (0, 1):
            for y in (0, 1):
                for k in (0, 1):
                    L, a, b = corners[(c, m, y, k)]
                    clut += bytes([round(L * 255 / 100), round(a + 128), round(b + 128)])
    ramp = bytes(range(256))
    lut = (b"mft1\0\0\0\0" + bytes([4, 3, 2, 0]) + b"".join(_s15(v) for v in (1, 0, 0, 0, 1, 0, 0, 0, 1))
           + ramp * 4 + clut + ramp * 3)
    return _profile(b"prtr", b"CMYK", b"Lab ", [
        (b"desc", _desc("test CMYK")), (b"cprt", _text("no copyright, test data")), (b"wtpt", _xyz(D50)),
        (b"A2B0", lut)])
