"""What the command line says on stderr: plain lines for files and pipes, bars for terminals,
the best J throughout, every file written named, rounding noise shown as 0."""

import io
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import torch
from click.testing import CliRunner
from conftest import make_content, make_style

from nst.cli import command as cli
from nst.cli import console, images
from nst.cli.console import make_reporter
from nst.cli.phrases import cost, tally
from nst.core.config import Config
from nst.core.runs import Iterate

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--size", "40", "--iterations", "6", "--device", "cpu"]


def invoke(*args):
    return CliRunner().invoke(cli.main, [str(a) for a in args])


def assert_plain(text):
    assert "\x1b" not in text and "\r" not in text, repr(text)


def test_batch_to_a_file_is_plain_lines(tmp_path):
    """stderr sent to a file (cluster jobs, nohup): one line per job, no escape sequences, no \\r."""
    photos = tmp_path / "photos"
    photos.mkdir()
    make_content().save(photos / "a.png")
    make_content((40, 48)).save(photos / "b.png")
    (photos / "broken.jpg").write_text("not an image")
    make_style().save(tmp_path / "s.png")
    err = tmp_path / "err.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with open(err, "w") as f:
        r = subprocess.run([sys.executable, "-m", "nst", photos, tmp_path / "s.png", "-o", tmp_path / "out", *FAST,
                            "--save-every", "3"], stderr=f, stdout=subprocess.PIPE, env=env, text=True)
    text = err.read_text()
    assert r.returncode == 1, text
    assert_plain(text)
    lines = text.splitlines()
    assert re.fullmatch(r"nst: \[1/3\] wrote \S+a_s\.jpg: best J \S+ in \S+ s; ETA \S+ s; "
                        r"2 iterates: \S+a_s_0003\.jpg \.\.\. a_s_0006\.jpg", lines[0]), lines[0]
    assert lines[1].startswith("nst: [2/3] wrote ") and "b_s.jpg" in lines[1]
    assert lines[2].startswith("nst: [3/3] failed ") and "broken.jpg" in lines[2]
    assert re.fullmatch(r"nst: 2 done, 0 skipped, 1 failed in \S+ s", lines[3])
    assert len(lines) == 4
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == \
        ["a_s.jpg", "a_s_0003.jpg", "a_s_0006.jpg", "b_s.jpg", "b_s_0003.jpg", "b_s_0006.jpg"]


def test_long_run_gives_a_line_every_interval(tmp_path, content_path, style_path, monkeypatch):
    """Not a terminal: a progress line every PLAIN_INTERVAL seconds (0 here: every evaluation)
    with the evaluation, the best J and an ETA."""
    monkeypatch.setattr(console, "PLAIN_INTERVAL", 0.0)
    out = tmp_path / "o.png"
    r = invoke(content_path, style_path, "-o", out, "--size", "40", "--iterations", "4", "--device", "cpu", "--json",
               "--init", "content")
    assert r.exit_code == 0, r.output
    assert_plain(r.stderr)
    lines = r.stderr.splitlines()
    progress = [line for line in lines if " evaluations, best J " in line]
    assert [line.split()[1] for line in progress] == ["1/4", "2/4", "3/4"]  # the last: the final line
    assert all(re.search(r", ETA \S+ s$", line) for line in progress), progress
    # G starts as the content: J_content is rounding noise at the first evaluation, shown as 0
    assert "(content 0, style " in progress[0], progress[0]
    best = json.loads(r.stdout)["J"]
    assert re.fullmatch(rf"wrote {re.escape(str(out))}: J \S+ -> best {best:.4g} in 4 evaluations, \S+ s",
                        lines[-1]), lines[-1]


def iterate(i, J, scale=0, total=4, side=8):
    return Iterate(i, total, J, 0.5, J / 10, 0.0, {}, 0.1 * i, scale, torch.zeros(1, 3, side, side))


