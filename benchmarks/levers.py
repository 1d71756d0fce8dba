"""Issue #34's levers, one process per pair: evaluations of J to the tutorial loop's J.

    flock /tmp/nst-cpu.lock python benchmarks/levers.py --size 256 --pair facade/starry_night \
        --variants pixels pyr4-0.5 pyr4-0.25 bf16 bf16-f32@0.7

Everything here counts evaluations (forward + backward passes of the network at the full size),
which do not depend on the machine's load; the seconds an evaluation costs (float32 against
bfloat16) are measured apart, side by side, by benchmarks/speed.py. J is always the float32 J of
nst's own objective at the full size, from the photo, on the lowest-J iterate so far (what a run
would return), checked every ``--every`` evaluations.

- ``loop``: the PyTorch tutorial's loop (benchmarks/speed.py: LBFGS defaults, clamped in the
  closure), float32, 200 closure calls: J_loop is its J after the last.
- ``pixels``: nst.core.optim.minimize (L-BFGS, strong Wolfe, history 50, pixels folded onto
  [0, 1]) in float32: today's optimiser from the photo.
- ``pyrL-s``: the same L-BFGS over a Laplacian-pyramid parameterisation, G = fold(k Σ_l s^l
  up_l(z_l)), L levels each half the size of the one below (level 0 the pixels), z_0 = the photo.
- ``bf16``: ``pixels`` with the network in bfloat16 (nst's arithmetic: Grams and costs in float32).
- ``bf16-f32@F``: bfloat16 for the first F of the evaluations, then the same L-BFGS state goes on
  in float32.

Prints one JSON line per variant: J at every mark and the first mark at or below J_loop.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from speed import Setup, tutorial_loop  # noqa: E402

from nst import Config  # noqa: E402
from nst.core import optim  # noqa: E402
from nst.core.stylizer import Stylizer, prepare_image  # noqa: E402
from nst.net.device import autocast  # noqa: E402
from nst.pixels.images import load_image, to_tensor  # noqa: E402

ROOT = HERE.parent
EVAL = ROOT.parent / "shared" / "eval"
EX = ROOT / "examples"
PAIRS = {  # contents of four kinds, paintings with broad strokes and with fine texture
    "facade/starry_night": (EVAL / "facade.jpg", EVAL / "starry_night.jpg"),
    "astronaut/strokes": (EX / "astronaut.jpg", EX / "style_strokes.jpg"),
    "sea/great_wave": (EVAL / "sea.jpg", EVAL / "great_wave.jpg"),
    "cat/mosaic": (EX / "cat.jpg", EVAL / "mosaic.jpg"),
    "coffee/oil_paint": (EX / "coffee.jpg", EVAL / "oil_paint.jpg"),
    "facade2/style_mosaic": (EVAL / "facade2.jpg", EX / "style_mosaic.jpg"),
}


class Problem:
    """One pair at one size: the float32 objective (the judge) and a bfloat16 one, from the photo."""

    def __init__(self, content: Path, style: Path, size: int) -> None:
        self.size = size
        self.st = {p: Stylizer(Config(size=size, scales=1, device="cpu", precision=p))
                   for p in ("float32", "bfloat16")}
        st = self.st["float32"]
        self.C = to_tensor(prepare_image(content, size), st.device)
        style_img = load_image(style)
        self.grams = {p: s.style_targets(style_img, size) for p, s in self.st.items()}
        self.objective = {p: self.st[p].objective(self.C, self.grams[p]) for p in self.st}
        self.cfg = st.cfg

    def J(self, G: torch.Tensor) -> float:
        """float32 J of G (the judge)."""
        return self.objective["float32"](G.detach()).J

    def loop(self, calls: int) -> float:
        st = self.st["float32"]
        with torch.no_grad(), autocast(st.device, st.dtype):
            a_C = {n: f.float() for n, f in st.net(self.C).items() if n in self.cfg.content_layers}
        G = tutorial_loop(Setup(self.cfg, st, self.C, a_C, self.grams["float32"]), calls)
        return self.J(G)


class Marks:
    """The lowest J so far, judged in float32 every ``every`` evaluations."""

    def __init__(self, problem: Problem, every: int) -> None:
        self.p, self.every, self.n, self.best, self.best_G, self.at = problem, every, 0, math.inf, None, {}

    def __call__(self, J: float, G: torch.Tensor) -> None:
        self.n += 1
        if J < self.best:
            self.best, self.best_G = J, G.detach().clone()
        if self.n % self.every == 0:
            self.at[self.n] = round(self.p.J(self.best_G), 5)


def pixels(p: Problem, evals: int, marks: Marks, precision: str = "float32", handover: float = 1.0) -> None:
    """nst's own loop; with handover < 1, bfloat16 first, then float32 from the same L-BFGS state."""
    first = evals if handover >= 1 else round(evals * handover)
    o = optim.minimize(p.objective[precision], p.C.clone(), first,
                       on_evaluation=lambda ev, G: marks(ev.J, G))
    if first < evals:
        state = o.state()
        o = optim.minimize(p.objective["float32"], o.best, evals - state["evaluations"], state=state,
                           on_evaluation=lambda ev, G: marks(ev.J, G))


