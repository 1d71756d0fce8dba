"""How far a run has got, from its files alone (``nst status``): the run's job list planned as the run
plans it (nst.jobs.joblist), then each output, or each frame of a clip, found done, partial, claimed
by a live worker or missing (nst.jobs.claims.survey), in a Report (nst.jobs.progress_report).
Without torch: it reads names and small files.

``images`` reports a run of images, ``clips`` one of videos or folders of frames (``sequence``): a
clip is counted frame by frame in its frames folder (OUT.frames/ for a video, OUT itself for
frames), with whether a video's file is written, and the claims on its shards.

Where the files cannot say what the run was, a Remark with ``doubt`` says so, rather than counts
given with confidence: OUT (or a single output's folder) does not exist; OUT holds none of the job
list's outputs but other files (other naming options, another extension, or a sequence run's
frames); a clip whose frames cannot be counted; the extension asked for finds nothing where another
finds outputs. Without the run's extension (``ext`` None), the outputs are looked for under every
extension the run could have written, the one found most is counted, and a Remark says which (and
how many the others have).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from ..core.config import BATCH_EXT, BATCH_NAME
from ..errors import InputError, NSTError, Setting
from ..pixels import video
from ..pixels.images import FORMATS
from ..pixels.video import VIDEO_EXTENSIONS, is_video
from . import claims
from .inputs import list_frames, parse_style
from .joblist import FRAME_EXT, VIDEO_EXT, ClipJob, chunk, frame_outputs, plan, plan_clips, shard
from .naming import normalize_ext
from .progress_report import (
    EXAMPLES,
    STATES,
    Clip,
    ClipClaim,
    Image,
    Listing,
    Remark,
    Report,
    Row,
    choose_ext,
    ext_remarks,
    missing_out,
    others_in,
    shard_rows,
)

# The extensions a run may have written, the default first: looked for when the run's is not given.
IMAGE_EXTS = (BATCH_EXT, *(e for e in FORMATS if e != BATCH_EXT))
FRAME_EXTS = (FRAME_EXT, *(e for e in FORMATS if e != FRAME_EXT))
VIDEO_EXTS = (VIDEO_EXT, *sorted(e for e in VIDEO_EXTENSIONS if e != VIDEO_EXT))


def images(contents: Sequence[str | Path], style: str | Path, output: str | Path, *, name: str | None = None,
           ext: str | None = None, recursive: bool = False, regions: Sequence = (),
           shard_: tuple[int, int] | None = None, shards: int | None = None) -> Report:
    """How far ``nst CONTENT... STYLE -o OUT`` (images) has got: the job list planned as the run plans
    it (``name``, ``ext``, ``recursive``, ``regions``: the run's, None where it gave none), its outputs
    surveyed, those of shard K of N (``shard_``) or a row for each of ``shards`` shards."""
    rows = shard_rows(shard_, shards)
    styles = [parse_style(style)]
    out = Path(output)

    def planned(e: str):
        return plan(contents, styles, output, name=name or BATCH_NAME, ext=e, recursive=recursive, regions=regions)

    given = ext is not None
    ext = normalize_ext(ext) if given else BATCH_EXT
    first = planned(ext)
    listing = Listing()
    remarks: list[Remark] = []
    jobs = first.jobs
    counted = None
    if first.into_dir:
        lists = {ext: jobs}
        for e in IMAGE_EXTS:
            try:
                lists.setdefault(e, planned(e).jobs)
            except InputError:  # e.g. an output that would be an input with that extension
                continue
        found = {e: sum(listing.traced(j.output) for j in jobs_e) for e, jobs_e in lists.items()}
        counted = ext if given else choose_ext(found, BATCH_EXT)
        jobs = lists[counted]
        remarks += ext_remarks(found, counted, BATCH_EXT, given, out)
        out_exists = out.is_dir()
        if not out_exists:
            remarks.insert(0, missing_out(out, "output"))
        elif not any(found.values()):
            remarks += _nothing_found(contents, styles, out, name, recursive, jobs, listing)
    else:
        out_exists = out.parent.is_dir() if str(out.parent) else True
        if not out_exists:
            remarks.append(Remark((f"{out}: its folder {out.parent} does not exist, so the run has not written "
                                   "it: it has not started, or this is not its ", Setting("output")), True))
    surveyed = [(job, k) for k, _ in rows for job in (jobs if k is None else shard(jobs, k, shard_[1] if shard_
                                                                                     else shards))]
    found_images = [Image(job, k, claims.survey(job.output, listing(job.output.parent))) for job, k in surveyed]
    counts = {k: dict.fromkeys(STATES, 0) for k, _ in rows}
    for image in found_images:
        counts[image.shard][image.found.state] += 1
    return Report("images", out, out_exists, counted, [Row(label, counts[k]) for k, label in rows],
                  images=found_images, remarks=remarks)


def _nothing_found(contents, styles, out: Path, name, recursive, jobs, listing: Listing) -> list[Remark]:
    """Remarks where OUT exists but holds nothing of the job list under any extension: nothing if it
    is empty (the run has not started); otherwise what it looks like instead."""
    strangers = others_in(out, listing, lambda n: False)
    if not strangers:
        return []
    examples = ", ".join(strangers[:EXAMPLES]) + (", ..." if len(strangers) > EXAMPLES else "")
    if all(Path(c).is_dir() for c in contents):
        for e in FRAME_EXTS:
            try:
                clips = plan_clips(contents, styles, out, sequence=True, name=name or BATCH_NAME, frame_ext=e)
            except InputError:
                break
            for clip in clips:
                try:
                    frames = frame_outputs(clip, list_frames(clip.content))
                except InputError:
                    continue
                if any(listing.traced(f) for f in frames):
                    return [Remark((f"none of the {len(jobs)} outputs of this job list is in {out}, but the frames "
                                    f"of {clip.content} are (such as {frames[0].name}): the output of a run with ",
                                    Setting("sequence"), "? give it to count its frames"), True)]
    mine = jobs[0].output.relative_to(out) if jobs and jobs[0].output.is_relative_to(out) else jobs[0].output
    return [Remark((f"none of the {len(jobs)} outputs of this job list (such as {mine}) is in {out}, which holds "
                    f"{len(strangers)} other {'entry' if len(strangers) == 1 else 'entries'} ({examples}): were "
                    "they made with other options (", Setting("name"), ", ", Setting("ext"), ", ",
                    Setting("recursive"), ", ", Setting("sequence"), "), or is this not the run's ",
                    Setting("output"), "?"), True)]


_SHARD_CLAIM = re.compile(r"\.shard-(\d+)-of-(\d+)" + re.escape(claims.SUFFIX) + "$")


def _clip_claims(job: ClipJob, frames: int | None, listing: Listing) -> list[ClipClaim]:
    """The claims on the clip's frames found beside its output: OUT.claim and OUT.shard-K-of-N.claim."""
    found = []
    own = claims.claim_path(job.output)
    for n in sorted(listing(own.parent)):
        if n == own.name:
            part = None
        elif n.startswith(job.output.name + ".") and (m := _SHARD_CLAIM.search(n)) \
                and n == f"{job.output.name}{m.group(0)}":
            part = (int(m.group(1)), int(m.group(2)))
            if not 0 <= part[0] < part[1]:
                continue
        else:
            continue
        holder = claims.read(own.parent / n)
        if holder is not None:
            covers = None if frames is None else chunk(frames, part)
            found.append(ClipClaim(holder, part, covers))
    return found


def clips(contents: Sequence[str | Path], style: str | Path, output: str | Path, *, sequence: bool = False,
          name: str | None = None, ext: str | None = None, regions: Sequence = (),
          shard_: tuple[int, int] | None = None, shards: int | None = None) -> Report:
    """How far ``nst CLIP... STYLE -o OUT`` (videos, or with ``sequence`` folders of frames) has got,
    frame by frame: the clips planned as the run plans them (``ext``: the run's --ext, a video
    container or, for frames, an image format), each clip's frames surveyed in its frames folder,
    those of shard K of N of each clip (``shard_``) or a row for each of ``shards`` shards."""
    rows = shard_rows(shard_, shards)
    styles = [parse_style(style)]
    out = Path(output)
    given = ext.lower() if ext is not None else None
    if given is not None and not given.startswith("."):
        given = "." + given
    if given is not None and not sequence and given not in VIDEO_EXTENSIONS:
        raise InputError(Setting("ext", ext), f": videos are written as {' '.join(sorted(VIDEO_EXTENSIONS))}")
    video_given = given if given in VIDEO_EXTENSIONS else None
    frame_given = given if given in FORMATS else None

    def planned(video_ext: str, frame_ext: str) -> tuple[ClipJob, ...]:
        return plan_clips(contents, styles, output, sequence=sequence, name=name or BATCH_NAME, ext=video_ext,
                          frame_ext=frame_ext, regions=regions)

    jobs = planned(video_given or VIDEO_EXT, frame_given or FRAME_EXT)
    listing = Listing()
    remarks: list[Remark] = []
    paths: dict[Path, list[Path]] = {}  # a folder's input frames, listed once

    def inputs(clip: ClipJob) -> list[Path]:
        if clip.content not in paths:
            paths[clip.content] = list_frames(clip.content)
        return paths[clip.content]

    jobs, counted, found_ext = _counted_ext(jobs, planned, inputs, listing, out, video_given, frame_given)
    remarks += found_ext
    single_frames = len(jobs) == 1 and jobs[0].output == out and not jobs[0].is_video
    into_dir = any(j.output != out for j in jobs) or single_frames
    out_exists = out.is_dir() if into_dir else (out.parent.is_dir() if str(out.parent) else True)
    if not out_exists:
        remarks.insert(0, missing_out(out, "frame") if into_dir else Remark((
            f"{out}: its folder {out.parent} does not exist, so the run has not written it: it has not started, "
            "or this is not its ", Setting("output")), True))
    result: list[Clip] = []
    for job in jobs:
        result.append(_survey_clip(job, rows, shard_, shards, listing, inputs, remarks))
    if out_exists and into_dir and not any(c.written or any(s.state != "missing" for _, _, s in c.surveys)
                                           or c.claims for c in result):
        remarks += _no_frame_found(jobs, out, listing, single_frames)
    counts = {k: dict.fromkeys(STATES, 0) for k, _ in rows}
    for clip in result:
        for _, k, s in clip.surveys:
            counts[k][s.state] += 1
    return Report("clips", out, out_exists, counted, [Row(label, counts[k]) for k, label in rows],
                  clips=result, remarks=remarks)


def _counted_ext(jobs: tuple[ClipJob, ...], planned, inputs, listing: Listing, out: Path, video_given: str | None,
                 frame_given: str | None) -> tuple[tuple[ClipJob, ...], str | None, list[Remark]]:
    """The clips' jobs planned with the extension counted (the one given, else the one found most), that
    extension (None where the names have none to choose) and what its choice is worth saying."""
    if all(j.content.is_dir() for j in jobs) and video_given is None:
        # frames: their extension is the run's --ext (an image format), .png by default
        found = {}
        for e in FRAME_EXTS:
            try:
                candidate = planned(VIDEO_EXT, e)
                found[e] = sum(listing.traced(f) for j in candidate if not j.is_video
                               for f in frame_outputs(j, inputs(j)))
            except InputError:
                continue
        counted = frame_given or choose_ext(found, FRAME_EXT)
        return planned(VIDEO_EXT, counted), counted, ext_remarks(found, counted, FRAME_EXT, frame_given is not None,
                                                                 out)
    if all(j.is_video for j in jobs) and any(j.output != out for j in jobs):
        # videos into a directory: their names end in the run's --ext (a container), .mp4 by default
        found = {}
        for e in VIDEO_EXTS:
            candidate = planned(e, FRAME_EXT)
            found[e] = sum(listing.traced(j.output) or bool(listing(j.frames_dir))
                           or bool(_clip_claims(j, None, listing)) for j in candidate)
        counted = video_given or choose_ext(found, VIDEO_EXT)
        return planned(counted, FRAME_EXT), counted, ext_remarks(found, counted, VIDEO_EXT, video_given is not None,
                                                                 out)
    return jobs, None, []


def _no_frame_found(jobs: Sequence[ClipJob], out: Path, listing: Listing, single_frames: bool) -> list[Remark]:
    """Where OUT exists but holds no frame, claim or video of the run: what else it holds, if anything."""
    mine = {j.output.name for j in jobs} | {j.frames_dir.name for j in jobs}
    strangers = others_in(out, listing, lambda n: n in mine or any(n.startswith(m + ".") for m in mine)) \
        if not single_frames else sorted(n for n in listing(out) if not n.startswith("."))
    if not strangers:
        return []
    examples = ", ".join(strangers[:EXAMPLES]) + (", ..." if len(strangers) > EXAMPLES else "")
    return [Remark((f"no frame of this run is in {out}, which holds {len(strangers)} other "
                    f"{'entry' if len(strangers) == 1 else 'entries'} ({examples}): were they made "
                    "with other options (", Setting("name"), ", ", Setting("ext"),
                    "), or is this not the run's ", Setting("output"), "?"), True)]


def _survey_clip(job: ClipJob, rows, shard_, shards, listing: Listing, inputs, remarks: list[Remark]) -> Clip:
    """One clip: its frames counted (a video probed), each one asked for surveyed."""
    try:
        sources = None if job.is_video else inputs(job)
        frames = video.probe(job.content).frames if job.is_video else len(sources)
    except NSTError as e:
        remarks.append(Remark((f"cannot count the frames of {job.content} ({e}), so how far {job.output} has got "
                               "cannot be told",), True))
        return Clip(job, None, (), job.output.exists() if job.is_video else None,
                    tuple(_clip_claims(job, None, listing)))
    outs = frame_outputs(job, frames if job.is_video else sources)
    held = _clip_claims(job, frames, listing)
    written = job.output.name in listing(job.output.parent) if job.is_video else None
    names = listing(job.frames_dir)
    surveys = []
    for k, _ in rows:
        part = range(frames) if k is None else chunk(frames, (k, shard_[1] if shard_ else shards))
        for t in part:
            covering = [c.holder for c in held if c.frames is not None and t in c.frames]
            claim = next((h for h in covering if h.fresh()), covering[0] if covering else None)
            found = claims.survey(outs[t], names, claim=claim)
            if written and found.state != "done":  # encoded: every frame was made, whatever is left of them
                found = claims.Survey(found.output, "done", found.claim, found.partial, found.evaluations, found.total)
            surveys.append((t, k, found))
    return Clip(job, frames, tuple(surveys), written, tuple(held))


def is_clip_run(contents: Sequence[str | Path], sequence: bool) -> bool:
    """Whether a run of these contents is one of clips: ``sequence``, or a CONTENT is a video (as the run decides)."""
    return sequence or any(not Path(c).is_dir() and is_video(c) for c in contents)

