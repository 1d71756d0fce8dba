"""The job lists of runs, without torch: the jobs of the inputs found (nst.jobs.inputs), every output
named (nst.jobs.naming), the shards, a clip's frames' outputs; so that ``nst status`` plans exactly the jobs that a run plans and looks
for exactly their outputs, in a fraction of a second. nst.jobs.batch runs the image jobs and
nst.jobs.clips the clips (videos and folders of frames); both take their job lists from here.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..core.config import BATCH_EXT, BATCH_NAME
from ..errors import InputError, Setting
from ..pixels.images import FORMATS, output_format
from ..pixels.video import VIDEO_EXTENSIONS, is_video
from .inputs import expand, expand_styles
from .naming import check_template, name_fields, normalize_ext, output_name
from .regionspec import RegionSpec, fill
from .styles import Style, style_label


@dataclass(frozen=True)
class Job:
    """One output: a content image stylized with a style (blend), written to ``output``."""

    content: Path
    style: Style
    output: Path
    index: int = 0      # position in the whole (unsharded) job list
    regions: tuple[RegionSpec, ...] = ()  # parts of the picture with their own style (nst.jobs.regionspec)

    @property
    def style_label(self) -> str:
        """The style's file name, or a blend's joined with '+'."""
        return style_label(self.style)


@dataclass(frozen=True)
class JobList:
    """The jobs of a run, style by style, and whether OUT is a directory."""

    jobs: tuple[Job, ...]
    into_dir: bool


def writes_into_dir(contents: Sequence[str | Path], styles: Sequence, output: str | Path) -> bool:
    """Whether OUT is a directory: several contents, a content or style directory, or OUT an
    existing directory or ending in '/'. Otherwise OUT is the one output file."""
    return (len(contents) > 1 or Path(output).is_dir() or str(output).endswith(("/", os.sep))
            or any(Path(p).is_dir() for p in contents)
            or any(isinstance(s, (str, Path)) and Path(s).is_dir() for s in styles))


def plan(contents: Sequence[str | Path], styles: Sequence[str | Path | Iterable[tuple[str | Path, float]]],
         output: str | Path, *, name: str = BATCH_NAME, ext: str = BATCH_EXT, recursive: bool = False,
         protect: Iterable[str | Path] = (), regions: Sequence[RegionSpec] = ()) -> JobList:
    """The jobs of ``nst CONTENT... STYLE -o OUT``: every content with every style, style by style.

    Contents and styles are images or directories of images (see ``expand``); a style may
    also be a blend, (path, weight) pairs. OUT is a file for one content file and one style
    file, else a directory whose outputs are named by ``name`` with extension ``ext``
    (see ``output_name``). Raises InputError for colliding outputs, an output that would
    overwrite an input (or a path in ``protect``), and bad names. Every job has the ``regions``,
    their masks' template fields filled in with its own (nst.jobs.regionspec.fill).
    """
    into_dir = writes_into_dir(contents, styles, output)
    output = Path(output)
    exclude = output if into_dir else None
    found = expand(contents, recursive, exclude)
    style_list = expand_styles(styles, recursive, exclude)
    if not found or not style_list:
        raise InputError("no content or no style given")
    if into_dir:
        if output.exists() and not output.is_dir():
            raise InputError(f"{output}: exists and is not a directory; this run writes its images into a directory")
        if not output.exists() and output.suffix.lower() in FORMATS:
            raise InputError(f"{output}: this run makes several images, so OUT is a directory; "
                             "give a folder name, not an image file")
        check_template(name)
        ext = normalize_ext(ext)
        pairs = [(c, folder, s) for s in style_list for c, folder in found]
        jobs = tuple(Job(c, s, output / output_name(name, c, s, ext, i, folder), i, _regions(regions, c, s, i, folder))
                     for i, (c, folder, s) in enumerate(pairs))
        for job in jobs:
            output_format(job.output)
    else:
        output_format(output)
        c, s = found[0][0], style_list[0]
        jobs = (Job(c, s, output, 0, _regions(regions, c, s, 0, found[0][1])),)
    check_outputs(jobs, protect)
    return JobList(jobs, into_dir)


def _regions(specs: Sequence[RegionSpec], content: Path, style: Style, index: int, folder: str
             ) -> tuple[RegionSpec, ...]:
    """A job's regions, an image's or a clip's: their masks' template fields filled in with the job's."""
    if not specs:
        return ()
    values = name_fields(content, style, index, folder)
    return tuple(fill(r, values) for r in specs)


