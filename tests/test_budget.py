"""The memory budget as a guarantee, in a real process: nst run under --max-memory at a size where
the planner must tile peaks within the budget, and a budget no plan fits is refused before any
work. The peak is the child's whole-process high-water mark (its VmHWM, read by itself at exit:
the kernel's own peak, which no sampling can miss). A clip's test is still to come (issue #35:
benchmarks/README.md says why)."""

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import make_content, make_style

from nst.units import parse_memory

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--device", "cpu", "--precision", "float32", "--scales", "1", "--iterations", "2"]

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/self/status: Linux")


# nst in a process that writes its own VmHWM at exit: the kernel's high-water mark of the
# process's memory since its exec (ru_maxrss would not do: Linux carries the parent's over an
# exec, and a pytest worker holding torch and other tests' tensors is larger than nst).
WITH_PEAK = """
import atexit, runpy, sys
out = sys.argv.pop(1)
def peak():
    with open("/proc/self/status") as f:
        kib = next(line.split()[1] for line in f if line.startswith("VmHWM:"))
    with open(out, "w") as f:
        f.write(kib)
atexit.register(peak)
sys.argv[0] = "nst"
runpy.run_module("nst", run_name="__main__", alter_sys=True)
"""


def run(*args) -> tuple[int, str, int, float]:
    """(exit code, stderr, peak resident bytes, seconds) of ``nst args`` in its own process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "peak"
        start = time.perf_counter()
        r = subprocess.run([sys.executable, "-c", WITH_PEAK, str(out), *map(str, args)], env=env, text=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        seconds = time.perf_counter() - start
        return r.returncode, r.stderr, int(out.read_text()) * 1024, seconds


def smallest_budget(*args) -> int:
    """The least budget nst says works for this run (it refuses 64 MiB before work, naming it)."""
    code, err, _, seconds = run(*args, "--max-memory", "64M")
    assert code == 2, err
    m = re.search(r"the smallest budget that works is about (\S+):", err)
    assert m, err
    return parse_memory(m[1])


@pytest.fixture()
def pair(tmp_path):
    make_content((384, 288)).save(tmp_path / "c.png")
    make_style().save(tmp_path / "s.png")
    return tmp_path / "c.png", tmp_path / "s.png"


def test_an_impossible_budget_is_refused_before_work(tmp_path, pair):
    c, s = pair
    code, err, peak, seconds = run(c, s, "-o", tmp_path / "o.png", "--size", "384", *FAST, "--max-memory", "64M")
    assert code == 2 and err.count("\n") == 1 and "too small for this run" in err
    assert not (tmp_path / "o.png").exists() and not list(tmp_path.glob("o.partial*"))


def within_the_least_budget(*args) -> tuple[int, str, int, int]:
    """``nst args`` run under the least budget it accepts (found as nst names it, a little more if
    the process's own memory came out higher this time); that budget is under the least an
    untiled run needs, so the planner had to tile. (exit code, stderr, peak bytes, budget)."""
    untiled = smallest_budget(*args, "--tile", "off")
    budget = smallest_budget(*args)
    for _ in range(3):
        assert budget < untiled, "the image must be one that needs tiles"
        code, err, peak, _ = run(*args, "--max-memory", str(budget))
        if code != 2:
            return code, err, peak, budget
        budget += 32 << 20
    raise AssertionError(err)


def test_an_image_that_must_be_tiled_peaks_within_its_budget(tmp_path, pair):
    c, s = pair
    code, err, peak, budget = within_the_least_budget(c, s, "-o", tmp_path / "o.png", "--size", "384", *FAST)
    assert code == 0, err
    assert peak <= budget, f"peak {peak / 2**20:.0f} MiB over the budget {budget / 2**20:.0f} MiB"
