"""Command line for nst: parse, validate, call the library, report (Gatys et al., CVPR 2016)."""

from __future__ import annotations

import json
import sys
import time
import traceback
from pathlib import Path

import click
from click.core import ParameterSource
from tqdm import tqdm

from . import __version__, provenance, report
from .batch import NAME_FIELDS, Job, JobResult, normalize_ext, parse_shard, parse_style, run_batch
from .batch import plan as make_plan
from .batch import shard as take_shard
from .config import (BATCH_EXT, BATCH_NAME, EMPHASIS, INITS, OPTIMIZERS, PRESERVE_COLOR, Config,
                     format_layer_weights)
from .errors import InputError, NSTError
from .images import FORMATS, atomic_write, load_image, output_format, save_image, to_pil
from .transfer import Iterate
from .vgg import MODELS, POOLINGS

D = Config()  # the defaults live in Config only


class BadInput(click.ClickException):
    """Bad input, reported in one line with click's usage exit code 2."""

    exit_code = 2


def intermediate_path(output: Path, i: int) -> Path:
    """Where --save-every writes evaluation i: next to OUT, e.g. out_0050.jpg."""
    return output.with_name(f"{output.stem}_{i:04d}{output.suffix}")


def _shard(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[int, int] | None:
    try:
        return None if value is None else parse_shard(value)
    except InputError as e:
        raise click.BadParameter(str(e)) from None


def _ext(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        return normalize_ext(value)
    except InputError as e:
        raise click.BadParameter(str(e)) from None


class _Command(click.Command):
    """The main command; ``info`` or ``plot`` as the first argument runs that command instead."""

    def make_context(self, info_name, args, parent=None, **extra):
        sub = SUBCOMMANDS.get(args[0]) if args else None
        if sub is not None:
            return sub.make_context(f"{info_name or 'nst'} {args[0]}", list(args[1:]), parent=parent, **extra)
        return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context):
        return super().invoke(ctx) if ctx.command is self else ctx.command.invoke(ctx)


class _Progress:
    """tqdm bars on stderr: one over the jobs (when OUT is a directory), one over evaluations of J."""

    def __init__(self, quiet: bool, jobs: int | None, save_every: int | None, record: _Record | None = None) -> None:
        self.quiet, self.save_every, self.record = quiet, save_every, record
        self.outer = None if jobs is None else tqdm(total=jobs, file=sys.stderr, disable=quiet, unit="img",
                                                    dynamic_ncols=True, leave=False, position=0)
        self.inner: tqdm | None = None  # made at a job's first iterate, so an early error prints no bar
        self.first: Iterate | None = None
        self.last: Iterate | None = None

    def __call__(self, job: Job, it: Iterate) -> None:
        if self.inner is None:
            self.first = it
            self.inner = tqdm(total=it.total, file=sys.stderr, disable=self.quiet, unit="it", dynamic_ncols=True,
                              leave=False, position=0 if self.outer is None else 1)
        self.last = it
        self.inner.update(1)
        self.inner.set_postfix_str(f"J={it.J:.4g} content={it.J_content:.4g} style={it.J_style:.4g}",
                                   refresh=False)
        if self.save_every and it.i % self.save_every == 0:
            save_image(to_pil(it.image), intermediate_path(job.output, it.i))
        if self.record is not None:
            self.record(it)

    def finished(self) -> None:
        if self.inner is not None:
            self.inner.close()
            self.inner = None
        if self.outer is not None:
            self.outer.update(1)

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc) -> None:  # before any message about how the run ended
        for bar in (self.inner, self.outer):
            if bar is not None:
                bar.close()


