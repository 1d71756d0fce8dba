"""The nst command's arguments and options, and which of them belong to which kind of run.

``OPTIONS`` are the click parameters in the order ``--help`` shows them (``with_options`` puts
them on a command); their defaults come from ``Config`` and ``SequenceConfig`` only. ``Args.of``
splits what click parsed into the settings of a ``Config`` and the rest: inputs, outputs, how
the jobs run and what is reported. ``FLAGS`` is the one table of the flags that belong to some
kinds of run only, and ``check_flags`` refuses those given to another kind.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import click
from click.core import ParameterSource

from .. import __version__
from ..core.config import (
    BATCH_EXT,
    BATCH_NAME,
    EMPHASIS,
    INITS,
    OPTIMIZERS,
    PRESERVE_COLOR,
    TILE_MIN,
    Config,
    auto_or_int,
    format_layer_weights,
)
from ..errors import InputError
from ..jobs import shards
from ..jobs.checkpoint import CHECKPOINT_EVERY
from ..jobs.clips import OVERLAP
from ..jobs.naming import NAME_FIELDS, normalize_ext
from ..jobs.regionspec import RegionSpec, parse_region
from ..jobs.sequence import SequenceConfig
from ..net.device import PRECISIONS
from ..net.vgg import MODELS, POOLINGS
from ..pixels.images import FORMATS
from ..pixels.video import DEFAULT_CODEC, DEFAULT_CRF, VIDEO_EXTENSIONS, is_video, parse_encoder_option
from ..units import parse_memory

DEFAULTS = Config()  # the defaults live in Config only
SEQUENCE_DEFAULTS = SequenceConfig()  # and those of video frames in SequenceConfig

# The kinds of run: one image to a file, images into a directory, videos and --sequence; and a
# run of images not yet planned, which is either of the first two.
IMAGE, BATCH, CLIP = frozenset({"image"}), frozenset({"batch"}), frozenset({"clip"})
IMAGES = IMAGE | BATCH

# The flags that belong to some kinds of run only: parameter -> (the flag as the messages name
# it, the kinds it belongs to). Every other option belongs to every kind.
FLAGS = {
    "save_every": ("--save-every", IMAGES),
    "log_path": ("--log", IMAGE),
    "gif_path": ("--gif", IMAGE),
    "sheet_path": ("--contact-sheet", IMAGE),
    "recursive": ("--recursive", IMAGES),
    "name_template": ("--name", BATCH | CLIP),
    "ext": ("--ext", BATCH | CLIP),
    "temporal_weight": ("--temporal-weight", CLIP),
    "warm_iterations": ("--warm-iterations", CLIP),
    "codec": ("--codec", CLIP),
    "crf": ("--crf", CLIP),
    "encoder_options": ("--encoder-options", CLIP),  # sic: what the message has always said
    "shard_overlap": ("--shard-overlap", CLIP),
}


@dataclass(frozen=True)
class Args:
    """What the command line asks beyond a Config's settings (``settings``, checked by
    ``Config(**settings)``); ``given``: the parameters given on the command line, not defaults."""

    content: tuple[Path, ...]
    style: Path
    output: str
    regions: tuple[RegionSpec, ...]
    save_every: int | None
    log_path: Path | None
    gif_path: Path | None
    sheet_path: Path | None
    recursive: bool
    name_template: str
    ext: str
    skip_existing: bool
    shard: tuple[int, int] | shards.Auto | None  # K/N; auto: found when the run starts (images.with_shard)
    shard_overlap: int
    checkpoint_every: float
    restart: bool
    sequence: bool
    temporal_weight: float
    warm_iterations: int
    codec: str | None
    crf: int
    encoder_options: dict[str, str]
    fail_fast: bool
    json_lines: bool
    quiet: bool
    debug: bool
    settings: dict
    given: frozenset[str]

    @classmethod
    def of(cls, params: dict, ctx: click.Context) -> Args:
        """The parameters that click parsed, in its context ``ctx`` (which knows which were given)."""
        mine = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in params.items() if k in mine},
                   settings={k: v for k, v in params.items() if k not in mine},
                   given=frozenset(p for p in params if ctx.get_parameter_source(p) is not ParameterSource.DEFAULT))

    @property
    def clips(self) -> bool:
        """Whether this is a run of clips: --sequence, or a CONTENT is a video file."""
        return self.sequence or any(not Path(c).is_dir() and is_video(c) for c in self.content)


def check_flags(args: Args, kind: frozenset[str]) -> None:
    """An InputError naming the flags of FLAGS given for a run of ``kind`` that do not belong to it."""
    wrong = [flag for param, (flag, kinds) in FLAGS.items() if param in args.given and not kind & kinds]
    if not wrong:
        return
    if kind == CLIP:
        raise InputError(f"{', '.join(wrong)}: for images, not videos or --sequence")
    if kind == IMAGES:
        raise InputError(f"{', '.join(wrong)}: for videos and --sequence, not images")
    if kind == IMAGE:
        raise InputError(f"{wrong[0]} names the files in a directory OUT, but {args.output} is one image file")
    raise InputError(f"{', '.join(wrong)} {'records' if len(wrong) == 1 else 'record'} the run of one image, but "
                     f"this run writes into the directory {args.output}")


def _encoder_options(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> dict[str, str]:
    try:
        return dict(parse_encoder_option(v) for v in value)
    except InputError as e:
        raise click.BadParameter(str(e)) from None


def _shard(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[int, int] | shards.Auto | None:
    """K/N as (K, N); auto and auto/N as they are, for the run to find K (and N) in its environment
    when it starts, where a failure is said in one line (nst.cli.images.with_shard)."""
    try:
        spec = None if value is None else shards.parse(value)
    except InputError as e:
        raise click.BadParameter(str(e)) from None
    return (spec.k, spec.n) if isinstance(spec, shards.Shard) else spec


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


def _regions(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> tuple[RegionSpec, ...]:
    try:
        return tuple(parse_region(v) for v in value)
    except InputError as e:
        raise click.BadParameter(str(e)) from None


def _memory(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    try:
        return None if value is None else parse_memory(value)
    except InputError as e:
        raise click.BadParameter(str(e)) from None


OPTIONS = (
    click.argument("content", nargs=-1, required=True, type=click.Path(path_type=Path)),
    click.argument("style", type=click.Path(path_type=Path)),
    click.option("-o", "--output", required=True, type=click.Path(),
                 help="Output image, its format from the extension (.jpg .png .webp .tif); or a directory, "
                      "see above."),
    click.option("--region", "regions", multiple=True, callback=_regions, metavar="MASK=STYLE",
                 help="Give the white part of the image MASK its own STYLE (repeatable; grey: soft edges): an "
                      "image, a blend 'a.jpg:2+b.jpg', or none to keep the photo there; STYLE_FILE@MASK2 takes "
                      "the style from the white part of MASK2 over the style image. The rest of the picture gets "
                      "STYLE. MASK may use --name's fields ({content}, ...); for a clip it may be a video or a "
                      "folder of mask frames."),
    click.option("--size", type=click.IntRange(min=16), default=DEFAULTS.size, show_default=True,
                 help="Long edge of the output in pixels."),
    click.option("--content-weight", "content_weight", type=click.FloatRange(min=0), default=DEFAULTS.content_weight,
                 show_default=True, help="alpha: weight of J_content."),
    click.option("--style-weight", "style_weight", type=click.FloatRange(min=0), default=DEFAULTS.style_weight,
                 show_default=True, help="beta: weight of J_style."),
    click.option("--content-layers", default=",".join(DEFAULTS.content_layers), show_default=True,
                 help="Comma-separated VGG19 layers for J_content (their mean)."),
    click.option("--style-layers", default=format_layer_weights(DEFAULTS.style_layers), show_default=True,
                 help="Comma-separated VGG19 layers for J_style, each optionally name:lambda (normalised to sum 1)."),
    click.option("--style-emphasis", type=click.Choice(EMPHASIS), default=DEFAULTS.style_emphasis, show_default=True,
                 help="lambda by layer depth: soft weights deeper layers more (the style's broad look), strong "
                      "the shallower ones (its fine texture); or give name:lambda in --style-layers."),
    click.option("--style-scale", type=click.FloatRange(min=0, min_open=True), default=DEFAULTS.style_scale,
                 show_default=True, help="Resize the style to F x the content's size: F > 1 gives bigger strokes."),
    click.option("--preserve-color", type=click.Choice(PRESERVE_COLOR), default=DEFAULTS.preserve_color,
                 show_default=True,
                 help="Keep the content's colours: luminance (transfer on luminance only) or histogram (match "
                      "the style's colours to the content's first)."),
    click.option("--tv-weight", type=click.FloatRange(min=0), default=DEFAULTS.tv_weight, show_default=True,
                 help="Weight of total variation, which smooths away pixel noise."),
    click.option("--scales", default=str(DEFAULTS.scales), show_default=True, callback=_auto_int("scales", 1),
                 metavar="auto|N",
                 help="Coarse-to-fine levels: N levels sqrt(2) apart in size (half the evaluations at the full size; "
                      "1: the full size only); auto: one level up to 1023 px, above it a pyramid from 512-1023 px "
                      "doubling to the full size, each level with half the evaluations of the one before."),
    click.option("--optimizer", type=click.Choice(OPTIMIZERS), default=DEFAULTS.optimizer, show_default=True),
    click.option("--iterations", type=click.IntRange(min=0), default=DEFAULTS.iterations, show_default=True,
                 help="Evaluations of J (forward+backward passes), over all scales; 0 writes the initial "
                      "image itself (with --init adain: a stylised preview in about a second)."),
    click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=DEFAULTS.lr,
                 help="Step size [default: 1 for lbfgs, 0.02 for adam]."),
    click.option("--init", default=DEFAULTS.init, show_default=True, metavar="|".join(INITS) + "|PATH",
                 help="Starting image; adain: the content stylised in one pass by AdaIN (Huang & Belongie "
                      "2017), which the optimisation then refines; auto: adain below 150 --iterations, the "
                      "content from 150 on (AdaIN wins early and loses late)."),
    click.option("--adain-strength", type=click.FloatRange(0, 1), default=DEFAULTS.adain_strength, show_default=True,
                 help="With --init adain: 1 the full AdaIN stylisation, lower keeps more of the content."),
    click.option("--seed", type=int, default=DEFAULTS.seed, show_default=True,
                 help="Same seed, same device: same output."),
    click.option("--device", default=DEFAULTS.device, show_default=True, metavar="auto|cpu|cuda|cuda:N|mps"),
    click.option("--precision", type=click.Choice(PRECISIONS), default=DEFAULTS.precision, show_default=True,
                 help="The network's arithmetic: auto is bfloat16 on CUDA and on CPUs with native bfloat16 "
                      "(AVX512-BF16, AMX), float32 elsewhere; with bfloat16, float32 takes over from an L-BFGS "
                      "step that finds no lower J (bfloat16 is faster, and stalls late in long runs); "
                      "the costs are float32 always."),
    click.option("--model", type=click.Choice(MODELS), default=DEFAULTS.model, show_default=True,
                 help="vgg19-normalized: Gatys' Caffe VGG19 (offline); vgg19: torchvision ImageNet weights."),
    click.option("--weights", type=click.Path(path_type=Path), default=DEFAULTS.weights,
                 help="Local state dict (torchvision features.N.* keys or AdaIN layout) for --model."),
    click.option("--pooling", type=click.Choice(POOLINGS), default=DEFAULTS.pooling, show_default=True),
    click.option("--max-memory", "max_memory", metavar="SIZE", callback=_memory,
                 help="Memory budget, e.g. 4G or 512M: the image is tiled, and the optimiser's state shrunk, to fit "
                      "it (on the CPU it bounds the process's resident memory). [default: 3/4 of the memory "
                      "available when the run starts; 9/10 of a GPU's]"),
    click.option("--tile", default=str(DEFAULTS.tile), show_default=True,
                 callback=_auto_int("tile", TILE_MIN, off=True),
                 metavar="auto|off|N",
                 help="Evaluate J on tiles of N px (plus a halo of context; exact, no seams), or off, or auto: "
                      "only when the whole image does not fit --max-memory."),
    click.option("--save-every", type=click.IntRange(min=1), default=None, metavar="N",
                 help="Also write every N-th iterate next to each output (OUT_0050.jpg, ...)."),
    click.option("--log", "log_path", type=click.Path(path_type=Path), metavar="FILE.json",
                 help="Write J, J_content, J_style, each style layer's cost and the time of every evaluation "
                      "(plot it with: nst plot FILE.json -o plot.png)."),
    click.option("--gif", "gif_path", type=click.Path(path_type=Path), metavar="FILE.gif",
                 help="An animation of the image forming (every --save-every N-th iterate, else 24 frames)."),
    click.option("--contact-sheet", "sheet_path", type=click.Path(path_type=Path), metavar="FILE",
                 help="The same iterates side by side in one picture, labelled with J."),
    click.option("-r", "--recursive", is_flag=True, help="Also take the images in subfolders of a directory."),
    click.option("--name", "name_template", default=BATCH_NAME, show_default=True, metavar="TEMPLATE",
                 help="Output names in a directory OUT. Fields: " + " ".join(f"{{{f}}}" for f in NAME_FIELDS)
                      + " (content and style stems; ext with its dot; index: the job's number from 0, e.g. "
                        "{index:04d}; parent: the content's folder name; dir: its folder below the CONTENT "
                        "directory, '.' at the top; may contain '/')."),
    click.option("--ext", default=BATCH_EXT, show_default=True, callback=_ext, metavar="|".join(sorted(FORMATS)),
                 help="Format of the outputs in a directory OUT; with --sequence, of the frames [.png]; for "
                      "videos into a directory OUT, the container [.mp4]."),
    click.option("--skip-existing", is_flag=True,
                 help="Leave outputs that exist alone (they are written atomically, so an existing one is "
                      "complete): re-run a crashed or interrupted batch to finish it."),
    click.option("--shard", callback=_shard, metavar="K/N|auto[/N]",
                 help="Do shard K of N, K counting from 0 (0/4 .. 3/4): a fixed split of the sorted job list, "
                      "so N workers with K = 0..N-1 do every job exactly once. auto: K and N from a Slurm array "
                      "(contiguous or stepped: --array=1-8 gives 0/8 .. 7/8), an AWS Batch array job or "
                      "torchrun (RANK, WORLD_SIZE). auto/N: N as given, K the task's index counted from 0 (Slurm's "
                      "from 1; NST_SHARD_BASE=0 or 1 says otherwise), e.g. a Kubernetes Indexed Job's "
                      "JOB_COMPLETION_INDEX."),
    click.option("--shard-overlap", type=click.IntRange(min=0), default=OVERLAP, show_default=True,
                 metavar="FRAMES",
                 help="Videos and --sequence with --shard: the shard's first frame starts warm from the frame "
                      "before it if that is made already (then the join is as smooth as unsharded), else from "
                      "FRAMES frames stylised before it, not written; 0: cold, always. Measured "
                      "(benchmarks/shard_joins.py): warm-ups of 1 to 4 frames barely soften the jump of a cold "
                      "start (5-6x other frames' flicker: two shards' textures differ); the made frame removes it."),
    click.option("--checkpoint-every", type=click.FloatRange(min=0), default=CHECKPOINT_EVERY, show_default=True,
                 metavar="SECONDS",
                 help="Keep the best image so far and the state to resume from beside each unfinished output "
                      "(OUT.partial.jpg, OUT.partial.pt) this often, so that even a kill -9 loses at most this "
                      "much; 0: only when stopped by Ctrl-C or SIGTERM. Re-running the command resumes."),
    click.option("--restart", is_flag=True,
                 help="Ignore partial results of earlier runs and start each image over; videos and "
                      "--sequence: also make again the frames made with other settings (without it, a re-run "
                      "with other settings is refused)."),
    click.option("--sequence", is_flag=True,
                 help="Each CONTENT directory is the frames of one clip (in natural order: f2 before f10), "
                      "stylised without flicker into OUT, one output per frame."),
    click.option("--temporal-weight", type=click.FloatRange(min=0), default=SEQUENCE_DEFAULTS.temporal_weight,
                 show_default=True,
                 help="Videos and --sequence: weight of J_temporal, which holds each frame to the previous output "
                      "warped along the optical flow; 0 stylises every frame on its own (flicker)."),
    click.option("--warm-iterations", type=click.IntRange(min=1), default=SEQUENCE_DEFAULTS.warm_iterations,
                 show_default=True,
                 help="Videos and --sequence: evaluations of J for each frame after the first (which gets "
                      "--iterations), started from the previous output."),
    click.option("--codec", default=None, help=f"Video encoder (FFmpeg's name) [default: {DEFAULT_CODEC}; "
                                               "libvpx-vp9 for .webm]."),
    click.option("--crf", type=click.IntRange(min=0, max=63), default=DEFAULT_CRF, show_default=True,
                 help="Video quality for libx264/libx265/libvpx-vp9: lower is better and bigger."),
    click.option("--encoder-option", "encoder_options", multiple=True, callback=_encoder_options,
                 metavar="KEY=VALUE", help="Any FFmpeg option of the video encoder, e.g. preset=slow (repeatable)."),
    click.option("--fail-fast", is_flag=True, help="Stop at the first failed job (by default: report it, go on)."),
    click.option("--json", "json_lines", is_flag=True,
                 help="Print one JSON object per finished job on stdout (content, style, output, status: "
                      "done, skipped, failed, interrupted or claimed (another worker has it); seconds, J, "
                      "J_content, J_style, evaluations, total, resumed_from, partial, error, claimed_by)."),
    click.option("-q", "--quiet", is_flag=True, help="No progress; print nothing on success (failures still)."),
    click.option("--debug", is_flag=True, help="Show tracebacks on errors."),
    click.version_option(__version__, prog_name="nst"),
)


def with_options(command):
    """A decorator: ``command`` with the arguments and options of OPTIONS."""
    for option in reversed(OPTIONS):
        command = option(command)
    return command
