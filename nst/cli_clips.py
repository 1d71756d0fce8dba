"""The command line's video path: ``nst clip.mp4 style.jpg -o out.mp4`` and ``nst frames/ style.jpg
-o out/ --sequence``. Parsing stays in nst.cli; this runs nst.clips and reports through nst.console:
per clip, one bar (or plain lines) over its frames and one over each frame's evaluations of J.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

import click

from .batch import Job, JobResult
from .clips import FRAME_EXT, ClipJob, ClipResult, plan, run_clips
from .config import Config
from .console import Reporter, duration, make_reporter
from .errors import InputError
from .images import FORMATS
from .sequence import FrameResult, SequenceConfig
from .transfer import Iterate
from .video import VIDEO_EXTENSIONS, Encoder


def run(contents: Sequence[Path], styles: Sequence, output: str, cfg: Config, seq: SequenceConfig,
        encoder: Encoder, *, sequence: bool, name: str, ext: str | None, shard: tuple[int, int] | None,
        skip_existing: bool, fail_fast: bool, json_lines: bool, quiet: bool, debug: bool) -> int:
    """Plan and run the clips; return the exit status (0 all done, 1 a clip failed). A single clip
    that fails raises its exception (the caller makes it one line: exit 2 for bad input)."""
    video_ext = ext if ext is not None and ext.lower() in VIDEO_EXTENSIONS else ".mp4"
    frame_ext = ext if ext is not None and ext.lower() in FORMATS else FRAME_EXT
    if ext is not None and sequence is False and ext.lower() not in VIDEO_EXTENSIONS:
        raise InputError(f"--ext {ext}: videos are written as {' '.join(sorted(VIDEO_EXTENSIONS))}")
    jobs = plan(contents, styles, output, sequence=sequence, name=name, ext=video_ext, frame_ext=frame_ext)
    for job in jobs:
        if job.is_video:
            encoder.check(job.output)
    single = len(jobs) == 1
    clips = _Clips(cfg, quiet, len(jobs))
    try:
        for result in run_clips(jobs, cfg, seq, encoder=encoder, shard=shard, skip_existing=skip_existing,
                                on_start=clips.start, on_frame=clips.frame, on_iterate=clips.iterate):
            clips.finished(result, shard)
            if json_lines:
                click.echo(json.dumps(result.to_json()))
            if result.status == "failed":
                if single:
                    raise result.exception
                if debug:
                    traceback.print_exception(result.exception, file=sys.stderr)
                if fail_fast:
                    break
    except KeyboardInterrupt:
        clips.close()
        clips.out.warn("nst: interrupted; the frames written are complete and kept: run the same command "
                       "again to go on from the first missing frame")
        raise
    clips.close()
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
        self.counts = {"done": 0, "partial": 0, "skipped": 0, "failed": 0, "stopped": 0}
        self.finished_clips = 0
        self.start_time = time.perf_counter()

    def start(self, job: ClipJob, frames: int) -> None:
        self.close()
        self.frames = make_reporter(self.cfg, self.quiet)
        self.frames.start(frames, unit="frame")

    def iterate(self, job: ClipJob, t: int, it: Iterate) -> None:
        self.frames.iterate(it, self._frame_name(job, t))

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

    def summary(self, shard: tuple[int, int] | None) -> None:
        c = self.counts
        line = f"nst: clips: {c['done']} done, {c['partial']} partial, {c['skipped']} skipped, {c['failed']} failed"
        if shard:
            line += f" (shard {shard[0]}/{shard[1]} of each clip's frames)"
        line += f" in {duration(time.perf_counter() - self.start_time)}"
        (self.out.warn if c["failed"] else self.out.say)(line)

    def close(self) -> None:
        if self.frames is not None:
            self.frames.close()
            self.frames = None

    @staticmethod
    def _frame_name(job: ClipJob, t: int) -> str:
        return f"{job.output} frame {t}"
