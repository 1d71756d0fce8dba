"""Exceptions raised by nst; the CLI maps them to exit codes (Gatys et al., 2016 style transfer)."""


class NSTError(Exception):
    """A failure while running (exit code 1 in the CLI)."""


class InputError(NSTError, ValueError):
    """Bad input from the caller: an option value, a file, a layer name (exit code 2 in the CLI)."""


class WeightsError(InputError):
    """Network weights that are missing, corrupt or of the wrong layout."""


def one_line(e: BaseException) -> str:
    """An exception in one line: its message's first line, with its type unless it is one of ours."""
    message = str(e).strip().splitlines()[0] if str(e).strip() else ""
    if isinstance(e, NSTError):
        return message
    return f"{type(e).__name__}: {message}" if message else type(e).__name__
