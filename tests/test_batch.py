"""Batches: the job list, naming, sharding, and folder runs through the CLI with one network."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import make_content, make_style
from PIL import Image

from nst import stylize
from nst.cli import main
from nst.core import network
from nst.core import stylizer as transfer
from nst.core.config import Config
from nst.core.targets import blend_targets
from nst.errors import InputError
from nst.jobs.batch import Job, output_name, parse_shard, plan, run_batch, shard

FAST = ["--size", "32", "--iterations", "2", "--device", "cpu"]


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def summary(r):
    m = re.search(r"nst: (\d+) done, (\d+) skipped, (\d+) failed", r.stderr)
    assert m, r.stderr
    return tuple(int(g) for g in m.groups())


def json_lines(r):
    return [json.loads(line) for line in r.stdout.splitlines()]


@pytest.fixture
def folders(tmp_path):
    """photos/ with three images and two other files; styles/ with two styles."""
    photos, styles = tmp_path / "photos", tmp_path / "styles"
    photos.mkdir()
    styles.mkdir()
    make_content().save(photos / "b.png")
    make_content((40, 48)).save(photos / "a.jpg")
    make_content((36, 36)).save(photos / "c.webp")
    (photos / "notes.txt").write_text("not an image, and not an image extension")
    make_content().save(photos / ".hidden.png")
    make_style().save(styles / "zebra.png")
    make_style((30, 40)).save(styles / "waves.jpg")
    return photos, styles


# --- the job list, without the network ---------------------------------------------------

def test_plan_every_content_in_every_style_sorted(tmp_path, folders):
    photos, styles = folders
    p = plan([photos], [styles], tmp_path / "out")
    assert p.into_dir
    got = [(j.index, j.content.name, j.style[0][0].name, j.output.name) for j in p.jobs]
    assert got == [(0, "a.jpg", "waves.jpg", "a_waves.jpg"), (1, "b.png", "waves.jpg", "b_waves.jpg"),
                   (2, "c.webp", "waves.jpg", "c_waves.jpg"), (3, "a.jpg", "zebra.png", "a_zebra.jpg"),
                   (4, "b.png", "zebra.png", "b_zebra.jpg"), (5, "c.webp", "zebra.png", "c_zebra.jpg")]
    assert all(j.style[0][1] == 1.0 and j.output.parent == tmp_path / "out" for j in p.jobs)


def test_plan_single_file_keeps_out_a_file(content_path, style_path, tmp_path):
    p = plan([content_path], [style_path], tmp_path / "o.png")
    assert not p.into_dir and p.jobs == (Job(content_path, ((style_path, 1.0),), tmp_path / "o.png", 0),)
    assert plan([content_path], [style_path], str(tmp_path / "dir") + "/").into_dir


def test_recursive_names_and_collisions(tmp_path):
    for sub in ("x", "y"):
        (tmp_path / "in" / sub).mkdir(parents=True)
        make_content().save(tmp_path / "in" / sub / "same.png")
    make_style().save(tmp_path / "s.png")
    # The library names the setting; the command line says --recursive (test_words.py).
    with pytest.raises(InputError, match="subfolders: add recursive=True"):
        plan([tmp_path / "in"], [tmp_path / "s.png"], tmp_path / "out")
    with pytest.raises(InputError, match="would both be written to .*same_s.jpg"):
        plan([tmp_path / "in"], [tmp_path / "s.png"], tmp_path / "out", recursive=True)
    p = plan([tmp_path / "in"], [tmp_path / "s.png"], tmp_path / "out", recursive=True,
             name="{dir}/{index:03d}-{content}-{parent}-{style}{ext}", ext="png")
    assert [j.output.relative_to(tmp_path / "out").as_posix() for j in p.jobs] == \
        ["x/000-same-x-s.png", "y/001-same-y-s.png"]


def test_outputs_inside_a_content_folder_are_not_inputs(tmp_path, content_path, style_path):
    (tmp_path / "out").mkdir()
    make_content().save(tmp_path / "out" / "content_style.jpg")  # an earlier output
    p = plan([tmp_path], [style_path], tmp_path / "out", recursive=True)
    assert [j.content.name for j in p.jobs] == ["content.png", "style.png"]


@pytest.mark.parametrize("name, match", [
    ("{content}_{colour}{ext}", "unknown field {colour}"), ("../{content}{ext}", "inside OUT"),
    ("{content}.bmpx", "unknown output extension"), ("{index:q}{ext}", "name template"),
])
def test_bad_name_templates(tmp_path, folders, name, match):
    photos, styles = folders
    with pytest.raises(InputError, match=match):
        plan([photos], [styles], tmp_path / "out", name=name)


def test_refuses_outputs_that_overwrite_inputs(tmp_path, folders):
    photos, styles = folders
    with pytest.raises(InputError, match="refusing to overwrite an input"):
        plan([photos], [styles / "waves.jpg"], photos, name="{content}.jpg")  # a.jpg onto itself


def test_out_must_be_a_directory_for_several_images(tmp_path, folders, content_path, style_path):
    photos, styles = folders
    with pytest.raises(InputError, match="OUT is a directory"):
        plan([photos], [styles], tmp_path / "all.jpg")
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="not a directory"):
        plan([content_path, content_path.with_name("x.png")], [style_path], tmp_path / "file")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no images"):
        plan([tmp_path / "empty"], [style_path], tmp_path / "out")


@pytest.mark.parametrize("n_contents, n_styles", [(0, 1), (1, 1), (5, 1), (3, 2), (7, 3)])
def test_shards_are_disjoint_and_cover_the_job_list(tmp_path, n_contents, n_styles):
    jobs = [Job(tmp_path / f"c{c}.png", ((tmp_path / f"s{s}.png", 1.0),), tmp_path / f"o{s}_{c}.jpg", i)
            for i, (s, c) in enumerate((s, c) for s in range(n_styles) for c in range(n_contents))]
    for n in range(1, 5):
        shards = [shard(jobs, k, n) for k in range(n)]
        flat = [j for s in shards for j in s]
        assert sorted(flat, key=lambda j: j.index) == jobs, "every job exactly once"
        assert len(set(flat)) == len(flat)
        assert max(map(len, shards)) - min(map(len, shards)) <= 1, "balanced"
        assert shards == [shard(list(jobs), k, n) for k in range(n)], "deterministic"
        # contiguous slices of a style-by-style list: a worker meets at most ceil(S/N) + 1 styles
        assert all(len({j.style for j in s}) <= -(-n_styles // n) + 1 for s in shards)


def test_parse_shard():
    assert parse_shard("0/4") == (0, 4) and parse_shard("3/4") == (3, 4)
    for bad in ("4/4", "-1/4", "1", "a/b", "0/0", "1/4/2"):
        with pytest.raises(InputError, match="0 <= K < N"):
            parse_shard(bad)


def test_output_name_of_a_blend(tmp_path):
    blend = ((tmp_path / "ink.png", 0.7), (tmp_path / "oil.jpg", 0.3))
    assert output_name("{content}_{style}{ext}", tmp_path / "cat.jpg", blend, ".png") == "cat_ink+oil.png"


def test_blend_targets_weighted_mean():
    a, b = {"conv1_1": torch.ones(2, 2)}, {"conv1_1": torch.full((2, 2), 4.0)}
    assert blend_targets([(a, 1.0)])["conv1_1"] is a["conv1_1"], "one style: its Grams, untouched"
    torch.testing.assert_close(blend_targets([(a, 3.0), (b, 1.0)])["conv1_1"], torch.full((2, 2), 1.75))


# --- runs with the real network on tiny images ---------------------------------------------

def test_folder_with_a_corrupt_file(tmp_path, folders):
    photos, styles = folders
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    out = tmp_path / "out"
    r = invoke(photos, styles / "zebra.png", "-o", out, *FAST, "--json")
    assert r.exit_code == 1, r.output
    assert sorted(p.name for p in out.iterdir()) == ["a_zebra.jpg", "b_zebra.jpg", "c_zebra.jpg"]
    failed = [line for line in r.stderr.splitlines() if "failed" in line and "broken.jpg" in line]
    assert len(failed) == 1 and "not an image" in failed[0]
    assert summary(r) == (3, 0, 1)
    records = json_lines(r)
    assert [(x["content"].rsplit("/", 1)[-1], x["status"]) for x in records] == \
        [("a.jpg", "done"), ("b.png", "done"), ("broken.jpg", "failed"), ("c.webp", "done")]
    for x in records:
        assert x["style"] == str(styles / "zebra.png")
        if x["status"] == "done":
            assert (out / x["output"].rsplit("/", 1)[-1]).is_file() and x["error"] is None
            assert x["J"] == pytest.approx(x["J_content"] + Config().style_weight * x["J_style"], rel=1e-4)
            assert x["seconds"] > 0
        else:
            assert "broken.jpg" in x["error"] and x["J"] is None and not (out / "broken_zebra.jpg").exists()


def test_fail_fast_stops_at_the_first_failure(tmp_path, folders):
    photos, styles = folders
    (photos / "0broken.png").write_text("nope")  # sorts first
    r = invoke(photos, styles / "zebra.png", "-o", tmp_path / "out", *FAST, "--fail-fast", "-q")
    assert r.exit_code == 1
    assert summary(r) == (0, 0, 1) and "3 not run" in r.stderr
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_one_network_and_one_style_target_per_style(tmp_path, folders, monkeypatch):
    photos, styles = folders
    builds, targets = [], []
    real_build, real_targets = network.build_network, transfer.Stylizer.style_targets
    monkeypatch.setattr(network, "build_network", lambda *a: builds.append(1) or real_build(*a))
    monkeypatch.setattr(transfer.Stylizer, "style_targets",
                        lambda self, img, size, content=None: targets.append(img.size) or real_targets(self, img, size))
    r = invoke(photos, styles, "-o", tmp_path / "out", *FAST, "--quiet")
    assert r.exit_code == 0 and r.stdout == "" and r.stderr == ""
    assert len(list((tmp_path / "out").iterdir())) == 6
    assert len(builds) == 1, "the network is built once for the whole batch"
    assert len(targets) == 2, "each style's Grams are computed once"


def test_skip_existing_does_no_work_on_a_rerun(tmp_path, folders, monkeypatch):
    photos, styles = folders
    out = tmp_path / "out"
    first = invoke(photos, styles / "waves.jpg", "-o", out, *FAST, "-q")
    assert first.exit_code == 0
    (out / "b_waves.jpg").unlink()  # as if the run had been interrupted there
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    r = invoke(photos, styles / "waves.jpg", "-o", out, *FAST, "--skip-existing", "--json")
    assert r.exit_code == 0 and summary(r) == (1, 2, 0)
    assert {x["output"].rsplit("/", 1)[-1]: x["status"] for x in json_lines(r)} == \
        {"a_waves.jpg": "skipped", "b_waves.jpg": "done", "c_waves.jpg": "skipped"}
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.name in mtimes} == mtimes

    builds = []
    monkeypatch.setattr(network, "build_network", lambda *a: builds.append(1))
    r = invoke(photos, styles / "waves.jpg", "-o", out, *FAST, "--skip-existing")
    assert r.exit_code == 0 and summary(r) == (0, 3, 0)
    assert builds == [], "nothing to do: the network is not even loaded"


def test_shards_through_the_cli(tmp_path, folders):
    photos, styles = folders
    out = tmp_path / "out"
    done = []
    for k in range(2):
        r = invoke(photos, styles / "zebra.png", "-o", out, *FAST, "--shard", f"{k}/2", "--json", "-q")
        assert r.exit_code == 0, r.output
        done += [x["output"] for x in json_lines(r)]
    assert sorted(done) == sorted(str(p) for p in out.iterdir()) and len(done) == 3
    r = invoke(photos, styles, "-o", out, *FAST, "--shard", "2/2")
    assert r.exit_code == 2 and "0 <= K < N" in r.stderr


def test_batch_output_holds_settings_that_reproduce_it(tmp_path, folders):
    photos, styles = folders
    out = tmp_path / "out"
    r = invoke(photos, styles / "zebra.png", "-o", out, *FAST, "--ext", "png", "--init", "noise", "--seed", "7",
               "--style-weight", "300", "--style-layers", "conv1_1:2,conv2_1", "-q")
    assert r.exit_code == 0, r.output
    made = out / "c_zebra.png"  # the last job: the network and Grams were reused for it
    r = invoke("info", made)
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout)
    assert info["nst"] and info["device"] == "cpu"
    settings = info["settings"]
    assert settings["content"] == str(photos / "c.webp") and settings["style"] == str(styles / "zebra.png")
    assert settings["seed"] == 7 and settings["init"] == "noise" and settings["style_weight"] == 300
    assert settings["style_layers"] == [["conv1_1", 2.0], ["conv2_1", 1.0]]
    assert set(settings) == {"content", "style", *Config.option_names()}
    again = stylize(**settings)
    with Image.open(made) as im:
        assert np.array_equal(np.asarray(im.convert("RGB")), np.asarray(again))


def test_info_on_a_file_without_settings(content_path, tmp_path):
    r = invoke("info", content_path)
    assert r.exit_code == 2 and "no nst settings" in r.stderr
    r = invoke("info", tmp_path / "missing.png")
    assert r.exit_code == 2 and "missing.png" in r.stderr


def test_single_image_json_and_skip(tmp_path, content_path, style_path):
    out = tmp_path / "one.jpg"
    r = invoke(content_path, style_path, "-o", out, *FAST, "--json")
    assert r.exit_code == 0 and "wrote" in r.stderr and "done, " not in r.stderr
    (record,) = json_lines(r)
    assert record["status"] == "done" and record["output"] == str(out)
    r = invoke(content_path, style_path, "-o", out, *FAST, "--skip-existing", "--json")
    assert r.exit_code == 0 and json_lines(r)[0]["status"] == "skipped"


def test_name_and_ext_need_a_directory_out(tmp_path, content_path, style_path):
    r = invoke(content_path, style_path, "-o", tmp_path / "one.jpg", *FAST, "--ext", "png")
    assert r.exit_code == 2 and "--ext" in r.stderr
    r = invoke(content_path, style_path, "-o", tmp_path / "d", *FAST, "--ext", "gif")
    assert r.exit_code == 2 and "gif" in r.stderr


def test_run_batch_reports_a_vanished_input(tmp_path, folders):
    photos, styles = folders
    jobs = plan([photos], [styles / "zebra.png"], tmp_path / "out").jobs
    (photos / "b.png").unlink()  # gone between listing and running
    cfg = Config(size=32, iterations=1, device="cpu")
    results = list(run_batch(jobs, cfg))
    assert [r.status for r in results] == ["done", "failed", "done"]
    assert "b.png" in results[1].error and "no such file" in results[1].error


def test_interrupt_keeps_finished_outputs(tmp_path, folders, monkeypatch):
    photos, styles = folders
    calls = []
    real_run = transfer.Stylizer.run

    def run_then_interrupt(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_run(self, *args, **kwargs)

    monkeypatch.setattr(transfer.Stylizer, "run", run_then_interrupt)
    r = invoke(photos, styles / "zebra.png", "-o", tmp_path / "out", *FAST)
    assert r.exit_code == 130
    assert summary(r) == (1, 0, 0) and "--skip-existing" in r.stderr
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["a_zebra.jpg"], "no partial file"


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_example_batch_script(tmp_path, folders):
    photos, styles = folders
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "NST": f"{sys.executable} -m nst", "PYTHONPATH": str(root)}
    cmd = ["bash", str(root / "examples" / "batch.sh"), str(photos), str(styles / "waves.jpg"),
           str(tmp_path / "styled"), *FAST]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / "styled").iterdir()) == \
        ["a_waves.jpg", "b_waves.jpg", "c_waves.jpg", "nst-log.jsonl"]
    log = [json.loads(line) for line in (tmp_path / "styled" / "nst-log.jsonl").read_text().splitlines()]
    assert [x["status"] for x in log] == ["done"] * 3


def test_parse_style_blends_and_literal_paths(tmp_path):
    from nst.jobs.batch import parse_style

    a, b = tmp_path / "a.jpg", tmp_path / "a+b.jpg"
    b.write_bytes(b"")
    assert parse_style(str(b)) == b, "an existing file is never split"
    assert parse_style(str(a)) == a
    assert parse_style(f"{a}:2+{tmp_path / 'c.png'}") == ((a, 2.0), (tmp_path / "c.png", 1.0))
    assert parse_style(f"{a}:0.5") == ((a, 0.5),)
    with pytest.raises(InputError, match="not an image file"):
        parse_style(f"{a}+{tmp_path}")
    with pytest.raises(InputError, match="weights"):
        parse_style(f"{a}:-1+{a}")