def test_scales_and_best_in_plain_lines(monkeypatch):
    """Coarse to fine: each scale is named when it starts; the best J is the lowest of the finest
    scale reached (each scale starts anew), as Stylizer.run returns it."""
    monkeypatch.setattr(console.time, "monotonic", iter(range(0, 1000, 100)).__next__)  # 100 s apart
    stream = io.StringIO()
    rep = make_reporter(Config(size=96, scales=2, iterations=4), stream=stream)
    rep.start(None)
    for i, J, scale in ((1, 50.0, 0), (2, 40.0, 0), (3, 60.0, 1), (4, 70.0, 1)):
        rep.iterate(iterate(i, J, scale, side=8 + 4 * scale), "o.png")
    assert rep.job.best.J == 60.0
    lines = stream.getvalue().splitlines()
    assert lines == ["nst: scale 1/2, 8x8",
                     "nst: 1/4 evaluations, best J 50 (content 0.5, style 5), 0.1 s, ETA 0.3 s",
                     "nst: 2/4 evaluations, best J 40 (content 0.5, style 4), 0.2 s, ETA 0.2 s",
                     "nst: scale 2/2, 12x12",
                     "nst: 3/4 evaluations, best J 60 (content 0.5, style 6), 0.3 s, ETA 0.1 s"]


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_terminal_bar_ends_at_n_with_the_best_J(tmp_path, content_path, style_path, monkeypatch):
    """On a terminal the bar reaches N/N and shows the best J, the J of the image written, which the
    final line and --json show too."""
    screen = FakeTerminal()
    monkeypatch.setattr(images, "make_reporter", lambda cfg, quiet: make_reporter(cfg, quiet, screen))
    r = invoke(content_path, style_path, "-o", tmp_path / "o.png", *FAST, "--json")
    assert r.exit_code == 0, r.output
    text = screen.getvalue()
    bar, final = text.rsplit("\r", 1)[1].split("\n")[:2]
    assert "6/6" in bar and "100%" in bar, text
    shown = re.search(r"best J=(\S+) \(content=\S+, style=\S+\)", bar).group(1)
    summary = re.fullmatch(r"wrote \S+o\.png: J \S+ -> best (\S+) in 6 evaluations, \S+ s", final)
    assert summary, final
    J = json.loads(r.stdout)["J"]
    assert shown == summary.group(1) == f"{J:.4g}"


def test_terminal_batch_bars_and_messages():
    """Two bars in a batch (jobs, evaluations); messages print above them and the bars clear."""
    screen = FakeTerminal()
    rep = make_reporter(Config(size=40, iterations=2), stream=screen)
    assert type(rep) is console.BarReporter
    rep.start(2)
    rep.warn("nst: something to say")
    rep.close()
    assert "0/2" in screen.getvalue() and "nst: something to say\n" in screen.getvalue()
    assert type(make_reporter(Config(), stream=FakeTerminal(), quiet=True)) is console.Reporter
    assert type(make_reporter(Config(), stream=io.StringIO())) is console.Reporter


def test_every_file_written_is_named(tmp_path, content_path, style_path):
    out, log, gif, sheet, plot = (tmp_path / n for n in ("o.png", "run.json", "run.gif", "sheet.jpg", "plot.png"))
    r = invoke(content_path, style_path, "-o", out, *FAST, "--save-every", "2",
               "--log", log, "--gif", gif, "--contact-sheet", sheet)
    assert r.exit_code == 0, r.output
    lines = r.stderr.splitlines()
    assert lines[0].startswith(f"wrote {out}: J ")
    assert lines[1:] == [f"wrote 3 iterates: {tmp_path / 'o_0002.png'} ... o_0006.png",
                         f"wrote {log}: the costs of 6 evaluations",
                         f"wrote {gif}: an animation of 5 frames",
                         f"wrote {sheet}: a contact sheet of 5 iterates"]
    r = invoke("plot", log, "-o", plot)
    assert r.exit_code == 0 and r.stderr == f"wrote {plot}\n"
    r = invoke("plot", log, "-o", plot, "-q")
    assert r.exit_code == 0 and r.stderr == "" and plot.is_file()
    r = invoke(content_path, style_path, "-o", out, *FAST, "--log", log, "-q")
    assert r.exit_code == 0 and r.stderr == ""


def test_cost_shows_rounding_noise_as_zero():
    assert cost(3.961e-13, 1.0, 812.3) == "0"     # alpha * J_content below float32's resolution of J
    assert cost(0.01234, 1.0, 812.3) == "0.01234"
    assert cost(3.961e-13, 0.0, 812.3) == "3.961e-13"  # not part of J: shown as it is
    assert cost(2.5e-6, 1e6, 812.3) == "2.5e-06"  # small, but its weighted term is not


def test_python_dash_m_beside_a_clone_named_nst(tmp_path):
    """`python -m nst` run where a folder nst/ (a clone) sits: Python imports that folder as a
    namespace package; with an editable install the real nst/__main__.py is still found. It
    must say what happened in one line, not fail with an ImportError about __version__."""
    (tmp_path / "nst").mkdir()
    # what setuptools' editable install does: a finder after the path finder maps nst.* to the source
    code = textwrap.dedent(f"""
        import importlib.machinery, importlib.util, runpy, sys
        SRC = {str(ROOT / "nst")!r}
        class Editable:
            @staticmethod
            def find_spec(name, path=None, target=None):
                if name.startswith("nst."):
                    return importlib.util.spec_from_file_location(name, SRC + "/" + name[4:] + ".py")
                return None
        sys.meta_path.insert(sys.meta_path.index(importlib.machinery.PathFinder) + 1, Editable)
        sys.argv = ["nst", "--help"]
        runpy.run_module("nst", run_name="__main__", alter_sys=True)
    """)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "python -m nst" in r.stderr and str(tmp_path / "nst") in r.stderr and "another folder" in r.stderr


