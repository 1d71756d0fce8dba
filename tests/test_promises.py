"""#17.7: the smaller promises: every changed setting named, {style} suggested for a clash, fewer
scales than asked said, needless tiles said, '1 evaluation', a resumed run's closing line, a bad
blend weight named as such."""

import io
import re

import pytest
from click.testing import CliRunner
from conftest import make_style

from nst.cli import console, main
from nst.core.config import Config
from nst.core.planner import Plan
from nst.errors import InputError
from nst.jobs import checkpoint
from nst.jobs.batch import parse_style, plan

FAST = ["--size", "32", "--device", "cpu"]


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_a_stale_state_names_every_setting_that_changed(tmp_path, pair):
    r = invoke(*pair, "-o", tmp_path / "o.png", *FAST, "--iterations", "40", "--style-weight", "10",
               "--checkpoint-every", "0")
    assert r.exit_code == 0
    state = checkpoint.settings(Config(size=32, iterations=40), *pair[:1], [(pair[1], 1.0)])
    changed = checkpoint.settings(Config(size=32, iterations=20, style_weight=30), *pair[:1], [(pair[1], 1.0)])
    diff = checkpoint._differences(state, changed)
    assert diff == ["iterations 40, now 20", "style_weight 10, now 30"]


def test_a_name_clash_between_styles_suggests_style(tmp_path, pair):
    other = tmp_path / "styles"
    other.mkdir()
    make_style().save(other / "a.png")
    make_style().save(other / "b.png")
    with pytest.raises(InputError, match=r"put \{style\} or \{index\} in the name template"):
        plan([pair[0]], [other], tmp_path / "out", name="{content}{ext}")


def test_a_bad_blend_weight_is_named_as_a_weight(pair):
    with pytest.raises(InputError, match=r"the weight 'abc' of .*s\.png is not a number"):
        parse_style(f"{pair[1]}:abc")
    assert parse_style(f"{pair[1]}:2+{pair[1]}") == ((pair[1], 2.0), (pair[1], 1.0))


def test_fewer_scales_than_asked_are_said(tmp_path, pair):
    r = invoke(*pair, "-o", tmp_path / "o.png", "--size", "96", "--scales", "3", "--iterations", "2",
               "--device", "cpu")
    assert r.exit_code == 0, r.output
    assert "nst: --scales 3 at --size 96: 2 scales (68 px, 96 px), as none is made below 64 px" in r.stderr


def test_tiles_that_are_not_needed_are_said():
    stream = io.StringIO()
    rep = console.make_reporter(Config(tile=64), stream=stream)
    rep.start(None)
    plan_ = Plan(128, 128, 64, 4, 80, "lbfgs", 50, True, 5.0 * 128 * 128, 0, 0, (), 2**33, True)
    from test_console import iterate
    rep.iterate(__import__("dataclasses").replace(iterate(1, 1.0), plan=plan_), "o.png")
    assert stream.getvalue().splitlines()[0] == (
        "nst: 4 tiles of 64 px as --tile asks, though the whole image fits the memory budget: untiled "
        "(--tile auto) it would be about 5.0x faster")


def test_one_evaluation_is_singular(tmp_path, pair):
    r = invoke(*pair, "-o", tmp_path / "o.png", *FAST, "--iterations", "1")
    assert r.exit_code == 0, r.output
    assert " in 1 evaluation, " in r.stderr


def test_a_resumed_run_says_where_it_resumed_not_a_start_j(tmp_path, pair):
    from unittest import mock

    from nst.pixels import images
    out = tmp_path / "o.png"
    real = images.os.replace
    with mock.patch.object(images.os, "replace", lambda s, d: (_ for _ in ()).throw(OSError(28, "No space"))
                           if str(d) == str(out) else real(s, d)):
        r = invoke(*pair, "-o", out, *FAST, "--iterations", "3")
    assert r.exit_code == 1 and "the finished image is kept in" in r.stderr
    r = invoke(*pair, "-o", out, *FAST, "--iterations", "3")
    assert r.exit_code == 0, r.output
    line = r.stderr.strip().splitlines()[-1]
    assert re.fullmatch(rf"wrote {re.escape(str(out))}: best J \S+ after 3 evaluations, resumed at evaluation 3 "
                        r"\(0 in this run, \S+ s\)", line), line
