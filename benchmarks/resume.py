"""Stopping and resuming: how close a resumed run ends to an uninterrupted one, and what a checkpoint costs.

    python benchmarks/resume.py quality --size 384 --evaluations 60 --stop 30 --pairs 0 24 50
    python benchmarks/resume.py cost --sizes 384x288 2048x1536

``quality`` runs the default objective (examples/astronaut.jpg in examples/style_strokes.jpg)
for N evaluations without a stop, then again stopped after --stop evaluations and resumed from
``Outcome.state()`` keeping at most P of L-BFGS's curvature pairs, and prints the final best J
of each resumed run against the uninterrupted one. ``cost`` times ``nst.jobs.checkpoint.save`` (the
state file and the preview) for a state of the default history budget at each size.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from nst.core import optim
from nst.core.config import Config
from nst.core.runs import RunState
from nst.core.stylizer import Stylizer, prepare_image
from nst.core.targets import StyleTargets
from nst.jobs import checkpoint
from nst.pixels.images import load_image, to_tensor

ROOT = Path(__file__).resolve().parents[1]


def quality(size: int, evaluations: int, stop: int, pairs: list[int]) -> None:
    cfg = Config(size=size, iterations=evaluations, device="cpu")
    st = Stylizer(cfg)
    C = to_tensor(prepare_image(ROOT / "examples/astronaut.jpg", size))
    grams = StyleTargets(st).of([(0, load_image(ROOT / "examples/style_strokes.jpg"), 1.0)])(size, C)
    objective = st.objective(C, grams)

    def run(n: int, state: dict | None = None, stop_after: int | None = None):
        Js: list[float] = []
        outcome = optim.minimize(objective, C, n, on_evaluation=lambda ev, G: Js.append(ev.J), state=state,
                                 should_stop=None if stop_after is None else (lambda: len(Js) >= stop_after))
        return outcome, Js

    _, full = run(evaluations)
    first, before = run(evaluations, stop_after=stop)
    whole = first.state(max_bytes=1 << 62)
    pair = 2 * whole["z"].numel() * whole["z"].element_size()
    print(f"{size} px, {evaluations} evaluations, stopped after {stop}: resumed at evaluation {whole['evaluations']}"
          f" with {len(whole['opt']['old_dirs'])} curvature pairs ({pair / 2**20:.2f} MiB each); uninterrupted "
          f"best J {min(full):.4f}")
    for p in pairs:
        state = first.state(max_bytes=p * pair)
        _, after = run(evaluations - state["evaluations"], state=state)
        best = min(before[:state["evaluations"]] + after)
        print(f"  keeping {len(state['opt']['old_dirs']):2d} pairs: best J {best:.4f}, "
              f"{100 * (best / min(full) - 1):+.2f} % against the uninterrupted run")


def cost(sizes: list[str]) -> None:
    for spec in sizes:
        w, h = map(int, spec.split("x"))
        G = torch.rand(1, 3, h, w)
        n = G.numel()
        keep = min(optim.HISTORY_SIZE, optim.STATE_HISTORY_BYTES // (2 * n * 4))
        v = lambda: torch.randn(n)  # noqa: E731
        opt = {"d": v(), "t": 1.0, "old_dirs": [v() for _ in range(keep)], "old_stps": [v() for _ in range(keep)],
               "ro": [torch.tensor(1.0)] * keep, "H_diag": torch.tensor(1.0), "prev_flat_grad": v(),
               "prev_loss": 1.0, "n_iter": 50, "func_evals": 51}
        state = RunState(G, G, 0, 50, 50, 60, 1.0, 1.0, 1.0, optimizer={
            "optimizer": "lbfgs", "k": 1.0, "lr": 1.0, "evaluations": 50, "z": G.clone(), "J": 1.0,
            "grad": G.clone(), "opt": opt})
        with tempfile.TemporaryDirectory(dir=ROOT) as d:
            out = Path(d) / "out.jpg"
            times = []
            for _ in range(3):
                t = time.perf_counter()
                checkpoint.save(out, state, {"settings": 1}, {"nst": "benchmark"})
                times.append(time.perf_counter() - t)
            size = sum(p.stat().st_size for p in checkpoint.partial_paths(out))
        print(f"{w}x{h}: {keep} curvature pairs kept, partial files {size / 2**20:.0f} MiB, "
              f"checkpoint.save {min(times):.2f} s (best of 3)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    q = sub.add_parser("quality")
    q.add_argument("--size", type=int, default=384)
    q.add_argument("--evaluations", type=int, default=60)
    q.add_argument("--stop", type=int, default=30)
    q.add_argument("--pairs", type=int, nargs="+", default=[0, 24, 50])
    c = sub.add_parser("cost")
    c.add_argument("--sizes", nargs="+", default=["384x288", "2048x1536"])
    a = parser.parse_args()
    if a.what == "quality":
        quality(a.size, a.evaluations, a.stop, a.pairs)
    else:
        cost(a.sizes)


if __name__ == "__main__":
    main()
