"""The one loop over the results of a run, for images (``JobResult``) and clips (``ClipResult``)
alike (both nst.jobs.results.Result, with its one ``to_json``): each result is reported and, with
--json, printed on stdout; a failure ends a run of one job or, with --fail-fast, any run. Then the
exit status, and the last line of a run that a signal stopped."""

from __future__ import annotations

import dataclasses
import json
import sys
import traceback
from collections.abc import Callable, Iterable

import click

from ..jobs.results import Result
from .console import ClipReporter
from .lines import Reporter
from .interrupt import SignalStop, stopped_by
from .options import Args
from .words import say


def report(results: Iterable[Result], reporter: Reporter | ClipReporter, args: Args, *,
           single: bool, on_done: Callable[[Result], None] | None = None,
           on_stopped: Callable[[Result], None] | None = None) -> None:
    """Report each result as it comes. The failure of a ``single`` job is the command's error: its
    exception is raised, for the command to say in one line. Any other failure is said by the
    reporter (with its traceback under --debug) and the run goes on, unless --fail-fast.
    ``on_done(result)``: after each result that is done; ``on_stopped(result)``: after one that is
    interrupted (a signal stopped it, its partial result kept)."""
    for result in results:
        if result.exception is not None:  # the library's words for a setting, as this command's flag
            result = dataclasses.replace(result, error=say(result.exception))
        reporter.job_finished(result)
        if args.json_lines:
            click.echo(json.dumps(result.to_json()))
        if result.status == "failed":
            if single:
                raise result.exception
            if args.debug:
                traceback.print_exception(result.exception, file=sys.stderr)
            if args.fail_fast:
                break
        elif result.status == "done" and on_done is not None:
            on_done(result)
        elif result.status == "interrupted" and on_stopped is not None:
            on_stopped(result)


def exit_status(reporter: Reporter | ClipReporter, args: Args, jobs: int, *, single: bool,
                stop: SignalStop) -> int:
    """After the results of a run of ``jobs`` jobs: its last line (a run of several jobs, or one that
    a signal stopped before it was done) and its exit status: 0 all done (or skipped, or claimed: left
    to the live worker that holds it), 1 a job failed, 130 or 143 stopped by SIGINT or SIGTERM."""
    if stop() and (reporter.counts["interrupted"] or reporter.finished < jobs):
        if single:
            reporter.stopped(stop.name)
        else:
            reporter.summary(args.shard, interrupted=stop.name)
        return stop.exit_code
    if not single:
        reporter.summary(args.shard)
    return 1 if reporter.counts["failed"] else 0


def stopped_at_once(reporter: Reporter | ClipReporter, args: Args, e: KeyboardInterrupt, *, single: bool) -> int:
    """After ``e``, a second signal (StopNow) or a Ctrl-C without SignalStop's handlers, ended a run
    at once: its last line, said even when quiet, and its exit status (130 or 143)."""
    what, code = stopped_by(e)
    if single:
        reporter.stopped(what, at_once=True)
    else:
        reporter.summary(args.shard, interrupted=what, at_once=True)
    return code
