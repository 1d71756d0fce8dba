"""Speed and memory of nst against the hardware floor and the PyTorch tutorial's loop (Gatys et al., 2016).

    python benchmarks/speed.py overhead --sizes 256 512        # s/evaluation: nst vs bare fwd+bwd
    python benchmarks/speed.py quality --size 512 --evals 300  # time to the tutorial loop's J
    python benchmarks/speed.py memory --sizes 256 512 1024 2048
    python benchmarks/speed.py schedule --size 384             # coarse-to-fine vs single scale
    python benchmarks/speed.py cuda                            # 500 evaluations at 512² on a GPU

Each prints Markdown table rows; benchmarks/README.md collects them with the command used.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from torchvision.models import vgg19

from nst import Config, stylize
from nst.costs import content_cost, style_cost, total_cost
from nst.images import load_image, to_tensor
from nst.device import autocast
from nst.optim import minimize
from nst.schedule import schedule
from nst.transfer import Stylizer, prepare_image
from nst.vgg import LAYER_INDEX, load_weights

ROOT = Path(__file__).resolve().parent.parent
CONTENT = ROOT / "examples" / "astronaut.jpg"
STYLE = ROOT / "examples" / "style_strokes.jpg"


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclasses.dataclass
class Setup:
    """Everything one size needs: the Stylizer, the content tensor and both targets."""

    cfg: Config
    st: Stylizer
    C: torch.Tensor
    a_C: dict
    grams: dict


def setup(size: int, **kw) -> Setup:
    cfg = Config(size=size, scales=1, **kw)
    st = Stylizer(cfg)
    C = to_tensor(prepare_image(CONTENT, size), st.device)
    with torch.no_grad(), autocast(st.device, st.dtype):
        a_C = {n: f.float() for n, f in st.net(C).items() if n in cfg.content_layers}
    grams = st.style_targets(load_image(STYLE), size)
    return Setup(cfg, st, C, a_C, grams)


def timed(fn, device: torch.device, repeats: int) -> float:
    """Seconds per call of ``fn`` over ``repeats`` calls."""
    sync(device)
    t = time.perf_counter()
    for _ in range(repeats):
        fn()
    sync(device)
    return (time.perf_counter() - t) / repeats


def floor_pass(s: Setup, net: torch.nn.Module | None = None):
    """One bare forward + backward of a truncated network, nothing else, as a function.

    ``net`` None: nst's own network (channels_last, in-place ReLUs, bfloat16 on CUDA). Otherwise a
    plain torchvision ``features`` slice called on the NCHW image, as a plain PyTorch loop has it.
    """
    x = s.C.clone().requires_grad_(True)

    def once():
        if net is None:
            with autocast(s.st.device, s.st.dtype):
                out = sum(f.float().square().sum() for f in s.st.net(x).values())
        else:
            out = net(x).square().sum()
        # square: a dense gradient (the gradient of a plain sum is a stride-0 tensor, slow in conv backward)
        out.backward()
        x.grad = None

    return once


def torchvision_features(s: Setup) -> torch.nn.Module:
    """torchvision's vgg19().features, cut after the same deepest layer, default NCHW, same weights."""
    last = max(LAYER_INDEX[n] for n in s.st.net.layers)
    net = vgg19(weights=None).features[: last + 1]
    net.load_state_dict({k: v for k, v in load_weights(s.cfg.model, None).items() if int(k.split(".")[0]) <= last})
    return net.eval().requires_grad_(False).to(s.st.device)


def nst_evaluations(s: Setup, evals: int):
    """``evals`` evaluations of J in nst's own loop at one scale, as a function."""
    objective = s.st.objective(s.C, s.grams)
    return lambda: minimize(objective, s.C, evals, optimizer=s.cfg.optimizer, lr=s.cfg.step_size)


def full_J(s: Setup, G: torch.Tensor) -> float:
    """nst's total_cost (alpha J_content + beta J_style) of an image at full size, same layers and weights."""
    cfg = s.cfg
    with torch.no_grad(), autocast(s.st.device, s.st.dtype):
        feats = {n: f.float() for n, f in s.st.net(G).items()}
    Jc = sum(content_cost(s.a_C[n], feats[n]) for n in cfg.content_layers) / len(cfg.content_layers)
    names = [n for n, _ in cfg.style_layers]
    Js = style_cost([s.grams[n] for n in names], [feats[n] for n in names], cfg.style_lambdas)
    return float(total_cost(Jc, Js, cfg.content_weight, cfg.style_weight))


