"""J at the full size against time, for one schedule: how the levers in README.md were explored.

    python benchmarks/trajectory.py --size 384 --split 300            # a single scale
    python benchmarks/trajectory.py --size 384 --split 20,20,100      # 3 scales, 20+20 coarse
    python benchmarks/trajectory.py --size 256 --split 50 --first-step 0   # L-BFGS's own first step
    python benchmarks/trajectory.py --size 384 --split 300 --bf16     # bfloat16 network on the CPU
    python benchmarks/trajectory.py --size 384 --split 60 --history 5 # L-BFGS with a short history
    python benchmarks/trajectory.py --sizes 512,1024 --split 40,20    # the scales given

Prints one JSON line: the J (alpha J_content + beta J_style + tv J_tv) of the full-size
scale after 10, 20, 30, 50, 75, 100, 150, 200 and 300 of its evaluations, with the seconds
since the optimisation started, and the lowest J (Gatys et al. 2016; Gatys et al. 2017).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


from nst import optim, schedule, stylize, transfer

ROOT = Path(__file__).resolve().parent.parent
MARKS = (4, 8, 10, 16, 20, 30, 40, 50, 60, 75, 100, 150, 200, 300)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=384)
    p.add_argument("--split", default="300", help="evaluations per scale, coarsest first, comma-separated")
    p.add_argument("--first-step", type=float, default=None,
                   help="L-BFGS's first step (nst.optim.FIRST_STEP); 0: torch's own, lr / sum|g|")
    p.add_argument("--bf16", action="store_true", help="run the network under bfloat16 autocast on the CPU")
    p.add_argument("--tv-weight", type=float, default=0.0)
    p.add_argument("--content", default=str(ROOT / "examples" / "astronaut.jpg"))
    p.add_argument("--style", default=str(ROOT / "examples" / "style_strokes.jpg"))
    p.add_argument("--out", help="also save the image")
    p.add_argument("--sizes", help="the long edge of each scale, coarsest first (default: sqrt(2) apart)")
    p.add_argument("--history", type=int, default=None, help="L-BFGS's history (nst.optim.HISTORY_SIZE)")
    p.add_argument("--optimizer", default="lbfgs")
    a = p.parse_args()
    split = [int(x) for x in a.split.split(",")]
    schedule.split_evaluations = lambda total, n: split[-n:]
    if a.sizes:
        sizes = [int(x) for x in a.sizes.split(",")]
        transfer.schedule = lambda cfg: list(zip(sizes, split))
        a.size = sizes[-1]
    if a.history is not None:
        transfer.HISTORY_SIZE = a.history
    if a.first_step is not None:  # 0: k = 1, torch's first step (the image is square: 3 size^2 values)
        optim.FIRST_STEP = a.first_step or 1 / (3 * a.size * a.size)

    its = []
    start = time.perf_counter()
    img = stylize(a.content, a.style, size=a.size, iterations=sum(split), scales=len(split),
                  tv_weight=a.tv_weight, device="cpu", precision="bfloat16" if a.bf16 else "float32",
                  optimizer=a.optimizer, progress=its.append)
    wall = time.perf_counter() - start
    if a.out:
        img.save(a.out)
    final = [it for it in its if it.scale == its[-1].scale]  # fewer scales than asked below 128 px
    marks = {k: [round(final[k - 1].seconds, 1), round(final[k - 1].J, 4)] for k in MARKS if k <= len(final)}
    print(json.dumps({"size": a.size, "sizes": a.sizes, "split": split, "history": a.history, "optimizer": a.optimizer,
                      "first_step": a.first_step, "bf16": a.bf16,
                      "wall_s": round(wall, 1), "first_full_size_s": round(final[0].seconds, 1),
                      "first_full_size_J": round(final[0].J, 2), "lowest_J": round(min(it.J for it in final), 4),
                      "full_size_evaluations_to_seconds_J": marks}))


if __name__ == "__main__":
    main()
