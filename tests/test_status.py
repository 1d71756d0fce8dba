"""#21: `nst status CONTENT... STYLE -o OUT`: how far a run into OUT has got, per shard, from its files:
done (the output), partial (OUT.partial.jpg, at evaluation i of n), claimed (a live worker's
OUT.claim) and missing. #30.2: whatever the outputs' extension, saying when OUT does not exist or
holds none of them, clips frame by frame, exit 1 where the files cannot tell, and without torch."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from conftest import make_content, make_style

from nst.cli import main
from nst.core.runs import RunState
from nst.jobs import checkpoint, claims

FAST = ["--size", "32", "--iterations", "2", "--device", "cpu"]
ROOT = Path(__file__).resolve().parents[1]


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
    assert r.exit_code == 0 and r.stderr == "", r.output  # c's partial.pt is no output of another extension
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
    args = [photos, tmp_path / "zebra.png", "-o", tmp_path / "none", "--name", "{index:02d}{ext}", "--ext", "png",
            "--region", f"{mask}=none", "--json"]
    r = invoke("status", *args)
    assert r.exit_code == 1, r.output  # OUT does not exist: it cannot tell a run not started from a mistyped -o
    data = json.loads(r.stdout)
    assert data["totals"] == {"done": 0, "partial": 0, "claimed": 0, "missing": 2} and data["out_exists"] is False
    assert [Path(j["output"]).name for j in data["jobs"]] == ["00.png", "01.png"]
    assert not (tmp_path / "none").exists(), "status writes nothing"
    (tmp_path / "none").mkdir()  # an empty OUT: not started, and it can tell
    r = invoke("status", *args)
    assert r.exit_code == 0 and r.stderr == "", r.output
    assert json.loads(r.stdout)["remarks"] == []


def test_status_refuses_bad_shards(tmp_path, half_done):
    photos, style, out = half_done
    r = invoke("status", photos, style, "-o", out, "--shard", "0/2", "--shards", "2")
    assert r.exit_code == 2 and "not both" in r.stderr
    r = invoke("status", photos, style, "-o", out, "--shard", "2/2")
    assert r.exit_code == 2 and "shard '2/2' is not allowed" in r.stderr


# #30.2: no confident wrong counts: another extension, a mistyped OUT, a --sequence output, videos.

@pytest.fixture(scope="module")
def as_png(tmp_path_factory):
    """photos/ with 3 images, run with --ext png into out/."""
    root = tmp_path_factory.mktemp("png")
    photos = root / "photos"
    photos.mkdir()
    for name in "abc":
        make_content().save(photos / f"{name}.png")
    make_style().save(root / "zebra.png")
    r = invoke(photos, root / "zebra.png", "-o", root / "out", *FAST, "--ext", "png", "-q")
    assert r.exit_code == 0, r.output
    return photos, root / "zebra.png", root / "out"


def test_status_finds_the_outputs_whatever_their_extension(as_png):
    photos, style, out = as_png
    r = invoke("status", photos, style, "-o", out)  # without the run's --ext png
    assert r.exit_code == 0, r.output
    assert table(r.stdout) == {"all": [3, 3, 0, 0, 0]}
    assert r.stderr == (f"nst status: counted the outputs as .png, as found in {out} (a run with --ext png; the "
                        "default is .jpg)\n")
    data = json.loads(invoke("status", photos, style, "-o", out, "--json").stdout)
    assert data["ext"] == ".png" and data["totals"]["done"] == 3
    assert data["remarks"] == [{"text": r.stderr.removeprefix("nst status: ").strip(), "doubt": False}]
    r = invoke("status", photos, style, "-o", out, "--ext", "png")
    assert r.exit_code == 0 and r.stderr == "" and table(r.stdout) == {"all": [3, 3, 0, 0, 0]}


def test_status_with_the_wrong_extension_says_where_the_outputs_are(as_png, tmp_path):
    photos, style, out = as_png
    r = invoke("status", photos, style, "-o", out, "--ext", "webp")
    assert r.exit_code == 1 and table(r.stdout) == {"all": [3, 0, 0, 0, 3]}
    assert r.stderr == (f"nst status: {out} also holds outputs of this job list with another extension (3 as .png); "
                        "to count those, give --ext png (none is there as .webp)\n")


def test_status_counts_the_extension_found_most_and_names_the_others(as_png, tmp_path):
    photos, style, _ = as_png
    out = tmp_path / "mixed"
    out.mkdir()
    for name in "ab":
        make_content().save(out / f"{name}_zebra.webp")
    make_content().save(out / "c_zebra.jpg")
    r = invoke("status", photos, style, "-o", out)
    assert r.exit_code == 0 and table(r.stdout) == {"all": [3, 2, 0, 0, 1]}, r.output
    assert "counted the outputs as .webp" in r.stderr
    assert f"{out} also holds outputs of this job list with another extension (1 as .jpg); to count those, " \
           "give --ext jpg\n" in r.stderr


def test_status_says_when_out_does_not_exist(as_png):
    photos, style, out = as_png
    typo = out.with_name("outt")
    r = invoke("status", photos, style, "-o", typo)
    assert r.exit_code == 1 and table(r.stdout) == {"all": [3, 0, 0, 0, 3]}
    assert r.stderr == (f"nst status: {typo} does not exist, so no output of this run is there: it has not started, "
                        "or this is not its --output\n")
    r = invoke("status", photos / "a.png", style, "-o", typo / "a.jpg")  # one image: its folder
    assert r.exit_code == 1 and f"{typo / 'a.jpg'}: its folder {typo} does not exist" in r.stderr


def test_status_says_when_out_holds_none_of_the_runs_outputs(as_png):
    photos, style, out = as_png
    r = invoke("status", photos, style, "-o", out, "--name", "{index}{ext}")  # not the run's naming
    assert r.exit_code == 1 and table(r.stdout) == {"all": [3, 0, 0, 0, 3]}
    assert r.stderr == (f"nst status: none of the 3 outputs of this job list (such as 0.jpg) is in {out}, which "
                        "holds 3 other entries (a_zebra.png, b_zebra.png, c_zebra.png): were they made with other "
                        "options (--name, --ext, --recursive, --sequence), or is this not the run's --output?\n")


@pytest.fixture(scope="module")
def frames_run(tmp_path_factory):
    """frames/ (4 frames) run with --sequence into seq/, in two shards of which only 0/2 ran."""
    root = tmp_path_factory.mktemp("frames")
    frames = root / "frames"
    frames.mkdir()
    for i in (1, 2, 10, 11):  # natural order: f1, f2, f10, f11
        make_content((40, 30)).save(frames / f"f{i}.png")
    make_style().save(root / "zebra.png")
    r = invoke(frames, root / "zebra.png", "-o", root / "seq", "--sequence", *FAST, "--warm-iterations", "1",
               "--shard", "0/2", "-q")
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (root / "seq").iterdir()) == ["f1.png", "f2.png"]
    return frames, root / "zebra.png", root / "seq"


def test_status_of_a_sequence_counts_its_frames(frames_run):
    frames, style, seq = frames_run
    r = invoke("status", frames, style, "-o", seq, "--sequence", "--shards", "2")
    assert r.exit_code == 0 and r.stderr == "", r.output
    assert r.stdout.splitlines()[0].split() == ["shard", "frames", "done", "partial", "claimed", "missing"]
    rows = {line.split()[0]: [int(c) for c in line.split()[1:]] for line in r.stdout.splitlines()[1:4]}
    assert rows == {"0/2": [2, 2, 0, 0, 0], "1/2": [2, 0, 0, 0, 2], "all": [4, 2, 0, 0, 2]}
    assert f"frames   {seq}: 2 of 4 frames done" in r.stdout.splitlines()
    data = json.loads(invoke("status", frames, style, "-o", seq, "--sequence", "--json").stdout)
    assert data["kind"] == "clips" and data["ext"] == ".png" and data["frames"] == 4
    (clip,) = data["clips"]
    assert (clip["frames"], clip["done"], clip["missing"], clip["video"], clip["written"]) == (4, 2, 2, False, None)


def test_status_of_a_sequence_output_without_sequence_says_so(frames_run):
    frames, style, seq = frames_run
    r = invoke("status", frames, style, "-o", seq)  # planned as images: frames/f1.png -> seq/f1_zebra.jpg ...
    assert r.exit_code == 1 and table(r.stdout) == {"all": [4, 0, 0, 0, 4]}
    assert r.stderr == (f"nst status: none of the 4 outputs of this job list is in {seq}, but the frames of {frames} "
                        "are (such as f1.png): the output of a run with --sequence? give it to count its frames\n")


def test_status_of_a_video_counts_its_frames_and_says_whether_it_is_written(tmp_path):
    from fractions import Fraction

    from synthetic import pan_frames, write_clip
    clip = write_clip(tmp_path / "clip.mp4", pan_frames(4, (40, 30)), Fraction(30, 1))
    make_style().save(tmp_path / "zebra.png")
    out = tmp_path / "vid" / "out.mp4"
    args = [clip, tmp_path / "zebra.png", "-o", out]
    r = invoke(*args, *FAST, "--warm-iterations", "1", "--shard", "1/2", "-q")
    assert r.exit_code == 0, r.output
    r = invoke("status", *args, "--shards", "2")
    assert r.exit_code == 0 and r.stderr == "", r.output
    assert f"video    {out}: 2 of 4 frames done in {out}.frames; the video is not written yet" in r.stdout
    claim_by_another(Path(f"{out}.shard-0-of-2"))  # a live worker on shard 0/2: out.mp4.shard-0-of-2.claim
    G = torch.rand(1, 3, 20, 24)
    checkpoint.save(Path(f"{out}.frames") / "000000.png", RunState(G, G, 0, 3, 3, 10, J=1.0), {},
                    {"nst": "0.1.0", "settings": {}})
    r = invoke("status", *args, "--shards", "2")
    rows = {line.split()[0]: [int(c) for c in line.split()[1:]] for line in r.stdout.splitlines()[1:4]}
    assert rows == {"0/2": [2, 0, 0, 2, 0], "1/2": [2, 2, 0, 0, 0], "all": [4, 2, 0, 2, 0]}, r.stdout
    assert f"claimed  {out} (shard 0/2, frames 0-1): by node7:4242 since " in r.stdout
    data = json.loads(invoke("status", *args, "--json").stdout)
    (c,) = data["clips"]
    assert (c["frames"], c["done"], c["claimed"], c["written"]) == (4, 2, 2, False)
    assert c["partial_frames"][0]["frame"] == 0 and c["partial_frames"][0]["evaluations"] == 3
    assert c["claims"][0]["shard"] == "0/2" and (c["claims"][0]["first"], c["claims"][0]["stop"]) == (0, 2)
    claims.claim_path(Path(f"{out}.shard-0-of-2")).unlink()
    r = invoke(*args, *FAST, "--warm-iterations", "1", "--shard", "0/2", "-q")  # the rest, and the video
    assert r.exit_code == 0 and out.exists(), r.output
    r = invoke("status", *args)
    assert r.exit_code == 0 and table_frames(r.stdout) == {"all": [4, 4, 0, 0, 0]}
    assert f"video    {out}: 4 of 4 frames done in {out}.frames; the video is written" in r.stdout


def table_frames(stdout: str) -> dict[str, list[int]]:
    lines = stdout.splitlines()
    assert lines[0].split() == ["shard", "frames", "done", "partial", "claimed", "missing"], stdout
    return {c[0]: [int(x) for x in c[1:]] for c in (line.split() for line in lines[1:])
            if len(c) == 6 and all(x.isdigit() for x in c[1:])}


def test_status_of_a_video_that_cannot_be_read_cannot_tell(tmp_path):
    (tmp_path / "clip.mp4").write_bytes(b"not a video")
    make_style().save(tmp_path / "zebra.png")
    r = invoke("status", tmp_path / "clip.mp4", tmp_path / "zebra.png", "-o", tmp_path / "out.mp4")
    assert r.exit_code == 1
    assert f"nst status: cannot count the frames of {tmp_path / 'clip.mp4'} (" in r.stderr
    assert f"video    {tmp_path / 'out.mp4'}: its frames cannot be counted" in r.stdout


def test_status_loads_no_torch(as_png, frames_run, tmp_path):
    """It reads names and small files: `nst status` starts as `nst info` does, without torch."""
    photos, style, out = as_png
    frames, zebra, seq = frames_run
    runs = [["status", str(photos), str(style), "-o", str(out), "--shards", "2"],
            ["status", str(frames), str(zebra), "-o", str(seq), "--sequence", "--json"]]
    code = ("import sys, nst.launch\n"
            f"for argv in {runs!r}:\n"
            "    sys.argv = ['nst', *argv]\n"
            "    try:\n        nst.launch.main()\n    except SystemExit as e:\n        assert not e.code, e.code\n"
            "assert 'torch' not in sys.modules, 'torch'\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                       env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    assert "all          3     3" in r.stdout and '"kind": "clips"' in r.stdout


def test_status_with_regions_loads_no_torch(tmp_path):
    """#31: --region is parsed without torch (nst.jobs.regionspec), each job's mask template filled in
    as the run does, for images and for frames; a bad region is refused (exit 2), also without torch."""
    photos, frames, masks = tmp_path / "photos", tmp_path / "frames", tmp_path / "masks"
    for folder in (photos, frames, masks, tmp_path / "out", tmp_path / "seq"):
        folder.mkdir()
    for name in "ab":
        make_content().save(photos / f"{name}.png")
        make_content().convert("L").save(masks / f"{name}.png")
        make_content((40, 30)).save(frames / f"f_{name}.png")
    make_content((40, 30)).convert("L").save(masks / "frames.png")
    make_style().save(tmp_path / "zebra.png")
    zebra = str(tmp_path / "zebra.png")
    region = f"{masks}/{{content}}.png={zebra}"
    runs = [["status", str(photos), zebra, "-o", str(tmp_path / "out"), "--region", region],
            ["status", str(frames), zebra, "-o", str(tmp_path / "seq"), "--sequence", "--region", region, "--json"],
            ["status", str(photos), zebra, "-o", str(tmp_path / "out"), "--region", "nomask"]]
    code = ("import sys, nst.launch\n"
            f"for argv in {runs!r}:\n"
            "    sys.argv = ['nst', *argv]\n"
            "    try:\n        nst.launch.main()\n    except SystemExit as e:\n        print('exit', e.code)\n"
            "assert 'torch' not in sys.modules, 'torch'\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                       env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    assert "all          2     0" in r.stdout and '"kind": "clips"' in r.stdout, r.stdout
    assert [line for line in r.stdout.splitlines() if line.startswith("exit ")] == ["exit 0", "exit 0", "exit 2"]
    assert "region 'nomask': expected MASK=STYLE" in r.stderr, r.stderr

def test_status_names_partial_results_as_the_checkpoints_do(tmp_path):
    """nst.jobs.outputs.partial_paths names, without torch, what nst.jobs.checkpoint writes beside an output:
    the checkpoints take their names from it."""
    from nst.jobs import outputs
    assert checkpoint.partial_paths is outputs.partial_paths
    for name in ("out.jpg", "a.b.png", "000003.png", "noext"):
        out = tmp_path / name
        assert outputs.partial_paths(out) == (checkpoint.preview_path(out), checkpoint.state_path(out))
