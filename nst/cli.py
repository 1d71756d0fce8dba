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

from . import __version__, provenance
from .batch import NAME_FIELDS, Job, JobResult, normalize_ext, parse_shard, run_batch
from .batch import plan as make_plan
from .batch import shard as take_shard
from .config import BATCH_EXT, BATCH_NAME, INITS, OPTIMIZERS, Config, format_layer_weights
from .errors import InputError, NSTError
from .images import FORMATS, save_image, to_pil
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
    """The main command; ``info`` as the first argument runs the info command instead."""

    def make_context(self, info_name, args, parent=None, **extra):
        if list(args[:1]) == ["info"]:
            return info.make_context(f"{info_name or 'nst'} info", list(args[1:]), parent=parent, **extra)
        return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context):
        return super().invoke(ctx) if ctx.command is self else ctx.command.invoke(ctx)


class _Progress:
    """tqdm bars on stderr: one over the jobs (when OUT is a directory), one over evaluations of J."""

    def __init__(self, quiet: bool, jobs: int | None, save_every: int | None) -> None:
        self.quiet, self.save_every = quiet, save_every
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
@click.option("--optimizer", type=click.Choice(OPTIMIZERS), default=D.optimizer, show_default=True)
@click.option("--iterations", type=click.IntRange(min=1), default=D.iterations, show_default=True,
              help="Evaluations of J (forward+backward passes).")
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
def main(content: tuple[Path, ...], style: Path, output: str, save_every: int | None, recursive: bool,
         name_template: str, ext: str, skip_existing: bool, shard: tuple[int, int] | None, fail_fast: bool,
         json_lines: bool, quiet: bool, debug: bool, **options) -> None:
    """Neural style transfer (Gatys et al.): paint CONTENT in the style of STYLE, write OUT.

    \b
      nst CONTENT STYLE -o OUT.jpg      one image, as OUT
      nst CONTENT... STYLE -o OUTDIR    each content in each style, into OUTDIR
      nst info FILE                     print the settings stored in an output (JSON)

    Each CONTENT, and STYLE, is an image or a directory of images (sorted by name; --recursive
    descends into subfolders). OUT is a directory, created if missing, when there are several
    CONTENTs, when a CONTENT or STYLE is a directory, or when OUT is a directory or ends in '/';
    its files are named by --name in the format of --ext. The network is loaded once, and each
    style's targets are computed once. Every output stores the settings that made it.

    A bad, unreadable or vanished input is reported in one line and skipped, and the run goes on;
    a summary line ends a directory run. Exit status: 0 all done (or skipped), 1 a job failed,
    2 bad usage or, for a single image, bad input; 130 interrupted. Progress and messages go to
    stderr; stdout carries only --json. A content file named info: write ./info.

    \b
    Examples:
      nst examples/astronaut.jpg examples/style_strokes.jpg -o out.jpg
      nst photo.jpg painting.jpg -o out.png --size 512 --style-weight 30
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
        plan = make_plan(content, [style], output, name=name_template, ext=ext, recursive=recursive,
                         protect=protect)
        if not plan.into_dir:
            for param, flag in (("name_template", "--name"), ("ext", "--ext")):
                if ctx.get_parameter_source(param) is not ParameterSource.DEFAULT:
                    raise InputError(f"{flag} names the files in a directory OUT, but {output} is one image file")
        jobs = take_shard(plan.jobs, *shard) if shard else plan.jobs
        single = not plan.into_dir and len(jobs) == 1
        with _Progress(quiet, None if single else len(jobs), save_every) as progress:
            for result in run_batch(jobs, cfg, skip_existing=skip_existing, make_dirs=plan.into_dir,
                                    on_iterate=progress):
                progress.finished()
                counts[result.status] += 1
                if json_lines:
                    click.echo(json.dumps(result.to_json()))
                if single:
                    _report_single(result, progress, quiet)
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


def _fail(e: BaseException, kind: type[click.ClickException], debug: bool, prefix: str = "") -> None:
    if debug:
        traceback.print_exception(e, file=sys.stderr)
    message = (prefix + str(e)).strip().splitlines()[0] if str(e).strip() else prefix + type(e).__name__
    raise kind(message) from None