def pyramid(p: Problem, evals: int, marks: Marks, levels: int, s: float) -> None:
    """L-BFGS (strong Wolfe, history 50) over z_0..z_{L-1}: G = fold(k Σ s^l up(z_l))."""
    C = p.C
    k = C.numel() * optim.FIRST_STEP
    H, W = C.shape[-2:]
    zs = [(C / k).clone()] + [torch.zeros(1, 3, max(1, H >> l), max(1, W >> l)) for l in range(1, levels)]
    zs = [z.requires_grad_(True) for z in zs]
    opt = torch.optim.LBFGS(zs, lr=1.0, max_iter=evals, max_eval=evals, tolerance_grad=0, tolerance_change=0,
                            history_size=optim.HISTORY_SIZE, line_search_fn="strong_wolfe")
    count = [0]

    def closure():
        opt.zero_grad()
        x = zs[0] + sum(s ** l * F.interpolate(z, size=(H, W), mode="bilinear", align_corners=False)
                        for l, z in enumerate(zs) if l)
        G = optim.fold(x * k)
        ev = p.objective["float32"](G.detach())
        G.backward(ev.grad)
        count[0] += 1
        marks(ev.J, G)
        return torch.tensor(ev.J, dtype=torch.float64)

    while count[0] < evals:
        opt.step(closure)


def main() -> None:
    a = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    a.add_argument("--size", type=int, default=256)
    a.add_argument("--pair", default="facade/starry_night", choices=sorted(PAIRS))
    a.add_argument("--evals", type=int, default=300)
    a.add_argument("--calls", type=int, default=200, help="the tutorial loop's closure calls")
    a.add_argument("--every", type=int, default=10)
    a.add_argument("--variants", nargs="+", default=["pixels"])
    a.add_argument("--J-loop", type=float, help="the loop's J, if known (skips the loop)")
    args = a.parse_args()
    torch.manual_seed(0)
    p = Problem(*PAIRS[args.pair], args.size)
    J_loop = args.J_loop if args.J_loop is not None else p.loop(args.calls)
    print(json.dumps({"pair": args.pair, "size": args.size, "variant": "loop", "calls": args.calls,
                      "J_loop": round(J_loop, 5)}), flush=True)
    for v in args.variants:
        m = Marks(p, args.every)
        if v == "pixels":
            pixels(p, args.evals, m)
        elif v == "bf16":
            pixels(p, args.evals, m, "bfloat16")
        elif v.startswith("bf16-f32@"):
            pixels(p, args.evals, m, "bfloat16", float(v.split("@")[1]))
        elif v.startswith("pyr"):
            L, s = v[3:].split("-")
            pyramid(p, args.evals, m, int(L), float(s))
        else:
            raise SystemExit(f"unknown variant {v}")
        reached = next((n for n, J in sorted(m.at.items()) if J <= J_loop), None)
        print(json.dumps({"pair": args.pair, "size": args.size, "variant": v, "reached": reached,
                          "J_at": m.at}), flush=True)


if __name__ == "__main__":
    main()
