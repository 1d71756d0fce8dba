"""``python -m nst``: the command line (Gatys et al., 2016)."""

from .cli import main

main()
