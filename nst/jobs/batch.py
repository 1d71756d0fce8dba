"""Batch style transfer: the image jobs run with one network for all jobs. Their job list (inputs,
naming, shards) is planned by nst.jobs.joblist (with nst.jobs.inputs and nst.jobs.naming), without
torch; its names are given here too."""

from __future__ import annotations

import functools
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from ..core.config import Config
from ..core.regions import Region
from ..core.runs import Iterate, RunResult
from ..core.stylizer import Stylizer
from ..errors import NSTError, one_line
from ..pixels.images import load_image, resize_long_edge, save_image
from . import checkpoint, claims, jobrecord, outputs, provenance
from . import regions as region_files
from .checkpoint import CHECKPOINT_EVERY
# the job list's names, as nst.jobs.batch has always given them
from .inputs import check_style, expand, expand_styles, image_extensions, list_images, parse_style  # noqa: F401
from .joblist import Job, JobList, parse_shard, plan, shard, writes_into_dir  # noqa: F401
from .naming import NAME_FIELDS, check_template, normalize_ext, output_name  # noqa: F401
from .results import Result
from .runner import Resumable, StyleBank, note_slow_plan, run_jobs
from .styles import Style  # noqa: F401

# A job's status: written; left alone (its output existed); failed; stopped early with its partial result
# kept; left to the live worker that holds its output's claim (nst.jobs.claims).
STATUSES = ("done", "skipped", "failed", "interrupted", "claimed")


@dataclass(frozen=True)
class JobResult(Result):
    """A finished job: status is "done", "skipped" (its output existed), "failed", "interrupted"
    (should_stop() ended its run early; the best G so far is kept in ``partial``, see nst.jobs.checkpoint)
    or "claimed" (another live worker holds its output's claim, ``claimed_by``: it is left to that worker).
    Its fields are Result's (J: of the image written or kept, the lowest J seen; evaluations: of the
    run done so far, all processes, done: all of them) and ``resumed_from``."""

    job: Job
    resumed_from: int | None = None  # evaluations done before this process, when it resumed a partial result

    # to_json's record: index, content, style, output, status, seconds, J, J_content, J_style, evaluations,
    # total, resumed_from, partial, error, claimed_by (claimed: {host, pid, started, heartbeat, fresh, file}).
    JSON = ("index", "content", "style", "output", "status", "seconds", "J", "J_content", "J_style",
            "evaluations", "total", "resumed_from", "partial", "error", "claimed_by")


@dataclass(frozen=True)
class _ImageRun:
    """What run_batch does to each job, with its options (see run_batch)."""

    cfg: Config
    bank: StyleBank
    make_dirs: bool
    on_iterate: Callable[[Job, Iterate], None] | None
    should_stop: Callable[[], bool] | None
    checkpoint_every: float | None
    restart: bool
    on_note: Callable[[Job, str], None] | None

    def claim(self, job: Job) -> claims.Claim:
        """The job's claim on its output (nst.jobs.claims.take), its folder checked (and made) first;
        raises Claimed if a live worker holds it."""
        outputs.check_file(job.output, self.make_dirs)
        return claims.take(job.output)

    def prepare(self, job: Job) -> tuple[Image.Image, list[Region]]:
        """The content, read and resized, the style read, and the regions' masks and styles read:
        a bad input fails its job only."""
        outputs.check_file(job.output, self.make_dirs)  # before any work, not after it
        note = None if self.on_note is None else functools.partial(self.on_note, job)
        source = load_image(job.content, note)
        self.bank.read(job.style, note)
        regions = region_files.JobRegions(job, self.bank, source.size, note=note, on_empty=note)
        return resize_long_edge(source, self.cfg.size), regions.at()

    def work(self, job: Job, prepared: tuple[Image.Image, list[Region]], stylizer: Stylizer,
             start: float) -> JobResult | None:
        """Stylize the job and write its output, resuming its partial result; None if stopped before."""
        cfg, bank = self.cfg, self.bank
        content, regions = prepared
        # OSError: an input vanished since it was read
        made = jobrecord.JobRecord(cfg, job)
        setting = made.settings()
        rec = made.record(stylizer.device, stylizer.dtype)
        note = None if self.on_note is None else functools.partial(self.on_note, job)
        partial = Resumable(job.output, setting, rec, restart=self.restart, make_dirs=self.make_dirs, note=note)
        progress = None if self.on_iterate is None else functools.partial(self.on_iterate, job)
        if self.should_stop is not None and self.should_stop():
            return None
        result = partial.run(lambda resume: stylizer.run(
            content, bank.targets(job.style), bank.images(job.style), progress, should_stop=self.should_stop,
            resume=resume, on_state=partial.keeper, state_every=self.checkpoint_every or None, regions=regions,
            on_plans=note_slow_plan(note)))
        if result.stopped:  # stopped early: what was kept beside the output
            keeper = partial.keeper
            K = keeper.kept or keeper.stopped
            return JobResult(job, "interrupted", time.perf_counter() - start, K.J, K.J_content, K.J_style,
                             error=keeper.problem, evaluations=K.i, total=K.total, resumed_from=partial.resumed_from,
                             partial=partial.partial)
        rec = made.record(stylizer.device, stylizer.dtype, [p.to_json() for p in result.plans], stylizer.budget)
        rec = provenance.took_over(rec, result.float32_from)
        write_or_keep(result, job.output, setting, rec)
        return JobResult(job, "done", time.perf_counter() - start, result.J, result.J_content, result.J_style,
                         evaluations=result.total, total=result.total, resumed_from=partial.resumed_from)