class _Record:
    """What --log, --gif and --contact-sheet keep of one run: every evaluation's costs, and
    every ``every``-th iterate as a picture (about FRAMES of them when ``every`` is None)."""

    FRAMES = 24

    def __init__(self, every: int | None, frames: bool) -> None:
        self.every, self.keep_frames = every, frames
        self.evaluations: list[dict] = []
        self.frames: list[tuple[int, float, object]] = []  # (i, J, PIL image)

    def __call__(self, it: Iterate) -> None:
        self.evaluations.append({"i": it.i, "scale": it.scale, "size": list(it.size), "J": it.J,
                                 "J_content": it.J_content, "J_style": it.J_style, "J_tv": it.J_tv,
                                 "style_layers": dict(it.style_layers), "seconds": round(it.seconds, 4)})
        every = self.every or max(1, it.total // self.FRAMES)
        if self.keep_frames and (it.i == 1 or it.i % every == 0):
            self.frames.append((it.i, it.J, to_pil(it.image)))

    def write(self, output: Path, log: Path | None, gif: Path | None, sheet: Path | None) -> None:
        """Write the files asked for, after ``output`` (the final image, the last frame) was written."""
        if log is not None:
            rec = {**provenance.read(output), "evaluations": self.evaluations}
            with atomic_write(log) as f:
                f.write(json.dumps(rec, indent=1).encode())
        if gif is None and sheet is None:
            return
        final = load_image(output)
        frames = [img for _, _, img in self.frames] + [final]
        if gif is not None:
            report.save_animation(frames, gif)
        if sheet is not None:
            last = self.evaluations[-1]
            labels = [f"{i}: J={J:.3g}" for i, J, _ in self.frames] + [f"out: J={last['J']:.3g}"]
            save_image(report.contact_sheet(frames, labels), sheet)


CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.command(cls=_Command, context_settings=CONTEXT)
@click.argument("content", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.argument("style", type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(),
              help="Output image, its format from the extension (.jpg .png .webp .tif); or a directory, "
                   "see above.")
@click.option("--size", type=click.IntRange(min=16), default=D.size, show_default=True,
              help="Long edge of the output in pixels.")
@click.option("--content-weight", "content_weight", type=click.FloatRange(min=0), default=D.content_weight,
              show_default=True, help="alpha: weight of J_content.")
@click.option("--style-weight", "style_weight", type=click.FloatRange(min=0), default=D.style_weight,
              show_default=True, help="beta: weight of J_style.")
@click.option("--content-layers", default=",".join(D.content_layers), show_default=True,
              help="Comma-separated VGG19 layers for J_content (their mean).")
@click.option("--style-layers", default=format_layer_weights(D.style_layers), show_default=True,
              help="Comma-separated VGG19 layers for J_style, each optionally name:lambda (normalised to sum 1).")
@click.option("--style-emphasis", type=click.Choice(EMPHASIS), default=D.style_emphasis, show_default=True,
              help="lambda by layer depth: soft weights deeper layers more (the style's broad look), strong "
                   "the shallower ones (its fine texture); or give name:lambda in --style-layers.")
@click.option("--style-scale", type=click.FloatRange(min=0, min_open=True), default=D.style_scale,
              show_default=True, help="Resize the style to F x the content's size: F > 1 gives bigger strokes.")
@click.option("--preserve-color", type=click.Choice(PRESERVE_COLOR), default=D.preserve_color, show_default=True,
              help="Keep the content's colours: luminance (transfer on luminance only) or histogram (match "
                   "the style's colours to the content's first).")
@click.option("--tv-weight", type=click.FloatRange(min=0), default=D.tv_weight, show_default=True,
              help="Weight of total variation, which smooths away pixel noise.")
@click.option("--scales", type=click.IntRange(min=1), default=D.scales, show_default=True,
              help="Coarse-to-fine levels, sqrt(2) apart in size; --scales 1 optimises at the full size only.")
@click.option("--optimizer", type=click.Choice(OPTIMIZERS), default=D.optimizer, show_default=True)
@click.option("--iterations", type=click.IntRange(min=1), default=D.iterations, show_default=True,
              help="Evaluations of J (forward+backward passes), over all scales.")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=D.lr,
              help="Step size [default: 1 for lbfgs, 0.02 for adam].")
@click.option("--init", default=D.init, show_default=True, metavar="|".join(INITS) + "|PATH",
              help="Starting image.")
@click.option("--seed", type=int, default=D.seed, show_default=True, help="Same seed, same device: same output.")
@click.option("--device", default=D.device, show_default=True, metavar="auto|cpu|cuda|cuda:N|mps")
@click.option("--model", type=click.Choice(MODELS), default=D.model, show_default=True,
              help="vgg19-normalized: Gatys' Caffe VGG19 (offline); vgg19: torchvision ImageNet weights.")
@click.option("--weights", type=click.Path(path_type=Path), default=D.weights,
              help="Local state dict (torchvision features.N.* keys or AdaIN layout) for --model.")
@click.option("--pooling", type=click.Choice(POOLINGS), default=D.pooling, show_default=True)
@click.option("--save-every", type=click.IntRange(min=1), default=None, metavar="N",
              help="Also write every N-th iterate next to each output (OUT_0050.jpg, ...).")
@click.option("--log", "log_path", type=click.Path(path_type=Path), metavar="FILE.json",
              help="Write J, J_content, J_style, each style layer's cost and the time of every evaluation "
                   "(plot it with: nst plot FILE.json -o plot.png).")
@click.option("--gif", "gif_path", type=click.Path(path_type=Path), metavar="FILE.gif",
              help="An animation of the image forming (every --save-every N-th iterate, else 24 frames).")
@click.option("--contact-sheet", "sheet_path", type=click.Path(path_type=Path), metavar="FILE",
              help="The same iterates side by side in one picture, labelled with J.")
@click.option("-r", "--recursive", is_flag=True, help="Also take the images in subfolders of a directory.")
@click.option("--name", "name_template", default=BATCH_NAME, show_default=True, metavar="TEMPLATE",
              help="Output names in a directory OUT. Fields: " + " ".join(f"{{{f}}}" for f in NAME_FIELDS)
                   + " (content and style stems; ext with its dot; index: the job's number from 0, e.g. "
                     "{index:04d}; parent: the content's folder name; dir: its folder below the CONTENT "
                     "directory, '.' at the top; may contain '/').")
@click.option("--ext", default=BATCH_EXT, show_default=True, callback=_ext, metavar="|".join(sorted(FORMATS)),
              help="Format of the outputs in a directory OUT.")
@click.option("--skip-existing", is_flag=True,
              help="Leave outputs that exist alone (they are written atomically, so an existing one is "
                   "complete): re-run a crashed or interrupted batch to finish it.")
@click.option("--shard", callback=_shard, metavar="K/N",
              help="Do shard K of N, K counting from 0 (0/4 .. 3/4; Slurm: --array=0-3 and "
                   "--shard $SLURM_ARRAY_TASK_ID/4): a fixed split of the sorted job list, so N workers "
                   "with K = 0..N-1 do every job exactly once.")
@click.option("--fail-fast", is_flag=True, help="Stop at the first failed job (by default: report it, go on).")
@click.option("--json", "json_lines", is_flag=True,
              help="Print one JSON object per finished job on stdout (content, style, output, status, "
                   "seconds, J, J_content, J_style, error).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars; print nothing on success.")
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@click.version_option(__version__, prog_name="nst")
def main(content: tuple[Path, ...], style: Path, output: str, save_every: int | None, log_path: Path | None,
         gif_path: Path | None, sheet_path: Path | None, recursive: bool, name_template: str, ext: str,
         skip_existing: bool, shard: tuple[int, int] | None, fail_fast: bool, json_lines: bool, quiet: bool,
         debug: bool, **options) -> None:
    """Neural style transfer (Gatys et al.): paint CONTENT in the style of STYLE, write OUT.

    \b
      nst CONTENT STYLE -o OUT.jpg      one image, as OUT
      nst CONTENT... STYLE -o OUTDIR    each content in each style, into OUTDIR
      nst info FILE                     print the settings stored in an output (JSON)
      nst plot LOG.json -o PLOT.png     plot the costs recorded by --log

    Each CONTENT, and STYLE, is an image or a directory of images (sorted by name; --recursive
    descends into subfolders). STYLE may also be a blend of images joined with '+', each with an
    optional weight: 'a.jpg:2+b.jpg' mixes a.jpg's style twice as strongly as b.jpg's into one
    output, while a directory of styles gives one output per style. OUT is a directory, created
    if missing, when there are several CONTENTs, when a CONTENT or STYLE is a directory, or when
    OUT is a directory or ends in '/'; its files are named by --name in the format of --ext. The
    network is loaded once, and each style's targets are computed once per size. Every output
    stores the settings that made it.

    A bad, unreadable or vanished input is reported in one line and skipped, and the run goes on;
    a summary line ends a directory run. Exit status: 0 all done (or skipped), 1 a job failed,
    2 bad usage or, for a single image, bad input; 130 interrupted. Progress and messages go to
    stderr; stdout carries only --json. A content file named info or plot: write ./info or ./plot.

    \b
    Examples:
      nst examples/astronaut.jpg examples/style_strokes.jpg -o out.jpg
      nst photo.jpg painting.jpg -o out.png --size 512 --style-weight 30
      nst photo.jpg 'starry.jpg:2+wave.jpg' -o out.jpg      one output, two styles blended 2:1
      nst photo.jpg styles/ -o styled/                      one output per style in styles/
      nst photo.jpg painting.jpg -o out.jpg --preserve-color luminance --gif out.gif
      nst plot run.json -o run.png                          plot a --log
      nst photos/ styles/ -o styled/ --size 512 --skip-existing
      nst photos/ painting.jpg -o styled/ --shard "$SLURM_ARRAY_TASK_ID/4" -q --json
    """
    ctx = click.get_current_context()
    counts = {"done": 0, "skipped": 0, "failed": 0}
    start = time.perf_counter()
    jobs: tuple[Job, ...] = ()
    single = True  # one image to a file: reported as before batches existed
    try:
        cfg = Config(**options)  # check every option before any work
        protect = [cfg.init] if cfg.init not in INITS else []
        plan = make_plan(content, [parse_style(style)], output, name=name_template, ext=ext, recursive=recursive,
                         protect=protect)
        if not plan.into_dir:
            for param, flag in (("name_template", "--name"), ("ext", "--ext")):
                if ctx.get_parameter_source(param) is not ParameterSource.DEFAULT:
                    raise InputError(f"{flag} names the files in a directory OUT, but {output} is one image file")
        jobs = take_shard(plan.jobs, *shard) if shard else plan.jobs
        single = not plan.into_dir and len(jobs) == 1
        extras = {"--log": log_path, "--gif": gif_path, "--contact-sheet": sheet_path}
        record = None
        if any(extras.values()):
            if not single:
                flags = ", ".join(k for k, v in extras.items() if v)
                raise InputError(f"{flags} record the run of one image, but this run writes into the "
                                 f"directory {output}")
            if gif_path is not None:  # bad names fail now, not after the run
                report.check_animation_path(gif_path)
            if sheet_path is not None:
                output_format(sheet_path)
            record = _Record(save_every, gif_path is not None or sheet_path is not None)
        with _Progress(quiet, None if single else len(jobs), save_every, record) as progress:
            for result in run_batch(jobs, cfg, skip_existing=skip_existing, make_dirs=plan.into_dir,
                                    on_iterate=progress):
                progress.finished()
                counts[result.status] += 1
                if json_lines:
                    click.echo(json.dumps(result.to_json()))
                if single:
                    _report_single(result, progress, quiet)
                    if record is not None and result.status == "done":
                        record.write(result.job.output, log_path, gif_path, sheet_path)
                elif result.status == "failed":
                    tqdm.write(f"nst: failed {result.job.content} with {result.job.style_label}: {result.error}",
                               file=sys.stderr)
                    if debug:
                        traceback.print_exception(result.exception, file=sys.stderr)
                    if fail_fast:
                        break
    except InputError as e:
        _fail(e, BadInput, debug)
    except NSTError as e:
        _fail(e, click.ClickException, debug)
    except KeyboardInterrupt:
        if single:
            click.echo("nst: interrupted; no output written", err=True)
        else:
            click.echo(_summary(counts, len(jobs), shard, start) + "; interrupted: the outputs written are "
                       "complete, re-run with --skip-existing to finish", err=True)
        sys.exit(130)
    except click.ClickException:
        raise
    except Exception as e:  # an unexpected failure: one line unless --debug
        _fail(e, click.ClickException, debug, prefix=f"{type(e).__name__}: ")
    if single:
        return
    if counts["failed"] or not quiet:
        click.echo(_summary(counts, len(jobs), shard, start), err=True)
    if counts["failed"]:
        sys.exit(1)


def _report_single(result: JobResult, progress: _Progress, quiet: bool) -> None:
    """One image, as before batches: a failure is the command's error, success one line."""
    if result.status == "failed":
        raise result.exception
    if quiet:
        return
    if result.status == "skipped":
        click.echo(f"skipped {result.job.output}: it exists", err=True)
    else:
        first, last = progress.first, progress.last
        click.echo(f"wrote {result.job.output}: J {first.J:.4g} -> {last.J:.4g} "
                   f"in {last.i} evaluations, {last.seconds:.1f} s", err=True)


def _summary(counts: dict[str, int], total: int, shard: tuple[int, int] | None, start: float) -> str:
    line = f"nst: {counts['done']} done, {counts['skipped']} skipped, {counts['failed']} failed"
    not_run = total - sum(counts.values())
    if not_run:
        line += f", {not_run} not run"
    if shard:
        line += f" (shard {shard[0]}/{shard[1]})"
    return line + f" in {time.perf_counter() - start:.1f} s"


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
def plot(log: Path, output: Path) -> None:
    """Plot a run log written by --log: J and its weighted terms, and each style layer's cost,
    against the evaluation number. Needs matplotlib (pip install matplotlib)."""
    try:
        report.plot_log(report.load_log(log), output, title=log.name)
    except InputError as e:
        raise BadInput(str(e)) from None
    except NSTError as e:
        raise click.ClickException(str(e)) from None


SUBCOMMANDS = {"info": info, "plot": plot}


def _fail(e: BaseException, kind: type[click.ClickException], debug: bool, prefix: str = "") -> None:
    if debug:
        traceback.print_exception(e, file=sys.stderr)
    message = (prefix + str(e)).strip().splitlines()[0] if str(e).strip() else prefix + type(e).__name__
    raise kind(message) from None
