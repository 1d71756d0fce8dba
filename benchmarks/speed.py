"""Speed and memory of nst against the hardware floor and the PyTorch tutorial's loop (Gatys et al., 2016).

    python benchmarks/speed.py overhead --sizes 256 512        # s/evaluation: nst vs bare fwd+bwd
    python benchmarks/speed.py quality --sizes 256 384 --evals 200   # time to the tutorial loop's J
    python benchmarks/speed.py quickstart --baseline /tmp/nst-main   # the README's command, two trees
    python benchmarks/speed.py memory --sizes 256 512 1024 2048
    python benchmarks/speed.py schedule --size 384             # coarse-to-fine vs single scale
    python benchmarks/speed.py cuda --compile                  # the CUDA choices, side by side

Each prints Markdown table rows; benchmarks/README.md collects them with the command used.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
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

from nst import Config, StyleTargets, stylize
from nst.core.costs import content_cost, style_cost, total_cost
from nst.core.optim import minimize
from nst.core.schedule import schedule
from nst.core.stylizer import Stylizer, prepare_image
from nst.net.device import autocast
from nst.net.vgg import LAYER_INDEX, load_weights
from nst.pixels.images import load_image, to_pil, to_tensor

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


PAIRS = (("astronaut.jpg", "style_strokes.jpg"),  # a portrait photo, a painterly generated style
         ("cat.jpg", "style_mosaic.jpg"),         # an animal photo (3:2), a geometric generated style
         ("coffee.jpg", "style_hubble.jpg"))      # a still life (3:2), a photo (sparse, dark) as the style


def _judge(content: Path, style: Path, size: int):
    sys.path.insert(0, str(Path(__file__).parent))
    from judge import Judge
    return Judge(content, style, size)


def _loop_child(content: str, style: str, size: int, evals: int, out: str, device: str = "cpu") -> None:
    """A process that runs the tutorial loop (float32, as the tutorial has it) on ``device`` and
    writes its picture (PNG, lossless) and its timings."""
    t0 = time.perf_counter()
    cfg = Config(size=size, scales=1, device=device, precision="float32")
    st = Stylizer(cfg)
    C = to_tensor(prepare_image(content, size), st.device)
    with torch.no_grad():
        a_C = {n: f.float() for n, f in st.net(C).items() if n in cfg.content_layers}
    grams = st.style_targets(load_image(style), size)
    s = Setup(cfg, st, C, a_C, grams)
    sync(st.device)
    t1 = time.perf_counter()
    G = tutorial_loop(s, evals)
    sync(st.device)
    t2 = time.perf_counter()
    to_pil(G).save(out)
    print(json.dumps({"setup_s": t1 - t0, "loop_s": t2 - t1, "evals": evals}))


def _nst_child(content: str, style: str, size: int, budget: int, stop_at: float, outdir: str, t_start: float,
               device: str) -> None:
    """A process that runs nst's default pipeline (Config's defaults, ``budget`` evaluations) and
    writes each image it would return (the lowest J so far) when that changes, with the wall time
    (time.time(), so the parent's clock) of every evaluation. It stops once its own J is below
    ``stop_at`` (3 % below the loop's J: past the point the parent looks for, as the optimiser's
    bfloat16 J and the judged float32 J differ by well under 1 %)."""
    cfg = Config(size=size, iterations=budget, device=device)
    rows, kept, best = [], [], [math.inf]

    def progress(it) -> None:
        if it.J < best[0]:
            best[0] = it.J
            kept.append((it.i, to_pil(it.image)))
        rows.append([it.i, time.time() - t_start, it.J, kept[-1][0]])
        if it.J < stop_at:
            raise _Reached

    content_img = prepare_image(content, cfg.size)
    styles = [(0, load_image(style), 1.0)]
    st = Stylizer(cfg)
    try:
        st.run(content_img, StyleTargets(st).of(styles), [(styles[0][1], 1.0)], progress)
    except _Reached:
        pass
    t = time.perf_counter()
    out = Path(outdir)
    kept[-1][1].save(out / "save_test.jpg", quality=95)  # what writing the output adds
    save_s = time.perf_counter() - t
    J_of = {i: J for i, _, J, _ in rows}
    for i, img in kept:
        if J_of[i] <= 1.1 * stop_at / 0.97:  # only near the loop's J: the parent looks no further up
            img.save(out / f"best_{i:04d}.png")
    steps = [b[1] - a[1] for a, b in zip(rows, rows[1:])]
    print(json.dumps({"rows": rows, "save_s": save_s, "s_per_eval": statistics.median(steps) if steps else None,
                      "precision": str(st.dtype).removeprefix("torch."), "init": cfg.init}))


class _Reached(Exception):
    pass


def _child(args: list[str]) -> tuple[dict, float]:
    """Run this script with ``args`` in a new process; its last stdout line (JSON) and its wall time."""
    t = time.time()
    r = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    wall = time.time() - t
    if r.returncode != 0:
        raise SystemExit(f"child {args[0]} failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1]), wall


def time_to_quality(content: Path, style: Path, size: int, evals: int, budget: int, device: str,
                    work: Path) -> dict:
    """The tutorial loop's J after ``evals`` closure calls, and when nst's default pipeline reaches it."""
    work.mkdir(parents=True, exist_ok=True)
    judge = _judge(content, style, size)
    loop_png = work / "loop.png"
    loop, loop_wall = _child(["_loop", str(content), str(style), str(size), str(evals), str(loop_png), device])
    J_loop = judge(loop_png)["J"]
    t_start = time.time()  # the nst process's clock starts before it is spawned
    r = subprocess.run([sys.executable, __file__, "_nst", str(content), str(style), str(size), str(budget),
                        str(0.97 * J_loop), str(work), repr(t_start), device], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"child _nst failed:\n{r.stderr[-3000:]}")
    nst = json.loads(r.stdout.strip().splitlines()[-1])
    # The first evaluation whose returned image, judged in float32, has J <= J_loop. The optimiser's
    # own J (bfloat16 or not) only picks where to start looking.
    # The returned images' J falls with the evaluations (nearly: bfloat16), so bisect, then step back
    # while the previous image also reaches it.
    cands = sorted({best_i for i, t, J_opt, best_i in nst["rows"] if J_opt <= 1.1 * J_loop})
    judged: dict[int, float] = {}

    def J_at(b: int) -> float:
        if b not in judged:
            judged[b] = judge(work / f"best_{b:04d}.png")["J"]
        return judged[b]

    reached = None
    lo, hi = 0, len(cands)
    while lo < hi:
        mid = (lo + hi) // 2
        if J_at(cands[mid]) <= J_loop:
            hi = mid
        else:
            lo = mid + 1
    while 0 < lo < len(cands) and J_at(cands[lo - 1]) <= J_loop:
        lo -= 1
    if lo < len(cands):
        b = cands[lo]
        i, t = next((i, t) for i, t, _, best_i in nst["rows"] if best_i == b)
        reached = {"evaluation": i, "seconds": t + nst["save_s"], "J": J_at(b)}
    return {"content": content.name, "style": style.name, "size": size, "J_loop": J_loop,
            "loop_wall_s": loop_wall, "loop_s_per_eval": loop["loop_s"] / loop["evals"],
            "loop_setup_s": loop["setup_s"], "nst_s_per_eval": nst["s_per_eval"], "reached": reached,
            "precision": nst["precision"], "init": nst["init"],
            "ratio": reached["seconds"] / loop_wall if reached else None}


def cmd_quality(args) -> None:
    """Time to quality against the tutorial loop, every pair at every size, whole processes."""
    print(f"Tutorial loop: {args.evals} closure calls (float32). nst: its defaults ({args.budget} evaluations "
          f"at most). J judged in float32 on the saved PNG by benchmarks/judge.py.\n")
    print("| size | content / style | loop: J after its calls | loop: wall (process) | loop s/call "
          "| nst: evaluations to that J | nst: wall (process) | nst s/evaluation | ratio |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    ratios = []
    for size in args.sizes:
        for c, s in [PAIRS[i] for i in args.pairs]:
            r = time_to_quality(ROOT / "examples" / c, ROOT / "examples" / s, size, args.evals, args.budget,
                                args.device, Path(args.work) / f"{Path(c).stem}_{size}")
            hit = r["reached"]
            nst_cols = (f"{hit['evaluation']} | {hit['seconds']:.1f} s" if hit
                        else f"not in {args.budget} | –")
            ratio = f"**{r['ratio']:.2f}×**" if hit else "–"
            per_eval = f"{r['nst_s_per_eval']:.3f} s" if r["nst_s_per_eval"] is not None else "– (one evaluation)"
            print(f"| {size}² | {Path(c).stem} / {Path(s).stem} | {r['J_loop']:.4g} | {r['loop_wall_s']:.1f} s "
                  f"| {r['loop_s_per_eval']:.3f} s | {nst_cols} | {per_eval} | {ratio} |", flush=True)
            ratios.append(r["ratio"] if hit else math.inf)
            print(f"<!-- {json.dumps(r)} -->", flush=True)
    print(f"\nmedian ratio {statistics.median(ratios):.2f}×, largest {max(ratios):.2f}× "
          f"(nst precision {r['precision']}, init {r['init']})")


def cmd_quickstart(args) -> None:
    """The README's quick start, whole process, on the baseline tree and on this one, alternating;
    J judged in float32 on each output file."""
    judge = _judge(CONTENT, STYLE, Config.size)
    trees = {"baseline": Path(args.baseline).resolve(), "this tree": ROOT}
    Path(args.work).mkdir(parents=True, exist_ok=True)
    print("| tree | output | wall (process) | J of the file (float32) |")
    print("| --- | --- | ---: | ---: |")
    for rnd in range(args.rounds):
        for ext in args.formats:
            for name, tree in trees.items():
                out = Path(args.work) / f"{name.replace(' ', '_')}_{rnd}{ext}"
                env = {**os.environ, "PYTHONPATH": str(tree)}
                t = time.time()
                subprocess.run([sys.executable, "-m", "nst", str(CONTENT), str(STYLE), "-o", str(out), "-q"],
                               env=env, check=True, cwd=tree)
                wall = time.time() - t
                print(f"| {name} | {ext} | {wall:.1f} s | {judge(out)['J']:.4g} |", flush=True)


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
    """Settle the CUDA choices side by side: precision (float32 | bfloat16 autocast), cuDNN
    autotuning (torch.backends.cudnn.benchmark), memory format (nst's channels_last network vs
    torchvision's NCHW features, bare passes) and torch.compile of the bare pass; then nst's own
    loop (s/evaluation and its overhead over the bare pass) for each precision and autotuning."""
    if not torch.cuda.is_available():
        sys.exit("no CUDA device here")
    print(f"<!-- {torch.cuda.get_device_name()}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()} -->")
    print("| size | precision | cudnn.benchmark | bare pass, nst (channels_last) | bare pass, torchvision NCHW "
          "| nst s/evaluation | overhead (nst ÷ bare) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for size in args.sizes:
        for precision in ("float32", "bfloat16"):
            for bench in (False, True):
                torch.backends.cudnn.benchmark = bench
                s = setup(size, device="cuda", precision=precision)
                floor, tv_pass = floor_pass(s), floor_pass(s, torchvision_features(s))

                def tv() -> None:  # torchvision's features under the same autocast
                    with autocast(s.st.device, s.st.dtype):
                        tv_pass()

                for fn in (floor, tv, floor, tv):
                    fn()  # warm-up (and autotuning)
                f = timed(floor, s.st.device, args.repeats)
                f_tv = timed(tv, s.st.device, args.repeats)
                run = nst_evaluations(s, args.evals)
                nst_evaluations(s, 5)()
                t = timed(run, s.st.device, 1) / args.evals
                print(f"| {size}² | {precision} | {bench} | {f * 1000:.2f} ms | {f_tv * 1000:.2f} ms "
                      f"| {t * 1000:.2f} ms | {t / f:.2f}× |", flush=True)
    torch.backends.cudnn.benchmark = False
    if args.compile:
        size = args.sizes[0]
        s = setup(size, device="cuda")
        eager = floor_pass(s)
        eager()
        e = timed(eager, s.st.device, args.repeats)
        s.st.net = torch.compile(s.st.net)
        compiled = floor_pass(s)
        t0 = time.perf_counter()
        try:
            compiled()
            sync(s.st.device)
        except Exception as ex:  # report, don't stop the other measurements
            print(f"| torch.compile, {size}², {str(s.st.dtype)[6:]} | failed: {type(ex).__name__}: {str(ex)[:200]} |")
            return
        first = time.perf_counter() - t0
        c = timed(compiled, s.st.device, args.repeats)
        print(f"| torch.compile, {size}², {str(s.st.dtype)[6:]} | eager {e * 1000:.2f} ms | compiled {c * 1000:.2f} ms "
              f"| first call (compiling) {first:.1f} s |", flush=True)


def _runs(text: str) -> tuple[int, int]:
    scales, _, iterations = text.partition(":")
    return int(scales), int(iterations)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_memory":
        _memory_child(int(sys.argv[2]), sys.argv[3], sys.argv[4])
        return
    if len(sys.argv) > 1 and sys.argv[1] == "_loop":
        _loop_child(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6], *sys.argv[7:8])
        return
    if len(sys.argv) > 1 and sys.argv[1] == "_nst":
        a = sys.argv[2:]
        _nst_child(a[0], a[1], int(a[2]), int(a[3]), float(a[4]), a[5], float(a[6]), a[7])
        return
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    o = sub.add_parser("overhead")
    o.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    o.add_argument("--rounds", type=int, default=5)
    o.add_argument("--repeats", type=int, default=2)
    o.add_argument("--evals", type=int, default=4)
    q = sub.add_parser("quality")
    q.add_argument("--sizes", type=int, nargs="+", default=[256, 384])
    q.add_argument("--evals", type=int, default=200, help="the tutorial loop's closure calls")
    q.add_argument("--budget", type=int, default=300, help="nst's evaluations at most")
    q.add_argument("--pairs", type=int, nargs="+", default=list(range(len(PAIRS))),
                   help="which pairs of PAIRS, by index from 0 (default: all)")
    q.add_argument("--work", default="/tmp/nst-quality", help="where the pictures are written")
    k = sub.add_parser("quickstart")
    k.add_argument("--baseline", required=True, help="a checkout of the code to compare with")
    k.add_argument("--rounds", type=int, default=1)
    k.add_argument("--formats", nargs="+", default=[".jpg", ".png"])
    k.add_argument("--work", default="/tmp/nst-quickstart")
    m = sub.add_parser("memory")
    m.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024, 2048])
    m.add_argument("--optimizers", nargs="+", default=["lbfgs", "adam"])
    sc = sub.add_parser("schedule")
    sc.add_argument("--size", type=int, default=Config.size)
    sc.add_argument("--runs", type=_runs, nargs="+", default=[(1, 300), (Config.scales, Config.iterations)],
                    metavar="SCALES:ITERATIONS")
    c = sub.add_parser("cuda")
    c.add_argument("--sizes", type=int, nargs="+", default=[512, 1024])
    c.add_argument("--evals", type=int, default=100)
    c.add_argument("--repeats", type=int, default=20)
    c.add_argument("--compile", action="store_true", help="also torch.compile the bare pass")
    for s in (o, q, m, sc):
        s.add_argument("--device", default="cpu")
    args = p.parse_args()
    print(f"<!-- {platform.node()} {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads -->")
    {"overhead": cmd_overhead, "quality": cmd_quality, "quickstart": cmd_quickstart, "memory": cmd_memory,
     "schedule": cmd_schedule, "cuda": cmd_cuda}[args.cmd](args)


if __name__ == "__main__":
    main()
