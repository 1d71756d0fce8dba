"""#17.7: `nst info` and `nst plot` start without torch; Ctrl-C while nst starts is one line, exit 130."""

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import make_content

from nst import launch

ROOT = Path(__file__).resolve().parents[1]


def test_import_nst_and_info_need_no_torch(tmp_path):
    from nst.pixels.images import save_image
    out = tmp_path / "o.png"
    save_image(make_content(), out, description='{"nst": "0.1.0", "settings": {"size": 32}}')
    code = ("import sys; import nst, nst.launch, nst.cli.commands, nst.jobs.provenance, nst.cli.report\n"
            "assert 'torch' not in sys.modules, 'import'\n"
            f"sys.argv = ['nst', 'info', {str(out)!r}]\n"
            "try:\n    nst.launch.main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
            "assert 'torch' not in sys.modules, 'info'\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                       env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    assert '"size": 32' in r.stdout


def test_the_package_names_still_import():
    import nst
    from nst import Config, InputError, Iterate, NSTError, StyleTargets, Stylizer, WeightsError, stylize  # noqa: F401
    assert set(nst.__all__) >= {"Config", "stylize", "Stylizer", "__version__"}
    with pytest.raises(AttributeError):
        nst.no_such_name  # noqa: B018


def test_ctrl_c_while_starting_is_one_line_and_130(monkeypatch, capsys):
    class Interrupted:
        def __getattr__(self, name):
            raise KeyboardInterrupt

    monkeypatch.setitem(sys.modules, "nst.cli.command", Interrupted())
    monkeypatch.setattr(sys, "argv", ["nst", "a.jpg", "b.jpg", "-o", "c.jpg"])
    with pytest.raises(SystemExit) as e:
        launch.main()
    assert e.value.code == 130
    assert capsys.readouterr().err == "nst: stopped by Ctrl-C while starting; nothing was done\n"
