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
    m = re.search(r"wrote .*out\.jpg: J (\S+) -> (\S+) in 6 evaluations", r.stderr)
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
    from nst import transfer

    def no_memory(*args, **kwargs):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory: "
                           "you tried to allocate 68719476736 bytes. Error code 12 (Cannot allocate memory)")

    monkeypatch.setattr(transfer, "optimize", no_memory)
    out = tmp_path / "o.jpg"
    line = one_line_error(invoke(content_path, style_path, "-o", out, "--size", "40", "--device", "cpu"), code=1)
    assert "out of memory" in line and "--size 40" in line and "--size 16" in line
    assert not out.exists()


def test_other_runtime_errors_are_not_called_out_of_memory(tmp_path, content_path, style_path, monkeypatch):
    from nst import transfer

    def broken(*args, **kwargs):
        raise RuntimeError("something else")

    monkeypatch.setattr(transfer, "optimize", broken)
    line = one_line_error(invoke(content_path, style_path, "-o", tmp_path / "o.jpg", *FAST), code=1)
    assert "something else" in line and "out of memory" not in line