def check_outputs(jobs: Sequence[Job | ClipJob], protect: Iterable[str | Path] = (), *, clips: bool = False
                  ) -> None:
    """The one output check of a run's jobs, images or clips: InputError if two jobs share an output,
    or an output is an input of the run (any job's content, style or region's file, or a path in
    ``protect``), by its path or as the same file (its inode: a hard link). The words of a clip's
    refusals are as they have always been (``clips``)."""
    inputs = _inputs(jobs, protect)
    by_output: dict[Path, Job | ClipJob] = {}
    for job in jobs:
        key = job.output.resolve()
        hit = inputs.get(key)
        if hit is None and job.output.exists():
            st = job.output.stat()
            hit = inputs.get((st.st_dev, st.st_ino))
        if hit is not None:
            raise InputError(f"{job.output}: is an input; refusing to overwrite it" if clips else
                             f"{job.output}: is the {hit}; refusing to overwrite an input")
        other = by_output.setdefault(key, job)
        if other is not job:
            if clips:
                raise InputError("two clips would be written to the same output; put {index} in the name template")
            fields = (["{style}"] if other.style != job.style else []) + \
                (["{dir}", "{parent}"] if other.content != job.content else []) + ["{index}"]
            raise InputError(f"{other.content} with {other.style_label} and {job.content} with {job.style_label} "
                             f"would both be written to {job.output}; put {', '.join(fields[:-1])} or "
                             f"{fields[-1]} in the name template")


def _inputs(jobs: Sequence[Job | ClipJob], protect: Iterable[str | Path]) -> dict[object, str]:
    """Every input of the jobs, by its resolved path and (a file there) its (device, inode): what it is."""
    named = {("content", j.content) for j in jobs} | {("style", p) for j in jobs for p, _ in j.style}
    named |= {("region's", Path(p)) for j in jobs for r in j.regions for p in r.files()}
    named |= {("input", Path(p)) for p in protect}
    inputs: dict[object, str] = {}
    for kind, p in sorted(named, key=str):
        inputs[p.resolve()] = f"{kind} image {p}"
        if p.exists():
            st = p.stat()
            inputs[(st.st_dev, st.st_ino)] = f"{kind} image {p}"
    return inputs


def parse_shard(spec: str) -> tuple[int, int]:
    """'K/N' -> (K, N), K counting from 0: 0/4, 1/4, 2/4, 3/4 are the four shards."""
    k, sep, n = spec.partition("/")
    try:
        k_, n_ = int(k), int(n)
    except ValueError:
        k_, n_ = -1, 0
    if not sep or n_ < 1 or not 0 <= k_ < n_:
        raise InputError(f"shard {spec!r} is not allowed; expected K/N with 0 <= K < N "
                         "(K counts from 0: 0/4 .. 3/4)")
    return k_, n_


def shard(jobs: Sequence[Job], k: int, n: int) -> tuple[Job, ...]:
    """Shard K of N (0-based): the K-th of N contiguous, near-equal slices of the job list.

    Disjoint, and together the N shards are the whole list. The list goes style by style, so
    a worker meets few styles and computes few style targets.
    """
    part = shard_range(len(jobs), k, n)
    return tuple(jobs[part.start:part.stop])


