"""The job runner shared by images (nst.jobs.batch) and clips (nst.jobs.clips): one network for
every job, each style read once, a job's failure as its result, and partial results resumed.

A run goes job by job: a job whose output is there may be skipped; a job whose output another
worker is working on is left to it (a claim beside the output: nst.jobs.claims); its inputs are
read before the network is built, so that a bad input fails its job and not the run; then the
job's work runs on the one Stylizer. An exception in a job becomes a "failed" result with the error in one
line (nst.errors.one_line); errors in building the network (bad weights or device) and a memory
budget that no run of this size fits concern every job and are raised.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

from PIL import Image
from torch import Tensor

from ..core.config import Config
from ..core.planner import BudgetError, Plan
from ..core.runs import ResumeError, RunResult, RunState
from ..core.stylizer import Stylizer
from ..core.targets import StyleTargets, Targets
from ..errors import one_line
from ..pixels.images import load_image
from ..units import format_bytes
from . import checkpoint, claims
from .results import Result
from .styles import Style, style_label, style_to_json  # noqa: F401 - given here too

# How many styles' images a run keeps; jobs come style by style, so one is enough without blends.
STYLE_CACHE = 16


class StyleBank:
    """The network of a run and the styles it meets: each style image loaded once, and the
    Stylizer (built at first need) with its StyleTargets, which compute each style's Grams once
    per size."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self._targets: StyleTargets | None = None
        self._image = functools.lru_cache(maxsize=STYLE_CACHE)(self._load)
        self._notes: dict[Path, list[str]] = {}  # what reading a style said, until said once

    def _load(self, path: Path) -> Image.Image:
        notes: list[str] = []
        image = load_image(path, notes.append)
        self._notes[path] = notes
        return image

    @property
    def stylizer(self) -> Stylizer:
        """The run's Stylizer; building it raises for bad weights or a bad device."""
        return self._style_targets.network  # the Stylizer it was made with

    @property
    def _style_targets(self) -> StyleTargets:
        if self._targets is None:
            self._targets = StyleTargets(Stylizer(self.cfg), maxsize=4 * STYLE_CACHE)
        return self._targets

    def read(self, style: Style, note: Callable[[str], None] | None = None) -> None:
        """Load the style's images now (a bad one raises here, before any work); ``note`` hears what
        reading an image said (a colour profile it could not use: nst.pixels.images.to_srgb), once a run."""
        for p, _ in style:
            self._image(p)
            if note is not None:
                for line in self._notes.pop(p, ()):
                    note(line)

    def images(self, style: Style) -> list[tuple[Image.Image, float]]:
        """The style's images with their weights: what a run's AdaIN or style start is made from."""
        return [(self._image(p), w) for p, w in style]

    def targets(self, style: Style) -> Targets:
        """The style's Targets, its Grams computed once per size for the whole run."""
        return self._style_targets.of([(p, self._image(p), w) for p, w in style])

    def image(self, path: Path) -> Image.Image:
        """A style image, read once."""
        return self._image(path)

    def masked_targets(self, entries: Sequence[tuple[Hashable, Image.Image, float, Tensor | None]]) -> Targets:
        """The Targets of (key, image, weight, mask) entries: styles over their own regions
        (nst.core.targets.StyleTargets.of), each computed once per size for the whole run. The
        network is built when they are first asked for, not now (a job's inputs are read before)."""
        return lambda size, content: self._style_targets.of(entries)(size, content)


class Resumable:
    """One output's partial result across its run (nst.jobs.checkpoint): the state the run resumes
    from, loaded at the start unless ``restart``, and the Keeper that keeps the next one.

    ``label`` names the output in notes ("frame 3"; by default its path). ``note`` hears, in one
    line, of a partial result resumed or discarded, or one that could not be written.
    """

    def __init__(self, output: Path, setting: dict, record: dict, *, restart: bool = False,
                 make_dirs: bool = False, note: Callable[[str], None] | None = None,
                 label: str | None = None) -> None:
        self.output = output
        self._note = note
        self._resuming = label or str(output)
        self._over = f"starting {label} over" if label else "starting over"
        self.resume: RunState | None = None
        if not restart:
            try:
                self.resume = checkpoint.load(output, setting)
            except checkpoint.StaleState as e:
                self.note(f"{e}; {self._over}")
        self.keeper = checkpoint.Keeper(output, setting, record, make_dirs, note)

    def note(self, message: str) -> None:
        if self._note is not None:
            self._note(message)

    def run(self, attempt: Callable[[RunState | None], RunResult]) -> RunResult:
        """``attempt(resume)``: the run, from the kept state; if that state does not fit the run
        (a ResumeError), from the start again, after a note."""
        if self.resume is not None:
            self.note(f"resuming {self._resuming} at evaluation {self.resume.i} of {self.resume.total} "
                      f"from {checkpoint.state_path(self.output)}")
        while True:
            try:
                return attempt(self.resume)
            except ResumeError as e:
                if self.resume is None:
                    raise
                self.note(f"{checkpoint.state_path(self.output)}: {e}; {self._over}")
                self.resume = None

    @property
    def resumed_from(self) -> int | None:
        """The evaluations done before this process, when it resumed a partial result."""
        return None if self.resume is None else self.resume.i

    @property
    def partial(self) -> Path | None:
        """The preview of the partial result kept, if one was kept."""
        return checkpoint.preview_path(self.output) if self.keeper.kept else None