def test_each_scale_says_its_plan_and_the_expected_time(monkeypatch):
    """Where the memory plan departs from the settings (tiles, a shorter history, Adam) the scale's
    first line says so with the budget; a long run says how long it is expected to take, and the
    progress lines' ETA is that forecast, not a straight line through the scales."""
    from dataclasses import replace

    from nst.core.planner import Plan

    monkeypatch.setattr(console.time, "monotonic", iter(range(0, 1000, 100)).__next__)
    stream = io.StringIO()
    rep = make_reporter(Config(size=96, scales=2, iterations=4), stream=stream)
    rep.start(None)
    plan = Plan(12, 12, 512, 4, 80, "lbfgs", 8, True, 1.0, 0, 0,
                ("4 tiles of 512 px (+80 px halo): an untiled evaluation needs 4.2 GiB of the 2.6 GiB free",
                 "L-BFGS history 8 instead of 50"), 4 * 2**30)
    for i, scale, eta in ((1, 0, 30.0), (2, 0, 30.0), (3, 1, 2830.0)):
        it = replace(iterate(i, 10.0 - i, scale, side=8 + 4 * scale), eta=eta, plan=plan if scale else None)
        rep.iterate(it, "o.png")
    lines = stream.getvalue().splitlines()
    assert lines[0] == "nst: scale 1/2, 8x8", "short: no forecast; untiled: nothing to say"
    assert lines[3] == ("nst: scale 2/2, 12x12: 4 tiles of 512 px (+80 px halo): an untiled evaluation needs 4.2 GiB of the "
                        "2.6 GiB free; L-BFGS history 8 instead of 50 (--max-memory 4.0 GiB); expected to take "
                        "about 47 min 10 s in all")
    assert lines[1].endswith("ETA 30 s") and lines[4].endswith("ETA 47 min 10 s"), lines


def test_the_eta_counts_the_jobs_left_at_the_rate_measured(monkeypatch):
    """#17.3: a batch's ETA is the work left at the seconds per evaluation measured, jobs included:
    a first job resumed near its end (2 evaluations in 2 s) does not make the next ones look short."""
    from nst.jobs.batch import Job, JobResult
    monkeypatch.setattr(console.time, "monotonic", iter(range(0, 10000, 100)).__next__)
    stream = io.StringIO()
    rep = make_reporter(Config(iterations=10), stream=stream)
    rep.start(3)
    job = Job(Path("a.png"), ((Path("s.png"), 1.0),), Path("out/a.jpg"), 0)
    for i in (9, 10):  # resumed at 8: two evaluations, a second each
        rep.iterate(Iterate(i, 10, 1.0, 0.5, 0.1, 0.0, {}, float(i - 8), 0, torch.zeros(1, 3, 8, 8)), "out/a.jpg")
    rep.job_finished(JobResult(job, "done", 2.0, 1.0, 0.5, 0.1, evaluations=10, total=10, resumed_from=8))
    assert stream.getvalue().splitlines()[-1].endswith("; ETA 20 s"), "2 jobs x 10 evaluations x 1 s"
    for i in (1, 2, 3, 4):
        it = Iterate(i, 10, 1.0, 0.5, 0.1, 0.0, {}, float(i), 0, torch.zeros(1, 3, 8, 8), eta=10.0)
        rep.iterate(it, "out/b.jpg")
    line = stream.getvalue().splitlines()[-1]
    assert line.endswith("ETA 6.0 s for this image, 16 s for all 2 left"), line


def test_the_tally_of_a_run_says_its_kinds_always_and_the_rest_only_when_not_zero():
    c = dict(done=2, partial=1, skipped=0, failed=0, interrupted=0, claimed=0)
    assert tally("nst: ", c, ("done", "skipped", "failed"), 0) == "nst: 2 done, 0 skipped, 0 failed"
    c.update(interrupted=1, claimed=3)
    assert tally("nst: clips: ", c, ("done", "partial", "skipped", "failed"), 2, "shard 1/4") == \
        "nst: clips: 2 done, 1 partial, 0 skipped, 0 failed, 1 interrupted, 3 claimed by other workers, " \
        "2 not run (shard 1/4)"
