"""#21: `nst status CONTENT... STYLE -o OUT`: how far a run into OUT has got, per shard, from its files:
done (the output), partial (OUT.partial.jpg, at evaluation i of n), claimed (a live worker's
OUT.claim) and missing."""

import json
import os
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from conftest import make_content, make_style

from nst.cli import main
from nst.core.stylizer import RunState
from nst.jobs import checkpoint, claims

FAST = ["--size", "32", "--iterations", "2", "--device", "cpu"]


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def table(stdout: str) -> dict[str, list[int]]:
    """The status table: shard -> [outputs, done, partial, claimed, missing]."""
    lines = stdout.splitlines()
    assert lines[0].split() == ["shard", "outputs", "done", "partial", "claimed", "missing"], stdout
    rows = {}
    for line in lines[1:]:
        cells = line.split()
        if len(cells) == 6 and all(c.isdigit() for c in cells[1:]):
            rows[cells[0]] = [int(c) for c in cells[1:]]
    return rows


def claim_by_another(output: Path, age: float = 5.0) -> Path:
    path = claims.claim_path(output)
    t = time.time() - age
    path.write_text(json.dumps({"host": "node7", "pid": 4242, "started": t - 100, "heartbeat": t}))
    os.utime(path, (t, t))
    return path


@pytest.fixture(scope="module")
def half_done(tmp_path_factory):
    """photos/ with 4 images: shard 0/2 run (a, b done), c partial (evaluation 3 of 10), d claimed."""
    root = tmp_path_factory.mktemp("status")
    photos = root / "photos"
    photos.mkdir()
    for name in "abcd":
        make_content().save(photos / f"{name}.png")
    make_style().save(root / "zebra.png")
    out = root / "out"
    r = invoke(photos, root / "zebra.png", "-o", out, *FAST, "--shard", "0/2", "-q")
    assert r.exit_code == 0, r.output
    G = torch.rand(1, 3, 20, 24)
    checkpoint.save(out / "c_zebra.jpg", RunState(G, G, 0, 3, 3, 10, J=1.0), {}, {"nst": "0.1.0", "settings": {}})
    claim_by_another(out / "d_zebra.jpg")
    return photos, root / "zebra.png", out


def test_status_counts_done_partial_claimed_missing(half_done):
    photos, style, out = half_done
    r = invoke("status", photos, style, "-o", out)
    assert r.exit_code == 0, r.output
    assert table(r.stdout) == {"all": [4, 2, 1, 1, 0]}
    assert f"partial  {out / 'c_zebra.jpg'}: evaluation 3 of 10 kept in {out / 'c_zebra.partial.jpg'}" in r.stdout
    assert f"claimed  {out / 'd_zebra.jpg'}: by node7:4242 since " in r.stdout


def test_status_per_shard(half_done):
    photos, style, out = half_done
    r = invoke("status", photos, style, "-o", out, "--shards", "2")
    assert r.exit_code == 0, r.output
    assert table(r.stdout) == {"0/2": [2, 2, 0, 0, 0], "1/2": [2, 0, 1, 1, 0], "all": [4, 2, 1, 1, 0]}
    r = invoke("status", photos, style, "-o", out, "--shards", "4")
    assert table(r.stdout) == {"0/4": [1, 1, 0, 0, 0], "1/4": [1, 1, 0, 0, 0], "2/4": [1, 0, 1, 0, 0],
                               "3/4": [1, 0, 0, 1, 0], "all": [4, 2, 1, 1, 0]}
    r = invoke("status", photos, style, "-o", out, "--shard", "1/2")
    assert r.exit_code == 0 and table(r.stdout) == {"1/2": [2, 0, 1, 1, 0]}
    assert "a_zebra" not in r.stdout


def test_status_json(half_done):
    photos, style, out = half_done
    r = invoke("status", photos, style, "-o", out, "--shards", "2", "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["outputs"] == 4 and data["totals"] == {"done": 2, "partial": 1, "claimed": 1, "missing": 0}
    assert data["shards"] == [{"shard": "0/2", "outputs": 2, "done": 2, "partial": 0, "claimed": 0, "missing": 0},
                              {"shard": "1/2", "outputs": 2, "done": 0, "partial": 1, "claimed": 1, "missing": 0}]
    jobs = {Path(j["output"]).name: j for j in data["jobs"]}
    assert {k: (j["state"], j["shard"], j["index"]) for k, j in jobs.items()} == {
        "a_zebra.jpg": ("done", 0, 0), "b_zebra.jpg": ("done", 0, 1),
        "c_zebra.jpg": ("partial", 1, 2), "d_zebra.jpg": ("claimed", 1, 3)}
    assert jobs["c_zebra.jpg"]["partial"] == {"file": str(out / "c_zebra.partial.jpg"), "evaluations": 3, "total": 10}
    claim = jobs["d_zebra.jpg"]["claim"]
    assert claim["host"] == "node7" and claim["pid"] == 4242 and claim["fresh"] is True
    assert jobs["a_zebra.jpg"]["claim"] is None and jobs["a_zebra.jpg"]["partial"] is None
    assert jobs["a_zebra.jpg"]["content"] == str(photos / "a.png")


def test_a_stale_claim_is_not_claimed(half_done, tmp_path):
    photos, style, out = half_done
    path = claims.claim_path(out / "d_zebra.jpg")
    old = path.stat().st_mtime
    stale = time.time() - claims.STALE - 120
    os.utime(path, (stale, stale))
    try:
        r = invoke("status", photos, style, "-o", out)
        assert table(r.stdout) == {"all": [4, 2, 1, 0, 1]}
        assert f"missing  {out / 'd_zebra.jpg'}: a stale claim by node7:4242 since" in r.stdout
        assert json.loads(invoke("status", photos, style, "-o", out, "--json").stdout)["jobs"][3]["claim"]["fresh"] \
            is False
    finally:
        os.utime(path, (old, old))


def test_status_before_a_run_and_with_the_runs_naming(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in "ab":
        make_content().save(photos / f"{name}.png")
    make_style().save(tmp_path / "zebra.png")
    mask = tmp_path / "mask.png"
    make_content().convert("L").save(mask)
    r = invoke("status", photos, tmp_path / "zebra.png", "-o", tmp_path / "none", "--name", "{index:02d}{ext}",
               "--ext", "png", "--region", f"{mask}=none", "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["totals"] == {"done": 0, "partial": 0, "claimed": 0, "missing": 2}
    assert [Path(j["output"]).name for j in data["jobs"]] == ["00.png", "01.png"]
    assert not (tmp_path / "none").exists(), "status writes nothing"


def test_status_refuses_videos_and_bad_shards(tmp_path, half_done):
    photos, style, out = half_done
    (tmp_path / "clip.mp4").write_bytes(b"")
    r = invoke("status", tmp_path / "clip.mp4", style, "-o", out)
    assert r.exit_code == 2 and "a video; nst status reports runs of images" in r.stderr
    r = invoke("status", photos, style, "-o", out, "--shard", "0/2", "--shards", "2")
    assert r.exit_code == 2 and "not both" in r.stderr
    r = invoke("status", photos, style, "-o", out, "--shard", "2/2")
    assert r.exit_code == 2 and "shard '2/2' is not allowed" in r.stderr
