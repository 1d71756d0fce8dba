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

- ``mypixels``: ``pixels`` with L-BFGS written out here (the same arithmetic as torch's; a check
  that ``mg`` differs from ``pixels`` by its coarse corrections only).
- ``mg-E-I[-F]``: MG/OPT (Nash 2000) on two levels: every E fine L-BFGS steps, I L-BFGS steps
  on the coarse model at 1/F the size (F = 2), first-order coherent with the fine J; a coarse
  evaluation counts its share of the pixels (1/4) of a full-size one.

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
from torch.optim.lbfgs import _strong_wolfe

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
        self.size, self.content, self.style = size, content, style
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

    def coarse(self, factor: int) -> "Problem":
        """The same pair at 1/factor the size: the coarse model of ``multigrid``."""
        q = Problem.__new__(Problem)
        q.size = round(self.size / factor)
        q.st = {"float32": Stylizer(Config(size=q.size, scales=1, device="cpu", precision="float32"))}
        q.C = to_tensor(prepare_image(self.content, q.size), q.st["float32"].device)
        q.grams = {"float32": q.st["float32"].style_targets(load_image(self.style), q.size)}
        q.objective = {"float32": q.st["float32"].objective(q.C, q.grams["float32"])}
        q.cfg = q.st["float32"].cfg
        return q

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


def _two_loop(g: torch.Tensor, S: list, Y: list, H_diag: float) -> torch.Tensor:
    """-H g for L-BFGS's inverse Hessian H from the pairs (torch.optim.LBFGS's recursion)."""
    q = g.neg()
    al = []
    for s, y in zip(reversed(S), reversed(Y)):
        a = float(s @ q) / float(y @ s)
        al.append(a)
        q.add_(y, alpha=-a)
    q.mul_(H_diag)
    for (s, y), a in zip(zip(S, Y), reversed(al)):
        b = float(y @ q) / float(y @ s)
        q.add_(s, alpha=a - b)
    return q


class LBFGS:
    """L-BFGS with torch's strong-Wolfe line search over a flat z, its pairs kept between calls
    (torch.optim.LBFGS's arithmetic, written out so that outside steps can join its history)."""

    def __init__(self, fg, z: torch.Tensor, history: int = optim.HISTORY_SIZE) -> None:
        self.fg, self.z, self.history = fg, z.clone(), history
        self.S, self.Y, self.H_diag, self.first = [], [], 1.0, True
        self.f, self.g = fg(self.z)

    def add_pair(self, s: torch.Tensor, y: torch.Tensor) -> None:
        ys = float(y @ s)
        if ys > 1e-10:
            if len(self.S) == self.history:
                self.S.pop(0), self.Y.pop(0)
            self.S.append(s), self.Y.append(y)
            self.H_diag = ys / float(y @ y)

    def search(self, d: torch.Tensor, t: float) -> None:
        """A strong-Wolfe line search from z along d, the step and its pair kept."""

        gtd = float(self.g @ d)
        if gtd > -1e-12:
            return
        f, g, t, _ = _strong_wolfe(lambda x, t, d: self.fg(x + t * d), self.z, t, d, self.f, self.g, gtd)
        s = t * d
        self.add_pair(s, g - self.g)
        self.z, self.f, self.g = self.z + s, f, g

    def step(self) -> None:
        d = _two_loop(self.g, self.S, self.Y, self.H_diag)
        t = min(1.0, 1.0 / float(self.g.abs().sum())) if self.first else 1.0
        self.first = False
        self.search(d, t)


class Costs:
    """Evaluations in full-size units: a coarse one counts its share of the pixels; the fine
    iterates judged (lowest J so far) every ``every`` units."""

    def __init__(self, marks: Marks) -> None:
        self.marks, self.cost, self.next = marks, 0.0, marks.every

    def fine(self, J: float, G: torch.Tensor) -> None:
        m = self.marks
        self.cost += 1
        if J < m.best:
            m.best, m.best_G = J, G.detach().clone()
        while self.cost >= self.next and m.best_G is not None:
            m.at[int(self.next)] = round(m.p.J(m.best_G), 5)
            self.next += m.every

    def coarse(self, share: float) -> None:
        self.cost += share


