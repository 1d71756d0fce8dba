"""The commands that need no network: ``nst info``, ``nst plot`` and ``nst status``, which need no
torch either and start in a fraction of a second (nst.launch runs them without importing the rest
of the command line). ``nst status`` plans the run's job list as the run does (nst.jobs.joblist)
and reads what its files say (nst.jobs.progress); with --region it reads the masks' names with the
regions' parser (nst.jobs.regionspec, without torch too)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..errors import InputError, NSTError
from ..jobs import claims, provenance
from .words import flag

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class BadInput(click.ClickException):
    """Bad input, reported in one line with click's usage exit code 2."""

    exit_code = 2


@click.command("info", context_settings=CONTEXT)
@click.argument("file", type=click.Path(path_type=Path))
def info(file: Path) -> None:
    """Print the settings stored in FILE, an output of nst, as JSON.

    "settings" holds every option and the absolute paths of the inputs; in Python,
    nst.stylize(**settings) repeats a one-style run (on the same device, the same pixels).
    """
    try:
        record = provenance.read(file)
    except InputError as e:
        raise BadInput(str(e)) from None
    click.echo(json.dumps(record, indent=2, ensure_ascii=False))


@click.command("plot", context_settings=CONTEXT)
@click.argument("log", type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="The plot: .png, .jpg, .svg or .pdf.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing on success.")
def plot(log: Path, output: Path, quiet: bool) -> None:
    """Plot a run log written by --log: J and its weighted terms, and each style layer's cost,
    against the evaluation number. Needs matplotlib (pip install matplotlib)."""
    try:
        from . import report  # matplotlib and Pillow's drawing, not torch
        report.plot_log(report.load_log(log), output, title=log.name)
        if not quiet:
            click.echo(f"wrote {output}", err=True)
    except InputError as e:
        raise BadInput(str(e)) from None
    except NSTError as e:
        raise click.ClickException(str(e)) from None




