"""Stopping a run on SIGINT (Ctrl-C) and SIGTERM (kill, a cluster's time limit) without losing it.

The library installs no signal handlers: it asks ``should_stop()`` after every evaluation of J
and keeps its partial result when told to stop (nst.jobs.batch.run_batch, nst.jobs.checkpoint). The
command line installs these handlers around a run and passes the ``SignalStop`` as
``should_stop``: the first signal only sets a flag, so the run stops within one evaluation with
its work kept; a second one raises ``StopNow`` at once (Ctrl-C twice: stop now, whatever is lost).
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopNow(KeyboardInterrupt):
    """A second signal: stop at once. ``signum`` is the signal's number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class SignalStop:
    """While in its ``with`` block, the first SIGINT or SIGTERM sets ``signum``; calling the object
    says whether one came (pass it as ``should_stop``). A second signal restores the previous
    handlers and raises StopNow. Outside the main thread (where Python cannot set handlers) it
    does nothing and a Ctrl-C raises KeyboardInterrupt as usual."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, object] = {}

    def __call__(self) -> bool:
        return self.signum is not None

    @property
    def name(self) -> str:
        """'SIGINT' or 'SIGTERM' ('' before a signal)."""
        return signal.Signals(self.signum).name if self.signum is not None else ""

    @property
    def exit_code(self) -> int:
        """The shell's code for death by the signal: 130 for SIGINT, 143 for SIGTERM."""
        return 128 + (self.signum or signal.SIGINT)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:
            self._restore()
            raise StopNow(signum)
        self.signum = signum

    def __enter__(self) -> SignalStop:
        if threading.current_thread() is threading.main_thread():
            for s in SIGNALS:
                self._previous[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        self._restore()

    def _restore(self) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous.clear()


def stopped_by(e: KeyboardInterrupt) -> tuple[str, int]:
    """What stopped a run at once, in words ('a second SIGTERM' for a StopNow, else 'Ctrl-C'), and
    the exit status it gives: the shell's code for death by that signal."""
    if isinstance(e, StopNow):
        return f"a second {signal.Signals(e.signum).name}", 128 + e.signum
    return "Ctrl-C", 128 + signal.SIGINT
