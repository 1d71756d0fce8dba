"""Issue #34: nst's defaults with ``--iterations N`` against the tutorial loop, whole processes.

    flock /tmp/nst-cpu.lock python benchmarks/finish.py --size 256 \
        --pairs facade/starry_night:240 sea/great_wave:220 cat/mosaic:200 ... \
        --configs "" "--precision bfloat16"

For each pair: the tutorial loop (benchmarks/speed.py, float32, 200 closure calls) in its own
process, its PNG judged in float32 (benchmarks/judge.py): J_loop and the loop's wall time. Then
``nst CONTENT STYLE -o out.png --size S --iterations N -q`` as a user would run it (every other
setting its default), timed from before the process is spawned, its PNG judged the same way;
N starts at the pair's guess and moves by ``--step`` until the smallest N (to the step) whose
picture reaches J_loop is found, at most ``--tries`` runs. The defaults depend on N (init and
precision 'auto', nst.core.config.LONG_RUN): each N is the run a user would get.
Prints one JSON line per run and a Markdown row per pair.
"""

from __future__ import annotations

import argparse
import shlex
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from levers import PAIRS  # noqa: E402
from speed import _child, _judge  # noqa: E402


def nst_run(content: Path, style: Path, size: int, n: int, out: Path, extra: Sequence[str] = ()) -> float:
    t = time.time()
    subprocess.run([sys.executable, "-m", "nst", str(content), str(style), "-o", str(out), "--size", str(size),
                    "--iterations", str(n), "-q", *extra], check=True)
    return time.time() - t


def main() -> None:
    a = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    a.add_argument("--size", type=int, default=256)
    a.add_argument("--pairs", nargs="+", required=True, help="PAIR:GUESS, GUESS the first N tried")
    a.add_argument("--calls", type=int, default=200)
    a.add_argument("--step", type=int, default=20)
    a.add_argument("--tries", type=int, default=3)
    a.add_argument("--work", default="/tmp/nst-finish")
    a.add_argument("--configs", nargs="+", default=[""],
                   help="nst's extra arguments, one string per configuration ('': the defaults), each "
                        "searched for its smallest N against the same loop run")
    args = a.parse_args()
    rows = []
    for spec in args.pairs:
        name, _, guess = spec.partition(":")
        content, style = PAIRS[name]
        work = Path(args.work) / f"{name.replace('/', '_')}_{args.size}"
        work.mkdir(parents=True, exist_ok=True)
        judge = _judge(content, style, args.size)
        loop, loop_wall = _child(["_loop", str(content), str(style), str(args.size), str(args.calls),
                                  str(work / "loop.png"), "cpu"])
        J_loop = judge(work / "loop.png")["J"]
        print(json.dumps({"pair": name, "size": args.size, "loop_wall_s": round(loop_wall, 2), "J_loop": J_loop,
                          "loop_s_per_call": loop["loop_s"] / loop["evals"]}), flush=True)
        for config in args.configs:
            best, tried = search(name, content, style, args, work, judge, J_loop, guess, shlex.split(config))
            rows.append((name, config or "defaults", J_loop, loop_wall, best, tried))
    print("\n| pair | nst | J_loop | loop (process) | nst: smallest N tried reaching it | nst (process) | ratio |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for name, config, J_loop, loop_wall, best, tried in rows:
        if best is None:
            print(f"| {name} | {config} | {J_loop:.4f} | {loop_wall:.1f} s | not in {sorted(tried)} | – | – |")
        else:
            print(f"| {name} | {config} | {J_loop:.4f} | {loop_wall:.1f} s | {best[0]} | {best[1]:.1f} s | "
                  f"**{best[1] / loop_wall:.2f}×** |")


def search(name: str, content: Path, style: Path, args, work: Path, judge, J_loop: float, guess: str,
           extra: list[str]) -> tuple[tuple[int, float] | None, dict[int, tuple[float, float]]]:
    """The smallest N (to args.step) whose picture reaches J_loop, from ``guess``: (N, its wall
    time) or None, and every N tried with its (J, wall time)."""
    tried: dict[int, tuple[float, float]] = {}
    n = int(guess)
    tag = "_".join(extra).replace("-", "").replace("/", "") or "defaults"
    for _ in range(args.tries):
        out = work / f"nst_{tag}_{n}.png"
        wall = nst_run(content, style, args.size, n, out, extra)
        tried[n] = (judge(out)["J"], wall)
        print(json.dumps({"pair": name, "size": args.size, "nst": " ".join(extra) or "defaults", "iterations": n,
                          "J": tried[n][0], "wall_s": round(wall, 2), "reached": tried[n][0] <= J_loop}), flush=True)
        ok = sorted(m for m, (J, _) in tried.items() if J <= J_loop)
        bad = sorted(m for m, (J, _) in tried.items() if J > J_loop)
        if ok and bad and min(ok) - max(bad) <= args.step:
            break
        n = min(ok) - args.step if ok else max(bad) + args.step
        if n < 1:
            break
    ok = sorted(m for m, (J, _) in tried.items() if J <= J_loop)
    return ((ok[0], tried[ok[0]][1]) if ok else None), tried


if __name__ == "__main__":
    main()
