"""How the command line says the settings that the library's messages name (nst.errors.Setting):
as its flags, ``--max-memory``, ``--tile auto``. The library never names a flag; this is where
its messages become the command's."""

from __future__ import annotations

from ..errors import Setting, one_line


def flag(setting: Setting) -> str:
    """``Setting("tile", "auto")`` -> ``--tile auto``; ``Setting("max_memory")`` -> ``--max-memory``."""
    name = "--" + setting.name.replace("_", "-")
    return f"{name} {setting.value}" if setting.has_value else name


def say(e: BaseException) -> str:
    """An exception in one line, as the command line says it."""
    return one_line(e, flag)
