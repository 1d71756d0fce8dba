"""Ctrl-C and SIGTERM keep the work, re-running finishes it: real ``nst`` processes sent real
signals mid-run (signals need a real process), then the same command again; and the command
line's handling of partial results (corrupt, other settings, --restart, --skip-existing)."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from conftest import make_content, make_style

from nst.cli import main
from nst.cli.interrupt import SignalStop, StopNow
from nst.core import stylizer as transfer
from nst.core.config import Config
from nst.jobs import checkpoint
from nst.jobs.batch import Job, run_batch

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--size", "32", "--device", "cpu"]

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")


def start(args, cwd):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "nst", *map(str, args)], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 300) -> None:
    """Until ``path`` exists: the run has reached that point (no guessing with sleeps)."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            pytest.fail(f"nst ended (rc {proc.returncode}) before {path.name} appeared: {proc.stderr.read()}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"{path.name} did not appear in {timeout} s")
        time.sleep(0.02)


def finish(proc: subprocess.Popen) -> tuple[str, str]:
    try:
        return proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise


def kept_evaluations(output: Path) -> int:
    return torch.load(checkpoint.state_path(output), weights_only=True)["i"]


def partial_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*.partial.*"))


@pytest.fixture
def inputs(tmp_path):
    make_content().save(tmp_path / "c.png")
    make_style().save(tmp_path / "s.png")
    return tmp_path


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_keeps_the_work_of_one_image_and_a_rerun_finishes_it(inputs, sig, code):
    total = 24
    run = ["c.png", "s.png", "-o", "out.jpg", *FAST, "--iterations", total]
    proc = start([*run, "--save-every", "1"], inputs)
    # mid-run, past L-BFGS's first iteration (evaluations 1-4 here, its line search growing the
    # step), so that the state kept is after it: stopped within it, it rightly keeps 0
    wait_for(inputs / "out_0006.jpg", proc)
    proc.send_signal(sig)
    _, err = finish(proc)
    assert proc.returncode == code, err
    assert "Traceback" not in err
    [line] = [x for x in err.splitlines() if "stopped" in x]
    name = signal.Signals(sig).name
    m = re.fullmatch(rf"nst: stopped by {name} at evaluation (\d+) of {total}: the best image so far of out\.jpg "
                     r"is in out\.partial\.jpg \(J \S+\); run the same command again to finish", line)
    assert m, line
    assert err.strip().splitlines()[-1] == line
    assert not (inputs / "out.jpg").exists(), "no incomplete image under the final name"
    assert partial_files(inputs) == ["out.partial.jpg", "out.partial.pt"]
    kept = kept_evaluations(inputs / "out.jpg")
    assert 6 <= int(m.group(1)) < total and 4 <= kept and int(m.group(1)) - 3 <= kept <= int(m.group(1))

    proc = start([*run, "--log", "run.json"], inputs)  # the same command again (without the extras)
    _, err = finish(proc)
    assert proc.returncode == 0, err
    assert f"nst: resuming out.jpg at evaluation {kept} of {total} from out.partial.pt" in err
    done = [e["i"] for e in json.loads((inputs / "run.json").read_text())["evaluations"]]
    assert done == list(range(kept + 1, total + 1)), "only the remaining evaluations"
    assert (inputs / "out.jpg").is_file() and partial_files(inputs) == []


def stop_at(inputs, run, after: int, sig=signal.SIGTERM) -> tuple[int, str]:
    """Run ``run`` with --save-every 1 until evaluation ``after`` is written, send ``sig``: the
    evaluation it stopped at, and its stderr."""
    proc = start([*run, "--save-every", "1"], inputs)
    wait_for(inputs / f"out_{after:04d}.jpg", proc)
    proc.send_signal(sig)
    _, err = finish(proc)
    assert proc.returncode == 128 + sig, err
    m = re.search(r"nst: stopped by \S+ at evaluation (\d+) of", err)
    assert m and err.strip().splitlines()[-1].startswith("nst: stopped by"), err
    return int(m.group(1)), err