def tutorial_loop(s: Setup, evals: int) -> torch.Tensor:
    """What users copy: the PyTorch tutorial's loop. optim.LBFGS with default settings, stepped
    until ``evals`` closure calls, pixels clamped inside the closure; same network and costs."""
    cfg = s.cfg
    G = s.C.clone().requires_grad_(True)
    optimizer = torch.optim.LBFGS([G])
    names = [n for n, _ in cfg.style_layers]
    run = [0]
    while run[0] < evals:
        def closure():
            with torch.no_grad():
                G.clamp_(0, 1)
            optimizer.zero_grad()
            feats = s.st.net(G)
            Jc = sum(content_cost(s.a_C[n], feats[n]) for n in cfg.content_layers) / len(cfg.content_layers)
            Js = style_cost([s.grams[n] for n in names], [feats[n] for n in names], cfg.style_lambdas)
            J = total_cost(Jc, Js, cfg.content_weight, cfg.style_weight)
            J.backward()
            run[0] += 1
            return J
        optimizer.step(closure)
    with torch.no_grad():
        G.clamp_(0, 1)
    return G.detach()


def cmd_overhead(args) -> None:
    """Median seconds per pass over ``rounds`` interleaved rounds (this machine's timings vary by
    several percent from minute to minute; interleaving exposes all three to the same drift)."""
    print("| size | bare fwd+bwd, nst's network | bare fwd+bwd, torchvision NCHW | nst s/evaluation "
          "| overhead (nst ÷ its network) | nst ÷ torchvision NCHW |")
    print("| --- | --- | --- | --- | --- | --- |")
    for size in args.sizes:
        s = setup(size, device=args.device)
        runs = {"floor": (floor_pass(s), args.repeats), "tv": (floor_pass(s, torchvision_features(s)), args.repeats),
                "nst": (nst_evaluations(s, args.evals), 1)}
        times: dict[str, list[float]] = {k: [] for k in runs}
        for fn, _ in runs.values():
            fn()  # warm-up
        for _ in range(args.rounds):
            for k, (fn, repeats) in runs.items():
                times[k].append(timed(fn, s.st.device, repeats) / (args.evals if k == "nst" else 1))
        f, f_tv, n = (statistics.median(times[k]) for k in ("floor", "tv", "nst"))
        print(f"| {size}² | {f:.3f} s | {f_tv:.3f} s | {n:.3f} s | {n / f:.2f}× | {n / f_tv:.2f}× |", flush=True)


class _Reached(Exception):
    pass


def cmd_quality(args) -> None:
    s = setup(args.size, device=args.device)
    sync(s.st.device)
    t = time.perf_counter()
    G = tutorial_loop(s, args.evals)
    sync(s.st.device)
    t_plain = time.perf_counter() - t
    J_plain = full_J(s, G)
    print(f"plain loop: {args.evals} closure calls at {args.size}², J = {J_plain:.4g}, {t_plain:.1f} s", flush=True)

    # nst's default pipeline (a fresh Stylizer: loading and targets are counted), stopped at the first
    # evaluation at the full size whose alpha J_content + beta J_style reaches J_plain.
    cfg = Config(size=args.size, device=args.device)
    final_scale = len(schedule(cfg)) - 1
    reached = []

    def progress(it):
        if it.scale == final_scale and it.J - cfg.tv_weight * it.J_tv <= J_plain:
            reached.append(it)
            raise _Reached

    t = time.perf_counter()
    try:
        stylize(CONTENT, STYLE, progress=progress, **{k: v for k, v in dataclasses.asdict(cfg).items()})
    except _Reached:
        pass
    t_nst = time.perf_counter() - t
    if reached:
        print(f"nst default: reached J ≤ {J_plain:.4g} at evaluation {reached[0].i} after {t_nst:.1f} s "
              f"(setup included); ratio {t_nst / t_plain:.3f}", flush=True)
    else:
        print(f"nst default: did not reach J = {J_plain:.4g} in its {cfg.iterations} evaluations ({t_nst:.1f} s)")
    t = time.perf_counter()
    last = []
    stylize(CONTENT, STYLE, progress=last.append, **dataclasses.asdict(cfg))
    t_full = time.perf_counter() - t
    fin = min((it for it in last if it.scale == final_scale), key=lambda it: it.J)
    print(f"nst default, whole run: {t_full:.1f} s, J = {fin.J - cfg.tv_weight * fin.J_tv:.4g} "
          f"(α·J_content + β·J_style at {args.size}², the image returned)", flush=True)


