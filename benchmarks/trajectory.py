"""J at the full size against time, for one schedule: how the levers in README.md were explored.

    python benchmarks/trajectory.py --size 384 --split 300            # a single scale
    python benchmarks/trajectory.py --size 384 --split 20,20,100      # 3 scales, 20+20 coarse
    python benchmarks/trajectory.py --size 256 --split 50 --first-step 0   # L-BFGS's own first step
    python benchmarks/trajectory.py --size 384 --split 300 --precision bfloat16   # bfloat16 network
    python benchmarks/trajectory.py --size 256 --split 200 --init adain --judge   # J judged in float32
    python benchmarks/trajectory.py --size 384 --split 60 --history 5 # L-BFGS with a short history
    python benchmarks/trajectory.py --sizes 512,1024 --split 40,20    # the scales given

Prints one JSON line: the J (alpha J_content + beta J_style + tv J_tv) of the full-size
scale after 5, 10, 15, ... 50, 60, 75, 100, 150, 200 and 300 of its evaluations, with the seconds
since the optimisation started, and the lowest J (Gatys et al. 2016; Gatys et al. 2017).
With --judge, each mark also gets the J of the image returned at that point (the lowest-J
iterate so far, in 8 bits) as benchmarks/judge.py computes it in float32.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from nst import stylize
from nst.core import network, optim, schedule
from nst.core import stylizer as transfer
from nst.pixels.images import to_pil

ROOT = Path(__file__).resolve().parent.parent
MARKS = (5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 60, 75, 100, 150, 200, 300)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=384)
    p.add_argument("--split", default="300", help="evaluations per scale, coarsest first, comma-separated")
    p.add_argument("--first-step", type=float, default=None,
                   help="L-BFGS's first step (nst.core.optim.FIRST_STEP); 0: torch's own, lr / sum|g|")
    p.add_argument("--precision", default="float32", choices=("auto", "float32", "bfloat16"))
    p.add_argument("--init", default="content")
    p.add_argument("--adain-strength", type=float, default=1.0,
                   help="with --init adain (1 here, as in the levers table; the default run uses Config.adain_strength)")
    p.add_argument("--history", type=int, default=None, help="L-BFGS history size (nst.core.optim.HISTORY_SIZE)")
    p.add_argument("--judge", action="store_true", help="also judge the image at each mark in float32")
    p.add_argument("--tv-weight", type=float, default=0.0)
    p.add_argument("--content", default=str(ROOT / "examples" / "astronaut.jpg"))
    p.add_argument("--style", default=str(ROOT / "examples" / "style_strokes.jpg"))
    p.add_argument("--out", help="also save the image")
    p.add_argument("--sizes", help="the long edge of each scale, coarsest first (default: sqrt(2) apart)")
    p.add_argument("--optimizer", default="lbfgs")
    p.add_argument("--every", type=int, default=None, help="a mark every N evaluations instead of MARKS")
    a = p.parse_args()
    marks = MARKS if a.every is None else tuple(range(a.every, sum(split_of(a)) + 1, a.every))
    split = split_of(a)
    schedule.split_evaluations = lambda total, n: split[-n:]
    if a.sizes:
        sizes = [int(x) for x in a.sizes.split(",")]
        transfer.schedule = lambda cfg: list(zip(sizes, split))
        a.size = sizes[-1]
    if a.first_step is not None:  # 0: k = 1, torch's first step (the image is square: 3 size^2 values)
        optim.FIRST_STEP = a.first_step or 1 / (3 * a.size * a.size)

    if a.history is not None:
        optim.HISTORY_SIZE = network.HISTORY_SIZE = a.history  # the plan's (nst.core.planner) and the loop's
    its, best, kept = [], [], {}

    def progress(it):
        its.append(it)
        if not best or it.scale > best[0].scale or it.J < best[0].J:
            best[:] = [it]
            if a.judge:
                best.append(to_pil(it.image))
        n = sum(1 for x in its if x.scale == it.scale)
        if a.judge and n in marks:
            kept[n] = best[1]

    start = time.perf_counter()
    img = stylize(a.content, a.style, size=a.size, iterations=sum(split), scales=len(split),
                  tv_weight=a.tv_weight, device="cpu", precision=a.precision, init=a.init,
                  adain_strength=a.adain_strength, optimizer=a.optimizer, progress=progress)
    wall = time.perf_counter() - start
    if a.out:
        img.save(a.out)
    final = [it for it in its if it.scale == its[-1].scale]  # fewer scales than asked below 128 px
    at = {k: [round(final[k - 1].seconds, 1), round(final[k - 1].J, 4)] for k in marks if k <= len(final)}
    if a.judge:
        import sys
        sys.path.insert(0, str(Path(__file__).parent))
        from judge import Judge
        judge = Judge(a.content, a.style, a.size)
        for k, image in kept.items():
            at[k].append(round(judge(image)["J"], 4))
    print(json.dumps({"size": a.size, "split": split, "first_step": a.first_step, "precision": a.precision,
                      "init": a.init, "adain_strength": a.adain_strength, "history": optim.HISTORY_SIZE,
                      "sizes": a.sizes, "optimizer": a.optimizer,
                      "wall_s": round(wall, 1), "first_full_size_s": round(final[0].seconds, 1),
                      "first_full_size_J": round(final[0].J, 2), "lowest_J": round(min(it.J for it in final), 4),
                      "full_size_evaluations_to_seconds_J" + ("_judged" if a.judge else ""): at}))


def split_of(a) -> list[int]:
    return [int(x) for x in a.split.split(",")]


if __name__ == "__main__":
    main()
