"""The command line's video path: video in -> video out, frame folders with --sequence, bad videos,
options that belong to images or to videos, and an interrupted clip resumed by running it again."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import make_style
from synthetic import audio_packets, pan_frames, write_clip

from nst.cli import main
from nst.pixels import video

FAST = ["--size", "32", "--iterations", "2", "--warm-iterations", "1", "--device", "cpu"]


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def clip(tmp_path):
    return write_clip(tmp_path / "clip.mp4", pan_frames(3, (40, 30)), Fraction(30000, 1001))


@pytest.fixture
def style(tmp_path):
    p = tmp_path / "style.png"
    make_style().save(p)
    return p


def test_video_in_video_out(tmp_path, clip, style):
    r = invoke(clip, style, "-o", tmp_path / "out.mp4", "--json", *FAST)
    assert r.exit_code == 0, r.output
    (rec,) = [json.loads(line) for line in r.stdout.splitlines()]
    assert (rec["status"], rec["frames"], rec["done"], rec["reused"]) == ("done", 3, 3, 0)
    assert rec["seconds"] > 0 and rec["J"] > 0
    info = video.probe(tmp_path / "out.mp4")
    assert (info.frames, info.rate, info.size, info.audio) == (3, Fraction(30000, 1001), (32, 24), True)
    assert audio_packets(tmp_path / "out.mp4") == audio_packets(clip)
    assert f"wrote {tmp_path / 'out.mp4'}: 3 frames" in r.stderr
    # run again: every frame is reused, the video is encoded again (here with other encoder settings)
    r = invoke(clip, style, "-o", tmp_path / "out.mp4", "--json", "--crf", "30", "--encoder-option",
               "preset=ultrafast", *FAST)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["reused"] == 3 and video.probe(tmp_path / "out.mp4").frames == 3


def test_sequence_of_frames(tmp_path, style):
    frames = tmp_path / "frames"
    frames.mkdir()
    for t, img in enumerate(pan_frames(3, (40, 30)), start=1):
        img.save(frames / f"f{t * 9}.png")   # f9, f18, f27: natural order
    r = invoke(frames, style, "-o", tmp_path / "out", "--sequence", "--ext", ".jpg", *FAST)
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["f18.jpg", "f27.jpg", "f9.jpg"]
    r = invoke(frames, style, "-o", tmp_path / "out2", *FAST)
    assert r.exit_code == 2 and "--sequence" in r.stderr


def test_a_corrupt_video_is_one_line_with_exit_2(tmp_path, style):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x1a\x45\xdf\xa3 this is no video" * 10)
    r = invoke(bad, style, "-o", tmp_path / "out.mp4", *FAST)
    assert r.exit_code == 2
    assert r.stderr.strip().count("\n") == 0 and "bad.mp4" in r.stderr
    assert not (tmp_path / "out.mp4").exists()


def test_several_clips_a_bad_one_fails_alone(tmp_path, clip, style):
    bad = tmp_path / "bad.mov"
    bad.write_bytes(b"nothing")
    r = invoke(bad, clip, style, "-o", tmp_path / "styled", "--json", *FAST)
    assert r.exit_code == 1
    recs = [json.loads(line) for line in r.stdout.splitlines()]
    assert [x["status"] for x in recs] == ["failed", "done"]
    assert (tmp_path / "styled" / "clip_style.mp4").exists()
    assert "clips: 1 done, 0 partial, 0 skipped, 1 failed" in r.stderr


def test_options_of_images_and_of_videos(tmp_path, clip, style):
    r = invoke(clip, style, "-o", tmp_path / "out.mp4", "--gif", tmp_path / "a.gif", *FAST)
    assert r.exit_code == 2 and "--gif" in r.stderr
    img = tmp_path / "photo.png"
    pan_frames(1, (40, 30))[0].save(img)
    r = invoke(img, style, "-o", tmp_path / "out.png", "--temporal-weight", "5", *FAST)
    assert r.exit_code == 2 and "--temporal-weight" in r.stderr
    r = invoke(img, clip, style, "-o", tmp_path / "mixed", *FAST)
    assert r.exit_code == 2 and "separate runs" in r.stderr
    r = invoke(clip, style, "-o", tmp_path / "out.jpg", *FAST)
    assert r.exit_code == 2 and "video" in r.stderr
    r = invoke(clip, style, "-o", tmp_path / "out.mp4", "--encoder-option", "preset", *FAST)
    assert r.exit_code == 2 and "KEY=VALUE" in r.stderr
    r = invoke(clip, style, "-o", tmp_path / "out.mp4", "--codec", "nope", *FAST)
    assert r.exit_code == 2 and "nope" in r.stderr and not (tmp_path / "out.mp4.frames").exists()


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_a_clip_in_a_frame_and_a_rerun_resumes_it(tmp_path, style, sig, code):
    n, warm = 4, 40  # frame 2's evaluations: enough that a loaded machine's poll below sees it going
    clip = write_clip(tmp_path / "clip.mp4", pan_frames(n, (40, 30)), Fraction(25), audio=False)
    out = tmp_path / "out.mp4"
    cmd = [sys.executable, "-m", "nst", str(clip), str(style), "-o", str(out), "--json",
           "--size", "32", "--iterations", "3", "--warm-iterations", str(warm), "--device", "cpu"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    # checkpoints at every evaluation: frame 2's partial state shows that frame 2 is in progress
    proc = subprocess.Popen([*cmd, "-q", "--checkpoint-every", "0.001"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, text=True)
    frames = Path(str(out) + ".frames")
    deadline = time.monotonic() + 300
    while not (frames / "000002.partial.pt").exists():  # no timed sleeps
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"frame 2 was not started: {proc.communicate()[1]}")
        time.sleep(0.02)
    proc.send_signal(sig)
    stdout, err = proc.communicate(timeout=300)
    assert proc.returncode == code, err
    # one line, even with -q: where it stopped, what is complete, where the frame in progress is kept
    (line,) = err.strip().splitlines()
    m = re.fullmatch(rf"nst: stopped by {sig.name} at frame (\d+) of {n} \(evaluation (\d+) of {warm}\): "
                     rf"(\d+) frames of .*out.mp4 are complete in .*out.mp4.frames, frame \1's best so far is in "
                     rf".*(\d{{6}}).partial.png; run the same command again to go on", line)
    assert m, line
    t = int(m[1])
    assert t == 2 and int(m[2]) >= 0 and int(m[3]) == t and int(m[4]) == t
    names = sorted(p.name for p in frames.iterdir())
    assert names == [f"{i:06d}.png" for i in range(t)] + [f"{t:06d}.partial.png", f"{t:06d}.partial.pt"]
    assert not out.exists()  # no video, and no frame under its final name, until complete
    rec = json.loads(stdout)
    assert (rec["status"], rec["frame"], rec["evaluations"], rec["total"]) == ("interrupted", t, int(m[2]), warm)
    assert rec["partial"] == str(frames / f"{t:06d}.partial.png")
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert f"resuming frame {t} at evaluation {m[2]} of {warm}" in r.stderr
    rec = json.loads(r.stdout)
    assert (rec["status"], rec["reused"], rec["done"]) == ("done", t, n - t)
    assert not list(frames.glob("*.partial.*")) and video.probe(out).frames == n


def test_a_second_signal_stops_a_clip_at_once_in_one_line(tmp_path, clip, style, monkeypatch):
    from nst.cli import clips as cli_clips
    from nst.cli.interrupt import StopNow

    def run_clips(jobs, *args, on_start, **kw):  # the second SIGTERM arrives in frame 0
        on_start(jobs[0], 3)
        raise StopNow(signal.SIGTERM)
        yield

    monkeypatch.setattr(cli_clips, "run_clips", run_clips)
    r = invoke(clip, style, "-o", tmp_path / "out.mp4", "-q", *FAST)
    assert r.exit_code == 143
    assert r.stderr.strip() == (f"nst: stopped at once by a second SIGTERM; the frames written in "
                                f"{tmp_path / 'out.mp4.frames'} are complete; run the same command again to go on")


def test_images_work_without_pyav_and_opencv(tmp_path, clip, style):
    img = tmp_path / "photo.png"
    pan_frames(1, (40, 30))[0].save(img)
    code = ("import sys; sys.modules['av'] = None; sys.modules['cv2'] = None\n"
            "from nst.cli.command import main\n"
            "main(sys.argv[1:])")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    run = lambda *a: subprocess.run([sys.executable, "-c", code, *map(str, a)], capture_output=True,  # noqa: E731
                                    text=True, env=env, timeout=300)
    r = run(img, style, "-o", tmp_path / "out.png", "--size", "32", "--iterations", "2", "--device", "cpu", "-q")
    assert r.returncode == 0, r.stderr
    r = run(clip, style, "-o", tmp_path / "out.mp4", *FAST)
    assert r.returncode == 1 and "pip install av" in r.stderr and r.stderr.strip().count("\n") == 0


@pytest.mark.parametrize("slash", ["", "/"])
def test_a_sequence_run_again_reuses_its_frames_in_the_same_folder(tmp_path, style, slash):
    """#17.1: OUT existing (from the first run) is still the folder of this clip's frames."""
    frames = tmp_path / "frames"
    frames.mkdir()
    for t, img in enumerate(pan_frames(3, (40, 30))):
        img.save(frames / f"f{t}.png")
    out = f"{tmp_path / 'seq_out'}{slash}"
    r = invoke(frames, style, "-o", out, "--sequence", "--json", *FAST)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["done"] == 3
    first = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "seq_out").iterdir()}
    assert sorted(first) == ["f0.png", "f1.png", "f2.png"]
    r = invoke(frames, style, "-o", out, "--sequence", "--json", *FAST)
    assert r.exit_code == 0, r.output
    rec = json.loads(r.stdout)
    assert (rec["done"], rec["reused"], rec["output"]) == (0, 3, str(tmp_path / "seq_out"))
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "seq_out").iterdir()} == first, "nothing redone"


