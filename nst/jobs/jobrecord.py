"""What made a job's output, image or clip alike (JobRecord): its provenance record
(nst.jobs.provenance.record with the job's content, style and regions; a clip's also says its
sequence) and the settings its partial results and frames are checked against
(nst.jobs.checkpoint.settings, its regions by the identity of their files). nst.jobs.batch and
nst.jobs.clips make both here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..core.config import Config
from . import checkpoint, provenance
from . import regions as region_files
from .joblist import ClipJob, Job

if TYPE_CHECKING:  # annotations only: provenance.record imports torch where a record is made
    import torch


class JobRecord:
    """The provenance of one job's output under ``cfg``: its regions' records (their masks' sha256)
    read once, when it is made, for every record made of it."""

    def __init__(self, cfg: Config, job: Job | ClipJob) -> None:
        self.cfg, self.job = cfg, job
        self.regions = region_files.records(job.regions)

    def settings(self) -> dict:
        """The settings that decide the job's output (nst.jobs.checkpoint.settings), its regions'
        files by their identity (nst.jobs.regions.identity)."""
        job = self.job
        return checkpoint.settings(self.cfg, job.content, job.style, region_files.identity(job.regions))

    def record(self, device: torch.device | str = "", precision: torch.dtype | None = None,
               plans: Sequence[dict] = (), max_memory: int | None = None, sequence: dict | None = None) -> dict:
        """The record stored in the output (nst.jobs.provenance.record): made on ``device`` in
        ``precision``, how each scale ran (``plans``) against the budget ``max_memory``, the job's
        regions, and a clip's ``sequence`` (its settings, frame count and frame size)."""
        job = self.job
        rec = provenance.record(self.cfg, job.content, job.style, device, precision, plans, max_memory, self.regions)
        if sequence is not None:
            rec["sequence"] = sequence
        return rec
