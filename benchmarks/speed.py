"""Speed and memory of nst against the hardware floor and the PyTorch tutorial's loop (Gatys et al., 2016).

    python benchmarks/speed.py overhead --sizes 256 512        # s/evaluation: nst vs bare fwd+bwd
    python benchmarks/speed.py quality --size 512 --evals 300  # time to the tutorial loop's J
    python benchmarks/speed.py memory --sizes 256 512 1024 2048

Each prints Markdown table rows; benchmarks/README.md collects them with the command used.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

from nst.config import Config
from nst.costs import content_cost, style_cost, total_cost
from nst.images import to_tensor
from nst.transfer import Stylizer, initial_image, optimize, prepare_image

ROOT = Path(__file__).resolve().parent.parent
CONTENT = ROOT / "examples" / "astronaut.jpg"
STYLE = ROOT / "examples" / "style_strokes.jpg"


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def setup(size: int, **kw):
    cfg = Config(size=size, **kw)
    st = Stylizer(cfg)
    content = prepare_image(CONTENT, size)
    style = prepare_image(STYLE, size)
    grams = st.style_targets(style)
    C = to_tensor(content, st.device)
    a_C = {n: v for n, v in st.net(C).items() if n in cfg.content_layers}
    return cfg, st, C, a_C, grams, style


def floor_seconds(st: Stylizer, C: torch.Tensor, repeats: int) -> float:
    """Bare forward + backward of the truncated network, nothing else: seconds per pass."""
    x = C.clone().requires_grad_(True)
    deepest = st.net.layers

    def once():
        feats = st.net(x)
        # square: a dense gradient (the gradient of a plain sum is a stride-0 tensor, slow in conv backward)
        sum(feats[n].square().sum() for n in deepest).backward()
        x.grad = None

    once()  # warm-up
    sync(st.device)
    t = time.perf_counter()
    for _ in range(repeats):
        once()
    sync(st.device)
    return (time.perf_counter() - t) / repeats


def nst_seconds(cfg: Config, st: Stylizer, C, a_C, grams, style, evals: int) -> float:
    """nst's own loop: seconds per evaluation of J over ``evals`` evaluations (after a warm-up)."""
    from dataclasses import replace
    optimize(st.net, initial_image(cfg, C, style), a_C, grams, replace(cfg, iterations=2))
    run = replace(cfg, iterations=evals)
    sync(st.device)
    t = time.perf_counter()
    optimize(st.net, initial_image(run, C, style), a_C, grams, run)
    sync(st.device)
    return (time.perf_counter() - t) / evals


def full_J(cfg: Config, st: Stylizer, a_C, grams, G: torch.Tensor) -> float:
    """nst's total_cost of an image at full size, same layers and weights."""
    with torch.no_grad():
        feats = st.net(G)
        Jc = sum(content_cost(a_C[n], feats[n]) for n in cfg.content_layers) / len(cfg.content_layers)
        names = [n for n, _ in cfg.style_layers]
        Js = style_cost([grams[n] for n in names], [feats[n] for n in names], [w for _, w in cfg.style_layers])
        return float(total_cost(Jc, Js, cfg.content_weight, cfg.style_weight))


def tutorial_loop(cfg: Config, st: Stylizer, C, a_C, grams, evals: int) -> torch.Tensor:
    """What users copy: the PyTorch tutorial's loop. optim.LBFGS with default settings, stepped
    until ``evals`` closure calls, pixels clamped inside the closure; same network and costs."""
    G = C.clone().requires_grad_(True)
    optimizer = torch.optim.LBFGS([G])
    names = [n for n, _ in cfg.style_layers]
    run = [0]
    while run[0] < evals:
        def closure():
            with torch.no_grad():
                G.clamp_(0, 1)
            optimizer.zero_grad()
            feats = st.net(G)
            Jc = sum(content_cost(a_C[n], feats[n]) for n in cfg.content_layers) / len(cfg.content_layers)
            Js = style_cost([grams[n] for n in names], [feats[n] for n in names],
                            [w for _, w in cfg.style_layers])
            J = total_cost(Jc, Js, cfg.content_weight, cfg.style_weight)
            J.backward()
            run[0] += 1
            return J
        optimizer.step(closure)
    with torch.no_grad():
        G.clamp_(0, 1)
    return G.detach()