def test_an_interrupted_sequence_resumes_in_its_own_folder(tmp_path, style):
    """#17.1: the partial result of the frame in progress is found by the re-run, not orphaned."""
    from nst.core.config import Config
    from nst.jobs.clips import plan, run_clips
    from nst.jobs.sequence import SequenceConfig
    frames = tmp_path / "frames"
    frames.mkdir()
    for t, img in enumerate(pan_frames(3, (40, 30))):
        img.save(frames / f"f{t}.png")
    out = tmp_path / "seq_out"
    cfg, seq = Config(size=32, iterations=3, device="cpu"), SequenceConfig(warm_iterations=6)
    its = []
    stop = lambda: len(its) >= 3 + 6 + 4  # noqa: E731 - in frame 2
    [r] = run_clips(plan([frames], [style], out, sequence=True), cfg, seq, should_stop=stop,
                    on_iterate=lambda job, t, it: its.append(it))
    assert r.status == "interrupted" and r.frame == 2 and (out / "f2.partial.pt").exists()
    notes = []
    [r2] = run_clips(plan([frames], [style], out, sequence=True), cfg, seq,
                     on_note=lambda job, m: notes.append(m))
    assert (r2.status, r2.reused, r2.done) == ("done", 2, 1)
    assert notes and notes[0].startswith("resuming frame 2 at evaluation")
    assert sorted(p.name for p in out.iterdir()) == ["f0.png", "f1.png", "f2.png"]


