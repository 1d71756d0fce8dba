"""The ``nst`` command's entry point: ``nst info``, ``nst plot`` and ``nst status`` without torch (a
fraction of a second), everything else through nst.cli.command, and Ctrl-C while it all loads said in one line."""

from __future__ import annotations

import sys


def main() -> None:
    args = sys.argv[1:]
    try:
        if args and args[0] in ("info", "plot", "status"):
            from .cli import commands  # torch-free: these start in a fraction of a second
            command = getattr(commands, args[0])
            prog = f"nst {args[0]}"
            args = args[1:]
        else:
            from .cli.command import main as command  # torch, the network code: seconds
            prog = "nst"
    except KeyboardInterrupt:
        print("nst: stopped by Ctrl-C while starting; nothing was done", file=sys.stderr)
        sys.exit(130)
    command.main(args, prog_name=prog)
