"""The command line through click's CliRunner: exit codes, messages, files."""

import re

import pytest
from click.testing import CliRunner
from PIL import Image

from nst.cli import main

FAST = ["--size", "40", "--iterations", "6", "--device", "cpu"]


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_end_to_end(tmp_path, content_path, style_path):
    out = tmp_path / "out.jpg"
    r = invoke(content_path, style_path, "-o", out, *FAST)
    assert r.exit_code == 0, r.output
    assert r.stdout == ""
    with Image.open(out) as im:
        assert im.format == "JPEG" and im.size == (40, 33)
    m = re.search(r"wrote .*out\.jpg: J (\S+) -> best (\S+) in 6 evaluations", r.stderr)
    assert m, r.stderr
    assert float(m.group(2)) < float(m.group(1))


def test_quiet_prints_nothing(tmp_path, content_path, style_path):
    r = invoke(content_path, style_path, "-o", tmp_path / "o.png", *FAST, "--quiet", "--optimizer", "adam")
    assert r.exit_code == 0 and r.stdout == "" and r.stderr == ""
    assert (tmp_path / "o.png").is_file()


def test_save_every_writes_intermediates(tmp_path, content_path, style_path):
    r = invoke(content_path, style_path, "-o", tmp_path / "o.png", *FAST, "--save-every", "3", "-q")
    assert r.exit_code == 0
    assert sorted(p.name for p in tmp_path.glob("o*.png")) == ["o.png", "o_0003.png", "o_0006.png"]


def one_line_error(r, code=2):
    assert r.exit_code == code, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr
    return lines[0]


@pytest.mark.parametrize("case", ["missing", "not_image", "truncated"])
def test_bad_content_file(tmp_path, style_path, case):
    bad = tmp_path / "bad.jpg"
    if case == "not_image":
        bad.write_text("just text")
    elif case == "truncated":
        Image.new("RGB", (64, 64), (9, 99, 199)).save(bad)
        bad.write_bytes(bad.read_bytes()[:300])
    out = tmp_path / "out.jpg"
    line = one_line_error(invoke(bad, style_path, "-o", out, *FAST))
    assert "bad.jpg" in line
    assert not out.exists()


@pytest.mark.parametrize("args, match", [
    (["--style-layers", "conv1_1,conv9_9"], "unknown layer 'conv9_9'"),
    (["--content-layers", "fc7"], "unknown layer 'fc7'"),
    (["--style-layers", "conv1_1:heavy"], "bad layer weight"),
    (["--weights", "nope.pth"], "nope.pth"),
    (["--init", "nowhere.png"], "nowhere.png"),
])
def test_bad_options_one_line_exit_2(tmp_path, content_path, style_path, args, match):
    out = tmp_path / "out.jpg"
    line = one_line_error(invoke(content_path, style_path, "-o", out, *FAST, *args))
    assert match in line
    assert not out.exists()


def test_bad_weight_file(tmp_path, content_path, style_path):
    w = tmp_path / "w.pth"
    w.write_bytes(b"garbage")
    line = one_line_error(invoke(content_path, style_path, "-o", tmp_path / "o.jpg", *FAST, "--weights", w))
    assert "w.pth" in line and "state dict" in line


def test_refuses_to_overwrite_input(content_path, style_path):
    before = content_path.read_bytes()
    line = one_line_error(invoke(content_path, style_path, "-o", content_path, *FAST))
    assert "refusing to overwrite" in line
    assert content_path.read_bytes() == before


def test_unknown_extension(tmp_path, content_path, style_path):
    line = one_line_error(invoke(content_path, style_path, "-o", tmp_path / "out.bmpx", *FAST))
    assert "out.bmpx" in line and ".jpg" in line


def test_unavailable_device(tmp_path, content_path, style_path):
    import torch
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    line = one_line_error(invoke(content_path, style_path, "-o", tmp_path / "o.jpg", "--device", "cuda"))
    assert "cuda" in line


