"""A shard of a clip's frames warm-started by the frames before it (--shard-overlap): the warm-up
frames are stylised but neither written nor reported, and an output already made before the
shard is its warm start instead."""

import json

import pytest
from click.testing import CliRunner
from conftest import make_style
from synthetic import pan_frames

from nst import Config
from nst.cli import main
from nst.core.stylizer import Stylizer
from nst.errors import InputError
from nst.jobs.clips import OVERLAP, plan, run_clips
from nst.jobs.sequence import SequenceConfig
from nst.pixels.images import load_image

CFG = Config(size=32, iterations=2, device="cpu")
SEQ = SequenceConfig(warm_iterations=1)
FAST = ["--size", "32", "--iterations", "2", "--warm-iterations", "1", "--device", "cpu"]
N = 6


@pytest.fixture
def frames(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for t, img in enumerate(pan_frames(N, (40, 30))):
        img.save(folder / f"f{t}.png")
    return folder


@pytest.fixture
def style(tmp_path):
    p = tmp_path / "style.png"
    make_style().save(p)
    return p


@pytest.fixture
def starts(monkeypatch):
    """How each Stylizer.run started, in order: "cold" (its own init, no temporal term) or "warm"."""
    calls = []
    run = Stylizer.run

    def spy(self, *args, init=None, temporal=None, **kw):
        calls.append("cold" if init is None and temporal is None else "warm")
        return run(self, *args, init=init, temporal=temporal, **kw)

    monkeypatch.setattr(Stylizer, "run", spy)
    return calls


def run(frames, style, out, seq=SEQ, **kw):
    """The clip's run (one shard of it, by ``kw``): its result, the frames whose evaluations were
    heard (one entry an evaluation) and the frames reported."""
    (job,) = plan([frames], [style], out, sequence=True)
    evaluations, reported = [], []
    (result,) = run_clips([job], CFG, seq, on_iterate=lambda job, t, it: evaluations.append(t),
                          on_frame=lambda job, f: reported.append(f), **kw)
    return result, evaluations, reported


def written(out):
    return sorted(p.name for p in out.iterdir())


def pixels(out, names):
    return [load_image(out / n).tobytes() for n in names]


def test_a_shard_warms_up_on_the_frames_before_it_and_writes_only_its_own(tmp_path, frames, style, starts):
    out = tmp_path / "out"
    result, evaluations, reported = run(frames, style, out, shard=(1, 2), overlap=2)
    assert written(out) == ["f3.png", "f4.png", "f5.png"]  # frames 1 and 2: stylised, not written
    assert sorted(set(evaluations)) == [1, 2, 3, 4, 5]
    assert evaluations.count(1) == CFG.iterations  # the warm-up starts cold ...
    assert starts == ["cold", "warm", "warm", "warm", "warm"]  # ... and the shard's first frame warm
    assert [f.index for f in reported] == [3, 4, 5] and {f.status for f in reported} == {"done"}
    assert reported[0].evaluations == SEQ.warm_iterations and reported[0].J_temporal > 0
    assert (result.status, result.done, result.reused, result.missing) == ("partial", 3, 0, 3)
    assert not list(out.glob("*.partial.*")) and not list(out.glob(".*"))  # no checkpoints of warm-up frames


def test_overlap_0_starts_the_shard_cold_as_before(tmp_path, frames, style, starts):
    out = tmp_path / "out"
    _, evaluations, reported = run(frames, style, out, shard=(1, 2), overlap=0)
    assert written(out) == ["f3.png", "f4.png", "f5.png"]
    assert sorted(set(evaluations)) == [3, 4, 5] and evaluations.count(3) == CFG.iterations
    assert starts == ["cold", "warm", "warm"] and reported[0].J_temporal == 0
    run(frames, style, tmp_path / "default", shard=(1, 2))  # the library's default: 0
    assert pixels(tmp_path / "default", written(out)) == pixels(out, written(out))


def test_an_overlap_past_the_clips_start_begins_at_frame_0(tmp_path, frames, style, starts):
    whole = tmp_path / "whole"
    run(frames, style, whole)
    starts.clear()
    out = tmp_path / "out"
    _, evaluations, reported = run(frames, style, out, shard=(1, 3), overlap=5)
    assert sorted(set(evaluations)) == [0, 1, 2, 3] and starts == ["cold", "warm", "warm", "warm"]
    assert written(out) == ["f2.png", "f3.png"] and [f.index for f in reported] == [2, 3]
    # warmed up from frame 0, the shard makes what the unsharded run made (same device, same seed)
    assert pixels(out, ["f2.png", "f3.png"]) == pixels(whole, ["f2.png", "f3.png"])
    _, evaluations, _ = run(frames, style, tmp_path / "first", shard=(0, 3), overlap=5)
    assert sorted(set(evaluations)) == [0, 1]  # the first shard: nothing before it


def test_the_frame_before_a_shard_made_is_its_warm_start_without_warm_up(tmp_path, frames, style, starts):
    whole = tmp_path / "whole"
    run(frames, style, whole)
    out = tmp_path / "out"
    run(frames, style, out, shard=(0, 2), overlap=2)
    starts.clear()
    result, evaluations, _ = run(frames, style, out, shard=(1, 2), overlap=2)
    assert sorted(set(evaluations)) == [3, 4, 5] and starts == ["warm"] * 3
    assert (result.status, result.done, result.reused) == ("done", 3, 0)
    assert pixels(out, written(whole)) == pixels(whole, written(whole))


def test_the_warm_up_starts_after_the_last_frame_made_before_the_shard(tmp_path, frames, style, starts):
    out = tmp_path / "out"
    run(frames, style, out)
    whole = pixels(out, written(out))
    for t in range(2, N):
        (out / f"f{t}.png").unlink()
    starts.clear()
    result, evaluations, reported = run(frames, style, out, shard=(1, 2), overlap=3)
    # frames 0 to 2 lead in: 1 is made (the warm start), 2 is warmed up, 0 is not needed
    assert sorted(set(evaluations)) == [2, 3, 4, 5] and starts == ["warm"] * 4
    assert written(out) == ["f0.png", "f1.png", "f3.png", "f4.png", "f5.png"]  # frame 2: not written
    assert [f.index for f in reported] == [3, 4, 5] and (result.done, result.reused) == (3, 0)
    assert pixels(out, ["f3.png", "f4.png", "f5.png"]) == whole[3:]


def test_no_warm_up_before_a_shard_whose_first_frame_is_made(tmp_path, frames, style, starts):
    out = tmp_path / "out"
    run(frames, style, out, shard=(1, 2), overlap=2)
    (out / "f5.png").unlink()
    starts.clear()
    _, evaluations, reported = run(frames, style, out, shard=(1, 2), overlap=2)
    assert sorted(set(evaluations)) == [5] and starts == ["warm"]
    assert [(f.index, f.status) for f in reported] == [(3, "reused"), (4, "reused"), (5, "done")]
    _, evaluations, reported = run(frames, style, out, shard=(1, 2), overlap=2)
    assert evaluations == [] and [f.status for f in reported] == ["reused"] * 3


def test_independent_frames_need_no_warm_up(tmp_path, frames, style, starts):
    _, evaluations, _ = run(frames, style, tmp_path / "out", SequenceConfig(temporal_weight=0),
                            shard=(1, 2), overlap=2)
    assert sorted(set(evaluations)) == [3, 4, 5] and starts == ["cold"] * 3


def test_stopped_in_the_warm_up_nothing_is_written(tmp_path, frames, style):
    out = tmp_path / "out"
    (job,) = plan([frames], [style], out, sequence=True)
    seen = []
    (result,) = run_clips([job], CFG, SEQ, shard=(1, 2), overlap=2, on_iterate=lambda job, t, it: seen.append(t),
                          should_stop=lambda: len(seen) >= 1)
    assert (result.status, result.frame, result.partial, result.done) == ("interrupted", 3, None, 0)
    assert written(out) == []
    with pytest.raises(InputError, match="overlap"):
        list(run_clips([job], CFG, SEQ, shard=(1, 2), overlap=-1))


def test_the_command_line_option(tmp_path, frames, style):
    out = tmp_path / "out"
    r = CliRunner().invoke(main, [str(frames), str(style), "-o", str(out), "--sequence", "--shard", "2/3",
                                  "--shard-overlap", "1", "--json", *FAST])
    assert r.exit_code == 0, r.output
    rec = json.loads(r.stdout)
    assert (rec["status"], rec["done"], rec["reused"], rec["missing"]) == ("partial", 2, 0, 4)
    assert written(out) == ["f4.png", "f5.png"]
    photo = tmp_path / "photo.png"
    pan_frames(1, (40, 30))[0].save(photo)
    r = CliRunner().invoke(main, [str(photo), str(style), "-o", str(tmp_path / "o.png"), "--shard-overlap", "1",
                                  *FAST])
    assert r.exit_code == 2 and "--shard-overlap" in r.stderr
    r = CliRunner().invoke(main, ["--help"])
    assert "--shard-overlap" in r.output and f"[default: {OVERLAP};" in " ".join(r.output.split())
