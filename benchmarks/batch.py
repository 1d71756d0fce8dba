"""Benchmark: 8 images in one batch run vs 8 separate nst invocations; prints a Markdown table."""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parents[1]


def make_contents(folder: Path, n: int) -> list[Path]:
    """n distinct content images from the two example photos (crops and mirror images)."""
    photos = [Image.open(ROOT / "examples" / name).convert("RGB") for name in ("astronaut.jpg", "cat.jpg")]
    paths = []
    for i in range(n):
        img = photos[i % 2]
        w, h = img.size
        k = i // 2
        img = img.crop((k * w // 16, k * h // 16, w - k * w // 16, h - k * h // 16))
        if k % 2:
            img = ImageOps.mirror(img)
        paths.append(folder / f"photo{i}.jpg")
        img.save(paths[-1], quality=92)
    return paths


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--images", type=int, default=8)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--iterations", type=int, default=20)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    nst = [sys.executable, "-m", "nst"]
    style = "examples/style_strokes.jpg"
    opts = ["--size", str(args.size), "--iterations", str(args.iterations), "--device", args.device, "-q"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "photos").mkdir()
        contents = make_contents(tmp / "photos", args.images)
        batch_cmd = [*nst, str(tmp / "photos"), style, "-o", str(tmp / "batch"), *opts]
        t_batch = timed(batch_cmd)
        (tmp / "single").mkdir()
        single_cmds = [[*nst, str(c), style, "-o", str(tmp / "single" / f"{c.stem}_style_strokes.jpg"), *opts]
                       for c in contents]
        t_single = sum(timed(cmd) for cmd in single_cmds)
        same = all(np.array_equal(np.asarray(Image.open(tmp / "batch" / p.name)),
                                  np.asarray(Image.open(tmp / "single" / p.name)))
                   for p in (tmp / "single").iterdir())

    def show(cmd: list[str]) -> str:
        return " ".join(["python", "-m", "nst", *(shlex.quote(c).replace(str(tmp), "$TMP") for c in cmd[3:])])

    n = args.images
    print(f"{n} images, --size {args.size} --iterations {args.iterations} --device {args.device}; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}\n")
    print("| run | command | wall time | per image |")
    print("| --- | --- | ---: | ---: |")
    print(f"| one batch | `{show(batch_cmd)}` | {t_batch:.1f} s | {t_batch / n:.2f} s |")
    print(f"| {n} invocations | `{show(single_cmds[0])}`, one per image | {t_single:.1f} s | {t_single / n:.2f} s |")
    print(f"\nbatch speed-up: {t_single / t_batch:.2f}x; outputs identical pixel for pixel: {'yes' if same else 'no'}")


if __name__ == "__main__":
    main()
