"""Batch style transfer: inputs to a sorted job list, naming, sharding, and one network for all jobs."""

from __future__ import annotations

import functools
import os
import string
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from ..core.config import BATCH_EXT, BATCH_NAME, Config
from ..core.regions import Region
from ..core.stylizer import Iterate, RunResult, Stylizer, style_parts
from ..errors import InputError, NSTError, Setting, one_line
from ..pixels.images import FORMATS, load_image, output_format, resize_long_edge, save_image
from . import checkpoint, claims, outputs, provenance
from . import regions as region_files
from .checkpoint import CHECKPOINT_EVERY
from .regions import RegionSpec
from .runner import Resumable, Style, StyleBank, run_jobs, style_label, style_to_json

# The fields of a name template (see output_name).
NAME_FIELDS = ("content", "style", "ext", "index", "parent", "dir")


@dataclass(frozen=True)
class Job:
    """One output: a content image stylized with a style (blend), written to ``output``."""

    content: Path
    style: Style
    output: Path
    index: int = 0      # position in the whole (unsharded) job list
    regions: tuple[RegionSpec, ...] = ()  # parts of the picture with their own style (nst.jobs.regions)

    @property
    def style_label(self) -> str:
        """The style's file name, or a blend's joined with '+'."""
        return style_label(self.style)


@dataclass(frozen=True)
class JobList:
    """The jobs of a run, style by style, and whether OUT is a directory."""

    jobs: tuple[Job, ...]
    into_dir: bool


# A job's status: written; left alone (its output existed); failed; stopped early with its partial result
# kept; left to the live worker that holds its output's claim (nst.jobs.claims).
STATUSES = ("done", "skipped", "failed", "interrupted", "claimed")


@dataclass(frozen=True)
class JobResult:
    """A finished job: status is "done", "skipped" (its output existed), "failed", "interrupted"
    (should_stop() ended its run early; the best G so far is kept in ``partial``, see nst.jobs.checkpoint)
    or "claimed" (another live worker holds its output's claim, ``claimed_by``: it is left to that worker)."""

    job: Job
    status: str
    seconds: float = 0.0
    J: float | None = None          # of the image written or kept (the lowest J seen)
    J_content: float | None = None
    J_style: float | None = None
    error: str | None = None
    exception: BaseException | None = field(default=None, compare=False, repr=False)
    evaluations: int | None = None  # evaluations of the run done so far, all processes (done: all of them)
    total: int | None = None        # evaluations of the whole run
    resumed_from: int | None = None  # evaluations done before this process, when it resumed a partial result
    partial: Path | None = None     # interrupted: the partial result kept (its preview image)
    claimed_by: claims.Holder | None = None  # claimed: the worker that holds the output

    def to_json(self) -> dict:
        """A JSON-ready record: index, content, style, output, status, seconds, J, J_content, J_style,
        evaluations, total, resumed_from, partial, error, claimed_by (claimed: {host, pid, started,
        heartbeat, fresh, file})."""
        job = self.job
        return {"index": job.index, "content": str(job.content), "style": style_to_json(job.style),
                "output": str(job.output), "status": self.status, "seconds": round(self.seconds, 3), "J": self.J,
                "J_content": self.J_content, "J_style": self.J_style, "evaluations": self.evaluations,
                "total": self.total, "resumed_from": self.resumed_from,
                "partial": None if self.partial is None else str(self.partial), "error": self.error,
                "claimed_by": None if self.claimed_by is None else self.claimed_by.to_json()}


def image_extensions() -> frozenset[str]:
    """Lower-case extensions of the files Pillow can open ('.jpg', '.png', ...): a directory's images."""
    return frozenset(ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN)


def list_images(folder: Path, recursive: bool = False, exclude: Path | None = None) -> list[Path]:
    """The images in ``folder`` (in its subfolders too if ``recursive``), sorted by relative path.

    Hidden files are left out, and so is anything under ``exclude`` (the output folder) when
    it is a subfolder, so that outputs do not become inputs of a re-run.
    """
    exts = image_extensions()
    skip = exclude.resolve() if exclude is not None else None
    if skip == folder.resolve():
        skip = None
    found = []
    for p in folder.rglob("*") if recursive else folder.iterdir():
        rel = p.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts) or p.suffix.lower() not in exts or not p.is_file():
            continue
        if skip is not None and p.resolve().is_relative_to(skip):
            continue
        found.append((rel.as_posix(), p))
    return [p for _, p in sorted(found)]


