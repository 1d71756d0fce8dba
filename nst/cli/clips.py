"""The command line's video path: ``nst clip.mp4 style.jpg -o out.mp4`` and ``nst frames/ style.jpg
-o out/ --sequence``. Parsing stays in nst.cli; this runs nst.clips and reports through nst.console:
per clip, one bar (or plain lines) over its frames and one over each frame's evaluations of J.
"""

from __future__ import annotations

import json
import signal
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

import click

from ..jobs import checkpoint
from ..jobs import outputs
from ..jobs.batch import Job, JobResult
from ..jobs.checkpoint import CHECKPOINT_EVERY
from ..jobs.clips import FRAME_EXT, ClipJob, ClipResult, plan, run_clips
from ..core.config import Config
from .console import Reporter, duration, make_reporter
from ..errors import InputError
from ..pixels.images import FORMATS
from .interrupt import SignalStop, StopNow
from ..jobs.sequence import FrameResult, SequenceConfig
from ..core.stylizer import Iterate
from ..jobs.video import VIDEO_EXTENSIONS, Encoder


def run(contents: Sequence[Path], styles: Sequence, output: str, cfg: Config, seq: SequenceConfig,
        encoder: Encoder, *, sequence: bool, name: str, ext: str | None, shard: tuple[int, int] | None,
        skip_existing: bool, fail_fast: bool, json_lines: bool, quiet: bool, debug: bool,
        should_stop: SignalStop | None = None, checkpoint_every: float | None = CHECKPOINT_EVERY,
        restart: bool = False) -> int:
    """Plan and run the clips; return the exit status (0 all done, 1 a clip failed; 130 or 143
    when ``should_stop``, the command's SignalStop, stopped it). A single clip that fails raises
    its exception (the caller makes it one line: exit 2 for bad input). A second signal
    (StopNow) is said in one line and raised again."""
    video_ext = ext if ext is not None and ext.lower() in VIDEO_EXTENSIONS else ".mp4"
    frame_ext = ext if ext is not None and ext.lower() in FORMATS else FRAME_EXT
    if ext is not None and sequence is False and ext.lower() not in VIDEO_EXTENSIONS:
        raise InputError(f"--ext {ext}: videos are written as {' '.join(sorted(VIDEO_EXTENSIONS))}")
    jobs = plan(contents, styles, output, sequence=sequence, name=name, ext=video_ext, frame_ext=frame_ext)
    for job in jobs:  # what each clip will write can be written: found out now, not after its frames
        if skip_existing and job.is_video and job.output.exists():
            continue
        if job.is_video:
            encoder.check(job.output)
            outputs.check_file(job.output)
        outputs.check_folder(job.frames_dir)
    single = len(jobs) == 1
    clips = _Clips(cfg, quiet, len(jobs))
    interrupted: ClipResult | None = None
    try:
        for result in run_clips(jobs, cfg, seq, encoder=encoder, shard=shard, skip_existing=skip_existing,
                                on_start=clips.start, on_frame=clips.frame, on_iterate=clips.iterate,
                                should_stop=should_stop, checkpoint_every=checkpoint_every, restart=restart,
                                on_note=clips.note):
            clips.finished(result, shard)
            if result.status == "interrupted":
                interrupted = result
            if json_lines:
                click.echo(json.dumps(result.to_json()))
            if result.status == "failed":
                if single:
                    raise result.exception
                if debug:
                    traceback.print_exception(result.exception, file=sys.stderr)
                if fail_fast:
                    break
    except KeyboardInterrupt as e:  # a second signal (StopNow), or Ctrl-C without SignalStop's handlers
        clips.close()
        what = f"a second {signal.Signals(e.signum).name}" if isinstance(e, StopNow) else "Ctrl-C"
        clips.out.warn(f"nst: stopped at once by {what}; {clips.at_once()}")
        raise
    clips.close()
    if should_stop is not None and should_stop() and (interrupted or clips.finished_clips < len(jobs)):
        line = clips.stopped(interrupted, should_stop.name)
        if single:
            clips.out.warn(line)
        else:
            clips.summary(shard, line)
        return should_stop.exit_code
    if not single:
        clips.summary(shard)
    return 1 if clips.counts["failed"] else 0


