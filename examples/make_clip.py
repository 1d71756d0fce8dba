"""Make examples/cat_pan.mp4: a 2-second camera move over examples/cat.jpg (a slow pan with a
slight zoom), 24 frames at 12 fps, 192x128, H.264 without audio. Run from the repository root:

    python examples/make_clip.py
"""

from fractions import Fraction
from pathlib import Path

from PIL import Image

from nst.video import write_video

ROOT = Path(__file__).resolve().parent
FRAMES, RATE, SIZE = 24, Fraction(12), (192, 128)


def frames() -> list[Image.Image]:
    cat = Image.open(ROOT / "cat.jpg").convert("RGB")      # 451 x 300
    out = []
    for t in range(FRAMES):
        s = t / (FRAMES - 1)
        w = 300 - 60 * s                                     # zoom in by 1.25x over the clip
        h = w * SIZE[1] / SIZE[0]
        x = 20 + 110 * s                                     # pan right
        y = 40 + 10 * s
        out.append(cat.resize(SIZE, Image.Resampling.LANCZOS, box=(x, y, x + w, y + h)))
    return out


if __name__ == "__main__":
    n = write_video(frames(), ROOT / "cat_pan.mp4", RATE)
    print(f"wrote {ROOT / 'cat_pan.mp4'}: {n} frames")
