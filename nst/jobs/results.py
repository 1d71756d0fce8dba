"""A job's result, image or clip alike, without torch: ``Result`` holds what every job's result says
(its job and status, its time, J and its parts, the error, how far its run got, the partial result
kept, the worker that holds its output) and gives it as --json's record in one ``to_json``.
nst.jobs.batch.JobResult and nst.jobs.clips.ClipResult add their own fields and name the keys of
their record, in order (``JSON``); nst.jobs.runner makes the results that every job can end with
(skipped, claimed, failed) through this one constructor."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from . import claims
from .joblist import ClipJob, Job
from .styles import style_to_json

# A record's keys that come from the job, not the result.
_JOB: dict[str, Callable[[Job | ClipJob], object]] = {
    "index": lambda job: job.index, "content": lambda job: str(job.content),
    "style": lambda job: style_to_json(job.style), "output": lambda job: str(job.output)}


@dataclass(frozen=True)
class Result:
    """A finished job: its ``status`` (nst.jobs.batch.STATUSES; a clip's may also be "partial"), and
    what its run says (each kind of job says more: JobResult, ClipResult)."""

    job: Job | ClipJob
    status: str
    seconds: float = 0.0
    J: float | None = None          # of the output written or kept (a clip's: a mean over its frames)
    J_content: float | None = None
    J_style: float | None = None
    error: str | None = None
    exception: BaseException | None = field(default=None, compare=False, repr=False)
    evaluations: int | None = None  # of the run so far (interrupted: of the partial result kept)
    total: int | None = None        # of the whole run
    partial: Path | None = None     # interrupted: the partial result kept (its preview image)
    claimed_by: claims.Holder | None = None  # claimed: the worker that holds the output

    # The keys of to_json's record, in its order: the job's (_JOB) and this result's fields.
    JSON: ClassVar[tuple[str, ...]] = ("index", "content", "style", "output", "status", "seconds", "J",
                                       "J_content", "J_style", "evaluations", "total", "partial", "error",
                                       "claimed_by")

    def to_json(self) -> dict:
        """A JSON-ready record of the keys in ``JSON``: the job's index, content, style (a path, or a
        blend's [[path, weight], ...]) and output, then the result's fields, ``seconds`` rounded to
        the millisecond, paths as text and ``claimed_by`` as {host, pid, started, heartbeat, fresh,
        file}."""
        record: dict = {}
        for key in self.JSON:
            if key in _JOB:
                record[key] = _JOB[key](self.job)
                continue
            value = getattr(self, key)
            if key == "seconds":
                value = round(value, 3)
            elif isinstance(value, Path):
                value = str(value)
            elif isinstance(value, claims.Holder):
                value = value.to_json()
            record[key] = value
        return record
