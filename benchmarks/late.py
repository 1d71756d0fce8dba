"""Why nst falls behind the tutorial loop late in a run (issue #22): one lever at a time.

    flock /tmp/nst-cpu.lock python benchmarks/late.py --size 256 --evals 300 \
        --variants default content-f32 content-f32-h100 adain-f32 adain-h100

For each pair: the PyTorch tutorial's loop (benchmarks/speed.py, float32, from the photo) for
200 closure calls, its picture judged in float32 (benchmarks/judge.py): J_loop. Then each
variant of nst's pipeline (benchmarks/trajectory.py --judge --every 10) for ``--evals``
evaluations at one scale, the image it would return judged every 10 evaluations. Prints the
first mark at which each variant's judged J is at or below J_loop (to the nearest 10 above),
and its J at 100, 200 and 300. Every run is its own process; one JSON line per run is kept
in --log so that a table can be rebuilt.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
EVAL = ROOT.parent / "shared" / "eval"  # evaluation pictures beside the project (not copied into it)
PAIRS = {
    "facade/starry_night": (EVAL / "facade.jpg", EVAL / "starry_night.jpg"),
    "astronaut/strokes": (ROOT / "examples" / "astronaut.jpg", ROOT / "examples" / "style_strokes.jpg"),
    "cat/mosaic": (ROOT / "examples" / "cat.jpg", ROOT / "examples" / "style_mosaic.jpg"),
    "sea/great_wave": (EVAL / "sea.jpg", EVAL / "great_wave.jpg"),
}
# Each variant: trajectory.py's options. "default" is Config's defaults (AdaIN start at strength
# 0.6, bfloat16 where the CPU has it natively, history 50).
VARIANTS = {
    "default": ["--init", "adain", "--adain-strength", "0.6", "--precision", "auto"],
    "adain-f32": ["--init", "adain", "--adain-strength", "0.6", "--precision", "float32"],
    "adain-h100": ["--init", "adain", "--adain-strength", "0.6", "--precision", "auto", "--history", "100"],
    "adain-f32-h100": ["--init", "adain", "--adain-strength", "0.6", "--precision", "float32", "--history", "100"],
    "content": ["--init", "content", "--precision", "auto"],
    "content-f32": ["--init", "content", "--precision", "float32"],
    "content-f32-h100": ["--init", "content", "--precision", "float32", "--history", "100"],
    "content-h100": ["--init", "content", "--precision", "auto", "--history", "100"],
}


def run(cmd: list[str]) -> str:
    r = subprocess.run([sys.executable, *cmd], capture_output=True, text=True, cwd=ROOT)
    if r.returncode != 0:
        raise SystemExit(f"{cmd} failed:\n{r.stderr[-3000:]}")
    return r.stdout.strip().splitlines()[-1]


def loop_J(content: Path, style: Path, size: int, calls: int, work: Path) -> float:
    sys.path.insert(0, str(HERE))
    from judge import Judge
    out = work / f"loop_{content.stem}_{style.stem}_{size}.png"
    if not out.exists():
        run([str(HERE / "speed.py"), "_loop", str(content), str(style), str(size), str(calls), str(out)])
    return Judge(content, style, size)(out)["J"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--evals", type=int, default=300)
    p.add_argument("--calls", type=int, default=200, help="the tutorial loop's closure calls")
    p.add_argument("--pairs", nargs="+", default=list(PAIRS))
    p.add_argument("--variants", nargs="+", default=["default", "content-f32", "content-f32-h100"])
    p.add_argument("--work", default="/tmp/nst-late")
    p.add_argument("--log", default="/tmp/nst-late/runs.jsonl")
    a = p.parse_args()
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    print(f"| size | pair | J_loop ({a.calls} calls) | variant | evaluations to J_loop | J at 100 | J at 200 | J at 300 |")
    print("| --- | --- | ---: | --- | ---: | ---: | ---: | ---: |", flush=True)
    for name in a.pairs:
        content, style = PAIRS[name]
        J_loop = loop_J(content, style, a.size, a.calls, work)
        for v in a.variants:
            line = run([str(HERE / "trajectory.py"), "--size", str(a.size), "--split", str(a.evals), "--judge",
                        "--every", "10", "--content", str(content), "--style", str(style), *VARIANTS[v]])
            r = json.loads(line)
            marks = {int(k): row[-1] for k, row in r["full_size_evaluations_to_seconds_J_judged"].items()}
            reached = next((k for k in sorted(marks) if marks[k] <= J_loop), None)
            with open(a.log, "a") as f:
                f.write(json.dumps({"pair": name, "variant": v, "J_loop": J_loop, **r}) + "\n")
            cell = lambda k: f"{marks[k]:.4f}" if k in marks else "–"  # noqa: E731
            print(f"| {a.size}² | {name} | {J_loop:.4f} | {v} | {reached if reached else f'> {a.evals}'} "
                  f"| {cell(100)} | {cell(200)} | {cell(300)} |", flush=True)


if __name__ == "__main__":
    main()