class _Clips:
    """Reports a run of clips: a console Reporter per clip whose "jobs" are its frames, and one
    line per clip and at the end."""

    def __init__(self, cfg: Config, quiet: bool, total: int) -> None:
        self.cfg, self.quiet, self.total = cfg, quiet, total
        self.out = make_reporter(cfg, quiet)       # clip lines; no bars of its own
        self.frames: Reporter | None = None
        self.counts = {"done": 0, "partial": 0, "skipped": 0, "failed": 0, "interrupted": 0}
        self.finished_clips = 0
        self.start_time = time.perf_counter()
        self.current: tuple[ClipJob, int | None] | None = None  # the clip in progress and its frame

    def start(self, job: ClipJob, frames: int) -> None:
        self.close()
        self.frames = make_reporter(self.cfg, self.quiet)
        self.frames.start(frames, unit="frame")
        self.current = (job, None)

    def iterate(self, job: ClipJob, t: int, it: Iterate) -> None:
        self.current = (job, t)
        self.frames.iterate(it, self._frame_name(job, t))

    def note(self, job: ClipJob, message: str) -> None:
        # resuming is news; a discarded or unwritable partial result is a warning
        out = self.frames or self.out
        (out.say if message.startswith("resuming") else out.warn)(f"nst: {job.output}: {message}")

    def stopped(self, result: ClipResult | None, signal_name: str) -> str:
        """The line (or the end of the summary line) saying what a signal stopped and what is kept."""
        if result is None:
            return f"nst: stopped by {signal_name} between clips"
        job = result.job
        complete = f"{result.done + result.reused} frames of {job.output} are complete in {job.frames_dir}"
        if result.partial is not None:
            line = (f"nst: stopped by {signal_name} at frame {result.frame} of {result.frames} "
                    f"(evaluation {result.evaluations} of {result.total}): {complete}, frame {result.frame}'s "
                    f"best so far is in {result.partial}")
        else:
            line = (f"nst: stopped by {signal_name} at frame {result.frame} of {result.frames}: {complete}"
                    + (f"; frame {result.frame}: {result.error}" if result.error else ""))
        return line + "; run the same command again to go on"

    def at_once(self) -> str:
        """What a run stopped at once (a second signal) keeps."""
        if self.current is None:
            return "no clip was in progress"
        job, t = self.current
        text = f"the frames written in {job.frames_dir} are complete"
        states = sorted(job.frames_dir.glob("*.partial.pt")) if job.frames_dir.is_dir() else []
        if t is not None and states:
            text += f", frame {t}'s last checkpoint is in {states[0]}"
        return text + "; run the same command again to go on"

    def frame(self, job: ClipJob, f: FrameResult) -> None:
        status = "done" if f.status == "done" else "skipped"   # reused frames count as skipped
        self.frames.job_finished(JobResult(Job(job.content, job.style, f.output, f.index), status, f.seconds,
                                           f.J, f.J_content, f.J_style))

    def finished(self, result: ClipResult, shard: tuple[int, int] | None) -> None:
        self.close()
        self.finished_clips += 1
        self.counts[result.status] = self.counts.get(result.status, 0) + 1
        job = result.job
        count = f"[{self.finished_clips}/{self.total}] " if self.total > 1 else ""
        made = f"{result.done} stylised, {result.reused} reused"
        mean = f", mean J {result.J:.4g}" if result.J is not None else ""
        if result.status == "failed":
            if self.total == 1:
                return  # the command's error, said by the caller
            self.out.warn(f"nst: {count}failed {job.content} with {job.style_label}: {result.error}")
        elif result.status == "skipped":
            self.out.say(f"nst: {count}skipped {job.output}: it exists")
        elif result.status == "partial":
            self.out.say(f"nst: {count}{job.frames_dir}: frames {made}{mean} in {duration(result.seconds)}; "
                         f"{result.missing} of {result.frames} frames left to other shards, so "
                         f"{'no video yet' if job.is_video else 'not complete yet'}")
        elif result.status == "done":
            what = f"{result.frames} frames ({made}){mean}, {duration(result.seconds)}"
            if job.is_video:
                what += f"; its frames are in {job.frames_dir}"
            self.out.say(f"nst: {count}wrote {job.output}: {what}")

    def summary(self, shard: tuple[int, int] | None, stopped: str = "") -> None:
        """The last line of a run of several clips; ``stopped``: the line saying what a signal
        stopped (then said even when quiet)."""
        c = self.counts
        line = f"nst: clips: {c['done']} done, {c['partial']} partial, {c['skipped']} skipped, {c['failed']} failed"
        if c["interrupted"]:
            line += f", {c['interrupted']} interrupted"
        not_run = self.total - self.finished_clips
        if stopped and not_run:
            line += f", {not_run} not run"
        if shard:
            line += f" (shard {shard[0]}/{shard[1]} of each clip's frames)"
        line += f" in {duration(time.perf_counter() - self.start_time)}"
        if stopped:
            line += "; " + stopped.removeprefix("nst: ")
        (self.out.warn if c["failed"] or stopped else self.out.say)(line)

    def close(self) -> None:
        if self.frames is not None:
            self.frames.close()
            self.frames = None

    @staticmethod
    def _frame_name(job: ClipJob, t: int) -> str:
        return f"{job.output} frame {t}"
