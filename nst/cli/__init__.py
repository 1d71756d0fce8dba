"""The command line: options, the image and clip runs, progress and reports (the top layer).

``main`` (the ``nst`` command) is imported when first used, so that ``nst info`` and ``nst plot``
(nst.cli.commands) start without importing torch.
"""


def __getattr__(name: str):
    if name == "main":
        from .command import main  # lazy (PEP 562): `nst info` and `nst plot` start without torch
        return main
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
