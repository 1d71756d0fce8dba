"""Exceptions raised by nst; the CLI maps them to exit codes (Gatys et al., 2016 style transfer).

A message that tells the user what to change names the setting as a ``Setting``, not as a
command-line flag: ``str(e)`` says it as the Python API does (``max_memory``, ``tile='auto'``),
and the command line words it as its flag (``--max-memory``, ``--tile auto``: nst.cli.words).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

_NO_VALUE = object()


@dataclass(frozen=True)
class Setting:
    """A setting named in a message: a Config field (or another settings object's), with the value
    to try (none: the setting itself). ``python`` replaces how the Python API says it, for a
    setting that the command line has and the API says otherwise (``restart``)."""

    name: str
    value: object = _NO_VALUE
    python: str | None = None

    @property
    def has_value(self) -> bool:
        return self.value is not _NO_VALUE

    def __str__(self) -> str:
        if self.python is not None:
            return self.python
        return f"{self.name}={self.value!r}" if self.has_value else self.name


Say = Callable[[Setting], str]


class NSTError(Exception):
    """A failure while running (exit code 1 in the CLI). Its message is made of text and Settings."""

    def __init__(self, *parts: object) -> None:
        self.parts = parts
        super().__init__("".join(map(str, parts)))

    def message_parts(self) -> tuple[object, ...]:
        """The message as text and Settings (a subclass that composes its message overrides this)."""
        return self.parts

    def worded(self, say: Say) -> str:
        """The message with each Setting said by ``say`` (the command line's flags)."""
        return "".join(say(p) if isinstance(p, Setting) else str(p) for p in self.message_parts())


class InputError(NSTError, ValueError):
    """Bad input from the caller: an option value, a file, a layer name (exit code 2 in the CLI)."""


class WeightsError(InputError):
    """Network weights that are missing, corrupt or of the wrong layout."""


def one_line(e: BaseException, say: Say | None = None) -> str:
    """An exception in one line: its message's first line, with its type unless it is one of ours;
    Settings said by ``say`` if given (else as the Python API says them)."""
    text = e.worded(say) if say is not None and isinstance(e, NSTError) else str(e)
    message = text.strip().splitlines()[0] if text.strip() else ""
    if isinstance(e, NSTError):
        return message
    return f"{type(e).__name__}: {message}" if message else type(e).__name__
