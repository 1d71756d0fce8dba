"""``python -m nst``: the command line (Gatys et al., 2016)."""

import sys

import nst

if getattr(nst, "__file__", None) is None:
    # `python -m nst` puts the current folder first on sys.path. If it holds a folder named nst
    # without an __init__.py (e.g. a clone of this project), Python imports that folder as a
    # namespace package `nst`, and with an editable install it still finds this file, but
    # `from . import __version__` would then fail with an obscure ImportError.
    where = ", ".join(getattr(nst, "__path__", [])) or "a folder named nst"
    sys.exit(f"nst: `python -m nst` imported the folder {where} instead of the installed package; "
             "run it from another folder, or run the `nst` command")

from .launch import main  # noqa: E402 - after the check above

main()