def expand(paths: Iterable[str | Path], recursive: bool = False, exclude: Path | None = None
           ) -> list[tuple[Path, str]]:
    """Each path, or a directory's images: (image, its folder relative to the directory, or '.').

    A path that is not a directory is taken as an image even if it is missing or broken: it
    fails when its job runs. A directory without images is an InputError. Duplicates are dropped.
    """
    out: list[tuple[Path, str]] = []
    seen: set[Path] = set()
    for path in map(Path, paths):
        if path.is_dir():
            images = list_images(path, recursive, exclude)
            if not images:
                hint = [] if recursive or not any(p.is_dir() for p in path.iterdir()) else \
                    [" (it has subfolders: add ", Setting("recursive", python="recursive=True"), ")"]
                raise InputError(f"{path}: no images in this directory", *hint)
            items = [(p, p.parent.relative_to(path).as_posix()) for p in images]
        else:
            items = [(path, ".")]
        for p, rel in items:
            key = p.resolve()
            if key not in seen:
                seen.add(key)
                out.append((p, rel))
    return out


def check_style(style: Iterable[tuple[str | Path, float]]) -> Style:
    """A blend as a Style: paths, finite weights >= 0, not all zero (checked by style_parts)."""
    return tuple((Path(p), w) for p, w in style_parts(list(style)))


def expand_styles(styles: Iterable[str | Path | Iterable[tuple[str | Path, float]]], recursive: bool = False,
                  exclude: Path | None = None) -> list[Style]:
    """Each style as a Style: an image, each of a directory's images (see ``expand``), or a blend."""
    out: list[Style] = []
    for s in styles:
        if isinstance(s, (str, Path)):
            out += [((p, 1.0),) for p, _ in expand([s], recursive, exclude)]
        else:
            out.append(check_style(s))
    return out


def parse_style(spec: str | Path) -> Path | Style:
    """The STYLE argument: an existing file or directory as it is; otherwise a blend
    'a.jpg+b.jpg:0.5' of image files, each with an optional weight (default 1), or one path.

    A path that exists is never split, so a file named 'a+b.jpg' is one style.
    """
    path = Path(spec)
    text = str(spec)
    if path.exists() or "+" not in text and ":" not in text:
        return path
    pairs = []
    for part in text.split("+"):
        name, sep, weight = part.rpartition(":")
        if not sep or not name or Path(part).exists():  # no weight, or a file whose name has a ':'
            pairs.append((Path(part), 1.0))
            continue
        try:
            pairs.append((Path(name), float(weight)))
        except ValueError:
            if not Path(name).exists():  # not a weight after a file: a name with a ':' (missing, it fails later)
                pairs.append((Path(part), 1.0))
                continue
            raise InputError(f"style {text!r}: the weight {weight!r} of {name} is not a number; a blend is "
                             "FILE[:WEIGHT]+FILE[:WEIGHT], e.g. a.jpg:2+b.jpg") from None
    if len(pairs) == 1 and pairs[0][1] == 1.0:
        return pairs[0][0]
    for p, _ in pairs:
        if not str(p) or p.is_dir():
            raise InputError(f"style blend {text!r}: {str(p)!r} is not an image file; a blend joins image "
                             "files with '+', e.g. a.jpg+b.jpg:0.5")
    return check_style(pairs)


def normalize_ext(ext: str) -> str:
    """'png', '.PNG' -> '.png'; InputError unless it is an output format."""
    e = ext.lower() if ext.startswith(".") else "." + ext.lower()
    if e not in FORMATS:
        raise InputError(f"extension {ext!r} is not allowed; expected one of {', '.join(sorted(FORMATS))}")
    return e


def check_template(template: str) -> None:
    """InputError unless ``template`` is a format string over NAME_FIELDS only."""
    try:
        names = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as e:
        raise InputError(f"name template {template!r}: {e}") from None
    for name in names:
        if name not in NAME_FIELDS:
            raise InputError(f"name template {template!r}: unknown field {{{name}}}; allowed: "
                             + " ".join(f"{{{f}}}" for f in NAME_FIELDS))


def output_name(template: str, content: Path, style: Style, ext: str, index: int = 0, folder: str = ".") -> str:
    """A relative output path from the template.

    Fields: {content} the content's stem, {style} the style's stem (a blend's joined with '+'),
    {ext} the output extension with its dot, {index} the job's position in the whole job list
    (format specs work: {index:04d}), {parent} the content's folder name, {dir} the content's
    folder relative to the CONTENT directory it was found in ('.' at its top).
    """
    check_template(template)
    values = dict(content=content.stem, style="+".join(p.stem for p, _ in style), ext=ext, index=index,
                  parent=content.absolute().parent.name, dir=folder)
    try:
        name = template.format(**values)
    except (ValueError, TypeError) as e:
        raise InputError(f"name template {template!r}: {e}") from None
    rel = Path(name)
    if not name or rel.is_absolute() or ".." in rel.parts:
        raise InputError(f"name template {template!r} gives {name!r}; names must stay inside OUT")
    return name


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
    their masks' template fields filled in with its own (nst.jobs.regions.fill).
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
    _check_outputs(jobs, protect)
    return JobList(jobs, into_dir)


