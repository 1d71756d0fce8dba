"""The library names settings, never flags (nst.errors.Setting); the command line says them as its
flags (nst.cli.words). Both wordings of the same errors."""

import ast
import re
from pathlib import Path

import pytest

from nst.cli.words import flag, say
from nst.core.planner import BudgetError
from nst.errors import NSTError, Setting, one_line

NST = Path(__file__).resolve().parents[1] / "nst"


def test_a_setting_in_python_and_on_the_command_line():
    assert str(Setting("tile", "auto")) == "tile='auto'" and flag(Setting("tile", "auto")) == "--tile auto"
    assert str(Setting("max_memory")) == "max_memory" and flag(Setting("max_memory")) == "--max-memory"
    assert str(Setting("size", 28)) == "size=28" and flag(Setting("size", 28)) == "--size 28"
    restart = Setting("restart", python="a fresh start (no resume)")
    assert str(restart) == "a fresh start (no resume)" and flag(restart) == "--restart"


def test_an_error_worded_both_ways():
    e = NSTError("out of memory on cpu at ", Setting("size", 40), "; try ", Setting("tile", "auto"))
    assert str(e) == "out of memory on cpu at size=40; try tile='auto'"
    assert say(e) == "out of memory on cpu at --size 40; try --tile auto"
    assert one_line(e) == str(e) and one_line(e, flag) == say(e)
    assert say(ValueError("bad\nmore")) == "ValueError: bad"


def test_the_budget_error_worded_both_ways():
    e = BudgetError(3 * 2**30, 2**30, 4 * 2**30, (4096, 4096), "untiled", tile_off=True)
    assert "use tile='auto' or max_memory='6G' or more, or a smaller size" in str(e)
    assert say(e).startswith("--max-memory 4.0 GiB is too small for this run")
    assert "use --tile auto or --max-memory 6G or more, or a smaller --size" in say(e)


def _messages(path: Path):
    """The string constants of a module, its docstrings left out."""
    tree = ast.parse(path.read_text())
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef)) and n.body
                  and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node


@pytest.mark.parametrize("layer", ["pixels", "net", "core", "jobs"])
def test_the_library_names_no_flag(layer):
    """No message below the command line names one of its flags (docstrings may explain them)."""
    from nst.cli.command import main
    flags = {o for p in main.params for o in p.opts if o.startswith("--")}
    for path in (NST / layer).rglob("*.py"):
        for node in _messages(path):
            named = [f for f in flags if re.search(re.escape(f) + r"\b(?!-)", node.value)]
            assert not named, f"{path.relative_to(NST.parent)}:{node.lineno} names {named}"


def test_a_failed_job_of_a_batch_is_worded_as_flags(tmp_path, content_path, style_path, monkeypatch):
    """The runner keeps the library's words in JobResult.error; the command line says the settings
    as flags, on its failure line and in --json."""
    import json

    from click.testing import CliRunner

    from nst.cli import main
    from nst.core import scales

    def no_memory(*args, **kwargs):
        raise MemoryError()

    monkeypatch.setattr(scales, "minimize", no_memory)
    other = tmp_path / "other.png"
    other.write_bytes(content_path.read_bytes())
    r = CliRunner().invoke(main, [str(content_path), str(other), str(style_path), "-o", str(tmp_path / "out"),
                                  "--size", "40", "--device", "cpu", "--json"])
    assert r.exit_code == 1
    errors = [json.loads(line)["error"] for line in r.stdout.splitlines()]
    assert len(errors) == 2 and all("at --size 40; try" in e and "--size 16" in e for e in errors), errors
    assert "at --size 40" in r.stderr and "size=40" not in r.stderr


def test_the_command_line_says_recursive_and_model(tmp_path, style_path):
    from click.testing import CliRunner

    from nst.cli import main
    (tmp_path / "in" / "sub").mkdir(parents=True)
    r = CliRunner().invoke(main, [str(tmp_path / "in"), str(style_path), "-o", str(tmp_path / "out")])
    assert r.exit_code == 2 and r.stderr.strip().endswith("(it has subfolders: add --recursive)")
    e = NSTError("or pass ", Setting("weights", "FILE"), ", or use ", Setting("model", "vgg19-normalized"))
    assert say(e) == "or pass --weights FILE, or use --model vgg19-normalized"
