"""Four workers at once over one shared output folder, started by GNU parallel, with overlapping
shards on purpose: every output is made exactly once, and none is corrupt (issue #21)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import make_content, make_style
from PIL import Image

pytestmark = pytest.mark.skipif(shutil.which("parallel") is None, reason="GNU parallel is not installed")


def test_four_workers_with_overlapping_shards_make_each_output_once(tmp_path):
    photos, out = tmp_path / "photos", tmp_path / "out"
    photos.mkdir()
    sizes = {f"p{i}": (48 + 4 * (i % 3), 40 + 2 * i) for i in range(8)}
    for name, size in sizes.items():
        make_content(size).save(photos / f"{name}.png")
    make_style().save(tmp_path / "style.png")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    # Slots 1 and 3 both take shard 0/2, slots 2 and 4 shard 1/2 (a resubmission while the first
    # run still goes): every output is wanted by two workers at the same time.
    command = ("nst photos style.png -o out --shard $(( ({#} - 1) % 2 ))/2 --skip-existing --json "
               "--size 32 --iterations 3 --init content --device cpu")
    r = subprocess.run(["parallel", "-j", "4", "--halt", "never", command, ":::", "1", "2", "3", "4"],
                       cwd=tmp_path, capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
    by_output: dict[str, list[str]] = {}
    for x in lines:
        by_output.setdefault(Path(x["output"]).name, []).append(x["status"])
    expected = sorted(f"{name}_style.jpg" for name in sizes)
    assert sorted(by_output) == expected
    # Each output is reported by both workers of its shard: done by one, left (claimed) or
    # skipped (already made) by the other.
    for name, statuses in by_output.items():
        assert len(statuses) == 2 and statuses.count("done") == 1, (name, statuses)
        assert set(statuses) <= {"done", "claimed", "skipped"}, (name, statuses)
    # Nothing else is left in the folder (no claim, no partial file), and every picture is whole.
    assert sorted(p.name for p in out.iterdir()) == expected
    for name in sizes:
        with Image.open(out / f"{name}_style.jpg") as img:
            img.load()  # reads the whole file: a truncated one raises
            assert max(img.size) == 32
