"""The ``nst`` command: its arguments and options (nst.cli.options), then the run of images
(nst.cli.images) or of clips (nst.cli.clips), and any failure said in one line with its exit code."""

from __future__ import annotations

import sys
import traceback

import click

from ..core.config import Config
from ..core.schedule import MIN_SCALE, schedule
from ..errors import InputError, NSTError
from . import clips, images
from .commands import CONTEXT, BadInput, info, plot, status
from .interrupt import stopped_by
from .options import CLIP, IMAGES, Args, check_flags, with_options
from .words import flag


class _Command(click.Command):
    """The main command; ``info``, ``plot`` or ``status`` as the first argument runs that command instead."""

    def make_context(self, info_name, args, parent=None, **extra):
        sub = SUBCOMMANDS.get(args[0]) if args else None
        if sub is not None:
            return sub.make_context(f"{info_name or 'nst'} {args[0]}", list(args[1:]), parent=parent, **extra)
        return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context):
        return super().invoke(ctx) if ctx.command is self else ctx.command.invoke(ctx)


@click.command(cls=_Command, context_settings=CONTEXT)
@with_options
def main(**params) -> None:
    """Neural style transfer (Gatys et al.): paint CONTENT in the style of STYLE, write OUT.

    \b
      nst CONTENT STYLE -o OUT.jpg      one image, as OUT
      nst CONTENT... STYLE -o OUTDIR    each content in each style, into OUTDIR
      nst CLIP.mp4 STYLE -o OUT.mp4     a video, frame by frame without flicker
      nst FRAMES/ STYLE -o OUTDIR --sequence   a folder of video frames, the same way
      nst info FILE                     print the settings stored in an output (JSON)
      nst plot LOG.json -o PLOT.png     plot the costs recorded by --log
      nst status CONTENT... STYLE -o OUTDIR [--shards N]   how far a run into OUTDIR has got

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
    the same command again finishes it (a second Ctrl-C stops at once). Workers may share OUT: a
    job claims its output while it works (OUT.claim), and a job whose output another live worker
    has claimed is left to it. Exit status: 0 all done (or skipped, or claimed), 1 a job failed,
    2 bad usage or, for a single image, bad input; 130 stopped by SIGINT (Ctrl-C), 143 by SIGTERM.
    Progress and messages go to stderr (bars on a terminal, plain lines in a file or pipe; J is
    the best so far, the J of the image written), every file written is named; stdout carries
    only --json. A content file named info, plot or status: write ./info, ./plot or ./status.

    A video keeps its frame count, frame rate and audio; its frames are kept in OUT.frames/, so
    an interrupted run goes on from the first missing frame when run again (the frame that was
    in progress resumes from its partial result). Frames made with other settings are not
    replaced: such a re-run is refused, naming the setting, unless --restart.

    \b
    Examples:
      nst examples/astronaut.jpg examples/style_strokes.jpg -o out.jpg
      nst photo.jpg painting.jpg -o out.png --size 512 --style-weight 30
      nst photo.jpg 'starry.jpg:2+wave.jpg' -o out.jpg      one output, two styles blended 2:1
      nst photo.jpg starry.jpg -o out.jpg --region sky.png=wave.jpg   the sky (white in sky.png) in wave.jpg
      nst photo.jpg styles/ -o styled/                      one output per style in styles/
      nst photo.jpg painting.jpg -o out.jpg --preserve-color luminance --gif out.gif
      nst plot run.json -o run.png                          plot a --log
      nst photos/ styles/ -o styled/ --size 512 --skip-existing
      nst photos/ painting.jpg -o styled/ --shard "$SLURM_ARRAY_TASK_ID/4" -q --json
      nst clip.mp4 painting.jpg -o styled.mp4 --size 512
      nst frames/ painting.jpg -o styled_frames/ --sequence
    """
    args = Args.of(params, click.get_current_context())
    try:
        cfg = Config(**args.settings)  # check every option before any work
        _say_fewer_scales(cfg, args.quiet)
        clip = args.clips
        check_flags(args, CLIP if clip else IMAGES)
        status = (clips.run if clip else images.run)(args, cfg)
    except InputError as e:
        _fail(e, BadInput, args.debug)
    except NSTError as e:
        _fail(e, click.ClickException, args.debug)
    except KeyboardInterrupt as e:  # Ctrl-C before the run's work began (a run says its own)
        what, code = stopped_by(e)
        click.echo(f"nst: stopped by {what} before any work; nothing to keep", err=True)
        sys.exit(code)
    except click.ClickException:
        raise
    except Exception as e:  # an unexpected failure: one line unless --debug
        _fail(e, click.ClickException, args.debug, prefix=f"{type(e).__name__}: ")
    if status:
        sys.exit(status)


SUBCOMMANDS = {"info": info, "plot": plot, "status": status}


def _say_fewer_scales(cfg: Config, quiet: bool) -> None:
    """Unless quiet: that --scales asks for more scales than the schedule makes at --size."""
    if quiet or not isinstance(cfg.scales, int):
        return
    scales = schedule(cfg)
    if len(scales) < cfg.scales:
        sizes = ", ".join(f"{e} px" for e, _ in scales)
        click.echo(f"nst: --scales {cfg.scales} at --size {cfg.size}: {len(scales)} scales ({sizes}), "
                   f"as none is made below {MIN_SCALE} px", err=True)


def _fail(e: BaseException, kind: type[click.ClickException], debug: bool, prefix: str = "") -> None:
    if debug:
        traceback.print_exception(e, file=sys.stderr)
    text = e.worded(flag) if isinstance(e, NSTError) else str(e)
    message = (prefix + text).strip().splitlines()[0] if text.strip() else prefix + type(e).__name__
    raise kind(message) from None
