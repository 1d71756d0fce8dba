"""Stop a run after k evaluations, resume it, and compare the written pixels with an uninterrupted run's.

    python benchmarks/resume_exact.py SIZE EVALUATIONS "dict(scales=2)" "[1, 2, 3]"
"""
import functools
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from pathlib import Path

from conftest import make_content, make_style

import nst.jobs.batch
from nst.core import stylizer as transfer
from nst.core.config import Config
from nst.jobs import checkpoint
from nst.jobs.batch import Job, run_batch

nst.jobs.batch.Stylizer = functools.lru_cache(maxsize=None)(transfer.Stylizer)
d = Path(tempfile.mkdtemp()); d.mkdir(exist_ok=True)
c = d / "c.png"; s = d / "s.png"; make_content().save(c); make_style().save(s)
opts = dict(device="cpu", size=int(sys.argv[1]), iterations=int(sys.argv[2]), **eval(sys.argv[3] if len(sys.argv) > 3 else "{}"))
cfg = Config(**opts)
def go(out, stop_after=None):
    its = []
    stop = None if stop_after is None else (lambda: len(its) >= stop_after)
    return list(run_batch([Job(c, ((s, 1.0),), out)], cfg, should_stop=stop, on_iterate=lambda j, it: its.append(it)))[0]
w = go(d / "whole.png")
ref = np.asarray(nst.pixels.images.load_image(d / "whole.png"))
ks = eval(sys.argv[4]) if len(sys.argv) > 4 else range(1, cfg.iterations)
for k in ks:
    out = d / f"o{k}.png"
    checkpoint.remove(out); out.unlink(missing_ok=True)
    r = go(out, k)
    r2 = go(out)
    a = np.asarray(nst.pixels.images.load_image(out))
    print(k, r.evaluations, r2.J, w.J, int(np.abs(a.astype(int) - ref).max()))
