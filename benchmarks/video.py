"""Temporal consistency of stylised video: synthetic clips with known motion, independent frames
against the temporal default (Ruder et al. 2016), warping error and time side by side.

    python benchmarks/video.py --clips pan zoom --frames 12 --size 256

Clips (made here from the photos in examples/, so the true motion is known exactly):
  pan   a 4:3 window sliding over astronaut.jpg, 6 px right and 1 px down a frame (whole pixels)
  zoom  a 4:3 window closing in on cat.jpg, 3 % a frame, resampled (Lanczos)
  layers  a pan over astronaut.jpg with a patch of cat.jpg moving the other way over it:
        occlusions and disocclusions at the patch's edges

Warping error between consecutive outputs: mean |out_t(x) - out_{t-1}(x + b(x))| over pixels
x visible in both frames (and off the patch's edges for 'layers'), b the TRUE motion, values in
[0, 1], averaged over t >= 1. The contents' own error (from resampling) is printed as a floor.
J is alpha J_content + beta J_style of each saved frame (judged in float32 whatever the run's
precision, no temporal term); the worst
quarter's J_style (of the frame's four quarters, each against the style's Grams) shows a region
left unstylised, which the global J hardly sees. Both are averaged over the frames, and J_style
also over the last quarter of the frames alone (J_style_last): texture lost little by little
from frame to frame shows there.
The runs take turns frame by frame, in a rotating order (so that other processes slow them alike),
after a few evaluations at the clip's size that no run is charged for; a run's time is
the sum of its frames' wall times (flow, warping, optimisation and saving; the network and the
style's Grams made before), and its CPU time is printed too.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nst import Config, StyleTargets, Stylizer  # noqa: E402
from nst.pixels.flow import warp  # noqa: E402
from nst.jobs.sequence import SequenceConfig, stylize_frames  # noqa: E402
from nst.pixels.images import load_image, to_tensor  # noqa: E402


@dataclass
class Clip:
    name: str
    frames: list[Image.Image]
    flows: list[np.ndarray | None]   # true backward flow of frame t (t -> t-1); None for t = 0
    masks: list[np.ndarray | None]   # (H, W) bool: visible in both frames


def crop_flow(boxes: list[tuple[float, float, float, float]], w: int, h: int, t: int) -> tuple[np.ndarray, np.ndarray]:
    """True flow frame t -> t-1 of frames rendered from source boxes (x0, y0, x1, y1) at w x h."""
    x0, y0, x1, y1 = boxes[t]
    p0, q0, p1, q1 = boxes[t - 1]
    v, u = np.mgrid[0:h, 0:w].astype(np.float64)
    X = x0 + (u + 0.5) * (x1 - x0) / w           # source coordinates of pixel centres
    Y = y0 + (v + 0.5) * (y1 - y0) / h
    u1 = (X - p0) * w / (p1 - p0) - 0.5
    v1 = (Y - q0) * h / (q1 - q0) - 0.5
    flow = np.stack([u1 - u, v1 - v], -1).astype(np.float32)
    visible = (u1 >= 0) & (u1 <= w - 1) & (v1 >= 0) & (v1 <= h - 1)
    return flow, visible


def make_clip(name: str, n: int, size: int) -> Clip:
    w, h = size, size * 3 // 4
    if name in ("pan", "layers"):
        src = load_image(ROOT / "examples/astronaut.jpg")
        scale = max(1, round((w + 6 * n + 8) / src.width * 2) / 2)  # room to slide
        src = src.resize((round(src.width * scale), round(src.height * scale)), Image.Resampling.LANCZOS)
        boxes = [(4 + 6 * t, 60 + t, 4 + 6 * t + w, 60 + t + h) for t in range(n)]
        frames = [src.crop(tuple(map(int, b))) for b in boxes]
    elif name == "zoom":
        src = load_image(ROOT / "examples/cat.jpg")
        cx, cy, bw = 225.0, 150.0, 390.0
        boxes = []
        for t in range(n):
            ww = bw / 1.03 ** t
            boxes.append((cx - ww / 2, cy - ww * 3 / 8, cx + ww / 2, cy + ww * 3 / 8))
        frames = [src.resize((w, h), Image.Resampling.LANCZOS, box=b) for b in boxes]
    else:
        raise SystemExit(f"unknown clip {name!r}")
    flows: list = [None]
    masks: list = [None]
    for t in range(1, n):
        f, m = crop_flow(boxes, w, h, t)
        flows.append(f)
        masks.append(m)
    if name == "layers":  # a patch of the cat moving left 5 px and down 2 px a frame, over the pan
        cat = load_image(ROOT / "examples/cat.jpg").resize((w // 3, h // 3), Image.Resampling.LANCZOS)
        pw, ph = cat.size
        pos = [(w // 2 + 2 * n - 5 * t, h // 4 + 2 * t - n) for t in range(n)]
        for t in range(n):
            frames[t] = frames[t].copy()
            frames[t].paste(cat, pos[t])
        v, u = np.mgrid[0:h, 0:w]

        def rect(x, y, grow=0, uu=u, vv=v):
            return (uu >= x - grow) & (uu < x + pw + grow) & (vv >= y - grow) & (vv < y + ph + grow)

        for t in range(1, n):
            (x, y), (px, py) = pos[t], pos[t - 1]
            now = rect(x, y)
            flows[t][now] = (px - x, py - y)  # the patch moves on its own
            u1 = np.round(u + flows[t][..., 0]).astype(int)
            v1 = np.round(v + flows[t][..., 1]).astype(int)
            before = rect(px, py, 0, u1, v1)
            edges = (rect(x, y, 2) & ~rect(x, y, -2)) | (rect(px, py, 2, u1, v1) & ~rect(px, py, -2, u1, v1))
            masks[t] = masks[t] & (now == before) & ~edges  # seen in both frames, off the patch's edges
    return Clip(name, frames, flows, masks)


def warping_error(frames: list[Image.Image], clip: Clip) -> float:
    errs = []
    for t in range(1, len(frames)):
        cur, prev = to_tensor(frames[t]), to_tensor(frames[t - 1])
        back, _ = warp(prev, clip.flows[t])
        m = torch.from_numpy(clip.masks[t])
        errs.append((cur - back).abs().mean(1)[0][m].mean().item())
    return float(np.mean(errs))


def steady_seconds(frame_seconds: dict[str, list[float]], independent: set[str]) -> dict[str, float]:
    """The runs' times without the bursts of other processes' load. On a shared machine a burst
    can make a frame ten times slower than its neighbours, in whichever run was making it, so
    each kind of frame gets the median of its measurements: a cold frame (every frame of an
    independent run, the first of every run: the same computation) and each run's warm frames.
    A run's steady time is then its cold frames x the cold median + its warm frames x its warm
    median. The plain sums (``seconds``) are printed too."""
    cold = [s for run, fs in frame_seconds.items() for s in (fs if run in independent else fs[:1])]
    c = float(np.median(cold))
    return {run: c * len(fs) if run in independent or len(fs) < 2 else c + (len(fs) - 1) * float(np.median(fs[1:]))
            for run, fs in frame_seconds.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", nargs="+", default=["pan", "zoom"])
    ap.add_argument("--frames", type=int, default=12)
    ap.add_argument("--size", type=int, default=256, help="frame width (height 3/4 of it)")
    ap.add_argument("--style", default=str(ROOT / "examples/style_strokes.jpg"))
    ap.add_argument("--runs", nargs="+", default=["independent", "default"],
                    help="independent, default, or WEIGHT:EVALS[:FILL[:FLOW[:BLUR]]] (e.g. 1000:25:init:medium:0)")
    ap.add_argument("--precision", default="auto", help="the runs' network arithmetic (auto: nst's default)")
    ap.add_argument("--out", type=Path, default=Path("/tmp/nst-video-bench"))
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    cfg = Config(size=args.size, device="cpu", precision=args.precision)
    st = Stylizer(cfg)
    judge = Stylizer(Config(size=args.size, device="cpu", precision="float32"))  # a fixed objective
    print(f"runs in {st.dtype}, init {cfg.init}, {cfg.iterations} evaluations a cold frame; "
          f"torch threads {torch.get_num_threads()}", flush=True)
    style = load_image(args.style)
    targets = StyleTargets(st).of([("style", style, 1.0)])
    judged = StyleTargets(judge).of([("style", style, 1.0)])
    rows = []
    for name in args.clips:
        clip = make_clip(name, args.frames, args.size)
        w, h = clip.frames[0].size
        targets(max(w, h), to_tensor(clip.frames[0]))  # style targets made before timing
        # and a few evaluations at this size, so that no run's first frame pays for the network's
        # first backward pass at a new shape (oneDNN picks its kernels then)
        st.run(clip.frames[0], targets, style, scales=[(max(w, h), 3)])
        floor = warping_error(clip.frames, clip)
        print(f"{name}: {len(clip.frames)} frames {w}x{h}; contents' own warping error {floor:.4f}", flush=True)
        seqs, folders = {}, {}
        for run in args.runs:
            if run == "independent":
                seqs[run] = SequenceConfig(temporal_weight=0)
            elif run == "default":
                seqs[run] = SequenceConfig()
            else:
                parts = run.split(":")  # WEIGHT:EVALS[:FILL[:FLOW[:BLUR]]]
                seqs[run] = SequenceConfig(float(parts[0]), int(parts[1]), fill=(parts[2:3] or ["init"])[0],
                                           flow=(parts[3:4] or [SequenceConfig.flow])[0],
                                           temporal_blur=float((parts[4:5] or [SequenceConfig.temporal_blur])[0]))
            folders[run] = args.out / name / run.replace(":", "_")
            folders[run].mkdir(parents=True, exist_ok=True)
            for p in folders[run].glob("*.png"):
                p.unlink()
        # The runs take turns frame by frame, in an order that rotates from frame to frame, so that
        # the other processes on a shared machine slow them alike; each frame's time (flow, warp,
        # optimisation, saving) is measured inside stylize_frames, which finds the earlier frames
        # made and goes on from them.
        seconds = dict.fromkeys(args.runs, 0.0)
        per_frame: dict[str, list[float]] = {run: [] for run in args.runs}
        cpu = dict.fromkeys(args.runs, 0.0)
        evals = dict.fromkeys(args.runs, 0)
        n = len(clip.frames)
        for t in range(n):
            k = t % len(args.runs)
            for run in args.runs[k:] + args.runs[:k]:
                outputs = [folders[run] / f"{i:04d}.png" for i in range(t + 1)]
                record = {"settings": {"bench": run}, "sequence": {"run": run}}
                c0 = time.process_time()
                out = stylize_frames(clip.frames[:t + 1], outputs, st, targets, seqs[run], record, style=style)
                cpu[run] += time.process_time() - c0
                (frame,) = out.done
                seconds[run] += frame.seconds
                per_frame[run].append(round(frame.seconds, 2))
                evals[run] += frame.evaluations
        base = None
        steady = steady_seconds(per_frame, {run for run in args.runs if seqs[run].independent})
        for run in args.runs:
            seq = seqs[run]
            made = [load_image(folders[run] / f"{i:04d}.png") for i in range(n)]
            err = warping_error(made, clip)
            Js, styles, worst = [], [], []
            for img, content in zip(made, clip.frames):
                C, G = to_tensor(content), to_tensor(img)
                grams = judged(max(w, h), C)
                ev = judge.objective(C, grams)(G)
                Js.append(ev.J)
                styles.append(ev.J_style)
                # the least stylised quarter: J_style of each quarter of the frame against the style's Grams
                quarters = [(slice(y, y + h // 2), slice(x, x + w // 2)) for y in (0, h // 2) for x in (0, w // 2)]
                worst.append(max(judge.objective(C[..., ys, xs], grams)(G[..., ys, xs]).J_style
                                 for ys, xs in quarters))
            row = {"clip": name, "run": run, "precision": str(st.dtype).removeprefix("torch."),
                   "temporal_weight": seq.temporal_weight, "temporal_blur": seq.temporal_blur,
                   "warm_iterations": seq.warm_iterations if not seq.independent else None, "flow": seq.flow,
                   "evaluations": evals[run], "seconds": round(seconds[run], 1), "cpu_seconds": round(cpu[run], 1),
                   "warping_error": round(err, 5), "J": round(float(np.mean(Js)), 4),
                   "J_style": round(float(np.mean(styles)), 4),
                   "J_style_last": round(float(np.mean(styles[-max(1, n // 4):])), 4),
                   "worst_quarter_J_style": round(float(np.mean(worst)), 4), "floor": round(floor, 5),
                   "frame_seconds": per_frame[run]}
            if run == "independent":
                base = row
            row["steady_seconds"] = round(steady[run], 1)
            if base is not None and base is not row:
                row["error_ratio"] = round(err / base["warping_error"], 3)
                row["time_ratio"] = round(seconds[run] / base["seconds"], 3)
                row["steady_time_ratio"] = round(row["steady_seconds"] / base["steady_seconds"], 3)
                row["cpu_ratio"] = round(cpu[run] / base["cpu_seconds"], 3)
            rows.append(row)
            print(json.dumps(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
