"""Exceptions raised by nst; the CLI maps them to exit codes (Gatys et al., 2016 style transfer)."""


class NSTError(Exception):
    """A failure while running (exit code 1 in the CLI)."""


class InputError(NSTError, ValueError):
    """Bad input from the caller: an option value, a file, a layer name (exit code 2 in the CLI)."""


class WeightsError(InputError):
    """Network weights that are missing, corrupt or of the wrong layout."""