def _frames(folder, sizes):
    folder.mkdir()
    for t, size in enumerate(sizes):
        pan_frames(1, size)[0].save(folder / f"f{t}.png")
    return folder


def test_a_sequence_run_again_with_other_settings_refuses_in_one_line_and_restart_redoes_it(tmp_path, style):
    """#30.4: finished frames are never replaced without a word."""
    frames = _frames(tmp_path / "frames", [(40, 30)] * 3)
    out = tmp_path / "seq_out"
    r = invoke(frames, style, "-o", out, "--sequence", *FAST)
    assert r.exit_code == 0, r.output
    made = {p.name: p.read_bytes() for p in out.iterdir()}
    r = invoke(frames, style, "-o", out, "--sequence", "--json", *FAST, "--style-weight", "30")
    assert r.exit_code == 2, r.output
    assert r.stderr.strip() == (f"Error: {out}: 3 frames made with other settings (f0.png: style_weight 10, now 30); "
                                "--restart makes them again with these settings")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == made, "nothing replaced"
    r = invoke(frames, style, "-o", out, "--sequence", *FAST, "--warm-iterations", "2")
    assert r.exit_code == 2 and "(f0.png: warm_iterations 1, now 2)" in r.stderr
    # --restart: made again, and said so in one line (even with -q)
    r = invoke(frames, style, "-o", out, "--sequence", "--json", "-q", *FAST, "--style-weight", "30", "--restart")
    assert r.exit_code == 0, r.output
    assert r.stderr.strip() == (f"nst: {out}: 3 frames made with other settings (f0.png: style_weight 10, now 30); "
                                "making them again")
    assert json.loads(r.stdout)["done"] == 3
    assert {p.name: p.read_bytes() for p in out.iterdir()} != made
    # the same command again: the frames are its own now, reused without a word
    r = invoke(frames, style, "-o", out, "--sequence", "--json", "-q", *FAST, "--style-weight", "30", "--restart")
    assert r.exit_code == 0 and r.stderr == "" and json.loads(r.stdout)["reused"] == 3
    # --skip-existing keeps whatever is there, as before
    r = invoke(frames, style, "-o", out, "--sequence", "--json", *FAST, "--skip-existing")
    assert r.exit_code == 0 and json.loads(r.stdout)["reused"] == 3


