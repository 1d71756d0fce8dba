"""The commands that need no network: ``nst info`` and ``nst plot``, which need no torch either and
start in a fraction of a second (nst.launch runs them without importing the rest of the command
line), and ``nst status``, which imports torch only to plan the run's job list as the run does
(nst.jobs.batch.plan), so that this module imports without it."""

from __future__ import annotations

import json
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
@click.option("--ext", help="The run's --ext, if it gave one.")
@click.option("--recursive", is_flag=True, help="The run's --recursive, if it gave it.")
@click.option("--region", "regions", multiple=True, metavar="MASK=STYLE",
              help="The run's --region, if it gave any (repeatable): its masks may name outputs' fields.")
@click.option("--shard", metavar="K/N", help="Only shard K of N of the job list (as the run's --shard K/N).")
@click.option("--shards", type=click.IntRange(min=1), metavar="N", help="A row for each of N shards, 0/N .. N-1/N.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object: output, outputs, totals, shards (a row each) and jobs (each output's "
                   "index, content, style, output, shard, state, claim and partial result).")
def status(content: tuple[Path, ...], style: Path, output: str, name_template: str | None, ext: str | None,
           recursive: bool, regions: tuple[str, ...], shard: str | None, shards: int | None, as_json: bool) -> None:
    """How far a run of images into OUT has got, from its files: give it the run's CONTENT... STYLE
    -o OUT and the options that name its outputs (--name, --ext, --recursive, --region), for the
    same job list as the run's.

    \b
    Each output is
      done      OUT exists (outputs are written whole, so it is complete)
      claimed   a live worker is on it (OUT.claim, refreshed while it works)
      partial   an unfinished run kept its best image so far (OUT.partial.jpg), at evaluation i of n
      missing   none of these: not started, or its worker was killed before its first checkpoint

    A claim whose worker stopped refreshing it (killed: no heartbeat for some minutes) is stale: the
    next run takes it over, and it is listed. With --shards N: a row per shard of the run's --shard
    K/N split; with --shard K/N: that shard only. Images only: for videos and --sequence, the frames
    written are in OUT.frames/ or OUT. Exit status 0; 2 for bad input.
    """
    if shard is not None and shards is not None:
        raise click.UsageError("--shard K/N or --shards N, not both")
    try:
        jobs, rows = _status_jobs(content, style, output, name_template, ext, recursive, regions, shard, shards)
    except InputError as e:
        raise BadInput(e.worded(flag)) from None
    from ..jobs.runner import style_to_json  # loaded by the plan already
    surveys = [(job, k, claims.survey(job.output)) for job, k in jobs]
    counts = {k: dict.fromkeys(claims.STATES, 0) for k, _ in rows}
    totals = dict.fromkeys(claims.STATES, 0)
    for _, k, found in surveys:
        counts[k][found.state] += 1
        totals[found.state] += 1
    table = [(name, counts[k]) for k, name in rows]
    if as_json:
        click.echo(json.dumps({
            "output": str(output), "outputs": len(surveys), "totals": totals,
            "shards": [{"shard": name, "outputs": sum(c.values()), **c} for name, c in table if name != "all"],
            "jobs": [{"index": job.index, "content": str(job.content), "style": style_to_json(job.style),
                      "output": str(job.output), "shard": k, **found.to_json()} for job, k, found in surveys]}))
        return
    if not any(name == "all" for name, _ in table) and len(table) > 1:
        table.append(("all", totals))
    heads = ("shard", "outputs", *claims.STATES)
    lines = [heads] + [(name, str(sum(c.values())), *(str(c[s]) for s in claims.STATES)) for name, c in table]
    widths = [max(len(line[i]) for line in lines) for i in range(len(heads))]
    for line in lines:
        click.echo("  ".join([line[0].ljust(widths[0])] + [x.rjust(w) for x, w in zip(line[1:], widths[1:])]))
    for _, _, found in surveys:
        line = _status_line(found)
        if line:
            click.echo(line)


def _status_jobs(content, style, output, name_template, ext, recursive, regions, shard, shards
                 ) -> tuple[list[tuple[object, int | None]], list[tuple[int | None, str]]]:
    """The jobs surveyed, each with its shard (None without --shard or --shards), and the table's rows
    (shard, name): the run's job list planned as the run plans it (nst.jobs.batch.plan, which imports torch)."""
    from ..jobs import video
    from ..jobs.batch import parse_shard, parse_style, plan
    from ..jobs.batch import shard as take_shard
    from ..jobs.regions import parse_region
    for c in content:
        if not c.is_dir() and c.suffix.lower() in video.VIDEO_EXTENSIONS:
            raise InputError(f"{c}: a video; nst status reports runs of images (a clip's frames are in "
                             "OUT.frames/ or, with --sequence, in OUT)")
    named = {k: v for k, v in (("name", name_template), ("ext", ext)) if v is not None}
    every = plan(content, [parse_style(style)], output, recursive=recursive,
                 regions=tuple(parse_region(r) for r in regions), **named).jobs
    if shard is not None:
        k, n = parse_shard(shard)
        return [(job, k) for job in take_shard(every, k, n)], [(k, f"{k}/{n}")]
    if shards is not None:
        return ([(job, k) for k in range(shards) for job in take_shard(every, k, shards)],
                [(k, f"{k}/{shards}") for k in range(shards)])
    return [(job, None) for job in every], [(None, "all")]


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