def test_python_dash_m(tmp_path):
    import subprocess
    import sys
    r = subprocess.run([sys.executable, "-m", "nst", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "CONTENT STYLE" in r.stdout


def test_out_of_memory_is_one_line_naming_sizes(tmp_path, content_path, style_path, monkeypatch):
    from nst.core import scales as transfer

    def no_memory(*args, **kwargs):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory: "
                           "you tried to allocate 68719476736 bytes. Error code 12 (Cannot allocate memory)")

    monkeypatch.setattr(transfer, "minimize", no_memory)
    out = tmp_path / "o.jpg"
    line = one_line_error(invoke(content_path, style_path, "-o", out, "--size", "40", "--device", "cpu"), code=1)
    assert "out of memory" in line and "--size 40" in line and "--size 16" in line
    assert not out.exists()


def test_other_runtime_errors_are_not_called_out_of_memory(tmp_path, content_path, style_path, monkeypatch):
    from nst.core import scales as transfer

    def broken(*args, **kwargs):
        raise RuntimeError("something else")

    monkeypatch.setattr(transfer, "minimize", broken)
    line = one_line_error(invoke(content_path, style_path, "-o", tmp_path / "o.jpg", *FAST), code=1)
    assert "something else" in line and "out of memory" not in line


def test_log_gif_contact_sheet_and_plot(tmp_path, content_path, style_path):
    import json

    out, log, gif, sheet, plot = (tmp_path / n for n in ("o.png", "run.json", "run.gif", "sheet.jpg", "plot.png"))
    r = invoke(content_path, style_path, "-o", out, *FAST, "--save-every", "2", "-q",
               "--log", log, "--gif", gif, "--contact-sheet", sheet)
    assert r.exit_code == 0, r.output
    rec = json.loads(log.read_text())
    assert rec["settings"]["iterations"] == 6 and rec["settings"]["content"] == str(content_path)
    evs = rec["evaluations"]
    assert [e["i"] for e in evs] == list(range(1, 7))
    assert set(evs[0]) >= {"J", "J_content", "J_style", "J_tv", "style_layers", "seconds", "scale", "size"}
    assert list(evs[0]["style_layers"]) == ["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"]
    assert all(a["seconds"] <= b["seconds"] for a, b in zip(evs, evs[1:]))
    with Image.open(gif) as im:
        assert im.format == "GIF" and im.size == (40, 33) and im.n_frames >= 2  # i=1, 2, 4, 6 and the output
    with Image.open(sheet) as im:
        assert im.format == "JPEG"
    r = invoke("plot", log, "-o", plot)
    assert r.exit_code == 0, r.output
    with Image.open(plot) as im:
        assert im.format == "PNG"


def test_plot_needs_a_log(tmp_path):
    line = one_line_error(invoke("plot", tmp_path / "none.json", "-o", tmp_path / "p.png"))
    assert "none.json" in line


def test_run_records_are_for_one_image(tmp_path, content_path, style_path):
    line = one_line_error(invoke(content_path, content_path.parent, "-o", tmp_path / "d", *FAST,
                                 "--log", tmp_path / "l.json"))
    assert "--log records the run of one image" in line
    line = one_line_error(invoke(content_path, style_path, "-o", tmp_path / "o.jpg", *FAST,
                                 "--gif", tmp_path / "a.png"))
    assert "a.png" in line and ".gif" in line


def test_style_blend_argument(tmp_path, content_path, style_path):
    import json

    other = tmp_path / "other.png"
    Image.new("RGB", (40, 40), (250, 120, 0)).save(other)
    out = tmp_path / "blend.png"
    r = invoke(content_path, f"{style_path}:2+{other}", "-o", out, *FAST, "-q")
    assert r.exit_code == 0, r.output
    settings = json.loads(invoke("info", out).stdout)["settings"]
    assert settings["style"] == [[str(style_path), 2.0], [str(other), 1.0]]
    line = one_line_error(invoke(content_path, f"{style_path}+{tmp_path / 'nowhere.png'}", "-o", out, *FAST))
    assert "nowhere.png" in line


def test_style_controls_conflict(tmp_path, content_path, style_path):
    line = one_line_error(invoke(content_path, style_path, "-o", tmp_path / "o.jpg", *FAST,
                                 "--style-emphasis", "soft", "--style-layers", "conv1_1:2,conv2_1"))
    assert "not both" in line


@pytest.mark.parametrize("args, match", [
    (["--preserve-color", "sepia"], "sepia"),
    (["--scales", "0"], "--scales"),
    (["--style-scale", "0"], "--style-scale"),
])
def test_bad_style_controls_are_usage_errors(tmp_path, content_path, style_path, args, match):
    r = invoke(content_path, style_path, "-o", tmp_path / "o.jpg", *FAST, *args)
    assert r.exit_code == 2 and "Traceback" not in r.stderr
    assert match in r.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "o.jpg").exists()