def _regions(specs: Sequence[RegionSpec], content: Path, style: Style, index: int, folder: str
             ) -> tuple[RegionSpec, ...]:
    """A job's regions: their masks' template fields filled in with the job's."""
    values = dict(content=content.stem, style="+".join(p.stem for p, _ in style), index=index,
                  parent=content.absolute().parent.name, dir=folder)
    return tuple(region_files.fill(r, values) for r in specs)


def _check_outputs(jobs: Sequence[Job], protect: Iterable[str | Path]) -> None:
    """InputError if two jobs share an output or an output is an input (same path or same file)."""
    named = {("content", j.content) for j in jobs} | {("style", p) for j in jobs for p, _ in j.style}
    named |= {("region's", Path(p)) for j in jobs for r in j.regions for p in r.files()}
    named |= {("input", Path(p)) for p in protect}
    inputs: dict[object, str] = {}
    for kind, p in sorted(named, key=str):
        inputs[p.resolve()] = f"{kind} image {p}"
        if p.exists():
            st = p.stat()
            inputs[(st.st_dev, st.st_ino)] = f"{kind} image {p}"
    by_output: dict[Path, Job] = {}
    for job in jobs:
        key = job.output.resolve()
        hit = inputs.get(key)
        if hit is None and job.output.exists():
            st = job.output.stat()
            hit = inputs.get((st.st_dev, st.st_ino))
        if hit is not None:
            raise InputError(f"{job.output}: is the {hit}; refusing to overwrite an input")
        other = by_output.setdefault(key, job)
        if other is not job:
            fields = (["{style}"] if other.style != job.style else []) + \
                (["{dir}", "{parent}"] if other.content != job.content else []) + ["{index}"]
            raise InputError(f"{other.content} with {other.style_label} and {job.content} with {job.style_label} "
                             f"would both be written to {job.output}; put {', '.join(fields[:-1])} or "
                             f"{fields[-1]} in the name template")


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
    if n < 1 or not 0 <= k < n:
        raise InputError(f"shard {k}/{n} is not allowed; expected 0 <= K < N")
    total = len(jobs)
    return tuple(jobs[k * total // n:(k + 1) * total // n])


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
        return resize_long_edge(source, self.cfg.size), self.regions(job, source.size, note)

    def regions(self, job: Job, size: tuple[int, int], note: Callable[[str], None] | None) -> list[Region]:
        """The job's regions with their masks read and checked against the content file's ``size``;
        an empty mask is said and left out, a mask in colour said and read by its brightest channel."""
        specs, masks, own = [], [], []
        for spec in job.regions:
            mask = region_files.load_mask(spec.mask, note)
            region_files.check_aspect(mask, spec.mask, size, name=job.content)
            if spec.style is not None:
                self.bank.read(spec.style, note)
            style_masks = region_files.read_style_masks(spec, self.bank, note)
            if region_files.is_empty(mask):
                if self.on_note is not None:
                    self.on_note(job, f"mask {spec.mask} is empty (black): its region is left out")
                continue
            specs.append(spec)
            masks.append(mask)
            own.append(style_masks)
        return region_files.regions_of(specs, masks, self.bank, own)

    def work(self, job: Job, prepared: tuple[Image.Image, list[Region]], stylizer: Stylizer,
             start: float) -> JobResult | None:
        """Stylize the job and write its output, resuming its partial result; None if stopped before."""
        cfg, bank = self.cfg, self.bank
        content, regions = prepared
        # OSError: an input vanished since it was read
        setting = checkpoint.settings(cfg, job.content, job.style, region_files.identity(job.regions))
        records = region_files.records(job.regions)
        rec = provenance.record(cfg, job.content, job.style, stylizer.device, stylizer.dtype, regions=records)
        note = None if self.on_note is None else functools.partial(self.on_note, job)
        partial = Resumable(job.output, setting, rec, restart=self.restart, make_dirs=self.make_dirs, note=note)
        progress = None if self.on_iterate is None else functools.partial(self.on_iterate, job)
        if self.should_stop is not None and self.should_stop():
            return None
        result = partial.run(lambda resume: stylizer.run(
            content, bank.targets(job.style), bank.images(job.style), progress, should_stop=self.should_stop,
            resume=resume, on_state=partial.keeper, state_every=self.checkpoint_every or None, regions=regions))
        if result.stopped:  # stopped early: what was kept beside the output
            keeper = partial.keeper
            K = keeper.kept or keeper.stopped
            return JobResult(job, "interrupted", time.perf_counter() - start, K.J, K.J_content, K.J_style,
                             error=keeper.problem, evaluations=K.i, total=K.total, resumed_from=partial.resumed_from,
                             partial=partial.partial)
        rec = provenance.record(cfg, job.content, job.style, stylizer.device, stylizer.dtype,
                                [p.to_json() for p in result.plans], stylizer.budget, records)
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
