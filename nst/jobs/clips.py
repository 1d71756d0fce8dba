"""Videos and folders of frames as jobs: which clip goes where, shards of frames, and the run that
decodes, stylises (nst.sequence) and encodes, one network for every clip.

A video job writes its frames into OUTPUT.frames/ (the checkpoint: see nst.sequence) and, once
every frame is there, encodes them into OUTPUT at the source's frame rate with its audio copied.
A frames job (``--sequence``) writes one output per input frame into a directory.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from . import checkpoint
from . import provenance
from .batch import Style, _Targets, check_style, expand, normalize_ext, output_name
from .checkpoint import CHECKPOINT_EVERY
from ..core.config import Config
from ..errors import InputError, one_line
from ..core.planner import BudgetError
from ..pixels.images import FORMATS, load_image, resize_long_edge
from .sequence import FrameResult, SequenceConfig, frame_record, list_frames, matches, stylize_frames
from ..core.stylizer import Iterate
from .video import VIDEO_EXTENSIONS, Encoder, is_video

FRAME_EXT = ".png"                 # frames of a sequence: lossless, they are encoded (or warm-start) again
FRAMES_SUFFIX = ".frames"          # a video OUT's frames go to OUT + this
VIDEO_EXT = ".mp4"                 # a video in a directory OUT, unless --ext names another container


@dataclass(frozen=True)
class ClipJob:
    """One clip (a video file, or a directory of frames) in one style, written to ``output``: a
    video file, or for frames a directory of images named like the input frames."""

    content: Path
    style: Style
    output: Path
    index: int = 0
    frame_ext: str = FRAME_EXT      # the format of a frames job's outputs

    @property
    def is_video(self) -> bool:
        return not self.content.is_dir()

    @property
    def frames_dir(self) -> Path:
        """Where the frames are written: OUTPUT.frames/ for a video, OUTPUT itself for frames."""
        return self.output.with_name(self.output.name + FRAMES_SUFFIX) if self.is_video else self.output

    @property
    def style_label(self) -> str:
        return "+".join(p.name for p, _ in self.style)


@dataclass(frozen=True)
class ClipResult:
    """A clip's run. status: "done" (every frame made or reused; a video was encoded), "partial"
    (this shard's frames are done, others are missing), "skipped", "failed" or "interrupted"
    (should_stop() ended it: the frames written are complete; ``frame`` is the one it was making or
    about to make, whose partial result, if kept, is ``partial``, at evaluation ``evaluations`` of
    ``total``)."""

    job: ClipJob
    status: str
    frames: int = 0                 # in the whole clip
    done: int = 0                   # stylised in this run
    reused: int = 0                 # found made by an earlier run
    missing: int = 0                # left to other shards
    seconds: float = 0.0
    J: float | None = None          # mean over the frames stylised in this run
    J_content: float | None = None
    J_style: float | None = None
    J_temporal: float | None = None
    error: str | None = None
    frame: int | None = None        # interrupted: the frame in progress, or the next one
    partial: Path | None = None     # interrupted: that frame's partial result kept (its preview)
    evaluations: int | None = None  # interrupted: the evaluations of that frame kept ...
    total: int | None = None        # ... of its total
    exception: BaseException | None = field(default=None, compare=False, repr=False)

    def to_json(self) -> dict:
        job = self.job
        style = (str(job.style[0][0]) if len(job.style) == 1 and job.style[0][1] == 1.0
                 else [[str(p), w] for p, w in job.style])
        return {"index": job.index, "content": str(job.content), "style": style, "output": str(job.output),
                "status": self.status, "frames": self.frames, "done": self.done, "reused": self.reused,
                "missing": self.missing, "seconds": round(self.seconds, 3), "J": self.J,
                "J_content": self.J_content, "J_style": self.J_style, "J_temporal": self.J_temporal,
                "frame": self.frame, "partial": None if self.partial is None else str(self.partial),
                "evaluations": self.evaluations, "total": self.total, "error": self.error}


def is_clip(path: str | Path, sequence: bool = False) -> bool:
    """Whether a CONTENT is a clip: a video file, or with ``sequence`` a directory of frames."""
    path = Path(path)
    return (sequence and path.is_dir()) or (not path.is_dir() and is_video(path))


def plan(contents: Sequence[str | Path], styles: Sequence[str | Path | Iterable[tuple[str | Path, float]]],
         output: str | Path, *, sequence: bool = False, name: str = "{content}_{style}{ext}",
         ext: str = VIDEO_EXT, frame_ext: str = FRAME_EXT) -> tuple[ClipJob, ...]:
    """The jobs of ``nst CLIP... STYLE -o OUT``: every clip in every style, style by style.

    A clip is a video file, or with ``sequence`` a directory of frames. One clip in one style
    writes to OUT: a video file (a video, unless OUT is a directory or ends in '/') or a
    directory (frames). Otherwise OUT is a directory and each job's output is named by
    ``name``, with ``ext`` (a video container) for videos and no extension for frame folders,
    whose frames are written as ``frame_ext`` images named like the input frames.
    """
    named_dir = str(output).endswith(("/", os.sep))  # before Path() drops the slash
    output = Path(output)
    clips = [Path(c) for c in contents]
    for c in clips:
        if sequence and not c.is_dir() and not is_video(c):
            raise InputError(f"{c}: --sequence takes directories of frames (or videos), not an image")
        if not sequence and c.is_dir():
            raise InputError(f"{c}: a directory; add --sequence to stylise its images as the frames of one clip")
        if not c.is_dir() and not is_video(c):
            raise InputError(f"{c}: not a video; stylise images and videos in separate runs")
    style_list: list[Style] = []
    for s in styles:
        if isinstance(s, (str, Path)):
            style_list += [((p, 1.0),) for p, _ in expand([s])]
        else:
            style_list.append(check_style(s))
    if not clips or not style_list:
        raise InputError("no clip or no style given")
    ext = ext if ext.startswith(".") else "." + ext
    if ext.lower() not in VIDEO_EXTENSIONS:
        raise InputError(f"extension {ext!r}: not a video container; use one of .mp4 .mkv .mov .webm")
    pairs = [(c, s) for s in style_list for c in clips]
    single = len(pairs) == 1
    as_file = single and not (output.is_dir() or named_dir)  # OUT names the one video itself
    jobs = []
    for i, (c, s) in enumerate(pairs):
        if single and c.is_dir():
            # One folder of frames in one style: OUT is the folder of its frames, whether it exists
            # yet or not, so that a re-run finds the frames it made (they are the checkpoint).
            if output.exists() and not output.is_dir():
                raise InputError(f"{output}: exists and is not a directory; the frames of {c} are written "
                                 "into a directory")
            out = output
        elif as_file and output.suffix.lower() in VIDEO_EXTENSIONS:
            out = output
        elif as_file and output.suffix.lower() in FORMATS:
            raise InputError(f"{output}: an image name, but {c} is a video; give OUT.mp4 (or .mkv, .mov)")
        else:
            out = output / output_name(name, c, s, ext if not c.is_dir() else "", i)
        jobs.append(ClipJob(c, s, out, i, normalize_ext(frame_ext)))
    outs = [j.output.resolve() for j in jobs]
    if len(set(outs)) != len(outs):
        raise InputError("two clips would be written to the same output; put {index} in the name template")
    for j in jobs:
        if j.output.resolve() == j.content.resolve() or any(j.output.resolve() == p.resolve() for p, _ in j.style):
            raise InputError(f"{j.output}: is an input; refusing to overwrite it")
    return tuple(jobs)


def chunk(n: int, shard: tuple[int, int] | None) -> range:
    """The frames of shard K of N of a clip of ``n`` frames: the K-th of N contiguous, near-equal runs."""
    if shard is None:
        return range(n)
    k, parts = shard
    return range(k * n // parts, (k + 1) * n // parts)


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
              restart: bool = False, on_note: Callable[[ClipJob, str], None] | None = None
              ) -> Iterator[ClipResult]:
    """Stylise the clips with one network, yielding a ClipResult as each finishes.

    ``shard`` (K, N) does only the K-th contiguous run of frames of each clip; its first frame
    starts cold. A video is encoded when all its frames are made, by whichever run finds them so.
    ``skip_existing`` skips a video whose output exists, and keeps a frame output that exists
    whatever settings made it. ``on_start(job, frames)`` is called when a clip's frames are
    known (this shard's count). A failing clip yields a "failed" result and the run goes on;
    when ``should_stop()`` turns true the run ends after an "interrupted" result: the frame in
    progress keeps its partial result (nst.checkpoint, also every ``checkpoint_every`` seconds),
    which a re-run resumes unless ``restart``. ``on_note(job, message)``: one-line notes (a
    partial result resumed or discarded, or one that could not be written).
    """
    targets = _Targets(cfg)
    for job in jobs:
        if should_stop is not None and should_stop():
            return
        start = time.perf_counter()
        if skip_existing and job.is_video and job.output.exists():
            yield ClipResult(job, "skipped")
            continue
        try:
            clip = _Clip(job, cfg, targets)
        except Exception as e:  # a bad, unreadable or vanished input fails its job only
            yield _failed(job, e, start)
            continue
        stylizer = targets.styles.stylizer  # raises for bad weights or device: every clip would fail
        try:
            result = clip.run(stylizer, seq, encoder, shard, skip_existing, on_start, on_frame, on_iterate,
                              should_stop, start, checkpoint_every, restart, on_note)
        except BudgetError:  # the budget cannot hold any run of this size: a usage error, not this job's
            raise
        except Exception as e:  # e.g. a frame that fails to decode, a full disk: the next clip may work
            yield _failed(job, e, start)
            continue
        yield result
        if result.status == "interrupted":
            return


class _Clip:
    """A clip's frames, their output size and names, and the style, read before any work."""

    def __init__(self, job: ClipJob, cfg: Config, targets: _Targets) -> None:
        from . import video
        self.job, self.cfg, self.targets = job, cfg, targets
        self.info = None
        if job.is_video:
            self.info = video.probe(job.content)
            self.n, self.size = self.info.frames, video.even_size(self.info.size, cfg.size)
            names = [f"{t:06d}{FRAME_EXT}" for t in range(self.n)]
        else:
            self.paths = list_frames(job.content)
            self.n = len(self.paths)
            first = load_image(self.paths[0])
            self.source_size, self.size = first.size, resize_long_edge(first, cfg.size).size
            names = [p.stem + job.frame_ext for p in self.paths]
        self.outputs = [job.frames_dir / name for name in names]
        for p, _ in job.style:
            targets.image(p)  # a bad style fails here, before any frame

    def frames(self, part: range) -> Iterator[Image.Image]:
        """The content frames of ``part``, at the output size."""
        from . import video
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

    def run(self, stylizer, seq, encoder, shard, skip_existing, on_start, on_frame, on_iterate, should_stop,
            start, checkpoint_every, restart, on_note) -> ClipResult:
        from . import video
        job, targets = self.job, self.targets
        part = chunk(self.n, shard)
        job.frames_dir.mkdir(parents=True, exist_ok=True)
        record = provenance.record(self.cfg, job.content, job.style, stylizer.device, stylizer.dtype)
        setting = checkpoint.settings(self.cfg, job.content, job.style)
        record["sequence"] = {**dataclasses.asdict(seq), "frames": self.n, "frame_size": list(self.size)}
        if on_start is not None:
            on_start(job, len(part))
        style = targets.styles.of([(p, targets.image(p), w) for p, w in job.style])
        outcome = stylize_frames(self.frames(part), self.outputs[part.start:part.stop], stylizer, style, seq,
                                 record, first=part.start, style=[(targets.image(p), w) for p, w in job.style],
                                 on_frame=None if on_frame is None else lambda f: on_frame(job, f),
                                 progress=None if on_iterate is None else lambda t, it: on_iterate(job, t, it),
                                 should_stop=should_stop, accept_existing=skip_existing, setting=setting,
                                 checkpoint_every=checkpoint_every, restart=restart,
                                 on_note=None if on_note is None else lambda m: on_note(job, m))
        done = outcome.done
        means = {k: (sum(getattr(f, k) for f in done) / len(done) if done else None)
                 for k in ("J", "J_content", "J_style", "J_temporal")}
        common = dict(frames=self.n, done=len(done), reused=len(outcome.frames) - len(done), **means)
        if outcome.stopped:
            K = outcome.kept
            return ClipResult(job, "interrupted", seconds=time.perf_counter() - start, error=outcome.problem,
                              frame=outcome.frame, partial=outcome.partial, evaluations=K and K.i,
                              total=K and K.total, **common)
        missing = [t for t in range(self.n) if t not in part and not (
            self.outputs[t].exists() if skip_existing else matches(self.outputs[t], frame_record(record, t)))]
        if missing:
            return ClipResult(job, "partial", missing=len(missing), seconds=time.perf_counter() - start, **common)
        if job.is_video:
            video.write_video((load_image(p) for p in self.outputs), job.output, self.info.rate, encoder=encoder,
                              audio_from=job.content, description=provenance.dumps(record))
        return ClipResult(job, "done", seconds=time.perf_counter() - start, **common)


def _failed(job: ClipJob, e: Exception, start: float) -> ClipResult:
    return ClipResult(job, "failed", seconds=time.perf_counter() - start, error=one_line(e), exception=e)
