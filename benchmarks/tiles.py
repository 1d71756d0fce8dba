"""Tiled evaluation (nst.core.tiling) against untiled, and peak memory under --max-memory (nst.core.planner).

    python benchmarks/tiles.py speed --size 1024 --tiles off 512 256        # s/evaluation, side by side
    python benchmarks/tiles.py memory --sizes 1024 2048 --max-memory 4G     # whole default runs' peak RSS
    python benchmarks/tiles.py loop --size 2048                              # the loop's image-sized tensors

``speed`` builds one Stylizer and, at one size, the untiled objective and a tiled one per tile
size (content cached and recomputed), then times evaluations of J round-robin (one of each per
round) and reports medians, the ratio to untiled and the ratio the plan predicts (Plan.work).
Run it under ``flock /tmp/nst-cpu.lock``.

``memory`` runs the command line with its defaults (and --max-memory) at each size, each in its own
process, and reports the peak resident memory the kernel measured for it (wait4's ru_maxrss),
the wall time and the lines the run printed about its plan and expected time. Long: run it
under ``nice -n 19`` (its time is not the measurement).

``loop`` measures what nst.core.planner calls LBFGS_VECTORS and ADAM_VECTORS: the peak resident memory
of ``nst.core.optim.minimize`` over 40 evaluations of a stub objective (J = Σ w (G - T)², its gradient a
new tensor, as the network's is, and no other image-sized temporary, as a tiled evaluation makes
none: the planner counts its gradient apart), in image-sized tensors V above what was in use before it
(the init and the target), each case in its own process; "with states" also takes
``Outcome.state()`` after every evaluation and writes it with torch.save, as a checkpoint does;
"bound_heap" fixes glibc's mmap threshold first, as Stylizer does on the CPU (nst.net.memory.bound_heap).

Each prints Markdown table rows; benchmarks/README.md collects them with the command used.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
CONTENT = ROOT / "examples" / "astronaut.jpg"
STYLE = ROOT / "examples" / "style_strokes.jpg"


def cmd_speed(args) -> None:
    from nst import Config
    from nst.core.stylizer import Stylizer, prepare_image
    from nst.pixels.images import load_image, to_tensor
    from nst.units import format_bytes

    cfg = Config(size=args.size, device="cpu", precision=args.precision)
    st = Stylizer(cfg)
    C = to_tensor(prepare_image(CONTENT, args.size))
    grams = st.style_targets(load_image(STYLE), args.size)
    h, w = C.shape[-2:]
    G = C.clone()
    runs = {}
    for tile in args.tiles:
        if tile == "off":
            runs["untiled"] = _untiled(st, h, w)
            continue
        for cache in (True, False):
            plan = _forced(st, h, w, int(tile), cache)
            runs[f"{plan.tiles} tiles of {plan.tile} px, content {'cached' if cache else 'recomputed'}"] = plan
    untiled = runs.get("untiled")
    runs = {n: (st.objective(C, grams, plan=p), p) for n, p in runs.items()}
    times = {n: [] for n in runs}
    for _ in range(args.rounds + 1):  # the first round warms up (oneDNN primitives per shape)
        for name, (objective, _) in runs.items():
            t = time.perf_counter()
            objective(G)
            times[name].append(time.perf_counter() - t)
    base = statistics.median(times["untiled"][1:]) if "untiled" in times else None
    print("| size | evaluation | s/evaluation | ÷ untiled | predicted (Plan.work) | planned peak |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for name, (_, plan) in runs.items():
        med = statistics.median(times[name][1:])
        ratio = f"{med / base:.2f}×" if base else "–"
        pred = f"{plan.work / untiled.work:.2f}×" if untiled else "–"
        print(f"| {w}×{h} | {name} | {med:.2f} | {ratio} | {pred} | {format_bytes(plan.estimate)} |")


def _untiled(st, h, w):
    from nst.core.planner import plan_scale
    return plan_scale(st.memory, st.geometry.stride, st.geometry.halo, h, w, 3, free=2**50, tile="off")


def _forced(st, h, w, tile, cache):
    import dataclasses

    from nst.core.planner import plan_scale
    p = plan_scale(st.memory, st.geometry.stride, st.geometry.halo, h, w, 3, free=2**50, tile=tile)
    if not cache:
        from nst.core.planner import CONTENT_COST, PASS1_COST
        p = dataclasses.replace(p, cache_content=False, work=p.work / (1 + PASS1_COST) * (1 + PASS1_COST + CONTENT_COST))
    return p


def cmd_memory(args) -> None:
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    print("| size | --max-memory | peak RSS GiB | wall | scales as run (size: tiles, optimiser) | expected (first line) |")
    print("| --- | --- | ---: | ---: | --- | --- |")
    for size in args.sizes:
        out = out_dir / f"{Path(args.content).stem}_{size}.jpg"
        cmd = [sys.executable, "-m", "nst", args.content, args.style, "-o", str(out), "--size", str(size),
               "--max-memory", args.max_memory, *args.extra]
        start = time.perf_counter()
        p = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        lines = []
        for line in p.stderr:
            sys.stderr.write(line)
            lines.append(line.rstrip())
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        peak = usage.ru_maxrss / 2**20  # KiB on Linux
        if p.returncode != 0:
            print(f"| {size}² | {args.max_memory} | {peak:.2f} | {wall:.0f} s | failed: {lines[-1] if lines else ''} | |")
            continue
        import json
        rec = json.loads(subprocess.run([sys.executable, "-m", "nst", "info", str(out)], capture_output=True,
                                        text=True, cwd=ROOT).stdout)
        scales = "; ".join(f"{s['size'][0]}: " + (f"{s['tiles']} tiles of {s['tile']}" if s["tile"] else "untiled")
                           + f", {s['optimizer']}" + (f" {s['history_size']}" if s["optimizer"] == "lbfgs" else "")
                           for s in rec.get("scales", []))
        expected = next((ln.split("expected to take about ")[1].split(" in all")[0] for ln in lines
                         if "expected to take about" in ln), "–")
        print(f"| {size}² | {args.max_memory} | {peak:.2f} | {wall / 60:.1f} min | {scales} | {expected} |",
              flush=True)


def cmd_loop(args) -> None:
    print("| optimiser | history | states | heap | peak above the start, V |")
    print("| --- | ---: | --- | --- | ---: |")
    for opt, hist in (("lbfgs", 5), ("lbfgs", 10), ("adam", 0)):
        for states in (False, True):
            for bound in (False, True):
                cmd = [sys.executable, __file__, "loop-child", opt, str(hist), str(int(states)), str(args.size),
                       str(int(bound))]
                out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
                if out.returncode:
                    sys.exit(out.stderr)
                print(f"| {opt} | {hist if opt == 'lbfgs' else '–'} | {'yes' if states else 'no'} | "
                      f"{'bound_heap' if bound else 'glibc default'} | {out.stdout.strip()} |", flush=True)


def cmd_loop_child(args) -> None:
    import inspect
    import resource

    from nst.core.objective import Evaluation
    from nst.core.optim import Outcome, minimize
    from nst.net.memory import bound_heap, in_use

    if args.bound:
        bound_heap()  # as Stylizer does on the CPU
    gen = torch.Generator().manual_seed(0)
    T = torch.rand(1, 3, args.size, args.size, generator=gen)
    init = torch.rand(1, 3, args.size, args.size, generator=gen)
    V = 4 * init.numel()

    W = torch.rand(1, 3, args.size, args.size, generator=gen).mul_(4).exp2_()  # ill-conditioned: pairs fill

    def objective(G):
        # slice by slice: the gradient is the one image-sized tensor it makes, as a tiled
        # evaluation's (nst.core.tiling: tile-sized temporaries, the planner's V_rgb for the gradient)
        grad, J = torch.empty_like(G), 0.0
        for g, x, t, w in zip(*(v.view(-1).split(1 << 20) for v in (grad, G, T, W))):
            torch.sub(x, t, out=g)
            J += float(g.square().mul_(w).sum())
            g.mul_(w).mul_(2)
        return Evaluation(J, J, 0.0, {}, 0.0, 0.0, grad)

    loop = []
    share = {"copy": False} if "copy" in inspect.signature(Outcome.state).parameters else {}  # older trees copied
    take = {"take_init": True} if "take_init" in inspect.signature(minimize).parameters else {}  # as nst's run does

    def on_evaluation(ev, G):
        if args.states:
            with open(os.devnull, "wb") as f:
                torch.save(loop[0].state(**share), f)  # as nst does: saved at once, not copied

    # torch.optim's first optimiser imports torch._dynamo (~150 MiB, not image-sized): made first,
    # as nst does before it plans (nst.core.optim.load_optimizers; written out for older trees)
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])
    before = in_use(torch.device("cpu"))
    start_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    minimize(objective, init, 40, optimizer=args.opt, lr=1.0 if args.opt == "lbfgs" else 0.02,
             history_size=max(1, args.hist), on_evaluation=on_evaluation, on_start=loop.append, **take)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    assert peak > start_peak, "the loop's peak must be the process's"
    print(f"{(peak - before) / V:.1f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("speed")
    s.add_argument("--size", type=int, default=1024)
    s.add_argument("--tiles", nargs="+", default=["off", "512", "256"])
    s.add_argument("--rounds", type=int, default=3)
    s.add_argument("--precision", default="float32")
    m = sub.add_parser("memory")
    m.add_argument("--sizes", type=int, nargs="+", default=[1024, 2048])
    m.add_argument("--max-memory", default="4G")
    m.add_argument("--content", default=str(CONTENT))
    m.add_argument("--style", default=str(STYLE))
    m.add_argument("--out", default="/tmp/nst-tiles")
    m.add_argument("extra", nargs="*", help="more options for nst, after --")
    lp = sub.add_parser("loop")
    lp.add_argument("--size", type=int, default=2048)
    c = sub.add_parser("loop-child")  # one case of loop, in its own process
    c.add_argument("opt")
    c.add_argument("hist", type=int)
    c.add_argument("states", type=int)
    c.add_argument("size", type=int)
    c.add_argument("bound", type=int)
    args = p.parse_args()
    {"speed": cmd_speed, "memory": cmd_memory, "loop": cmd_loop, "loop-child": cmd_loop_child}[args.cmd](args)


if __name__ == "__main__":
    main()
