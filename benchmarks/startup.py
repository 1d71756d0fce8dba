"""Where the quick start's start-up goes, from the process's start to the first evaluation of J (issue #22).

    flock /tmp/nst-cpu.lock python benchmarks/startup.py --runs 5
    flock /tmp/nst-cpu.lock python benchmarks/startup.py --runs 5 -- examples/cat.jpg examples/style_mosaic.jpg \
        -o /tmp/s.jpg --size 256

Each run is its own process running ``nst`` as the README's quick start does (default:
``nst examples/astronaut.jpg examples/style_strokes.jpg -o /tmp/q.jpg``), with timers put around
the steps of its start-up from outside (nothing in nst is changed), and ended at the first
evaluation of J. The process's start is this script's clock just before it starts the child;
``interpreter`` is the time to the child's first line, then ``import torch`` and the rest of
what ``import nst.cli.command`` imports are timed (``python -X importtime`` breaks those down).
Prints, for each step, the median over the runs of its seconds (nested steps indented, within
their parent's), then the median time from the process's start to the first evaluation.
``--json FILE`` keeps every run's timings.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUICK_START = ["examples/astronaut.jpg", "examples/style_strokes.jpg", "-o", "/tmp/q.jpg"]

# (module, attribute, label): the steps timed. A missing attribute is skipped, so that the
# script runs on the code before and after a change; a function is replaced in every nst
# module that imported it by name, a method in its class. torch.optim's optimisers import
# torch._dynamo (and sympy) when the first one is made: a second of the first evaluation
# when nothing imported it before.
STEPS = (
    ("nst.cli.images", "run", "image run"),
    ("nst.jobs.batch", "_ImageRun.prepare", "read content and style"),
    ("nst.core.stylizer", "Stylizer.__init__", "Stylizer"),
    ("nst.core.network", "resolve_device", "device"),
    ("nst.core.network", "resolve_precision", "precision"),
    ("nst.net.vgg", "VGGFeatures.__init__", "VGG19 network"),
    ("nst.net.adain", "AdaIN.__init__", "AdaIN networks"),
    ("nst.net.vgg", "vgg19_features", "build VGG19 modules"),
    ("nst.net.adain", "build_decoder", "build decoder modules"),
    ("nst.net.vgg", "sha256_file", "sha256 of weights"),
    ("nst.net.weights", "sha256_file", "sha256 of weights"),
    ("nst.net.vgg", "_read_state_dict", "torch.load weights"),
    ("nst.net.weights", "read_state_dict", "torch.load weights"),
    ("nst.jobs.checkpoint", "settings", "inputs' identity"),
    ("nst.jobs.runner", "Resumable.__init__", "partial result lookup"),
    ("nst.core.scales", "Run.start_image", "start image (AdaIN)"),
    ("nst.net.adain", "AdaIN.encode", "AdaIN encode"),
    ("nst.net.adain", "AdaIN.transfer", "AdaIN transfer"),
    ("nst.core.scales", "Run.forecast", "plans"),
    ("nst.core.scales", "Run.prepare_scale", "scale set-up"),
    ("nst.core.network", "Network.style_targets", "style Grams"),
    ("nst.core.network", "Network.objective", "objective (content features)"),
    ("nst.core.scales", "minimize", "first evaluation"),
    ("torch.optim", "LBFGS.__init__", "torch.optim.LBFGS made (imports torch._dynamo)"),
    ("torch.optim", "Adam.__init__", "torch.optim.Adam made (imports torch._dynamo)"),
)
HEAVY = ("av", "cv2", "matplotlib", "scipy", "torchvision.datasets", "torchvision.io", "torchvision.models.detection")


class Clock:
    """Seconds spent in each step, by its path of enclosing steps."""

    def __init__(self) -> None:
        self.stack: list[tuple[str, float]] = []
        self.seconds: dict[str, float] = {}
        self.started: dict[str, float] = {}  # when each step first started

    def add(self, path: str, seconds: float) -> None:
        self.seconds[path] = self.seconds.get(path, 0.0) + seconds

    def timed(self, label: str, f):
        @functools.wraps(f)
        def step(*args, **kwargs):
            self.stack.append((label, time.time()))
            self.started.setdefault("/".join(lbl for lbl, _ in self.stack), time.time())
            try:
                return f(*args, **kwargs)
            finally:
                self.close_one()
        return step

    def close_one(self) -> None:
        path = "/".join(lbl for lbl, _ in self.stack)
        _, start = self.stack.pop()
        self.add(path, time.time() - start)

    def close_all(self) -> None:
        while self.stack:
            self.close_one()


def patch(clock: Clock) -> None:
    import importlib
    for module, attr, label in STEPS:
        try:
            owner = importlib.import_module(module)
        except ImportError:
            continue
        *cls, name = attr.split(".")
        for c in cls:
            owner = getattr(owner, c)
        f = owner.__dict__.get(name) if cls else getattr(owner, name, None)
        if f is None:
            continue
        timed = clock.timed(label, f)
        if cls:
            setattr(owner, name, timed)
            continue
        for m in list(sys.modules.values()):  # every module that imported it by name
            if getattr(m, "__name__", "").startswith("nst") and getattr(m, name, None) is f:
                setattr(m, name, timed)


def child(out: str, t0: float, args: list[str]) -> None:
    marks = {"interpreter": time.time() - t0}
    sys.path.insert(0, str(ROOT))  # this tree's nst (a copy of the project measures its own code)
    t = time.time()
    import torch  # noqa: F401
    marks["import torch"] = time.time() - t
    t = time.time()
    import nst.cli.command  # whatever it imports beyond torch: torchvision before issue #22
    from nst import launch
    marks["import nst.cli.command (the rest)"] = time.time() - t
    imported = sorted(m for m in HEAVY if m in sys.modules)
    clock = Clock()
    patch(clock)
    from nst.cli import images

    def first(watch, job, it):
        clock.close_all()
        result = {"nst": nst.__file__, "marks": marks, "steps": clock.seconds, "total": time.time() - t0,
                  "started": {k: v - t0 for k, v in clock.started.items()},
                  "imported": imported, "imported_at_first_evaluation": sorted(m for m in HEAVY if m in sys.modules)}
        Path(out).write_text(json.dumps(result))
        os._exit(0)

    images._Watch.iterate = first
    sys.argv = ["nst", *args]
    try:
        launch.main()
    finally:
        clock.close_all()
    sys.exit("the run ended before its first evaluation")


def run_once(args: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "t.json"
        t0 = time.time()
        r = subprocess.run([sys.executable, __file__, "--child", str(out), repr(t0), "--", *args], cwd=ROOT,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if not out.exists():
            sys.exit(f"run failed ({r.returncode}): {r.stderr[-2000:]}")
        return json.loads(out.read_text())


def table(runs: list[dict]) -> str:
    """The median of each mark and step over the runs, steps in the order they first started."""
    med = statistics.median
    lines = [f"{'step':50} {'median s':>9}   runs: " + ", ".join(f"{r['total']:.2f}" for r in runs)]
    for k in runs[0]["marks"]:
        lines.append(f"{k:50} {med([r['marks'][k] for r in runs]):9.3f}")
    paths = sorted({p for r in runs for p in r["steps"]},
                   key=lambda p: med([r["started"][p] for r in runs if p in r["started"]]))
    for p in paths:
        name = "  " * p.count("/") + p.rsplit("/", 1)[-1]
        lines.append(f"{name:50} {med([r['steps'].get(p, 0.0) for r in runs]):9.3f}")
    lines.append(f"{'process start -> first evaluation of J':50} {med([r['total'] for r in runs]):9.3f}")
    lines.append(f"nst: {runs[0]['nst']}")
    lines.append(f"imported by the imports: {runs[0]['imported']}; "
                 f"at the first evaluation: {runs[0]['imported_at_first_evaluation']}")
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        return child(sys.argv[2], float(sys.argv[3]), sys.argv[5:])
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--json", help="keep every run's timings in this file")
    p.add_argument("nst_args", nargs="*", help="nst's arguments (after --; default: the quick start)")
    a = p.parse_args()
    runs = [run_once(a.nst_args or QUICK_START) for _ in range(a.runs)]
    if a.json:
        Path(a.json).write_text(json.dumps(runs, indent=1))
    print(table(runs))


if __name__ == "__main__":
    main()
