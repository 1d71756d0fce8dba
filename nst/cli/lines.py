"""The plain-line reporter, ``Reporter``: what a run of images says on a stream that is not a
terminal (a log file, a pipe, a cluster job's output), and the base of the bar reporter
(nst.cli.bars), which shows the same things as tqdm bars. It owns what a reporter counts and
remembers of a run (jobs finished by status, the seconds per evaluation measured, the job in
progress and its first, best and last iterates) and the wording of every line: a scale's plan,
a progress line every ``PLAIN_INTERVAL`` seconds with an ETA, a line per finished job, the
summary of a run into a directory and the line of a run that a signal stopped. Which reporter
a run gets, and the protocol a run follows, are in nst.cli.console."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from ..core.config import Config
from ..core.schedule import schedule
from ..core.runs import Iterate
from ..jobs import checkpoint
from ..jobs.batch import STATUSES, JobResult
from ..jobs.sequence import FrameResult
from ..units import format_bytes
from .phrases import cost, duration, plural, tally

PLAIN_INTERVAL = 15.0  # seconds between progress lines of one job when stderr is not a terminal
ETA_SHOWN = 120.0  # runs expected to take at least this long say so after each scale's first evaluation


@dataclass
class _Job:
    """What the reporter knows of the job in progress."""

    output: str = ""
    first: Iterate | None = None
    best: Iterate | None = None
    last: Iterate | None = None
    saved: list[Path] = field(default_factory=list)
    shown: float = 0.0  # time.monotonic() of the last progress line


class Reporter:
    """Plain lines on ``stream``; the base of the other kinds (see the module docstring)."""

    def __init__(self, cfg: Config, stream: TextIO, quiet: bool = False, interval: float = PLAIN_INTERVAL) -> None:
        self.cfg, self.stream, self.quiet, self.interval = cfg, stream, quiet, interval
        self.scales = len(schedule(cfg))
        self.total: int | None = None  # jobs in the run; None: one image to a file
        self.unit = "img"
        self.finished = 0
        self.counts = dict.fromkeys(STATUSES, 0)
        self.spent = [0.0, 0]  # seconds and evaluations of the jobs finished in this process
        self.start_time = time.perf_counter()
        self.job = _Job()

    # -- what a run calls ---------------------------------------------------------------------
    def start(self, jobs: int | None, unit: str = "img") -> None:
        """A run of ``jobs`` jobs into a directory, or (None) of one image to a file."""
        self.total, self.unit = jobs, unit
        self.start_time = time.perf_counter()

    def job_started(self, output: str | Path) -> None:
        self.job = _Job(str(output), shown=time.monotonic())

    def iterate(self, it: Iterate, output: str | Path = "") -> None:
        """After each evaluation of J of the job writing ``output``."""
        job = self.job
        if job.first is None or str(output) != job.output and output:
            self.job_started(output)
            job = self.job
        if job.first is None:
            job.first = it
        if job.last is None or it.scale != job.last.scale:
            self.scale_started(it)
        job.last = it
        if it.better_than(job.best):
            job.best = it
        self._progress(it)

    def scale_started(self, it: Iterate) -> None:
        """The first iterate of a scale of the coarse-to-fine schedule: which scale (when there are
        several), how it runs where the memory plan departs from the settings (tiles, the
        optimiser's history), and how long the whole run is expected to take (when that is long)."""
        line = self._scale_line(it, with_size=self.scales > 1)
        if line:
            self.say(f"nst: {self._name()}{line}")

    def _scale_line(self, it: Iterate, with_size: bool) -> str:
        """'scale 2/4, 1024x1024: 16 tiles of ... (--max-memory 4.0 GiB); expected to take about 47 min in all'."""
        head = ""
        if with_size:
            w, h = it.size
            head = f"scale {it.scale + 1}/{self.scales}, {w}x{h}"
        rest = []
        plan = it.plan
        if plan is not None and plan.notes:
            budget = f" (--max-memory {format_bytes(plan.max_memory)})" if plan.max_memory else ""
            rest.append("; ".join(plan.notes) + budget)
        if plan is not None and plan.untiled_fits:
            rest.append(f"{plan.tiles} tiles of {plan.tile} px as --tile asks, though the whole image fits the "
                        f"memory budget: untiled (--tile auto) it would be about "
                        f"{plan.work / (plan.width * plan.height):.1f}x faster")
        if it.eta is not None and it.eta >= ETA_SHOWN:
            rest.append(f"expected to take about {duration(it.eta)} in all")
        tail = "; ".join(rest)
        return f"{head}: {tail}" if head and tail else head or tail

    def saved(self, path: str | Path) -> None:
        """An intermediate iterate was written (--save-every)."""
        self.job.saved.append(Path(path))

    def job_finished(self, result: JobResult) -> None:
        """A job ended: done, skipped, failed, interrupted or claimed (left to the worker that holds
        it). A failed single image is left to the caller (it is the command's error); every other
        failure is said even when quiet. An interrupted job is said by ``stopped``."""
        job = self._job_ended(result.status)
        if result.status == "interrupted":
            self._interrupted = (result, job.last.i if job.last else result.evaluations)
        out = result.job.output
        if result.status == "claimed":
            self.say(f"nst: {'' if self.total is None else self._count() + ' '}{out}: claimed by "
                     f"{result.claimed_by}, left to it")
        elif self.total is None:  # one image to a file
            if result.status == "skipped":
                self.say(f"skipped {out}: it exists")
            elif result.status == "done" and result.resumed_from is not None:  # not from the start: no first J
                here = result.total - result.resumed_from
                self.say(f"wrote {out}: best J {result.J:.4g} after {plural(result.total, 'evaluation')}, resumed at "
                         f"evaluation {result.resumed_from} ({here} in this run, {result.seconds:.1f} s)")
            elif result.status == "done" and job.first is None:  # --iterations 0
                self.say(f"wrote {out}: the initial image, 0 evaluations, {result.seconds:.1f} s")
            elif result.status == "done":
                first, best, last = job.first, job.best, job.last
                self.say(f"wrote {out}: J {first.J:.4g} -> best {best.J:.4g} in {plural(last.i, 'evaluation')}, "
                         f"{last.seconds:.1f} s")
                if job.saved:
                    self.say(f"wrote {self._iterates(job.saved)}")
        elif result.status == "failed":
            self.warn(f"nst: {self._count()} failed {result.job.content} with {result.job.style_label}: "
                      f"{result.error}")
        elif result.status == "done":
            resumed = "" if result.resumed_from is None else \
                f" (resumed at evaluation {result.resumed_from} of {result.total})"
            self._wrote(out, result.J, result.seconds, job.saved, resumed)

    def frame_finished(self, frame: FrameResult) -> None:
        """A frame of a clip ended (this reporter's jobs are a clip's frames): stylised ("done"), or
        made by an earlier run ("reused", counted as skipped and not said)."""
        job = self._job_ended("done" if frame.status == "done" else "skipped")
        if frame.status == "done":
            self._wrote(frame.output, frame.J, frame.seconds, job.saved)

    def _job_ended(self, status: str) -> _Job:
        """Count a job that ended, add its time to the rate measured, end its progress display;
        returns what was known of it."""
        self.counts[status] += 1
        self.finished += 1
        job = self.job
        if job.first is not None and job.last is not None:  # for the ETA of the jobs left
            self.spent[0] += job.last.seconds
            self.spent[1] += job.last.i - job.first.i + 1
            self._per_job = job.last.total
        self._job_done()
        self.job = _Job()
        return job

    def _wrote(self, output: Path, J: float | None, seconds: float, saved: list[Path], resumed: str = "") -> None:
        """The line of a job of a run into a directory that wrote ``output``."""
        what = "the initial image" if J is None else f"best J {J:.4g}"  # --iterations 0
        line = f"nst: {self._count()} wrote {output}: {what} in {duration(seconds)}{resumed}" + self._eta()
        if saved:
            line += f"; {self._iterates(saved)}"
        self.say(line)

    def wrote(self, path: str | Path, what: str = "") -> None:
        """A file other than the outputs was written (--log, --gif, a plot, ...)."""
        self.say(f"wrote {path}" + (f": {what}" if what else ""))

    def summary(self, shard: tuple[int, int] | None = None, interrupted: str = "", at_once: bool = False) -> None:
        """The last line of a run into a directory: counts and time; said when quiet only if a job
        failed or the run was interrupted (``interrupted``: what stopped it, e.g. 'SIGTERM';
        ``at_once``: it stopped without waiting for the job in progress to keep its work)."""
        c = self.counts
        line = tally("nst: ", c, ("done", "skipped", "failed"), (self.total or 0) - self.finished,
                     f"shard {shard[0]}/{shard[1]}" if shard else "")
        line += f" in {time.perf_counter() - self.start_time:.1f} s"
        if interrupted:
            line += f"; stopped {'at once ' if at_once else ''}by {interrupted}"
            if at_once:
                line += f"; {self._last_checkpoint()}"
            elif self.kept is not None:
                line += f": {self._kept(self.kept)}"
            line += "; the outputs written are complete: run the same command with --skip-existing to finish"
        (self.warn if c["failed"] or interrupted else self.say)(line)

    def stopped(self, signal: str, at_once: bool = False) -> None:
        """One line, said even when quiet, for a run of one image that a signal stopped: what was
        kept and where (a run into a directory says it in its summary). ``at_once``: it stopped
        without waiting (a second signal); the image in progress keeps its last checkpoint."""
        if at_once:
            self.warn(f"nst: stopped at once by {signal}; {self._last_checkpoint()}")
        elif self._interrupted is None:
            self.warn(f"nst: stopped by {signal} before the image was started; nothing to keep")
        else:
            result, at = self._interrupted
            line = f"nst: stopped by {signal} at evaluation {at} of {result.total}: {self._kept(result)}"
            if result.partial is not None:
                line += "; run the same command again to finish"
            self.warn(line)

    def _last_checkpoint(self) -> str:
        """What the image in progress kept before a run stopped at once."""
        output = self.job.output
        if output and checkpoint.state_path(output).exists() and checkpoint.preview_path(output).exists():
            return f"the last checkpoint of {output} is in {checkpoint.preview_path(output)}"
        return f"nothing of {output} was kept" if output else "no image was in progress"

    @property
    def kept(self) -> JobResult | None:
        """The interrupted job of this run, if one was."""
        return None if self._interrupted is None else self._interrupted[0]

    _interrupted: tuple[JobResult, int] | None = None  # and the evaluation it had reached

    @staticmethod
    def _kept(result: JobResult) -> str:
        if result.partial is None:
            return f"nothing kept of {result.job.output} ({result.error})"
        text = f"the best image so far of {result.job.output} is in {result.partial}"
        if result.J is not None:
            text += f" (J {result.J:.4g})"
        if result.error:
            text += f" ({result.error})"
        return text

    def say(self, text: str) -> None:
        """A message, unless quiet."""
        if not self.quiet:
            self._print(text)

    def warn(self, text: str) -> None:
        """A message that is said even when quiet."""
        self._print(text)

    def close(self) -> None:
        """Before any message about how the run ended."""

    def __enter__(self) -> Reporter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- how: plain lines ------------------------------------------------------------------------
    def _print(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def _progress(self, it: Iterate) -> None:
        now = time.monotonic()
        if self.quiet or now - self.job.shown < self.interval or it.i >= it.total:
            return
        self.job.shown = now
        here = it.i - self.job.first.i + 1  # evaluations in this process (a resumed run began later)
        eta = (max(0.0, it.eta - it.seconds) if it.eta is not None  # the run's own forecast, all scales
               else it.seconds / here * (it.total - it.i))
        later = self._jobs_left(it.total, it.seconds, here)
        noun = "image" if self.unit == "img" else self.unit
        left = (self.total or 0) - self.finished
        also = f" for this {noun}, {duration(eta + later)} for all {left} left" if later else ""
        self._print(f"nst: {self._name()}{it.i}/{it.total} evaluations, {self._costs(self.job.best)}, "
                    f"{duration(it.seconds)}, ETA {duration(eta)}{also}")

    def _jobs_left(self, per_job: int, seconds: float = 0.0, evaluations: int = 0) -> float:
        """Seconds the jobs not yet started will take, ``per_job`` evaluations each, at the seconds
        per evaluation measured in this process: its finished jobs' plus ``seconds`` and
        ``evaluations`` of the job running (if one is)."""
        left = (self.total or 0) - self.finished - (1 if evaluations else 0)
        spent_s, spent_e = self.spent[0] + seconds, self.spent[1] + evaluations
        return left * per_job * spent_s / spent_e if left > 0 and spent_e else 0.0

    def _job_done(self) -> None:
        """The job's progress display ends (its final line follows)."""

    # -- text ------------------------------------------------------------------------------------
    def _costs(self, it: Iterate, sep: str = " ") -> str:
        a, b = self.cfg.content_weight, self.cfg.style_weight
        return (f"best J{sep}{it.J:.4g} (content{sep}{cost(it.J_content, a, it.J)}, "
                f"style{sep}{cost(it.J_style, b, it.J)})")

    def _name(self) -> str:
        return f"{self.job.output}: " if self.total is not None and self.job.output else ""

    def _count(self) -> str:
        return f"[{self.finished}/{self.total}]"

    def _eta(self) -> str:
        """The ETA of the jobs left, from the seconds per evaluation measured in this process (a job
        resumed near its end took seconds, not what a whole job takes)."""
        left = (self.total or 0) - self.finished
        if not left:
            return ""
        if self.spent[1] and self._per_job:
            return f"; ETA {duration(self._jobs_left(self._per_job))}"
        elapsed = time.perf_counter() - self.start_time  # no evaluation yet (--iterations 0, all skipped)
        return f"; ETA {duration(elapsed / self.finished * left)}"

    _per_job: int = 0  # evaluations of the latest finished job: what each job left is expected to take

    @staticmethod
    def _iterates(paths: list[Path]) -> str:
        if len(paths) == 1:
            return f"1 iterate: {paths[0]}"
        return f"{len(paths)} iterates: {paths[0]} ... {paths[-1].name}"