JobT = TypeVar("JobT")
PreparedT = TypeVar("PreparedT")
ResultT = TypeVar("ResultT", bound=Result)  # nst.jobs.results: JobResult, ClipResult


def run_jobs(jobs: Iterable[JobT], bank: StyleBank, result: Callable[..., ResultT], *,
             prepare: Callable[[JobT], PreparedT], work: Callable[[JobT, PreparedT, Stylizer, float], ResultT | None],
             skip: Callable[[JobT], bool] | None = None,
             should_stop: Callable[[], bool] | None = None,
             claim: Callable[[JobT], claims.Claim | None] | None = None) -> Iterator[ResultT]:
    """Run the jobs on the bank's network, yielding each job's result.

    For each job: ``result(job, "skipped")`` if ``skip(job)``; else ``claim(job)`` claims its
    output (nst.jobs.claims.take; None: no claim), and if a live worker holds it, the job is
    left to that worker: ``result(job, "claimed", claimed_by=holder)``. Once claimed, ``skip`` is
    asked again (the worker that held the claim may have just written the output). Then
    ``prepare(job)`` reads its inputs, before the network is built (an exception, there or in
    ``claim``: ``result(job, "failed", seconds=, error=, exception=)``, and the run goes on); then
    ``work(job, prepared, stylizer, start)`` (``start``: the job's perf_counter) returns its
    result, or None if the run was stopped before the job began. An exception in ``work`` fails
    the job, but a BudgetError (no run of this size fits the memory budget) and errors in building
    the network are raised. The claim is released when the job ends, before its result is
    yielded, however it ends. No job starts once ``should_stop()`` is true, and the run ends after
    an "interrupted" result.
    """
    for job in jobs:
        if should_stop is not None and should_stop():
            return
        start = time.perf_counter()
        if skip is not None and skip(job):
            yield result(job, "skipped")
            continue
        try:
            held = None if claim is None else claim(job)
        except claims.Claimed as e:  # another worker is on it: left to it
            yield result(job, "claimed", seconds=time.perf_counter() - start, claimed_by=e.holder)
            continue
        except Exception as e:  # the claim could not be written: the output cannot be either
            yield _failed(result, job, e, start)
            continue
        try:
            if held is not None and skip is not None and skip(job):  # written by the claim's last holder
                done = result(job, "skipped")
            else:
                done = _run(job, bank, result, prepare, work, start)
        finally:
            if held is not None:
                held.release()
        if done is None:
            return
        yield done
        if done.status == "interrupted":
            return


def _run(job: JobT, bank: StyleBank, result: Callable[..., ResultT], prepare: Callable[[JobT], PreparedT],
         work: Callable[[JobT, PreparedT, Stylizer, float], ResultT | None], start: float) -> ResultT | None:
    """One job's inputs read and its work done (see run_jobs)."""
    try:
        prepared = prepare(job)
    except Exception as e:  # a bad, unreadable or vanished input fails its job only
        return _failed(result, job, e, start)
    stylizer = bank.stylizer  # raises for bad weights or device: every job would fail
    try:
        return work(job, prepared, stylizer, start)
    except BudgetError:  # the budget cannot hold any run of this size: a usage error, not this job's
        raise
    except Exception as e:  # e.g. out of memory, a full disk: this job fails, the next may not
        return _failed(result, job, e, start)


def _failed(result: Callable[..., ResultT], job: JobT, e: Exception, start: float) -> ResultT:
    return result(job, "failed", seconds=time.perf_counter() - start, error=one_line(e), exception=e)


def slow_plan(plans: Sequence[Plan]) -> str | None:
    """One line for a run whose memory budget forces small tiles (nst.core.planner.Plan.faster):
    how much faster a named budget would be, said before work (a small budget is not a trap);
    None if no plan is slow. The scale with the most work per evaluation is the one named."""
    slow = [p for p in plans if p.faster is not None]
    if not slow:
        return None
    p = max(slow, key=lambda p: p.work)
    budget, ratio = p.faster
    return (f"{p.width}x{p.height} runs in {p.tiles} tiles of {p.tile} px within the memory budget of "
            f"{format_bytes(p.max_memory)}: each evaluation about {ratio:.1f}x slower than within "
            f"{format_bytes(budget)}")


def note_slow_plan(note: Callable[[str], None] | None) -> Callable[[Sequence[Plan]], None] | None:
    """A Stylizer.run ``on_plans`` that tells ``note`` slow_plan's line, the first time there is one
    (a clip's frames run one by one: said once, not every frame)."""
    if note is None:
        return None
    said = False

    def on_plans(plans: Sequence[Plan]) -> None:
        nonlocal said
        line = None if said else slow_plan(plans)
        if line is not None:
            said = True
            note(line)

    return on_plans
