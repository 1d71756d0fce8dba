"""Tiny synthetic video clips for the tests, written with PyAV: a textured picture sliding by a
known number of pixels a frame, optionally with a sine tone as an AAC audio track."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image


def texture(w: int, h: int, seed: int = 0) -> np.ndarray:
    """A smooth random RGB picture (h, w, 3) uint8 with structure at several scales, for flow."""
    rng = np.random.default_rng(seed)
    out = np.zeros((h, w, 3))
    for cell in (16, 8, 4):
        small = rng.random((h // cell + 2, w // cell + 2, 3))
        big = np.asarray(Image.fromarray((small * 255).astype(np.uint8)).resize(
            ((w // cell + 2) * cell, (h // cell + 2) * cell), Image.Resampling.BICUBIC), np.float64)
        out += big[:h, :w] / 3
    return out.clip(0, 255).astype(np.uint8)


def pan_frames(n: int, size: tuple[int, int] = (48, 32), step: tuple[int, int] = (2, 1)) -> list[Image.Image]:
    """``n`` frames of a window sliding over a texture by ``step`` pixels a frame (content moves the other way)."""
    w, h = size
    dx, dy = step
    big = texture(w + abs(dx) * n + 2, h + abs(dy) * n + 2)
    x0, y0 = (0 if dx >= 0 else abs(dx) * n), (0 if dy >= 0 else abs(dy) * n)
    return [Image.fromarray(big[y0 + dy * t: y0 + dy * t + h, x0 + dx * t: x0 + dx * t + w].copy())
            for t in range(n)]


def write_clip(path: Path, frames: list[Image.Image], rate: Fraction = Fraction(24000, 1001),
               audio: bool = True) -> Path:
    """Encode ``frames`` as H.264 in ``path`` at ``rate``, with a 440 Hz tone as AAC if ``audio``."""
    import av
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=rate)
        vs.width, vs.height = frames[0].size
        vs.pix_fmt = "yuv420p"
        vs.options = {"crf": "10"}
        a = None
        if audio:
            a = out.add_stream("aac", rate=8000)
            a.layout = "mono"
        for img in frames:
            out.mux(vs.encode(av.VideoFrame.from_image(img)))
        out.mux(vs.encode())
        if a is not None:
            n = int(8000 * len(frames) / rate)
            tone = (0.3 * np.sin(np.arange(n) * 2 * np.pi * 440 / 8000)).astype(np.float32)[None]
            for k in range(0, n, 1024):
                fr = av.AudioFrame.from_ndarray(np.ascontiguousarray(tone[:, k:k + 1024]), format="fltp",
                                                layout="mono")
                fr.sample_rate, fr.pts = 8000, k
                out.mux(a.encode(fr))
            out.mux(a.encode())
    return path


def audio_packets(path: Path) -> list[bytes]:
    """The bytes of every packet of a file's first audio stream."""
    import av
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(c.streams.audio[0]) if p.dts is not None]
