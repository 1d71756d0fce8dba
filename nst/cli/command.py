"""Command line for nst: parse, validate, call the library, report (Gatys et al., CVPR 2016)."""

from __future__ import annotations

import json
import signal
import sys
import traceback
from pathlib import Path

import click
from click.core import ParameterSource

from .. import __version__
from . import clips as cli_clips
from ..jobs import outputs
from . import report
from ..jobs.batch import NAME_FIELDS, Job, normalize_ext, parse_shard, parse_style, run_batch
from ..jobs.batch import plan as make_plan
from ..jobs.batch import shard as take_shard
from ..jobs.checkpoint import CHECKPOINT_EVERY
from ..core.config import BATCH_EXT, BATCH_NAME, EMPHASIS, INITS, OPTIMIZERS, PRESERVE_COLOR, TILE_MIN, Config, auto_or_int, format_layer_weights
from .commands import CONTEXT, BadInput, info, plot
from .console import make_reporter
from ..net.device import PRECISIONS
from ..errors import InputError, NSTError
from ..pixels.images import FORMATS, output_format, save_image, to_pil
from .interrupt import SignalStop, StopNow
from ..units import parse_memory
from ..core.schedule import MIN_SCALE, schedule
from ..jobs.sequence import SequenceConfig
from ..core.stylizer import Iterate
from ..net.vgg import MODELS, POOLINGS
from ..jobs.video import DEFAULT_CODEC, DEFAULT_CRF, VIDEO_EXTENSIONS, Encoder, is_video, parse_encoder_option

D = Config()  # the defaults live in Config only
S = SequenceConfig()  # and those of video frames in SequenceConfig


def intermediate_path(output: Path, i: int) -> Path:
    """Where --save-every writes evaluation i: next to OUT, e.g. out_0050.jpg."""
    return output.with_name(f"{output.stem}_{i:04d}{output.suffix}")