def test_a_video_run_again_with_other_settings_refuses_and_another_crf_still_only_encodes(tmp_path, clip, style):
    out = tmp_path / "out.mp4"
    r = invoke(clip, style, "-o", out, *FAST)
    assert r.exit_code == 0, r.output
    r = invoke(clip, style, "-o", out, "--json", *FAST, "--crf", "30")
    assert r.exit_code == 0 and json.loads(r.stdout)["reused"] == 3
    made = {p.name: p.read_bytes() for p in (tmp_path / "out.mp4.frames").iterdir()}
    r = invoke(clip, style, "-o", out, *FAST[:-4], "--iterations", "3", "--warm-iterations", "1", "--device", "cpu")
    assert r.exit_code == 2, r.output
    assert r.stderr.strip() == (f"Error: {tmp_path / 'out.mp4.frames'}: 3 frames made with other settings "
                                "(000000.png: iterations 2, now 3); --restart makes them again with these settings")
    assert {p.name: p.read_bytes() for p in (tmp_path / "out.mp4.frames").iterdir()} == made


def test_a_frame_of_another_size_is_refused_before_any_frame_is_made(tmp_path, style):
    frames = _frames(tmp_path / "frames", [(40, 30), (40, 30), (40, 30), (30, 40)])
    out = tmp_path / "seq_out"
    r = invoke(frames, style, "-o", out, "--sequence", *FAST)
    assert r.exit_code == 2, r.output
    assert r.stderr.strip() == (f"Error: {frames / 'f3.png'}: 30x40, but f0.png is 40x30; the frames of a sequence "
                                "must all have one size")
    assert not out.exists() or list(out.iterdir()) == [], "no frame stylised"