def run_batch(jobs: Iterable[Job], cfg: Config, *, skip_existing: bool = False, make_dirs: bool = True,
              on_iterate: Callable[[Job, Iterate], None] | None = None,
              should_stop: Callable[[], bool] | None = None, checkpoint_every: float | None = CHECKPOINT_EVERY,
              restart: bool = False, on_note: Callable[[Job, str], None] | None = None,
              claim: bool = True) -> Iterator[JobResult]:
    """Run the jobs with one network, yielding a JobResult as each finishes.

    The network is built once, at the first job with work to do; each style's targets are
    computed once. A job whose output exists is skipped if ``skip_existing`` (outputs are
    written atomically, so an existing one is complete). A job that fails (a bad, unreadable
    or vanished input, a write error, a non-finite J, ...) yields a "failed" result and the run
    goes on; errors in building the network (bad weights or device) concern every job and are
    raised. Each output holds its provenance (see nst.jobs.provenance). ``make_dirs`` creates missing
    folders of outputs. ``on_iterate(job, iterate)`` is called after every evaluation of J.

    Partial results (nst.jobs.checkpoint): every ``checkpoint_every`` seconds (None or 0: never) a
    job keeps its best G so far beside its output; when ``should_stop()`` turns true, the
    running job stops within one evaluation, keeps its partial result and yields "interrupted",
    and no further job starts. A job with a partial result resumes it, unless ``restart`` or
    unless it was made with other settings (then it starts over). Writing the output removes
    the partial files. ``on_note(job, message)`` receives one-line notes: a resumed or discarded
    partial result, a checkpoint that could not be written.

    Workers sharing an output folder (``claim``, nst.jobs.claims): a job claims its output before
    its work starts (OUT.claim beside it, refreshed while it runs, removed when it ends); a job whose
    output a live worker holds yields "claimed" and is left to that worker; with ``skip_existing``,
    an output written by the worker that held its claim is skipped.
    """
    bank = StyleBank(cfg)
    run = _ImageRun(cfg, bank, make_dirs, on_iterate, should_stop, checkpoint_every, restart, on_note)
    skip = (lambda job: job.output.exists()) if skip_existing else None
    return run_jobs(jobs, bank, JobResult, prepare=run.prepare, work=run.work, skip=skip, should_stop=should_stop,
                    claim=run.claim if claim else None)


def write_or_keep(result: RunResult, output: Path, setting: dict, record: dict) -> None:
    """Write the finished image to ``output`` with its provenance ``record``, and remove its partial
    files. If it cannot be written (a full disk, the folder gone or made read-only since the run
    began), the work is not lost: the finished state is kept as the partial result (a re-run writes
    it without evaluating), or if not even that can be written, the image in the system's temporary
    folder; the NSTError raised says which and where."""
    try:
        save_image(result.image, output, description=provenance.dumps(record))
    except (NSTError, OSError) as e:
        why = one_line(e)
        try:
            kept = checkpoint.save(output, result.state, setting, record)
        except (NSTError, OSError):
            kept = None
        if kept is not None:
            raise NSTError(f"{why}; the finished image is kept in {kept}: run the same command again to "
                           "write it") from e
        try:
            spare = save_image(result.image, Path(tempfile.gettempdir()) / f"nst-{os.getpid()}-{output.name}",
                               description=provenance.dumps(record))
        except (NSTError, OSError):
            raise NSTError(f"{why}; nothing could be kept") from e
        raise NSTError(f"{why}; the finished image is kept in {spare}") from e
    checkpoint.remove(output)