def _encoder_options(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> dict[str, str]:
    try:
        return dict(parse_encoder_option(v) for v in value)
    except InputError as e:
        raise click.BadParameter(str(e)) from None


def _shard(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[int, int] | None:
    try:
        return None if value is None else parse_shard(value)
    except InputError as e:
        raise click.BadParameter(str(e)) from None


def _ext(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        return value.lower() if value.lower() in VIDEO_EXTENSIONS else normalize_ext(value)
    except InputError as e:
        raise click.BadParameter(str(e)) from None


def _auto_int(name: str, least: int, off: bool = False):
    """A click callback for an option that is auto (off) or an integer >= least, checked as Config does."""
    def check(ctx: click.Context, param: click.Parameter, value: str) -> int | str:
        try:
            return auto_or_int(value, name, least, f"auto{', off' if off else ''} or an integer >= {least}", off)
        except InputError as e:
            raise click.BadParameter(str(e).replace(f"{name}=", "")) from None
    return check


def _memory(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    try:
        return None if value is None else parse_memory(value)
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
@click.option("--scales", default=str(D.scales), show_default=True, callback=_auto_int("scales", 1),
              metavar="auto|N",
              help="Coarse-to-fine levels: N levels sqrt(2) apart in size (half the evaluations at the full size; "
                   "1: the full size only); auto: one level up to 1023 px, above it a pyramid from 512-1023 px "
                   "doubling to the full size, each level with half the evaluations of the one before.")
@click.option("--optimizer", type=click.Choice(OPTIMIZERS), default=D.optimizer, show_default=True)
@click.option("--iterations", type=click.IntRange(min=0), default=D.iterations, show_default=True,
              help="Evaluations of J (forward+backward passes), over all scales; 0 writes the initial "
                   "image itself (with --init adain: a stylised preview in about a second).")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=D.lr,
              help="Step size [default: 1 for lbfgs, 0.02 for adam].")
@click.option("--init", default=D.init, show_default=True, metavar="|".join(INITS) + "|PATH",
              help="Starting image; adain: the content stylised in one pass by AdaIN (Huang & Belongie "
                   "2017), which the optimisation then refines.")
@click.option("--adain-strength", type=click.FloatRange(0, 1), default=D.adain_strength, show_default=True,
              help="With --init adain: 1 the full AdaIN stylisation, lower keeps more of the content.")
@click.option("--seed", type=int, default=D.seed, show_default=True, help="Same seed, same device: same output.")
@click.option("--device", default=D.device, show_default=True, metavar="auto|cpu|cuda|cuda:N|mps")
@click.option("--precision", type=click.Choice(PRECISIONS), default=D.precision, show_default=True,
              help="The network's arithmetic: auto is bfloat16 on CUDA and on CPUs with native bfloat16 "
                   "(AVX512-BF16, AMX), float32 elsewhere; the costs are float32 always.")
@click.option("--model", type=click.Choice(MODELS), default=D.model, show_default=True,
              help="vgg19-normalized: Gatys' Caffe VGG19 (offline); vgg19: torchvision ImageNet weights.")
@click.option("--weights", type=click.Path(path_type=Path), default=D.weights,
              help="Local state dict (torchvision features.N.* keys or AdaIN layout) for --model.")
@click.option("--pooling", type=click.Choice(POOLINGS), default=D.pooling, show_default=True)
@click.option("--max-memory", "max_memory", metavar="SIZE", callback=_memory,
              help="Memory budget, e.g. 4G or 512M: the image is tiled, and the optimiser's state shrunk, to fit "
                   "it (on the CPU it bounds the process's resident memory). [default: 3/4 of the memory "
                   "available when the run starts; 9/10 of a GPU's]")
@click.option("--tile", default=str(D.tile), show_default=True, callback=_auto_int("tile", TILE_MIN, off=True),
              metavar="auto|off|N",
              help="Evaluate J on tiles of N px (plus a halo of context; exact, no seams), or off, or auto: "
                   "only when the whole image does not fit --max-memory.")
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
              help="Format of the outputs in a directory OUT; with --sequence, of the frames [.png]; for "
                   "videos into a directory OUT, the container [.mp4].")
@click.option("--skip-existing", is_flag=True,
              help="Leave outputs that exist alone (they are written atomically, so an existing one is "
                   "complete): re-run a crashed or interrupted batch to finish it.")
@click.option("--shard", callback=_shard, metavar="K/N",
              help="Do shard K of N, K counting from 0 (0/4 .. 3/4; Slurm: --array=0-3 and "
                   "--shard $SLURM_ARRAY_TASK_ID/4): a fixed split of the sorted job list, so N workers "
                   "with K = 0..N-1 do every job exactly once.")
@click.option("--checkpoint-every", type=click.FloatRange(min=0), default=CHECKPOINT_EVERY, show_default=True,
              metavar="SECONDS",
              help="Keep the best image so far and the state to resume from beside each unfinished output "
                   "(OUT.partial.jpg, OUT.partial.pt) this often, so that even a kill -9 loses at most this "
                   "much; 0: only when stopped by Ctrl-C or SIGTERM. Re-running the command resumes.")
@click.option("--restart", is_flag=True,
              help="Ignore partial results of earlier runs and start each image over.")
@click.option("--sequence", is_flag=True,
              help="Each CONTENT directory is the frames of one clip (in natural order: f2 before f10), "
                   "stylised without flicker into OUT, one output per frame.")
@click.option("--temporal-weight", type=click.FloatRange(min=0), default=S.temporal_weight, show_default=True,
              help="Videos and --sequence: weight of J_temporal, which holds each frame to the previous output "
                   "warped along the optical flow; 0 stylises every frame on its own (flicker).")
@click.option("--warm-iterations", type=click.IntRange(min=1), default=S.warm_iterations, show_default=True,
              help="Videos and --sequence: evaluations of J for each frame after the first (which gets "
                   "--iterations), started from the previous output.")
@click.option("--codec", default=None, help=f"Video encoder (FFmpeg's name) [default: {DEFAULT_CODEC}; "
                                            "libvpx-vp9 for .webm].")
@click.option("--crf", type=click.IntRange(min=0, max=63), default=DEFAULT_CRF, show_default=True,
              help="Video quality for libx264/libx265/libvpx-vp9: lower is better and bigger.")
@click.option("--encoder-option", "encoder_options", multiple=True, callback=_encoder_options,
              metavar="KEY=VALUE", help="Any FFmpeg option of the video encoder, e.g. preset=slow (repeatable).")
@click.option("--fail-fast", is_flag=True, help="Stop at the first failed job (by default: report it, go on).")
@click.option("--json", "json_lines", is_flag=True,
              help="Print one JSON object per finished job on stdout (content, style, output, status: "
                   "done, skipped, failed or interrupted; seconds, J, J_content, J_style, evaluations, total, "
                   "resumed_from, partial, error).")
@click.option("-q", "--quiet", is_flag=True, help="No progress; print nothing on success (failures still).")
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@click.version_option(__version__, prog_name="nst")
def main(content: tuple[Path, ...], style: Path, output: str, save_every: int | None, log_path: Path | None,
         gif_path: Path | None, sheet_path: Path | None, recursive: bool, name_template: str, ext: str,
         skip_existing: bool, shard: tuple[int, int] | None, checkpoint_every: float, restart: bool,
         sequence: bool, temporal_weight: float, warm_iterations: int, codec: str, crf: int,
         encoder_options: dict[str, str], fail_fast: bool, json_lines: bool, quiet: bool, debug: bool,
         **options) -> None:
    """Neural style transfer (Gatys et al.): paint CONTENT in the style of STYLE, write OUT.

    \b
      nst CONTENT STYLE -o OUT.jpg      one image, as OUT
      nst CONTENT... STYLE -o OUTDIR    each content in each style, into OUTDIR
      nst CLIP.mp4 STYLE -o OUT.mp4     a video, frame by frame without flicker
      nst FRAMES/ STYLE -o OUTDIR --sequence   a folder of video frames, the same way
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
    a summary line ends a directory run. Ctrl-C or SIGTERM stops within one evaluation and keeps
    the best image so far beside the output (OUT.partial.jpg) with what resuming needs; running
    the same command again finishes it (a second Ctrl-C stops at once). Exit status: 0 all done
    (or skipped), 1 a job failed, 2 bad usage or, for a single image, bad input; 130 stopped by
    SIGINT (Ctrl-C), 143 by SIGTERM. Progress and messages go to
    stderr (bars on a terminal, plain lines in a file or pipe; J is the best so far, the J of the
    image written), every file written is named; stdout carries only --json. A content file named
    info or plot: write ./info or ./plot.

    A video keeps its frame count, frame rate and audio; its frames are kept in OUT.frames/, so
    an interrupted run goes on from the first missing frame when run again (the frame that was
    in progress resumes from its partial result).

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
      nst clip.mp4 painting.jpg -o styled.mp4 --size 512
      nst frames/ painting.jpg -o styled_frames/ --sequence
    """
    ctx = click.get_current_context()
    reporter = None
    single = True  # one image to a file: reported as before batches existed
    try:
        cfg = Config(**options)  # check every option before any work
        if not quiet and isinstance(cfg.scales, int) and len(schedule(cfg)) < cfg.scales:
            sizes = ", ".join(f"{e} px" for e, _ in schedule(cfg))
            click.echo(f"nst: --scales {cfg.scales} at --size {cfg.size}: {len(schedule(cfg))} scales ({sizes}), "
                       f"as none is made below {MIN_SCALE} px", err=True)
        given = [f"--{p.replace('_', '-')}" for p in ("temporal_weight", "warm_iterations", "codec", "crf",
                                                        "encoder_options")
                 if ctx.get_parameter_source(p) is not ParameterSource.DEFAULT]
        if sequence or any(not Path(c).is_dir() and is_video(c) for c in content):
            extras = {"--save-every": save_every, "--log": log_path, "--gif": gif_path,
                      "--contact-sheet": sheet_path, "--recursive": recursive}
            if any(extras.values()):
                raise InputError(f"{', '.join(k for k, v in extras.items() if v)}: for images, not videos or "
                                 "--sequence")
            ext_given = ctx.get_parameter_source("ext") is not ParameterSource.DEFAULT
            try:
                with SignalStop() as stop:
                    status = cli_clips.run(content, [parse_style(style)], output, cfg,
                                           SequenceConfig(temporal_weight, warm_iterations),
                                           Encoder(codec, crf=crf, options=encoder_options), sequence=sequence,
                                           name=name_template, ext=ext if ext_given else None, shard=shard,
                                           skip_existing=skip_existing, fail_fast=fail_fast,
                                           json_lines=json_lines, quiet=quiet, debug=debug, should_stop=stop,
                                           checkpoint_every=checkpoint_every, restart=restart)
            except KeyboardInterrupt as e:  # a second signal (said by cli_clips), or Ctrl-C before the handlers
                sys.exit(128 + (e.signum if isinstance(e, StopNow) else signal.SIGINT))
            if status:
                sys.exit(status)
            return
        if given:
            raise InputError(f"{', '.join(given)}: for videos and --sequence, not images")
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
                given = [k for k, v in extras.items() if v]
                raise InputError(f"{', '.join(given)} {'records' if len(given) == 1 else 'record'} the run of "
                                 f"one image, but this run writes into the directory {output}")
            if gif_path is not None:  # bad names fail now, not after the run
                report.check_animation_path(gif_path)
            if sheet_path is not None:
                output_format(sheet_path)
            record = report.RunRecord(save_every, gif_path is not None or sheet_path is not None)
        # Every file this run will write can be written: found out now, not after the work.
        outputs.check_files([j.output for j in jobs if not (skip_existing and j.output.exists())]
                            + [p for p in extras.values() if p is not None])
        with make_reporter(cfg, quiet) as reporter, SignalStop() as stop:
            reporter.start(None if single else len(jobs))

            def on_iterate(job: Job, it: Iterate) -> None:
                reporter.iterate(it, job.output)
                if save_every and it.i % save_every == 0:
                    if plan.into_dir:
                        job.output.parent.mkdir(parents=True, exist_ok=True)
                    reporter.saved(save_image(to_pil(it.image), intermediate_path(job.output, it.i)))
                if record is not None:
                    record(it)

            def on_note(job: Job, message: str) -> None:
                # resuming is news; a discarded or unwritable partial result is a warning
                (reporter.say if message.startswith("resuming") else reporter.warn)(f"nst: {message}")

            for result in run_batch(jobs, cfg, skip_existing=skip_existing, make_dirs=True,
                                    on_iterate=on_iterate, should_stop=stop, checkpoint_every=checkpoint_every,
                                    restart=restart, on_note=on_note):
                reporter.job_finished(result)
                if json_lines:
                    click.echo(json.dumps(result.to_json()))
                if result.status == "failed":
                    if single:
                        raise result.exception
                    if debug:
                        traceback.print_exception(result.exception, file=sys.stderr)
                    if fail_fast:
                        break
                elif single and record is not None and result.status == "done":
                    for path, what in record.write(result.job.output, log_path, gif_path, sheet_path, result.J):
                        reporter.wrote(path, what)
    except InputError as e:
        _fail(e, BadInput, debug)
    except NSTError as e:
        _fail(e, click.ClickException, debug)
    except KeyboardInterrupt as e:  # a second signal (StopNow), or Ctrl-C outside the handlers
        signum = e.signum if isinstance(e, StopNow) else signal.SIGINT
        what = f"a second {signal.Signals(signum).name}" if isinstance(e, StopNow) else "Ctrl-C"
        if reporter is None:
            click.echo(f"nst: stopped by {what} before any work; nothing to keep", err=True)
        elif single:
            reporter.stopped(what, at_once=True)
        else:
            reporter.summary(shard, interrupted=what, at_once=True)
        sys.exit(128 + signum)
    except click.ClickException:
        raise
    except Exception as e:  # an unexpected failure: one line unless --debug
        _fail(e, click.ClickException, debug, prefix=f"{type(e).__name__}: ")
    if stop() and (reporter.counts["interrupted"] or reporter.finished < len(jobs)):
        if single:
            reporter.stopped(stop.name)
        else:
            reporter.summary(shard, interrupted=stop.name)
        sys.exit(stop.exit_code)
    if single:
        return
    reporter.summary(shard)
    if reporter.counts["failed"]:
        sys.exit(1)


SUBCOMMANDS = {"info": info, "plot": plot}


def _fail(e: BaseException, kind: type[click.ClickException], debug: bool, prefix: str = "") -> None:
    if debug:
        traceback.print_exception(e, file=sys.stderr)
    message = (prefix + str(e)).strip().splitlines()[0] if str(e).strip() else prefix + type(e).__name__
    raise kind(message) from None