def test_a_stopped_run_writes_its_log_marked_stopped_and_the_resumed_runs_continue_it(inputs):
    """#30.5: the --log of a run that SIGTERM stopped is written, and a resumed run's log continues it."""
    total = 24
    run = ["c.png", "s.png", "-o", "out.jpg", *FAST, "--iterations", total, "--log", "run.json"]
    at, err = stop_at(inputs, run, 6)  # past L-BFGS's first iteration (see above): a state after it kept
    log = json.loads((inputs / "run.json").read_text())
    kept = kept_evaluations(inputs / "out.jpg")
    assert kept >= 4, f"a state after the first L-BFGS iteration is kept (stopped at {at})"
    assert log["stopped"] == "SIGTERM" and "resumed_at" not in log
    assert [e["i"] for e in log["evaluations"]] == list(range(1, at + 1))
    assert log["partial"] == {"evaluations": kept, "total": total}, "where a re-run resumes"
    assert log["settings"]["iterations"] == total and log["settings"]["content"] == str(inputs / "c.png")
    assert f"wrote run.json: the costs of {at} evaluations, up to the stop by SIGTERM" in err
    first = log["evaluations"]

    # resumed, and stopped again: the log goes on from the evaluation it resumed at
    at2, err = stop_at(inputs, run, at + 3)
    log = json.loads((inputs / "run.json").read_text())
    kept2 = kept_evaluations(inputs / "out.jpg")
    assert log["stopped"] == "SIGTERM" and log["resumed_at"] == [kept]
    assert [e["i"] for e in log["evaluations"]] == list(range(1, at2 + 1))
    assert log["evaluations"][:kept] == first[:kept], "the evaluations before the stop, as they were"
    assert (f"wrote run.json: the costs of {at2} evaluations, continuing the stopped run's from evaluation {kept}, "
            "up to the stop by SIGTERM") in err
    second = log["evaluations"]

    # the same command again finishes it: one log of the whole run, 1 to 24, no longer stopped
    proc = start(run, inputs)
    _, err = finish(proc)
    assert proc.returncode == 0, err
    log = json.loads((inputs / "run.json").read_text())
    assert "stopped" not in log and "partial" not in log and log["resumed_at"] == [kept, kept2]
    assert [e["i"] for e in log["evaluations"]] == list(range(1, total + 1))
    assert log["evaluations"][:kept2] == second[:kept2]
    seconds = [e["seconds"] for e in log["evaluations"]]
    assert seconds == sorted(seconds), "the time counts on over the three runs"
    assert f"wrote run.json: the costs of {total} evaluations, continuing the stopped run's from evaluation {kept2}" \
        in err
    assert log["settings"] == json.loads(subprocess.run(
        [sys.executable, "-m", "nst", "info", "out.jpg"], cwd=inputs, capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout)["settings"]


def test_sigterm_stops_a_batch_keeps_its_work_and_skip_existing_finishes_it(tmp_path):
    photos, out = tmp_path / "photos", tmp_path / "out"
    photos.mkdir()
    for name in "abc":
        make_content().save(photos / f"{name}.png")
    make_style().save(tmp_path / "s.png")
    total = 24
    run = [photos, tmp_path / "s.png", "-o", out, *FAST, "--iterations", total, "--json", "--save-every", "1"]
    proc = start(run, tmp_path)
    # a is done, b is running past its first L-BFGS step (evaluations 1-4 here, its line search
    # growing the step), so that the state kept is after it: stopped within it, it rightly keeps 0
    wait_for(out / "b_s_0006.jpg", proc)
    proc.send_signal(signal.SIGTERM)
    stdout, err = finish(proc)
    assert proc.returncode == 143, err
    rows = [json.loads(line) for line in stdout.splitlines()]
    assert [(Path(r["output"]).name, r["status"]) for r in rows] == [("a_s.jpg", "done"), ("b_s.jpg", "interrupted")]
    b = rows[1]
    assert b["partial"] == str(out / "b_s.partial.jpg") and b["total"] == total
    kept = b["evaluations"]
    assert kept == kept_evaluations(out / "b_s.jpg") and 0 < kept < total
    last = err.strip().splitlines()[-1]
    assert re.fullmatch(r"nst: 1 done, 0 skipped, 0 failed, 1 interrupted, 1 not run in \S+ s; stopped by SIGTERM: "
                        rf"the best image so far of {re.escape(str(out / 'b_s.jpg'))} is in "
                        rf"{re.escape(str(out / 'b_s.partial.jpg'))} \(J \S+\); the outputs written are complete: "
                        r"run the same command with --skip-existing to finish", last), last
    assert not (out / "b_s.jpg").exists() and not (out / "c_s.jpg").exists()
    assert partial_files(out) == ["b_s.partial.jpg", "b_s.partial.pt"]

    for p in out.glob("*_s_*.jpg"):  # the intermediates: the re-run's are then its evaluations
        p.unlink()
    proc = start([*run, "--skip-existing"], tmp_path)
    stdout, err = finish(proc)
    assert proc.returncode == 0, err
    rows = {Path(r["output"]).name: r for r in map(json.loads, stdout.splitlines())}
    assert {k: r["status"] for k, r in rows.items()} == {"a_s.jpg": "skipped", "b_s.jpg": "done", "c_s.jpg": "done"}
    assert rows["b_s.jpg"]["resumed_from"] == kept and rows["c_s.jpg"]["resumed_from"] is None
    redone = sorted(int(p.stem.rsplit("_", 1)[1]) for p in out.glob("b_s_*.jpg"))
    assert redone == list(range(kept + 1, total + 1)), "the partial job did only its remaining evaluations"
    assert partial_files(out) == [] and (out / "b_s.jpg").is_file() and (out / "c_s.jpg").is_file()


def test_first_signal_sets_a_flag_second_stops_at_once():
    previous = signal.getsignal(signal.SIGINT)
    with SignalStop() as stop:
        assert not stop()
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop() and stop.name == "SIGTERM" and stop.exit_code == 143
        with pytest.raises(StopNow) as e:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)  # the handler raises before this ends
        assert e.value.signum == signal.SIGINT
    assert signal.getsignal(signal.SIGINT) is previous


