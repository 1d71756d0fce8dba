"""A real cluster engine: a single-node Slurm on localhost (Debian's slurm-wlm and munge, started by
tests/slurm/start.sh) runs an array job of `nst ... --shard auto` over a small folder.

It starts system daemons and writes /etc/slurm/slurm.conf, so it runs only where asked:
NST_TEST_SLURM=1 (CI's .ci/run sets it after installing the packages) and as root.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import make_content, make_style

HERE = Path(__file__).parent / "slurm"
EXAMPLE = Path(__file__).parent.parent / "examples" / "cluster" / "slurm.sh"

pytestmark = pytest.mark.skipif(
    os.environ.get("NST_TEST_SLURM") != "1" or os.geteuid() != 0 or shutil.which("sbatch") is None,
    reason="a single-node Slurm test: set NST_TEST_SLURM=1, as root, with slurm-wlm and munge installed "
           "(.ci/run does this)")


@pytest.fixture(scope="module")
def slurm():
    started = subprocess.run(["bash", str(HERE / "start.sh")], capture_output=True, text=True, timeout=300)
    assert started.returncode == 0, started.stdout + started.stderr
    yield
    subprocess.run(["bash", str(HERE / "stop.sh")], capture_output=True, timeout=120)


def sbatch(tmp_path, *args):
    """``sbatch --array=1-3 --wait`` of examples/cluster/slurm.sh as the README gives it, in tmp_path,
    with the test's Python environment (nst on PATH); (its result, each task's log by task id)."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for log in tmp_path.glob("nst-*.out"):
        log.unlink()
    r = subprocess.run(["sbatch", "--array=1-3", "--wait", "--parsable", str(EXAMPLE), *args], cwd=tmp_path,
                       capture_output=True, text=True, env=env, timeout=900)
    logs = {int(p.stem.rsplit("_", 1)[1]): p.read_text() for p in tmp_path.glob("nst-*_*.out")}
    return r, logs


def test_an_array_job_does_every_output_once(slurm, tmp_path):
    photos, out = tmp_path / "photos", tmp_path / "out"
    photos.mkdir()
    for i in range(5):
        make_content((48, 40 + 2 * i)).save(photos / f"p{i}.png")
    make_style().save(tmp_path / "style.png")
    options = ["photos", "style.png", "out", "--size", "32", "--iterations", "2", "--device", "cpu"]
    r, logs = sbatch(tmp_path, *options)
    assert r.returncode == 0 and sorted(logs) == [1, 2, 3], (r.stdout, r.stderr, logs)
    # Each task took its own shard, said where it came from, and wrote its outputs.
    for k, task in enumerate((1, 2, 3)):
        assert f"shard {k}/3 from SLURM_ARRAY_TASK_ID={task}" in logs[task], logs[task]
    lines = [json.loads(x) for log in logs.values() for x in log.splitlines() if x.startswith("{")]
    assert sorted(x["output"].rsplit("/", 1)[-1] for x in lines) == [f"p{i}_style.jpg" for i in range(5)]
    assert all(x["status"] == "done" for x in lines)
    assert sorted(p.name for p in out.iterdir()) == [f"p{i}_style.jpg" for i in range(5)]
    status = subprocess.run([sys.executable, "-m", "nst", "status", "photos", "style.png", "-o", "out", "--json"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert report["totals"]["done"] == 5 and report["totals"]["missing"] == 0, report
    # Resubmitted with nothing left to do: every output is left as it is.
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    r, logs = sbatch(tmp_path, *options)
    assert r.returncode == 0, (r.stdout, r.stderr, logs)
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before