@click.command("status", context_settings=CONTEXT)
@click.argument("content", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.argument("style", type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(), help="The run's OUT.")
@click.option("--name", "name_template", metavar="TEMPLATE", help="The run's --name, if it gave one.")
@click.option("--ext", help="The run's --ext, if it gave one (without it, outputs are looked for under every "
                            "extension the run could write).")
@click.option("--recursive", is_flag=True, help="The run's --recursive, if it gave it.")
@click.option("--region", "regions", multiple=True, metavar="MASK=STYLE",
              help="The run's --region, if it gave any (repeatable): its masks may name outputs' fields.")
@click.option("--sequence", is_flag=True, help="The run's --sequence: CONTENT is a folder of a clip's frames.")
@click.option("--shard", metavar="K/N", help="Only shard K of N of the job list (as the run's --shard K/N).")
@click.option("--shards", type=click.IntRange(min=1), metavar="N", help="A row for each of N shards, 0/N .. N-1/N.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object: kind (images or clips), output, out_exists, ext, totals, shards (a row "
                   "each), jobs (images: each output's index, content, style, output, shard, state, claim and "
                   "partial result) or clips (each clip's frames by state, its claims, whether its video is "
                   "written), and remarks.")
def status(content: tuple[Path, ...], style: Path, output: str, name_template: str | None, ext: str | None,
           recursive: bool, regions: tuple[str, ...], sequence: bool, shard: str | None, shards: int | None,
           as_json: bool) -> None:
    """How far a run into OUT has got, from its files: give it the run's CONTENT... STYLE -o OUT and
    the options that name its outputs (--name, --ext, --recursive, --region, --sequence), for the
    same job list as the run's.

    \b
    Each output, or each frame of a video or --sequence clip, is
      done      it exists (outputs are written whole, so it is complete)
      claimed   a live worker is on it (OUT.claim, or a clip shard's OUT.shard-K-of-N.claim)
      partial   an unfinished run kept its best image so far (OUT.partial.jpg), at evaluation i of n
      missing   none of these: not started, or its worker was killed before its first checkpoint

    A claim whose worker stopped refreshing it (killed: no heartbeat for some minutes) is stale: the
    next run takes it over, and it is listed. With --shards N: a row per shard of the run's --shard
    K/N split; with --shard K/N: that shard only. A clip is counted frame by frame in its frames
    folder (OUT.frames/ for a video, OUT for --sequence), with whether the video is written. Without
    --ext, the extension found in OUT is counted, and said on stderr. It reads only, without torch.

    Exit status 0; 1 where the files cannot tell how far the run got (said on stderr: OUT does not
    exist, or holds none of this job list's outputs but other files, or a clip's frames cannot be
    counted); 2 for bad input.
    """
    if shard is not None and shards is not None:
        raise click.UsageError("--shard K/N or --shards N, not both")
    from ..jobs import progress  # the job list's planning, without torch
    from ..jobs.joblist import parse_shard
    try:
        part = parse_shard(shard) if shard is not None else None
        specs = ()
        if regions:
            from ..jobs.regionspec import parse_region  # lazy: only with --region (it needs no torch)
            specs = tuple(parse_region(r) for r in regions)
        if progress.is_clip_run(content, sequence):
            report = progress.clips(content, style, output, sequence=sequence, name=name_template, ext=ext,
                                    regions=specs, shard_=part, shards=shards)
        else:
            report = progress.images(content, style, output, name=name_template, ext=ext, recursive=recursive,
                                     regions=specs, shard_=part, shards=shards)
    except InputError as e:
        raise BadInput(e.worded(flag)) from None
    if as_json:
        click.echo(json.dumps(_status_json(report, output)))
    else:
        _status_table(report)
    for remark in report.remarks:
        click.echo(f"nst status: {remark.worded(flag)}", err=True)
    if report.doubt:
        sys.exit(1)


def _status_json(report, output: str) -> dict:
    """--json's object (see status)."""
    rows = [{"shard": row.name, report_unit(report): row.total, **row.counts} for row in report.rows
            if row.name != "all"]
    data = {"kind": report.kind, "output": str(output), "out_exists": report.out_exists, "ext": report.ext,
            report_unit(report): sum(row.total for row in report.rows), "totals": report.totals, "shards": rows}
    if report.kind == "images":
        data["jobs"] = [image.to_json() for image in report.images]
    else:
        data["clips"] = [clip.to_json() for clip in report.clips]
    data["remarks"] = [remark.to_json(flag) for remark in report.remarks]
    return data


def report_unit(report) -> str:
    """What the table counts: outputs (images) or frames (clips)."""
    return "outputs" if report.kind == "images" else "frames"


def _status_table(report) -> None:
    """The table, a row per shard (and all), then a line for each output in progress or stale, and for
    clips a line per clip and per claim on its shards."""
    table = [(row.name, row.counts) for row in report.rows]
    if not any(name == "all" for name, _ in table) and len(table) > 1:
        table.append(("all", report.totals))
    heads = ("shard", report_unit(report), *claims.STATES)
    lines = [heads] + [(name, str(sum(c.values())), *(str(c[s]) for s in claims.STATES)) for name, c in table]
    widths = [max(len(line[i]) for line in lines) for i in range(len(heads))]
    for line in lines:
        click.echo("  ".join([line[0].ljust(widths[0])] + [x.rjust(w) for x, w in zip(line[1:], widths[1:])]))
    for image in report.images:
        line = _status_line(image.found)
        if line:
            click.echo(line)
    for clip in report.clips:
        for line in _clip_lines(clip):
            click.echo(line)


def _clip_lines(clip) -> list[str]:
    """A clip's line (its frames done, its video written or not), its claims', its partial frames'."""
    job = clip.job
    kind = "video" if job.is_video else "frames"
    if clip.frames is None:
        lines = [f"{kind:<8} {job.output}: its frames cannot be counted"
                 + ("; the video is written" if clip.written else "")]
    else:
        done, surveyed = clip.count("done"), len(clip.surveys)
        of = f"{surveyed}" if surveyed == clip.frames else f"{surveyed} (of the clip's {clip.frames})"
        line = f"{kind:<8} {job.output}: {done} of {of} frames done"
        if job.is_video:
            line += f" in {job.frames_dir}; "
            if clip.written:
                line += "the video is written"
            elif all(s.state == "done" for _, _, s in clip.surveys) and surveyed == clip.frames:
                line += "the video is not written yet (every frame is made: the next run of the clip writes it)"
            else:
                line += "the video is not written yet"
        lines = [line]
    for c in clip.claims:
        where = "the whole clip" if c.shard is None else f"shard {c.shard[0]}/{c.shard[1]}"
        if c.frames is not None and len(c.frames):
            where += f", frames {c.frames.start}-{c.frames.stop - 1}"
        holder = c.holder
        if holder.fresh():
            lines.append(f"claimed  {job.output} ({where}): by {holder}, heartbeat {holder.age():.0f} s ago")
        else:
            why = "its process has ended" if holder.gone else \
                f"no heartbeat for {holder.age() / 60:.0f} min: its worker is taken to be dead"
            lines.append(f"stale    {job.output} ({where}): a stale claim by {holder} ({why}; the next run takes "
                         "it over)")
    for _, _, found in clip.surveys:  # a frame's partial result, whether its shard is claimed or not
        if found.partial is not None and found.state != "done":
            lines.append(_status_line(found))
    return lines


def _status_line(found: claims.Survey) -> str:
    """A line for an output in progress (claimed or partial) or with a stale claim; '' for the others."""
    progress = ""
    if found.partial is not None:
        progress = (f"evaluation {found.evaluations} of {found.total} kept in {found.partial}"
                    if found.evaluations is not None else f"a partial result in {found.partial}")
    claim = found.claim
    if found.state == "claimed":
        return (f"claimed  {found.output}: by {claim}, heartbeat {claim.age():.0f} s ago"
                + (f"; {progress}" if progress else ""))
    stale = ""
    if claim is not None and not claim.fresh():
        why = "its process has ended" if claim.gone else \
            f"no heartbeat for {claim.age() / 60:.0f} min: its worker is taken to be dead"
        stale = f"a stale claim by {claim} ({why}; the next run takes it over)"
    if found.state == "partial":
        return f"partial  {found.output}: {progress}" + (f"; {stale}" if stale else "")
    if stale:
        return f"{found.state:<8} {found.output}: {stale}"
    return ""
