"""Clips as jobs: video in -> video out with its frame count, rate and audio; folders of frames;
shards of frames; re-runs that only encode; bad videos failing their own job."""

import os
import shutil
from fractions import Fraction

import pytest
from conftest import make_style
from PIL import Image
from synthetic import audio_packets, pan_frames, write_clip

from nst import Config
from nst.errors import InputError
from nst.pixels import video
from nst.jobs.clips import chunk, plan, run_clips
from nst.jobs.regionspec import parse_region
from nst.jobs.sequence import SequenceConfig

CFG = Config(size=32, iterations=2, device="cpu")
SEQ = SequenceConfig(warm_iterations=1)


@pytest.fixture
def clip(tmp_path):
    return write_clip(tmp_path / "clip.mp4", pan_frames(4, (40, 30)), Fraction(24000, 1001))


@pytest.fixture
def style(tmp_path):
    p = tmp_path / "style.png"
    make_style().save(p)
    return p


def run(jobs, **kw):
    evaluations = []
    results = list(run_clips(jobs, CFG, SEQ, on_iterate=lambda job, t, it: evaluations.append(t), **kw))
    return results, evaluations


def test_video_in_video_out_keeps_frames_rate_and_audio(tmp_path, clip, style):
    jobs = plan([clip], [style], tmp_path / "out.mp4")
    assert [j.output for j in jobs] == [tmp_path / "out.mp4"]
    (result,), evaluations = run(jobs)
    assert (result.status, result.frames, result.done, result.reused) == ("done", 4, 4, 0)
    assert result.J is not None and result.J_temporal > 0
    assert sorted(set(evaluations)) == [0, 1, 2, 3] and evaluations.count(0) == 2 and evaluations.count(3) == 1
    info = video.probe(tmp_path / "out.mp4")
    assert (info.frames, info.rate, info.size, info.audio) == (4, Fraction(24000, 1001), (32, 24), True)
    assert audio_packets(tmp_path / "out.mp4") == audio_packets(clip)
    assert sorted(p.name for p in (tmp_path / "out.mp4.frames").iterdir()) == [f"{t:06d}.png" for t in range(4)]


def test_a_finished_clip_encodes_again_without_stylising(tmp_path, clip, style):
    jobs = plan([clip], [style], tmp_path / "out.mp4")
    run(jobs)
    (tmp_path / "out.mp4").unlink()
    (result,), evaluations = run(jobs, encoder=video.Encoder(crf=35))
    assert evaluations == [] and (result.status, result.done, result.reused) == ("done", 0, 4)
    assert video.probe(tmp_path / "out.mp4").frames == 4
    (result,), _ = run(jobs, skip_existing=True)
    assert result.status == "skipped"


def test_an_interrupted_clip_resumes_at_the_first_missing_frame(tmp_path, clip, style):
    jobs = plan([clip], [style], tmp_path / "out.mp4")
    seen = []
    results = list(run_clips(jobs, CFG, SEQ, on_iterate=lambda job, t, it: seen.append(t),
                             should_stop=lambda: len(seen) >= 2))   # stops after frame 0
    assert [r.status for r in results] == ["interrupted"] and results[0].done == 1
    assert (results[0].frame, results[0].partial) == (1, None)   # stopped before frame 1: nothing partial
    assert not (tmp_path / "out.mp4").exists()
    assert [p.name for p in (tmp_path / "out.mp4.frames").iterdir()] == ["000000.png"]
    (result,), evaluations = run(jobs)
    assert sorted(set(evaluations)) == [1, 2, 3] and (result.done, result.reused) == (3, 1)
    assert video.probe(tmp_path / "out.mp4").frames == 4


def test_shards_split_a_clip_into_runs_of_frames(tmp_path, clip, style):
    assert [list(chunk(10, (k, 3))) for k in range(3)] == [[0, 1, 2], [3, 4, 5], [6, 7, 8, 9]]
    jobs = plan([clip], [style], tmp_path / "out.mp4")
    (first,), ev0 = run(jobs, shard=(0, 2))
    assert (first.status, first.done, first.missing) == ("partial", 2, 2) and sorted(set(ev0)) == [0, 1]
    assert not (tmp_path / "out.mp4").exists()
    (second,), ev1 = run(jobs, shard=(1, 2))
    assert (second.status, second.done) == ("done", 2)
    assert ev1.count(2) == CFG.iterations   # a shard's first frame starts cold
    assert video.probe(tmp_path / "out.mp4").frames == 4