def _memory_child(size: int, optimizer: str, device: str) -> None:
    s = setup(size, device=device, optimizer=optimizer)
    if s.st.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(s.st.device)
    seconds = timed(nst_evaluations(s, 3), s.st.device, 1) / 3
    out = {"seconds_per_eval": seconds,
           "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}
    if s.st.device.type == "cuda":
        out["peak_cuda_gib"] = torch.cuda.max_memory_allocated(s.st.device) / 2**30
    print(json.dumps(out))


def cmd_memory(args) -> None:
    print("| size | optimizer | peak RSS GiB | peak CUDA GiB | s/evaluation |")
    print("| --- | --- | --- | --- | --- |")
    for size in args.sizes:
        for opt in args.optimizers:
            r = subprocess.run([sys.executable, __file__, "_memory", str(size), opt, args.device],
                               capture_output=True, text=True)
            if r.returncode != 0:
                why = (r.stderr.strip().splitlines() or [f"exit {r.returncode}"])[-1]
                print(f"| {size}² | {opt} | failed: {why} | | |", flush=True)
                continue
            m = json.loads(r.stdout.strip().splitlines()[-1])
            cuda = f"{m['peak_cuda_gib']:.2f}" if "peak_cuda_gib" in m else "–"
            print(f"| {size}² | {opt} | {m['peak_rss_gib']:.2f} | {cuda} | {m['seconds_per_eval']:.2f} |", flush=True)


def cmd_schedule(args) -> None:
    """The same content, style and seed, single scale vs coarse to fine: wall time and final J."""
    print("| schedule | evaluations per scale | wall time | J at the full size (α·J_content + β·J_style) |")
    print("| --- | --- | --- | --- |")
    for scales, iterations in args.runs:
        cfg = Config(size=args.size, device=args.device, scales=scales, iterations=iterations)
        plan = schedule(cfg)
        its = []
        t = time.perf_counter()
        stylize(CONTENT, STYLE, progress=its.append, **dataclasses.asdict(cfg))
        wall = time.perf_counter() - t
        fin = min((it for it in its if it.scale == len(plan) - 1), key=lambda it: it.J)
        name = "single scale" if len(plan) == 1 else f"{len(plan)} scales"
        split = ", ".join(f"{n} at {size}" for size, n in plan)
        print(f"| {name} | {split} | {wall:.1f} s | {fin.J - cfg.tv_weight * fin.J_tv:.4g} |", flush=True)


def cmd_cuda(args) -> None:
    if not torch.cuda.is_available():
        sys.exit("no CUDA device here")
    s = setup(args.size, device="cuda")
    floor = floor_pass(s)
    floor()
    f = timed(floor, s.st.device, 20)
    run = nst_evaluations(s, args.evals)
    nst_evaluations(s, 5)()  # warm-up: cuDNN autotuning
    t = timed(run, s.st.device, 1)
    print(f"| {torch.cuda.get_device_name()} | {args.size}² | {args.evals} evaluations: {t:.2f} s "
          f"| floor {f * 1000:.2f} ms/pass | overhead {t / args.evals / f:.2f}× |", flush=True)


def _runs(text: str) -> tuple[int, int]:
    scales, _, iterations = text.partition(":")
    return int(scales), int(iterations)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_memory":
        _memory_child(int(sys.argv[2]), sys.argv[3], sys.argv[4])
        return
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    o = sub.add_parser("overhead")
    o.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    o.add_argument("--rounds", type=int, default=5)
    o.add_argument("--repeats", type=int, default=2)
    o.add_argument("--evals", type=int, default=4)
    q = sub.add_parser("quality")
    q.add_argument("--size", type=int, default=512)
    q.add_argument("--evals", type=int, default=300)
    m = sub.add_parser("memory")
    m.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024, 2048])
    m.add_argument("--optimizers", nargs="+", default=["lbfgs", "adam"])
    sc = sub.add_parser("schedule")
    sc.add_argument("--size", type=int, default=Config.size)
    sc.add_argument("--runs", type=_runs, nargs="+", default=[(1, 300), (Config.scales, Config.iterations)],
                    metavar="SCALES:ITERATIONS")
    c = sub.add_parser("cuda")
    c.add_argument("--size", type=int, default=512)
    c.add_argument("--evals", type=int, default=500)
    for s in (o, q, m, sc):
        s.add_argument("--device", default="cpu")
    args = p.parse_args()
    print(f"<!-- {platform.node()} {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads -->")
    {"overhead": cmd_overhead, "quality": cmd_quality, "memory": cmd_memory, "schedule": cmd_schedule,
     "cuda": cmd_cuda}[args.cmd](args)


if __name__ == "__main__":
    main()
