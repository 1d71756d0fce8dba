"""The example clip and its GIF. Run from the repository root.

    python examples/make_clip.py
        writes examples/cat_pan.mp4: a 2-second camera move over examples/cat.jpg (a pan with a
        slight zoom), 24 frames at 12 fps, 192x128, H.264 without audio.

    python examples/make_clip.py gif A.mp4 B.mp4 ... -o OUT.gif [--labels "a,b"]
        writes the videos side by side, frame by frame, as a looping GIF at their frame rate.
"""

import argparse
from fractions import Fraction
from pathlib import Path

from PIL import Image, ImageDraw

from nst.cli.report import save_animation
from nst.pixels.video import probe, read_frames, write_video

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


def side_by_side(videos: list[Path], output: Path, labels: list[str]) -> None:
    rate = probe(videos[0]).rate
    streams = [list(read_frames(v)) for v in videos]
    n = min(len(s) for s in streams)
    w, h = streams[0][0].size
    sheet = []
    for t in range(n):
        canvas = Image.new("RGB", (w * len(streams) + 4 * (len(streams) - 1), h), "white")
        draw = ImageDraw.Draw(canvas)
        for k, s in enumerate(streams):
            canvas.paste(s[t].resize((w, h)), (k * (w + 4), 0))
            if k < len(labels):
                draw.text((k * (w + 4) + 4, h - 14), labels[k], fill="white", stroke_width=2, stroke_fill="black")
        sheet.append(canvas)
    ms = round(1000 / rate)
    save_animation(sheet, output, duration_ms=ms, hold_last_ms=ms)
    print(f"wrote {output}: {n} frames")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("command", nargs="?", default="clip", choices=["clip", "gif"])
    ap.add_argument("videos", nargs="*", type=Path)
    ap.add_argument("-o", "--output", type=Path)
    ap.add_argument("--labels", default="")
    args = ap.parse_args()
    if args.command == "clip":
        n = write_video(frames(), ROOT / "cat_pan.mp4", RATE)
        print(f"wrote {ROOT / 'cat_pan.mp4'}: {n} frames")
    else:
        side_by_side(args.videos, args.output, [x for x in args.labels.split(",") if x])
