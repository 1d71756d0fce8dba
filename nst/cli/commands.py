"""The commands that need neither torch nor the network: ``nst info`` and ``nst plot``. They start in
a fraction of a second (nst.launch runs them without importing the rest of the command line)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..errors import InputError, NSTError
from ..jobs import provenance

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class BadInput(click.ClickException):
    """Bad input, reported in one line with click's usage exit code 2."""

    exit_code = 2


@click.command("info", context_settings=CONTEXT)
@click.argument("file", type=click.Path(path_type=Path))
def info(file: Path) -> None:
    """Print the settings stored in FILE, an output of nst, as JSON.

    "settings" holds every option and the absolute paths of the inputs; in Python,
    nst.stylize(**settings) repeats a one-style run (on the same device, the same pixels).
    """
    try:
        record = provenance.read(file)
    except InputError as e:
        raise BadInput(str(e)) from None
    click.echo(json.dumps(record, indent=2, ensure_ascii=False))


@click.command("plot", context_settings=CONTEXT)
@click.argument("log", type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="The plot: .png, .jpg, .svg or .pdf.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing on success.")
def plot(log: Path, output: Path, quiet: bool) -> None:
    """Plot a run log written by --log: J and its weighted terms, and each style layer's cost,
    against the evaluation number. Needs matplotlib (pip install matplotlib)."""
    try:
        from . import report  # matplotlib and Pillow's drawing, not torch
        report.plot_log(report.load_log(log), output, title=log.name)
        if not quiet:
            click.echo(f"wrote {output}", err=True)
    except InputError as e:
        raise BadInput(str(e)) from None
    except NSTError as e:
        raise click.ClickException(str(e)) from None