def cmd_overhead(args) -> None:
    print("| size | bare fwd+bwd s | nst s/evaluation | overhead |")
    print("| --- | --- | --- | --- |")
    for size in args.sizes:
        cfg, st, C, a_C, grams, style = setup(size, device=args.device)
        f = floor_seconds(st, C, args.repeats)
        n = nst_seconds(cfg, st, C, a_C, grams, style, args.evals)
        print(f"| {size}² | {f:.3f} | {n:.3f} | {n / f:.2f}× |", flush=True)


def cmd_quality(args) -> None:
    cfg, st, C, a_C, grams, style = setup(args.size, device=args.device)
    sync(st.device)
    t = time.perf_counter()
    G = tutorial_loop(cfg, st, C, a_C, grams, args.evals)
    sync(st.device)
    t_plain = time.perf_counter() - t
    J_plain = full_J(cfg, st, a_C, grams, G)
    print(f"plain loop: {args.evals} closure calls, J={J_plain:.4g}, {t_plain:.1f} s", flush=True)

    # nst's default pipeline, stopped at the first evaluation whose J reaches J_plain.
    from nst import stylize

    reached: list[float] = []

    class Reached(Exception):
        pass

    def progress(it):
        if it.J <= J_plain:
            reached.append(it.seconds)
            raise Reached

    t = time.perf_counter()
    try:
        stylize(CONTENT, STYLE, size=args.size, device=args.device, iterations=args.max_evals, progress=progress)
    except Reached:
        pass
    t_nst = time.perf_counter() - t
    if reached:
        print(f"nst default: reached J<={J_plain:.4g} after {t_nst:.1f} s (incl. setup); "
              f"ratio {t_nst / t_plain:.2f}", flush=True)
    else:
        print(f"nst default: did not reach J={J_plain:.4g} in {args.max_evals} evaluations ({t_nst:.1f} s)")


def _memory_child(size: int, optimizer: str, device: str) -> None:
    cfg, st, C, a_C, grams, style = setup(size, device=device, optimizer=optimizer)
    if st.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(st.device)
    from dataclasses import replace
    run = replace(cfg, iterations=3)
    t = time.perf_counter()
    optimize(st.net, initial_image(run, C, style), a_C, grams, run)
    sync(st.device)
    out = {"seconds_per_eval": (time.perf_counter() - t) / 3,
           "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}
    if st.device.type == "cuda":
        out["peak_cuda_gib"] = torch.cuda.max_memory_allocated(st.device) / 2**30
    print(json.dumps(out))


def cmd_memory(args) -> None:
    print("| size | optimizer | peak RSS GiB | peak CUDA GiB | s/evaluation |")
    print("| --- | --- | --- | --- | --- |")
    for size in args.sizes:
        for opt in ("lbfgs", "adam"):
            r = subprocess.run([sys.executable, __file__, "_memory", str(size), opt, args.device],
                               capture_output=True, text=True)
            if r.returncode != 0:
                print(f"| {size}² | {opt} | failed: {r.stderr.strip().splitlines()[-1:]} | | |", flush=True)
                continue
            m = json.loads(r.stdout.strip().splitlines()[-1])
            cuda = f"{m['peak_cuda_gib']:.2f}" if "peak_cuda_gib" in m else "–"
            print(f"| {size}² | {opt} | {m['peak_rss_gib']:.2f} | {cuda} | {m['seconds_per_eval']:.2f} |", flush=True)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_memory":
        _memory_child(int(sys.argv[2]), sys.argv[3], sys.argv[4])
        return
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    o = sub.add_parser("overhead")
    o.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    o.add_argument("--repeats", type=int, default=10)
    o.add_argument("--evals", type=int, default=20)
    q = sub.add_parser("quality")
    q.add_argument("--size", type=int, default=512)
    q.add_argument("--evals", type=int, default=300)
    q.add_argument("--max-evals", type=int, default=600)
    m = sub.add_parser("memory")
    m.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024, 2048])
    for s in (o, q, m):
        s.add_argument("--device", default="cpu")
    args = p.parse_args()
    print(f"<!-- {platform.node()} {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads -->")
    {"overhead": cmd_overhead, "quality": cmd_quality, "memory": cmd_memory}[args.cmd](args)


if __name__ == "__main__":
    main()
