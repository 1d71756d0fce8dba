"""Videos and folders of frames as jobs: the run that decodes, stylises (nst.jobs.sequence) and
encodes, one network for every clip. Which clip goes where, and the shards of its frames, are
planned by nst.jobs.joblist, without torch; its names are given here too.

A video job writes its frames into OUTPUT.frames/ (the checkpoint: see nst.jobs.sequence) and, once
every frame is there, encodes them into OUTPUT at the source's frame rate with its audio copied.
A frames job (``--sequence``) writes one output per input frame into a directory.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import torch
from PIL import Image

from ..core.config import Config
from ..core.runs import Iterate
from ..core.stylizer import Stylizer
from ..errors import InputError
from ..pixels import video
from ..pixels.images import load_image, resize_long_edge
from ..pixels.video import Encoder
from . import claims, jobrecord, provenance
from . import regions as region_files
from .checkpoint import CHECKPOINT_EVERY
from .regions import MaskFrames  # noqa: F401 - given here too
from .framecheck import RESTART, check_made, check_sizes, frame_record, matches
from .inputs import list_frames
from .joblist import FRAME_EXT, FRAMES_SUFFIX, SEQUENCE, VIDEO_EXT, ClipJob, chunk  # noqa: F401
from .joblist import plan_clips as plan
from .results import Result
from .runner import StyleBank, run_jobs
from .sequence import FrameCheckpoints, FrameHooks, FrameResult, SequenceConfig, stylize_frames

OVERLAP = 1                        # --shard-overlap's default (measured: benchmarks/shard_joins.py)


@dataclass(frozen=True)
class ClipResult(Result):
    """A clip's run. status: "done" (every frame made or reused; a video was encoded), "partial"
    (this shard's frames are done, others are missing), "skipped", "failed", "interrupted"
    (should_stop() ended it: the frames written are complete; ``frame`` is the one it was making or
    about to make, whose partial result, if kept, is ``partial``, at evaluation ``evaluations`` of
    ``total``) or "claimed" (a live worker, ``claimed_by``, holds this clip's shard: left to it).
    J and its parts are means over the frames stylised in this run."""

    job: ClipJob
    frames: int = 0                 # in the whole clip
    done: int = 0                   # stylised in this run
    reused: int = 0                 # found made by an earlier run
    missing: int = 0                # left to other shards
    J_temporal: float | None = None
    frame: int | None = None        # interrupted: the frame in progress, or the next one

    JSON = ("index", "content", "style", "output", "status", "frames", "done", "reused", "missing", "seconds",
            "J", "J_content", "J_style", "J_temporal", "frame", "partial", "evaluations", "total", "error",
            "claimed_by")


def _resized(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    if img.size == size:
        return img
    shrink = size[0] < img.size[0]
    return img.resize(size, Image.Resampling.LANCZOS if shrink else Image.Resampling.BICUBIC)


def run_clips(jobs: Iterable[ClipJob], cfg: Config, seq: SequenceConfig = SequenceConfig(), *,
              encoder: Encoder = Encoder(), shard: tuple[int, int] | None = None, skip_existing: bool = False,
              on_start: Callable[[ClipJob, int], None] | None = None,
              on_frame: Callable[[ClipJob, FrameResult], None] | None = None,
              on_iterate: Callable[[ClipJob, int, Iterate], None] | None = None,
              should_stop: Callable[[], bool] | None = None, checkpoint_every: float | None = CHECKPOINT_EVERY,
              restart: bool = False, on_note: Callable[[ClipJob, str], None] | None = None,
              overlap: int = 0) -> Iterator[ClipResult]:
    """Stylise the clips with one network, yielding a ClipResult as each finishes.

    ``shard`` (K, N) does only the K-th contiguous run of frames of each clip. So that its first
    frame starts warm, as every other, the ``overlap`` frames before it are stylised too, as a
    warm-up, neither written nor reported (stylize_frames' ``lead_in``); but if the frame before
    it is made already (another shard finished it), that output is its previous frame, with no
    warm-up. ``overlap`` 0 (the default here; the command line's is OVERLAP): the shard's first
    frame starts cold. A video is encoded when all its frames are made, by whichever run finds
    them so.
    ``skip_existing`` skips a video whose output exists, and keeps a frame output that exists
    whatever settings made it. ``on_start(job, frames)`` is called when a clip's frames are
    known (this shard's count). A failing clip yields a "failed" result and the run goes on;
    when ``should_stop()`` turns true the run ends after an "interrupted" result: the frame in
    progress keeps its partial result (nst.jobs.checkpoint, also every ``checkpoint_every`` seconds),
    which a re-run resumes unless ``restart``. ``on_note(job, message)``: one-line notes (a
    partial result resumed or discarded, or one that could not be written).
    A clip's shard is claimed before its work (nst.jobs.claims: OUT.claim, or OUT.shard-K-of-N.claim
    for shard K of N, beside the clip's output): one that a live worker holds yields "claimed".

    Finished frames are not replaced unasked: without ``skip_existing``, a frame of this run's that
    exists made with other settings fails the clip before the network is built or any frame is
    stylised, in one line naming the first setting that differs, its old and new values, and
    ``restart`` (nst.jobs.framecheck.check_made); with ``restart`` such frames are made again, after a
    note. So does a folder of frames whose files are not all of one size (read from their headers).
    """
    if overlap < 0:
        raise InputError(f"overlap={overlap!r} is not allowed; expected an integer >= 0")
    bank = StyleBank(cfg)
    run = _ClipRun(cfg, bank, seq, encoder, shard, skip_existing, on_start, on_frame, on_iterate, should_stop,
                   checkpoint_every, restart, on_note, overlap=overlap)
    skip = (lambda job: job.is_video and job.output.exists()) if skip_existing else None
    return run_jobs(jobs, bank, ClipResult, prepare=run.ready, work=run.work, skip=skip, should_stop=should_stop,
                    claim=run.claim)


class _Clip:
    """A clip's frames, their output size and names, and the style, read before any work."""

    def __init__(self, job: ClipJob, cfg: Config, bank: StyleBank, note: Callable[[str], None] | None = None) -> None:
        self.job = job
        self.info = None
        if job.is_video:
            self.info = video.probe(job.content)
            self.n, self.size = self.info.frames, video.even_size(self.info.size, cfg.size)
            names = [f"{t:06d}{FRAME_EXT}" for t in range(self.n)]
        else:
            self.paths = list_frames(job.content)
            self.n = len(self.paths)
            first = load_image(self.paths[0], note)  # a profile it cannot use is said once, for the first
            self.source_size, self.size = first.size, resize_long_edge(first, cfg.size).size
            names = [p.stem + job.frame_ext for p in self.paths]
        self.outputs = [job.frames_dir / name for name in names]
        bank.read(job.style, note)  # a bad style fails here, before any frame
        source = self.info.size if self.info is not None else self.source_size  # the files' size: masks match it
        # so does a bad region; an empty still mask is said when the work begins (_ClipRun.work)
        self.regions = region_files.JobRegions(job, bank, source, note=note, frames=self.n)

    def frames(self, part: range) -> Iterator[Image.Image]:
        """The content frames of ``part``, at the output size."""
        if self.job.is_video:
            for t, img in enumerate(video.read_frames(self.job.content)):
                if t >= part.stop:
                    return
                if t >= part.start:
                    yield _resized(img, self.size)
            return
        for p in self.paths[part.start:part.stop]:
            img = load_image(p)
            if img.size != self.source_size:
                raise InputError(f"{p}: {img.size[0]}x{img.size[1]}, but {self.paths[0].name} is "
                                 f"{self.source_size[0]}x{self.source_size[1]}; the frames of a sequence must "
                                 "all have one size")
            yield _resized(img, self.size)


@dataclass(frozen=True)
class _ClipRun:
    """What run_clips does to each clip, with its options (see run_clips)."""

    cfg: Config
    bank: StyleBank
    seq: SequenceConfig
    encoder: Encoder
    shard: tuple[int, int] | None
    skip_existing: bool
    on_start: Callable[[ClipJob, int], None] | None
    on_frame: Callable[[ClipJob, FrameResult], None] | None
    on_iterate: Callable[[ClipJob, int, Iterate], None] | None
    should_stop: Callable[[], bool] | None
    checkpoint_every: float | None
    restart: bool
    on_note: Callable[[ClipJob, str], None] | None
    overlap: int = 0                  # frames of warm-up before a shard's first (run_clips)

    def claim(self, job: ClipJob) -> claims.Claim | None:
        """The claim on this shard of the clip (its frames are split between shards by design, so each
        shard is claimed on its own); None where the claim cannot be written (e.g. OUT is the
        current folder and its parent is not writable), as the frames written then are complete files."""
        tag = None if self.shard is None else f"shard-{self.shard[0]}-of-{self.shard[1]}"
        try:
            job.output.parent.mkdir(parents=True, exist_ok=True)
            return claims.take(job.output, tag)
        except claims.Claimed:
            raise
        except OSError:
            return None

    def prepare(self, job: ClipJob) -> _Clip:
        return _Clip(job, self.cfg, self.bank, None if self.on_note is None else functools.partial(self.on_note, job))

    def ready(self, job: ClipJob) -> _Clip:
        """The clip read (``prepare``) and checked before the network is built and any frame is made:
        a folder's frames all of one size (from their headers), and this run's frames that exist
        made with these settings, else refused or, with ``restart``, said to be made again."""
        clip = self.prepare(job)
        if not job.is_video:
            check_sizes(clip.paths)
        if not self.skip_existing:
            part = chunk(clip.n, self.shard)
            note = None if self.on_note is None else functools.partial(self.on_note, job)
            check_made(clip.outputs[part.start:part.stop], self._record(job, clip), first=part.start,
                       replace=self.restart, note=note, remedy=RESTART, folder=job.frames_dir)
        return clip

    def _record(self, job: ClipJob, clip: _Clip, device: torch.device | str = "",
                dtype: torch.dtype | None = None) -> dict:
        """The provenance of the clip's frames (frame_record adds each one's number), made on ``device``
        in ``dtype``: these do not decide a frame, so the checks before the network leave them out."""
        return jobrecord.JobRecord(self.cfg, job).record(device, dtype, sequence={
            **dataclasses.asdict(self.seq), "frames": clip.n, "frame_size": list(clip.size)})

    def work(self, job: ClipJob, clip: _Clip, stylizer: Stylizer, start: float) -> ClipResult:
        """Stylise this shard's frames of the clip, and encode a video whose frames are all made."""
        part = chunk(clip.n, self.shard)
        job.frames_dir.mkdir(parents=True, exist_ok=True)
        record = self._record(job, clip, stylizer.device, stylizer.dtype)
        setting = jobrecord.JobRecord(self.cfg, job).settings()
        for message in clip.regions.empty:
            if self.on_note is not None:
                self.on_note(job, message)
        if self.on_start is not None:
            self.on_start(job, len(part))
        lead = min(self.overlap, part.start) if part else 0  # frames before the part: its warm-up
        outcome = stylize_frames(clip.frames(range(part.start - lead, part.stop)),
                                 clip.outputs[part.start - lead:part.stop], stylizer,
                                 self.bank.targets(job.style), self.seq, record, first=part.start - lead,
                                 style=self.bank.images(job.style), accept_existing=self.skip_existing,
                                 checkpoints=FrameCheckpoints(setting, self.checkpoint_every, self.restart),
                                 hooks=self._hooks(job), regions=clip.regions.at if job.regions else None,
                                 lead_in=lead, replace=self.restart)
        done = outcome.done
        means = {k: (sum(getattr(f, k) for f in done) / len(done) if done else None)
                 for k in ("J", "J_content", "J_style", "J_temporal")}
        common = dict(frames=clip.n, done=len(done), reused=len(outcome.frames) - len(done), **means)
        if outcome.stopped:
            K = outcome.kept
            return ClipResult(job, "interrupted", seconds=time.perf_counter() - start, error=outcome.problem,
                              frame=outcome.frame, partial=outcome.partial, evaluations=K and K.i,
                              total=K and K.total, **common)
        missing = [t for t in range(clip.n) if t not in part and not (
            clip.outputs[t].exists() if self.skip_existing else matches(clip.outputs[t], frame_record(record, t)))]
        if missing:
            return ClipResult(job, "partial", missing=len(missing), seconds=time.perf_counter() - start, **common)
        if job.is_video:
            video.write_video((load_image(p) for p in clip.outputs), job.output, clip.info.rate,
                              encoder=self.encoder, audio_from=job.content, description=provenance.dumps(record))
        return ClipResult(job, "done", seconds=time.perf_counter() - start, **common)

    def _hooks(self, job: ClipJob) -> FrameHooks:
        """The run's callbacks, told which clip."""
        def bound(callback):
            return None if callback is None else functools.partial(callback, job)
        return FrameHooks(on_frame=bound(self.on_frame), progress=bound(self.on_iterate),
                          should_stop=self.should_stop, on_note=bound(self.on_note))