# --- the command line and partial results (in process) ----------------------------------------


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def evaluations_logged(log: Path) -> list[int]:
    return [e["i"] for e in json.loads(log.read_text())["evaluations"]]


def keep_partial(inputs, cfg, stop_after):
    """An interrupted run of c.png in s.png to out.png, by the library."""
    its = []
    [r] = run_batch([Job(inputs / "c.png", ((inputs / "s.png", 1.0),), inputs / "out.png")], cfg,
                    on_iterate=lambda job, it: its.append(it), should_stop=lambda: len(its) >= stop_after)
    assert r.status == "interrupted"
    return r.evaluations


def test_corrupt_partial_state_starts_over_in_one_line(inputs):
    checkpoint.state_path(inputs / "out.png").write_bytes(b"not a checkpoint")
    r = invoke(inputs / "c.png", inputs / "s.png", "-o", inputs / "out.png", *FAST, "--iterations", 4,
               "--log", inputs / "run.json")
    assert r.exit_code == 0, r.output
    [line] = [x for x in r.stderr.splitlines() if "starting over" in x]
    assert line.startswith(f"nst: {checkpoint.state_path(inputs / 'out.png')}: unreadable (")
    assert line.endswith("; starting over")
    assert evaluations_logged(inputs / "run.json") == [1, 2, 3, 4]
    assert partial_files(inputs) == []


def test_partial_state_of_other_settings_starts_over_in_one_line(inputs):
    keep_partial(inputs, Config(size=32, iterations=6, device="cpu"), 3)
    r = invoke(inputs / "c.png", inputs / "s.png", "-o", inputs / "out.png", *FAST, "--iterations", 6,
               "--style-weight", 30, "--log", inputs / "run.json")
    assert r.exit_code == 0, r.output
    [line] = [x for x in r.stderr.splitlines() if "starting over" in x]
    assert line.endswith("made with other settings (style_weight 10, now 30); starting over")
    assert evaluations_logged(inputs / "run.json") == list(range(1, 7))


def test_skip_existing_resumes_a_partial_result_and_restart_ignores_it(inputs):
    cfg = Config(size=32, iterations=6, device="cpu")
    kept = keep_partial(inputs, cfg, 3)
    run = [inputs / "c.png", inputs / "s.png", "-o", inputs / "out.png", *FAST, "--iterations", 6,
           "--log", inputs / "run.json"]
    r = invoke(*run, "--skip-existing")
    assert r.exit_code == 0, r.output
    assert "skipped" not in r.stderr and f"resuming {inputs / 'out.png'} at evaluation {kept} of 6" in r.stderr
    assert evaluations_logged(inputs / "run.json") == list(range(kept + 1, 7))
    (inputs / "out.png").unlink()
    keep_partial(inputs, cfg, 3)
    r = invoke(*run, "--restart")
    assert r.exit_code == 0 and "resuming" not in r.stderr
    assert evaluations_logged(inputs / "run.json") == list(range(1, 7))
    assert partial_files(inputs) == []


def test_second_signal_in_one_image_says_what_the_last_checkpoint_kept(inputs, monkeypatch):
    real = transfer.Stylizer.run

    def run_then_stop_now(self, *args, on_state=None, **kwargs):
        def kill_after_a_checkpoint(state):
            on_state(state)
            raise StopNow(signal.SIGTERM)
        return real(self, *args, on_state=kill_after_a_checkpoint, **{**kwargs, "state_every": 0.0})

    monkeypatch.setattr(transfer.Stylizer, "run", run_then_stop_now)
    out = inputs / "out.png"
    r = invoke(inputs / "c.png", inputs / "s.png", "-o", out, *FAST, "--iterations", 6)
    assert r.exit_code == 143
    assert r.stderr.strip().splitlines()[-1] == (f"nst: stopped at once by a second SIGTERM; the last checkpoint of "
                                                 f"{out} is in {checkpoint.preview_path(out)}")
    assert not out.exists() and partial_files(inputs) == ["out.partial.png", "out.partial.pt"]


def test_second_signal_still_writes_the_log_marked_stopped(inputs, monkeypatch):
    real = transfer.Stylizer.run

    def stop_now_at_the_third(self, *args, on_state=None, state_every=None, **kwargs):
        def keep_then_stop(state):
            on_state(state)
            if state.i >= 3:
                raise StopNow(signal.SIGTERM)
        return real(self, *args, on_state=keep_then_stop, state_every=0.0, **kwargs)

    monkeypatch.setattr(transfer.Stylizer, "run", stop_now_at_the_third)
    out, log = inputs / "out.png", inputs / "run.json"
    r = invoke(inputs / "c.png", inputs / "s.png", "-o", out, *FAST, "--iterations", 6, "--log", log)
    assert r.exit_code == 143
    assert r.stderr.strip().splitlines()[-1].startswith("nst: stopped at once by a second SIGTERM")
    rec = json.loads(log.read_text())
    assert rec["stopped"] == "SIGTERM" and rec["partial"]["evaluations"] >= 3
    assert [e["i"] for e in rec["evaluations"]] == list(range(1, len(rec["evaluations"]) + 1))