def test_frames_folder_in_natural_order(tmp_path, style):
    folder = tmp_path / "frames"
    folder.mkdir()
    for t, img in enumerate(pan_frames(3, (40, 30))):
        img.save(folder / f"f{t * 5}.jpg")                # f0, f5, f10: f10 sorts last
    jobs = plan([folder], [style], tmp_path / "out", sequence=True)
    (result,), evaluations = run(jobs)
    assert result.status == "done" and result.frames == 3
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["f0.png", "f10.png", "f5.png"]
    assert Image.open(tmp_path / "out" / "f10.png").size == (32, 24)
    assert evaluations == [0, 0, 1, 2]   # f0 cold (2), then f5 and f10 warm (1 each)


def test_a_corrupt_video_fails_its_own_job_in_one_line(tmp_path, clip, style):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all" * 20)
    jobs = plan([bad, clip], [style], tmp_path / "out")
    assert [j.output.name for j in jobs] == ["bad_style.mp4", "clip_style.mp4"]
    results, _ = run(jobs)
    assert [r.status for r in results] == ["failed", "done"]
    assert "bad.mp4" in results[0].error and "\n" not in results[0].error
    assert results[0].to_json()["status"] == "failed"


def test_plan_checks_what_it_is_given(tmp_path, clip, style):
    folder = tmp_path / "frames"
    folder.mkdir()
    # The library names plan's setting; the command line says --sequence (test_cli_clips.py).
    with pytest.raises(InputError, match="add sequence=True"):
        plan([folder], [style], tmp_path / "out")
    with pytest.raises(InputError, match="video"):
        plan([clip], [style], tmp_path / "out.jpg")
    with pytest.raises(InputError, match="input"):
        plan([clip], [style], clip)
    jobs = plan([clip], [style], tmp_path / "outdir/")
    assert jobs[0].output == tmp_path / "outdir" / "clip_style.mp4"
    assert plan([clip], [style], tmp_path / "o", ext=".mkv")[0].output.suffix == ".mkv"


@pytest.mark.parametrize("ext", [".mp4", ".mkv"])
def test_a_video_stores_its_settings_and_nst_info_reads_them(tmp_path, clip, style, ext):
    """#17.6: like every image output, a video holds the settings that made it (container metadata)."""
    import json

    from click.testing import CliRunner

    from nst.cli import main
    from nst.jobs import provenance
    out = tmp_path / f"out{ext}"
    [r] = run_clips(plan([clip], [style], out), Config(size=32, iterations=2, device="cpu"),
                    SequenceConfig(warm_iterations=1))
    assert r.status == "done"
    rec = provenance.read(out)
    assert rec["settings"]["content"] == str(clip.resolve()) and rec["settings"]["iterations"] == 2
    assert rec["sequence"]["warm_iterations"] == 1 and rec["sequence"]["frames"] == r.frames
    res = CliRunner().invoke(main, ["info", str(out)])
    assert res.exit_code == 0 and json.loads(res.stdout) == json.loads(provenance.dumps(rec))



def test_plan_refuses_to_overwrite_any_input_of_the_run(tmp_path, clip, style):
    """A clip's outputs get the image run's check (nst.jobs.joblist.check_outputs): not only its own
    content and style but a region's mask, another clip of the run, or the same file by another
    name (a hard link) are refused, where a clip run used to write over them."""
    mask = tmp_path / "mask.mp4"
    shutil.copy(clip, mask)
    with pytest.raises(InputError, match="is an input; refusing to overwrite it"):
        plan([clip], [style], mask, regions=[parse_region(f"{mask}=none")])
    out = tmp_path / "out"
    out.mkdir()
    other = out / f"{clip.stem}_{style.stem}.mp4"  # what the first clip's output is named
    shutil.copy(clip, other)
    with pytest.raises(InputError, match="is an input; refusing to overwrite it"):
        plan([clip, other], [style], out)
    link = tmp_path / "link.mp4"
    os.link(clip, link)
    with pytest.raises(InputError, match="is an input; refusing to overwrite it"):
        plan([clip], [style], link)
    start = tmp_path / "start.mp4"  # a path the command line protects (its --init image)
    with pytest.raises(InputError, match="is an input; refusing to overwrite it"):
        plan([clip], [style], start, protect=[start])
    assert plan([clip], [style], start)[0].output == start



def test_a_video_without_settings_is_one_line(tmp_path, clip):
    from nst.jobs import provenance
    with pytest.raises(InputError, match="no nst settings stored in this file"):
        provenance.read(clip)
