"""What the command line says while it works, on stderr: tqdm bars on a terminal, plain lines elsewhere.

This module owns which reporter a run gets (``make_reporter``) and the reporter of a run of
clips (``ClipReporter``, made of the others); the plain lines are nst.cli.lines, the bars
nst.cli.bars, the wording of numbers nst.cli.phrases.

The library never prints; it hands the CLI an ``Iterate`` per evaluation of J and a ``JobResult``
per output. A ``Reporter`` turns those into text. ``make_reporter`` picks the kind:

- ``BarReporter`` when stderr is a terminal: a bar over the evaluations of J of the current
  image (and one over the jobs of a batch), with messages printed above the bars;
- ``Reporter`` otherwise (a log file, a pipe, a cluster job's output): plain lines, without
  escape sequences or carriage returns: one line per finished job, and for a long job one line
  every ``PLAIN_INTERVAL`` seconds with the evaluation, the best J so far and an ETA;
- with ``quiet``: nothing but failures;
- ``ClipReporter`` for a run of clips: per clip a Reporter whose jobs are its frames
  (``frame_finished`` per ``FrameResult``), a line per ``ClipResult`` and one at the end.

Both say J of the *best* iterate: the lowest J seen, which is the image written (``Iterate.better_than``),
so the bar, the progress lines, the final line and ``--json`` agree.

A run calls: ``start(jobs)``; per job ``iterate(it, output)`` after every evaluation (it calls
``job_started`` and ``scale_started`` itself when a new job or scale begins), ``saved(path)`` per
intermediate file, ``job_finished(result)``; ``wrote(path, what)`` per side file; ``summary(...)``
or ``stopped(...)``; ``close()``. ``say(text)`` prints any other message, unless quiet; ``warn(text)`` prints it always.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from ..core.config import Config
from ..core.runs import Iterate
from ..jobs.clips import ClipJob, ClipResult
from ..jobs.sequence import FrameResult
from .bars import BarReporter
from .lines import PLAIN_INTERVAL, Reporter
from .phrases import duration, tally


def make_reporter(cfg: Config, quiet: bool = False, stream: TextIO | None = None,
                  isatty: bool | None = None) -> Reporter:
    """The reporter for ``stream`` (default: sys.stderr): bars on a terminal, plain lines elsewhere
    (``isatty`` overrides the test, e.g. for tests), only failures when ``quiet``."""
    stream = sys.stderr if stream is None else stream
    if isatty is None:
        isatty = bool(getattr(stream, "isatty", lambda: False)())
    kind = BarReporter if isatty and not quiet else Reporter
    return kind(cfg, stream, quiet=quiet, interval=PLAIN_INTERVAL)



class ClipReporter:
    """Reports a run of clips: per clip a Reporter whose jobs are its frames (a bar, or plain lines,
    over them and over each frame's evaluations of J), one line per clip and one at the end. It
    answers what the result loop calls (nst.cli.results) as a Reporter does, and gives the
    callbacks of nst.jobs.clips.run_clips: ``start``, ``iterate``, ``frame``, ``note``."""

    def __init__(self, cfg: Config, quiet: bool, total: int) -> None:
        self.cfg, self.quiet, self.total = cfg, quiet, total
        self.out = make_reporter(cfg, quiet)       # clip lines; no bars of its own
        self.frames: Reporter | None = None
        self.counts = {"done": 0, "partial": 0, "skipped": 0, "failed": 0, "interrupted": 0, "claimed": 0}
        self.finished = 0
        self.start_time = time.perf_counter()
        self.current: tuple[ClipJob, int | None] | None = None  # the clip in progress and its frame
        self.kept: ClipResult | None = None  # the interrupted clip of this run, if one was

    # -- what run_clips calls ---------------------------------------------------------------------
    def start(self, job: ClipJob, frames: int) -> None:
        self.close()
        self.frames = make_reporter(self.cfg, self.quiet)
        self.frames.start(frames, unit="frame")
        self.current = (job, None)

    def iterate(self, job: ClipJob, t: int, it: Iterate) -> None:
        self.current = (job, t)
        self.frames.iterate(it, f"{job.output} frame {t}")

    def frame(self, job: ClipJob, frame: FrameResult) -> None:
        self.frames.frame_finished(frame)

    def note(self, job: ClipJob, message: str) -> None:
        # resuming is news; a discarded or unwritable partial result is a warning
        out = self.frames or self.out
        (out.say if message.startswith("resuming") else out.warn)(f"nst: {job.output}: {message}")

    # -- what the result loop calls ---------------------------------------------------------------
    def job_finished(self, result: ClipResult) -> None:
        """A clip ended: its line (a failed single clip is left to the caller, as the command's error)."""
        self.close()
        self.finished += 1
        self.counts[result.status] += 1
        if result.status == "interrupted":
            self.kept = result
        job = result.job
        count = f"[{self.finished}/{self.total}] " if self.total > 1 else ""
        made = f"{result.done} stylised, {result.reused} reused"
        mean = f", mean J {result.J:.4g}" if result.J is not None else ""
        if result.status == "failed":
            if self.total == 1:
                return  # the command's error, said by the caller
            self.out.warn(f"nst: {count}failed {job.content} with {job.style_label}: {result.error}")
        elif result.status == "skipped":
            self.out.say(f"nst: {count}skipped {job.output}: it exists")
        elif result.status == "claimed":
            self.out.say(f"nst: {count}{job.output}: claimed by {result.claimed_by}, left to it")
        elif result.status == "partial":
            self.out.say(f"nst: {count}{job.frames_dir}: frames {made}{mean} in {duration(result.seconds)}; "
                         f"{result.missing} of {result.frames} frames left to other shards, so "
                         f"{'no video yet' if job.is_video else 'not complete yet'}")
        elif result.status == "done":
            what = f"{result.frames} frames ({made}){mean}, {duration(result.seconds)}"
            if job.is_video:
                what += f"; its frames are in {job.frames_dir}"
            self.out.say(f"nst: {count}wrote {job.output}: {what}")

    def stopped(self, signal: str, at_once: bool = False) -> None:
        """One line, said even when quiet, for a run that a signal stopped: where, and what is kept.
        ``at_once``: it stopped without waiting (a second signal)."""
        self.close()
        self.out.warn(f"nst: stopped at once by {signal}; {self._at_once()}" if at_once else self._stopped(signal))

    def summary(self, shard: tuple[int, int] | None = None, interrupted: str = "", at_once: bool = False) -> None:
        """The last line of a run of several clips; ``interrupted``: the signal that stopped it (then
        said even when quiet). Stopped ``at_once``, it says only what ``stopped`` says."""
        if at_once:
            self.stopped(interrupted, at_once=True)
            return
        c = self.counts
        line = tally("nst: clips: ", c, ("done", "partial", "skipped", "failed"),
                     self.total - self.finished if interrupted else 0,
                     f"shard {shard[0]}/{shard[1]} of each clip's frames" if shard else "")
        line += f" in {duration(time.perf_counter() - self.start_time)}"
        if interrupted:
            line += "; " + self._stopped(interrupted).removeprefix("nst: ")
        (self.out.warn if c["failed"] or interrupted else self.out.say)(line)

    def close(self) -> None:
        if self.frames is not None:
            self.frames.close()
            self.frames = None

    def __enter__(self) -> ClipReporter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- text ------------------------------------------------------------------------------------
    def _stopped(self, signal: str) -> str:
        """The line saying what a signal stopped and what is kept."""
        result = self.kept
        if result is None:
            return f"nst: stopped by {signal} between clips"
        job = result.job
        complete = f"{result.done + result.reused} frames of {job.output} are complete in {job.frames_dir}"
        if result.partial is not None:
            line = (f"nst: stopped by {signal} at frame {result.frame} of {result.frames} "
                    f"(evaluation {result.evaluations} of {result.total}): {complete}, frame {result.frame}'s "
                    f"best so far is in {result.partial}")
        else:
            line = (f"nst: stopped by {signal} at frame {result.frame} of {result.frames}: {complete}"
                    + (f"; frame {result.frame}: {result.error}" if result.error else ""))
        return line + "; run the same command again to go on"

    def _at_once(self) -> str:
        """What a run stopped at once (a second signal) keeps."""
        if self.current is None:
            return "no clip was in progress"
        job, t = self.current
        text = f"the frames written in {job.frames_dir} are complete"
        states = sorted(job.frames_dir.glob("*.partial.pt")) if job.frames_dir.is_dir() else []
        if t is not None and states:
            text += f", frame {t}'s last checkpoint is in {states[0]}"
        return text + "; run the same command again to go on"
