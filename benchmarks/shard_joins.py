"""The joins of a sharded clip: how much the texture jumps where one shard's frames meet the next's,
with 0, 2, 4 ... frames of warm-up before each shard (``--shard-overlap``), against the unsharded run.

    python benchmarks/shard_joins.py --clips cat layers --overlaps 0 1 2 4 --size 128

Clips (24 frames unless --frames says otherwise; the true motion of each is known, so the warping
error is measured as in benchmarks/video.py, with its ``warping_error``):
  cat     examples/cat_pan.mp4 (a video: 192x128, a pan with a 1.25x zoom over cat.jpg), decoded and
          resized as nst does; its motion from the crop boxes of examples/make_clip.py
  pan, zoom, layers   benchmarks/video.py's synthetic clips, written as a folder of PNG frames
          and run as --sequence

Each clip is stylised once unsharded (the reference), then for each overlap in 4 shards
(``--shards``), each shard as ``--shard K/N --shard-overlap O`` would run it (nst.jobs.clips.run_clips,
its own network, as a separate process builds one). The shards run one after the other in reverse
order (N-1 first), so that no shard finds the frame before its own made: as N workers started
together, each shard's first frame starts cold (overlap 0) or after its warm-up, never from its
predecessor's output. ``--in-order`` adds a run with the shards in order, where each shard after
the first warm-starts from the frame its predecessor wrote.

Warping error of frame t: mean |out_t(x) - out_{t-1}(x + b(x))| over the pixels x visible in both
frames, b the true motion, values in [0, 1]. A join is a frame where a shard other than the first
starts (6, 12, 18 of 24 frames in 4 shards); the table gives the joins' mean error, the mean over
the other frames (t >= 1) of the same run, and their ratio (1: a join is like any other frame).
Time: the sum of the shards' wall times (the machine time, network built in each), and the slowest
shard's (the wall time with N workers side by side).

Outcome (AMD EPYC, 2 shared cores, bfloat16 network; the command above with --overlaps 0 1 2 4,
size 128, the default 50 cold / 25 warm evaluations; evaluations as planned: 50 a cold frame, 25 a
warm one; the errors are deterministic, two runs gave the same; the cat's unsharded time is the
first run's, a burst of other load made the second's 246 s; the layers clip's later rows ran beside
another test suite, and its overlap-4 run was killed at its last shard, which was finished apart):

| clip | run | join error | other frames | join / mean | evaluations | seconds (sum) | slowest shard |
| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |
| cat | unsharded | 0.0262 | 0.0266 | 0.99 | 625 | 59.4 | 59.4 |
| cat | overlap 0 | 0.1506 | 0.0276 | 5.46 | 700 | 70.0 | 17.7 |
| cat | overlap 1 | 0.1488 | 0.0272 | 5.47 | 775 | 86.7 | 22.7 |
| cat | overlap 2 | 0.1464 | 0.0268 | 5.47 | 850 | 99.2 | 25.7 |
| cat | overlap 4 | 0.1434 | 0.0266 | 5.40 | 1000 | 113.9 | 31.6 |
| layers | unsharded | 0.0353 | 0.0335 | 1.05 | 625 | 78.5 | 78.5 |
| layers | overlap 0 | 0.1981 | 0.0322 | 6.15 | 700 | 88.9 | 24.6 |
| layers | overlap 1 | 0.1925 | 0.0323 | 5.95 | 775 | (loaded) | |
| layers | overlap 2 | 0.1755 | 0.0330 | 5.32 | 850 | (loaded) | |
| layers | overlap 4 | 0.1625 | 0.0329 | 4.94 | 1000 | (loaded) | |

A warm-up does not hide a join: the shard's first frame is warm, but from its own chain of frames,
whose texture (settled by its own cold start) differs from the previous shard's about as much as
two independent stylisations do; the temporal term keeps each chain's texture, so the two come
together only where the motion brings in new content (the layers clip's faster pan: 6.15x to
4.94x over 4 frames). With the frame before the shard made (``--in-order``; a shard started after
its predecessor finished) the shard continues from it: the same frames as the unsharded run, byte
for byte (tests/test_shard_overlap.py), so the joins are like any other frame.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from video import Clip, crop_flow, make_clip, warping_error  # noqa: E402

from nst import Config  # noqa: E402
from nst.pixels import video  # noqa: E402
from nst.jobs.clips import chunk, plan, run_clips  # noqa: E402
from nst.jobs.sequence import SequenceConfig  # noqa: E402
from nst.pixels.images import load_image  # noqa: E402


def cat_clip(size: int) -> tuple[Path, Clip]:
    """examples/cat_pan.mp4 as nst reads it at ``size``, with the true motion of the crop boxes of
    examples/make_clip.py (at the output size: a box fills the frame)."""
    path = ROOT / "examples/cat_pan.mp4"
    info = video.probe(path)
    w, h = video.even_size(info.size, size)
    n = info.frames  # make_clip.py's FRAMES
    boxes = []
    for t in range(n):
        s = t / (n - 1)
        bw = 300 - 60 * s
        bh = bw * info.size[1] / info.size[0]
        x, y = 20 + 110 * s, 40 + 10 * s
        boxes.append((x, y, x + bw, y + bh))
    flows, masks = [None], [None]
    for t in range(1, n):
        f, m = crop_flow(boxes, w, h, t)
        flows.append(f)
        masks.append(m)
    frames = [img.resize((w, h), Image.Resampling.LANCZOS) for img in video.read_frames(path)]
    return path, Clip("cat", frames, flows, masks)


def synthetic_clip(name: str, size: int, n: int, out: Path) -> tuple[Path, Clip]:
    clip = make_clip(name, n, size)
    folder = out / f"{name}-content"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for t, img in enumerate(clip.frames):
        img.save(folder / f"{t:04d}.png")
    return folder, clip


def frame_errors(outputs: list[Image.Image], clip: Clip) -> list[float]:
    """The warping error of each frame t >= 1 against frame t-1 (benchmarks/video.py's measure)."""
    return [warping_error(outputs[t - 1:t + 1], Clip(clip.name, clip.frames[t - 1:t + 1], [None, clip.flows[t]],
                                                     [None, clip.masks[t]]))
            for t in range(1, len(outputs))]


def run(content: Path, style: Path, out: Path, cfg: Config, seq: SequenceConfig,
        shards: list[tuple[int, int] | None], overlap: int) -> tuple[Path, list[float], int]:
    """Stylise ``content`` into ``out`` shard by shard: the frames' folder, each shard's wall time and
    the evaluations of J done in all."""
    shutil.rmtree(out, ignore_errors=True)
    if out.suffix:
        shutil.rmtree(out.with_name(out.name + ".frames"), ignore_errors=True)
    (job,) = plan([content], [style], out, sequence=content.is_dir())
    seconds, evaluations = [], [0]

    def count(job, t, it):
        evaluations[0] += 1

    for shard in shards:
        start = time.perf_counter()
        (result,) = run_clips([job], cfg, seq, shard=shard, overlap=overlap, on_iterate=count)
        seconds.append(time.perf_counter() - start)
        if result.status not in ("done", "partial"):
            raise SystemExit(f"{content} shard {shard}: {result.status}: {result.error}")
    return job.frames_dir, seconds, evaluations[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", nargs="+", default=["cat", "layers"])
    ap.add_argument("--frames", type=int, default=24, help="frames of the synthetic clips (cat: its 24)")
    ap.add_argument("--size", type=int, default=128, help="long edge of the frames")
    ap.add_argument("--iterations", type=int, default=Config.iterations, help="a cold frame's evaluations")
    ap.add_argument("--warm-iterations", type=int, default=SequenceConfig.warm_iterations,
                    help="a warm frame's evaluations")
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--overlaps", type=int, nargs="+", default=[0, 2, 4])
    ap.add_argument("--in-order", action="store_true", help="also the shards in order (see above)")
    ap.add_argument("--style", type=Path, default=ROOT / "examples/style_strokes.jpg")
    ap.add_argument("--out", type=Path, default=Path("/tmp/nst-shard-joins"))
    ap.add_argument("--json", type=Path, help="also write the rows here")
    args = ap.parse_args()
    cfg = Config(size=args.size, iterations=args.iterations, device="cpu")
    seq = SequenceConfig(warm_iterations=args.warm_iterations)
    print(f"{args.shards} shards, size {args.size}, {cfg.iterations} evaluations a cold frame, "
          f"{seq.warm_iterations} a warm one; torch threads {torch.get_num_threads()}", flush=True)
    rows = []
    for name in args.clips:
        content, clip = (cat_clip(args.size) if name == "cat"
                         else synthetic_clip(name, args.size, args.frames, args.out))
        n = len(clip.frames)
        N = args.shards
        joins = sorted({chunk(n, (k, N)).start for k in range(1, N)} - {0})
        w, h = clip.frames[0].size
        print(f"{name}: {n} frames {w}x{h}, joins at {joins}", flush=True)
        runs = [("unsharded", None, [None], 0)]
        runs += [(f"overlap {o}", o, [(k, N) for k in reversed(range(N))], o) for o in args.overlaps]
        if args.in_order:
            o = args.overlaps[-1]
            runs.append((f"in order, overlap {o}", o, [(k, N) for k in range(N)], o))
        for label, overlap, shards, o in runs:
            target = args.out / name / (label.replace(" ", "_").replace(",", "") + ("" if content.is_dir() else ".mp4"))
            target.parent.mkdir(parents=True, exist_ok=True)
            frames_dir, seconds, evaluations = run(content, args.style, target, cfg, seq, shards, o)
            outputs = [load_image(p) for p in sorted(frames_dir.glob("*.png"))]
            assert len(outputs) == n, (label, len(outputs))
            errs = frame_errors(outputs, clip)
            at_joins = [errs[t - 1] for t in joins]
            others = [e for t, e in enumerate(errs, 1) if t not in joins]
            row = {"clip": name, "run": label, "overlap": overlap, "join_error": round(float(np.mean(at_joins)), 5),
                   "mean_error": round(float(np.mean(others)), 5),
                   "ratio": round(float(np.mean(at_joins) / np.mean(others)), 2),
                   "joins": [round(e, 4) for e in at_joins], "evaluations": evaluations, "seconds": round(sum(seconds), 1),
                   "slowest_shard": round(max(seconds), 1), "shard_seconds": [round(s, 1) for s in seconds]}
            rows.append(row)
            print(json.dumps(row), flush=True)
    print("\n| clip | run | join error | mean error (other frames) | join / mean | evaluations | seconds (sum) "
          "| slowest shard |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['clip']} | {r['run']} | {r['join_error']:.4f} | {r['mean_error']:.4f} | {r['ratio']:.2f} | "
              f"{r['evaluations']} | {r['seconds']:.1f} | {r['slowest_shard']:.1f} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