def shard_range(total: int, k: int, n: int) -> range:
    """The positions of shard K of N (0-based) of ``total`` things in a row: the K-th of N
    contiguous runs, near-equal (their lengths differ by at most one). The one shard arithmetic:
    a job list's shards (``shard``) and a clip's frames (``chunk``) alike."""
    if n < 1 or not 0 <= k < n:
        raise InputError(f"shard {k}/{n} is not allowed; expected 0 <= K < N")
    return range(k * total // n, (k + 1) * total // n)


# -- clips: videos and folders of frames ----------------------------------------------------------

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
    regions: tuple[RegionSpec, ...] = ()  # parts of the picture with their own style (nst.jobs.regionspec)

    @property
    def is_video(self) -> bool:
        return not self.content.is_dir()

    @property
    def frames_dir(self) -> Path:
        """Where the frames are written: OUTPUT.frames/ for a video, OUTPUT itself for frames."""
        return self.output.with_name(self.output.name + FRAMES_SUFFIX) if self.is_video else self.output

    @property
    def style_label(self) -> str:
        return style_label(self.style)


def plan_clips(contents: Sequence[str | Path], styles: Sequence[str | Path | Iterable[tuple[str | Path, float]]],
               output: str | Path, *, sequence: bool = False, name: str = "{content}_{style}{ext}",
               ext: str = VIDEO_EXT, frame_ext: str = FRAME_EXT, regions: Sequence[RegionSpec] = (),
               protect: Iterable[str | Path] = ()) -> tuple[ClipJob, ...]:
    """The jobs of ``nst CLIP... STYLE -o OUT``: every clip in every style, style by style.

    A clip is a video file, or with ``sequence`` a directory of frames. One clip in one style
    writes to OUT: a video file (a video, unless OUT is a directory or ends in '/') or a
    directory (frames). Otherwise OUT is a directory and each job's output is named by
    ``name``, with ``ext`` (a video container) for videos and no extension for frame folders,
    whose frames are written as ``frame_ext`` images named like the input frames. Every job has
    the ``regions``, their masks' template fields filled in with its own. No output may be an
    input (or a path in ``protect``): nst.jobs.joblist.check_outputs, as for images.
    """
    named_dir = str(output).endswith(("/", os.sep))  # before Path() drops the slash
    output = Path(output)
    clips = [Path(c) for c in contents]
    _check_clips(clips, sequence)
    style_list = expand_styles(styles)
    if not clips or not style_list:
        raise InputError("no clip or no style given")
    ext = ext if ext.startswith(".") else "." + ext
    if ext.lower() not in VIDEO_EXTENSIONS:
        raise InputError(f"extension {ext!r}: not a video container; use one of .mp4 .mkv .mov .webm")
    pairs = [(c, s) for s in style_list for c in clips]
    single = len(pairs) == 1
    as_file = single and not (output.is_dir() or named_dir)  # OUT names the one video itself
    itself = single and _writes_to_out(pairs[0][0], output, as_file)
    jobs = tuple(ClipJob(c, s, output if itself else output / output_name(name, c, s, "" if c.is_dir() else ext, i),
                         i, normalize_ext(frame_ext), _regions(regions, c, s, i, "."))
                 for i, (c, s) in enumerate(pairs))
    check_outputs(jobs, protect, clips=True)  # the image's check: inodes, regions' files, every job's inputs
    return jobs


SEQUENCE = Setting("sequence", python="sequence=True")  # plan's, in the messages


def _check_clips(clips: Sequence[Path], sequence: bool) -> None:
    """InputError unless every clip is a video, or with ``sequence`` a directory of frames."""
    for c in clips:
        if sequence and not c.is_dir() and not is_video(c):
            raise InputError(f"{c}: ", SEQUENCE, " takes directories of frames (or videos), not an image")
        if not sequence and c.is_dir():
            raise InputError(f"{c}: a directory; add ", SEQUENCE, " to stylise its images as the frames of one clip")
        if not c.is_dir() and not is_video(c):
            raise InputError(f"{c}: not a video; stylise images and videos in separate runs")


def _writes_to_out(clip: Path, output: Path, as_file: bool) -> bool:
    """Whether a run's only job, ``clip`` in one style, writes to OUT itself rather than into it:
    always for a folder of frames, and for a video when OUT names a video (``as_file``)."""
    if clip.is_dir():
        # One folder of frames in one style: OUT is the folder of its frames, whether it exists
        # yet or not, so that a re-run finds the frames it made (they are the checkpoint).
        if output.exists() and not output.is_dir():
            raise InputError(f"{output}: exists and is not a directory; the frames of {clip} are written "
                             "into a directory")
        return True
    if as_file and output.suffix.lower() in VIDEO_EXTENSIONS:
        return True
    if as_file and output.suffix.lower() in FORMATS:
        raise InputError(f"{output}: an image name, but {clip} is a video; give OUT.mp4 (or .mkv, .mov)")
    return False


def chunk(n: int, shard: tuple[int, int] | None) -> range:
    """The frames of shard K of N of a clip of ``n`` frames: the K-th of N contiguous, near-equal runs."""
    return range(n) if shard is None else shard_range(n, *shard)


def frame_outputs(job: ClipJob, frames: int | Sequence[Path]) -> list[Path]:
    """The outputs of a clip's frames, in order, in ``job.frames_dir``: a video's ``frames`` (its frame
    count) as 000000.png, 000001.png, ...; a folder's input ``frames`` (list_frames) each as its own
    name with the job's frame extension."""
    if job.is_video:
        names = [f"{t:06d}{FRAME_EXT}" for t in range(frames)]
    else:
        names = [p.stem + job.frame_ext for p in frames]
    return [job.frames_dir / name for name in names]