def fine_fg(objective, shape, k: float, on_eval):
    def fg(z):
        zz = z.view(shape)
        G = optim._fold_scaled(zz, k)
        ev = objective(G)
        on_eval(ev.J, G)
        return ev.J, optim._fold_scaled_backward(zz, k, ev.grad).flatten()
    return fg


def my_pixels(p: Problem, evals: int, marks: Marks) -> None:
    """``pixels`` with the L-BFGS written out (a check: the same counts as nst's loop)."""
    costs = Costs(marks)
    k = p.C.numel() * optim.FIRST_STEP
    o = LBFGS(fine_fg(p.objective["float32"], p.C.shape, k, costs.fine), (p.C / k).flatten())
    while costs.cost < evals:
        o.step()


def multigrid(p: Problem, evals: int, marks: Marks, every: int, coarse_its: int, factor: int = 2) -> None:
    """MG/OPT (Nash 2000), two levels: every ``every`` fine L-BFGS steps, a coarse correction.

    The coarse model is J at 1/factor the size (its own content and style targets) minus a linear
    term, psi(x) = J_H(x) - <v, x> with v = dJ_H(R G) - P^T dJ(G), so that psi's gradient at R G is
    the fine gradient seen through the prolongation P (bilinear upsampling): first-order coherent.
    ``coarse_its`` L-BFGS steps on psi (its pairs kept between cycles: psi and J_H differ by a
    linear term, so they have the same curvature), then a strong-Wolfe search on the fine J along
    P(x_H* - R G), that step joining the fine L-BFGS's history.
    """
    costs = Costs(marks)
    C, H, W = p.C, *p.C.shape[-2:]
    k = C.numel() * optim.FIRST_STEP
    fine = LBFGS(fine_fg(p.objective["float32"], C.shape, k, costs.fine), (C / k).flatten())
    cp = p.coarse(factor)
    hw = cp.C.shape[-2:]
    share = cp.C.numel() / C.numel()
    kH = cp.C.numel() * optim.FIRST_STEP
    R = lambda G: F.interpolate(G, size=hw, mode="bilinear", antialias=True, align_corners=False)  # noqa: E731
    P = lambda e: F.interpolate(e, size=(H, W), mode="bilinear", align_corners=False)  # noqa: E731
    coarse_opt = None
    steps = 0
    while costs.cost < evals:
        fine.step()
        steps += 1
        if steps % every or costs.cost >= evals:
            continue
        G = optim.fold(fine.z.view(C.shape) * k)
        gG = fine.g.view(C.shape) / k  # dJ/dG where fold's slope is +1 (almost every pixel)
        xH = R(G)
        e0 = torch.zeros_like(xH, requires_grad=True)
        (PtgG,) = torch.autograd.grad(P(e0), e0, gG)
        evH = cp.objective["float32"](xH)
        costs.coarse(share)
        v = (evH.grad - PtgG).flatten()

        def psi(z, on=None):
            x = optim._fold_scaled(z.view(xH.shape), kH)
            ev = cp.objective["float32"](x)
            costs.coarse(share)
            return ev.J - float(v @ x.flatten()),                 optim._fold_scaled_backward(z.view(xH.shape), kH, ev.grad - v.view(xH.shape)).flatten()

        z0 = (xH / kH).flatten()
        if coarse_opt is None:
            coarse_opt = LBFGS(psi, z0)
        else:  # the kept pairs, a new start and linear term
            coarse_opt.fg, coarse_opt.z = psi, z0
            coarse_opt.f, coarse_opt.g = psi(z0)
        for _ in range(coarse_its):
            coarse_opt.step()
        e = optim.fold(coarse_opt.z.view(xH.shape) * kH) - xH
        fine.search((P(e) / k).flatten(), 1.0)


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
        elif v == "mypixels":
            my_pixels(p, args.evals, m)
        elif v.startswith("mg"):  # mg-EVERY-ITS[-FACTOR]
            every, its, *factor = (int(x) for x in v.split("-")[1:])
            multigrid(p, args.evals, m, every, its, *factor)
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
