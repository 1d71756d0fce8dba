"""#17.2: every output is checked before any work: its folder made or refused in one line naming
the user's path (exit 2), and an encoder that refuses its options is found before any frame."""

from fractions import Fraction
from unittest import mock

import pytest
from click.testing import CliRunner
from conftest import make_content
from synthetic import pan_frames, write_clip

from nst.cli import main
from nst.core import stylizer as transfer
from nst.errors import InputError
from nst.jobs import outputs

FAST = ["--size", "32", "--iterations", "2", "--device", "cpu"]


def invoke_without_work(*args):
    """The command, with Stylizer.run failing the test if it is reached."""
    with mock.patch.object(transfer.Stylizer, "run", side_effect=AssertionError("the run was started")):
        return CliRunner().invoke(main, [str(a) for a in args])


def test_a_single_image_makes_its_folder(tmp_path, pair):
    out = tmp_path / "new" / "dir" / "cat.jpg"
    r = CliRunner().invoke(main, [*map(str, pair), "-o", str(out), *FAST])
    assert r.exit_code == 0, r.output
    assert out.is_file()


@pytest.mark.parametrize("where, said", [
    ("afile/x.jpg", "{p}: {t}/afile is a file, not a folder"),
    ("afile/deeper/x.jpg", "{p}: {t}/afile is a file, not a folder"),
    ("adir", "{p}: unknown output extension"),
])
def test_an_output_under_a_file_is_one_line_before_any_work(tmp_path, pair, where, said):
    (tmp_path / "afile").write_text("not a folder")
    (tmp_path / "adir.jpg").mkdir()
    p = tmp_path / where
    r = invoke_without_work(*pair, "-o", p, *FAST)
    assert r.exit_code == 2, r.output
    (line,) = r.stderr.strip().splitlines()
    assert line.startswith("Error: " + said.format(p=p, t=tmp_path)), line


def test_an_unwritable_folder_is_one_line_naming_the_output(tmp_path, pair):
    r = invoke_without_work(*pair, "-o", "/sys/x.jpg", *FAST)
    assert r.exit_code == 2, r.output
    (line,) = r.stderr.strip().splitlines()
    assert line.startswith("Error: /sys/x.jpg: cannot write into /sys (") and ".tmp" not in line, line


def test_a_batch_into_an_unwritable_folder_stops_before_any_job(tmp_path, pair):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in "ab":
        make_content().save(photos / f"{name}.png")
    r = invoke_without_work(photos, pair[1], "-o", "/sys/styled/", *FAST)
    assert r.exit_code == 2, r.output
    (line,) = r.stderr.strip().splitlines()
    assert line.startswith("Error: /sys/styled/a_s.jpg: cannot make the folder /sys/styled ("), line


def test_log_gif_and_sheet_paths_are_checked_before_the_run(tmp_path, pair):
    (tmp_path / "afile").write_text("")
    r = invoke_without_work(*pair, "-o", tmp_path / "out.jpg", "--log", tmp_path / "afile" / "run.json", *FAST)
    assert r.exit_code == 2
    assert f"{tmp_path / 'afile' / 'run.json'}: {tmp_path / 'afile'} is a file" in r.stderr


def test_an_encoder_that_refuses_its_options_is_found_before_any_frame(tmp_path, pair):
    clip = write_clip(tmp_path / "clip.mp4", pan_frames(2, (40, 30)), Fraction(25), audio=False)
    r = invoke_without_work(clip, pair[1], "-o", tmp_path / "out.mp4", "--encoder-option", "preset=bogus", *FAST)
    assert r.exit_code == 2, r.output
    line = r.stderr.strip().splitlines()[-1]
    assert line.startswith("Error: encoder libx264 refuses the options preset=bogus"), line
    assert not (tmp_path / "out.mp4.frames").exists() or not any((tmp_path / "out.mp4.frames").iterdir())


def test_a_clip_into_an_unwritable_folder_is_found_before_any_frame(tmp_path, pair):
    clip = write_clip(tmp_path / "clip.mp4", pan_frames(2, (40, 30)), Fraction(25), audio=False)
    r = invoke_without_work(clip, pair[1], "-o", "/sys/out.mp4", *FAST)
    assert r.exit_code == 2, r.output
    assert "Error: /sys/out.mp4: cannot write into /sys (" in r.stderr


def test_check_files_tries_each_folder_once(tmp_path, monkeypatch):
    calls = []
    real = outputs.check_folder
    monkeypatch.setattr(outputs, "check_folder", lambda *a, **k: (calls.append(a[0]), real(*a, **k)))
    outputs.check_files([tmp_path / "a" / "x.jpg", tmp_path / "a" / "y.jpg", tmp_path / "b" / "z.jpg"])
    assert [str(c) for c in calls] == [str(tmp_path / "a"), str(tmp_path / "b")]
    assert (tmp_path / "a").is_dir() and (tmp_path / "b").is_dir()
    with pytest.raises(InputError, match="does not exist"):
        outputs.check_file(tmp_path / "c" / "x.jpg", make=False)
