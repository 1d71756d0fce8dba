"""Command line for nst: parse, validate, call the library, report (Gatys et al., CVPR 2016)."""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path

import click
from tqdm import tqdm

from . import __version__
from .config import INITS, OPTIMIZERS, Config, format_layer_weights
from .errors import InputError, NSTError
from .images import output_format, save_image, to_pil
from .transfer import Iterate, stylize
from .vgg import MODELS, POOLINGS

D = Config()  # the defaults live in Config only


class BadInput(click.ClickException):
    """Bad input, reported in one line with click's usage exit code 2."""

    exit_code = 2


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def intermediate_path(output: Path, i: int) -> Path:
    """Where --save-every writes evaluation i: next to OUT, e.g. out_0050.jpg."""
    return output.with_name(f"{output.stem}_{i:04d}{output.suffix}")


@click.command(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.argument("content", type=click.Path(path_type=Path))
@click.argument("style", type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="Output image; the format follows the extension (.jpg .png .webp .tif).")
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
              help="Also write every N-th iterate next to OUT (OUT_0050.jpg, ...).")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing on success.")
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@click.version_option(__version__, prog_name="nst")
def main(content: Path, style: Path, output: Path, save_every: int | None, quiet: bool, debug: bool,
         **options) -> None:
    """Neural style transfer (Gatys et al.): paint CONTENT in the style of STYLE, write OUT.

    \b
    Example:
      nst examples/astronaut.jpg examples/style_strokes.jpg -o out.jpg
      nst photo.jpg painting.jpg -o out.png --size 512 --style-weight 30
    """
    try:
        output_format(output)
        for name, path in (("content", content), ("style", style), ("init", Path(options["init"]))):
            if output.exists() and _same_file(output, path):
                raise InputError(f"{output}: is the {name} image; refusing to overwrite an input")
        Config(**options)  # check every option before any work
        bars: list[tqdm] = []  # made at the first iterate, so an early error prints no bar
        first: list[Iterate] = []
        last: list[Iterate] = []

        def progress(it: Iterate) -> None:
            if not first:
                first.append(it)
                bars.append(tqdm(total=it.total, file=sys.stderr, disable=quiet, unit="it",
                                 dynamic_ncols=True, leave=False))
            last[:] = [it]
            bar = bars[0]
            bar.update(1)
            bar.set_postfix_str(f"J={it.J:.4g} content={it.J_content:.4g} style={it.J_style:.4g}",
                                refresh=False)
            if save_every and it.i % save_every == 0:
                save_image(to_pil(it.image), intermediate_path(output, it.i))

        try:
            image = stylize(content, style, progress=progress, **options)
        finally:
            for bar in bars:
                bar.close()
        save_image(image, output)
    except InputError as e:
        _fail(e, BadInput, debug)
    except NSTError as e:
        _fail(e, click.ClickException, debug)
    except KeyboardInterrupt:
        click.echo("nst: interrupted; no output written", err=True)
        sys.exit(130)
    except click.ClickException:
        raise
    except Exception as e:  # an unexpected failure: one line unless --debug
        _fail(e, click.ClickException, debug, prefix=f"{type(e).__name__}: ")
    if not quiet:
        click.echo(f"wrote {output}: J {first[0].J:.4g} -> {last[0].J:.4g} "
                   f"in {last[0].i} evaluations, {last[0].seconds:.1f} s", err=True)


def _fail(e: BaseException, kind: type[click.ClickException], debug: bool, prefix: str = "") -> None:
    if debug:
        traceback.print_exception(e, file=sys.stderr)
    message = (prefix + str(e)).strip().splitlines()[0] if str(e).strip() else prefix + type(e).__name__
    raise kind(message) from None
