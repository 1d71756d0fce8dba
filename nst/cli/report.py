"""Pictures of a style transfer run: contact sheets, animations and loss plots (Gatys et al., 2016)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, ImageOps

from ..errors import InputError, NSTError
from ..jobs import provenance
from ..pixels.images import atomic_write, load_image, save_image, to_pil, to_rgb

# Contact sheet layout: pixels of white around each thumbnail, and the strip below it for its label.
PAD = 4
LABEL_HEIGHT = 16
# Loss plot formats by file extension (matplotlib's format names).
PLOT_FORMATS = {".png": "png", ".jpg": "jpg", ".jpeg": "jpg", ".svg": "svg", ".pdf": "pdf"}
# float32's machine epsilon: J is computed in float32, so a term below NOISE * J cannot change J's
# value and is rounding noise. J_content is ~1e-13 at the first evaluation of a run started from
# the content (G and C differ by rounding in the pixel parametrisation), where the exact value is 0.
NOISE = 2.0 ** -23


def negligible(term: float, J: float) -> bool:
    """Whether ``term``, a weighted part of ``J`` (alpha * J_content, ...), is rounding noise next to J:
    shown as 0 and left out of plots."""
    return abs(term) < NOISE * abs(J)


class RunRecord:
    """What --log, --gif and --contact-sheet keep of one run: every evaluation's costs, and
    every ``every``-th iterate as a picture (about FRAMES of them when ``every`` is None).
    Call it with each ``nst.Iterate``; ``write`` the files once the output image is written, or
    ``write_log`` the log of a run that a signal stopped."""

    FRAMES = 24

    def __init__(self, every: int | None = None, frames: bool = True) -> None:
        self.every, self.keep_frames = every, frames
        self.evaluations: list[dict] = []
        self.frames: list[tuple[int, float, Image.Image]] = []  # (i, J, picture)

    def __call__(self, it) -> None:
        self.evaluations.append({"i": it.i, "scale": it.scale, "size": list(it.size), "J": it.J,
                                 "J_content": it.J_content, "J_style": it.J_style, "J_tv": it.J_tv,
                                 "style_layers": dict(it.style_layers), "seconds": round(it.seconds, 4),
                                 **({"regions": dict(it.regions)} if it.regions else {})})
        every = self.every or max(1, it.total // self.FRAMES)
        if self.keep_frames and (it.i == 1 or it.i % every == 0):
            self.frames.append((it.i, it.J, to_pil(it.image)))

    def write(self, output: str | Path, log: str | Path | None = None, gif: str | Path | None = None,
              sheet: str | Path | None = None, J: float | None = None,
              resumed_from: int | None = None) -> list[tuple[Path, str]]:
        """Write the files asked for, after ``output`` (the final image, the last frame; ``J`` its
        cost) was written. ``resumed_from``: the evaluations done before this process, when it
        resumed a partial result (see ``write_log``). Returns (path, what it holds) for each file written."""
        written: list[tuple[Path, str]] = []
        if log is not None:
            written.append(self.write_log(log, provenance.read(output), resumed_from=resumed_from))
        if gif is None and sheet is None:
            return written
        frames = [img for _, _, img in self.frames] + [load_image(output)]
        if gif is not None:
            written.append((save_animation(frames, gif), f"an animation of {len(frames)} frames"))
        if sheet is not None:
            final = f"out: J={J:.3g}" if J is not None else "out"
            labels = [f"{i}: J={j:.3g}" for i, j, _ in self.frames] + [final]
            save_image(contact_sheet(frames, labels), sheet)
            written.append((Path(sheet), f"a contact sheet of {len(frames)} iterates"))
        return written

    def write_log(self, log: str | Path, record: dict, *, resumed_from: int | None = None,
                  stopped: str | None = None) -> tuple[Path, str]:
        """Write the log: ``record`` (the provenance of the output, or of the partial result of a
        stopped run) and every evaluation. ``stopped``: what stopped the run ('SIGTERM'), kept as
        the log's "stopped". ``resumed_from``: this process resumed a partial result at that
        evaluation; if ``log`` is then the log of the stopped run it resumed (``stopped``, the same
        settings, its evaluations up to that one), the log continues it: its evaluations up to
        ``resumed_from`` (those after it are done again), then this run's, numbered on and with
        their seconds counted on; "resumed_at" lists the evaluations where each re-run took over.
        Returns (path, what it holds)."""
        evaluations, resumed_at, earlier = self.evaluations, [], None
        if resumed_from is not None:  # 0 too: stopped in L-BFGS's first iteration, nothing before it kept
            earlier = continued(log, record, resumed_from)
            resumed_at = [resumed_from]
            if earlier is not None:
                before, resumed_at = earlier[0], [*earlier[1], resumed_from]
                offset = (before[-1].get("seconds") or 0) if before else 0
                evaluations = before + [{**e, "seconds": round(e["seconds"] + offset, 4)} for e in evaluations]
        rec = {**record, **({"stopped": stopped} if stopped else {}),
               **({"resumed_at": resumed_at} if resumed_at else {}), "evaluations": evaluations}
        with atomic_write(log) as f:
            f.write(json.dumps(rec, indent=1).encode())
        what = f"the costs of {len(evaluations)} evaluations"
        if earlier is not None:
            what += f", continuing the stopped run's from evaluation {resumed_from}"
        if stopped:
            what += f", up to the stop by {stopped}"
        return Path(log), what


def continued(log: str | Path, record: dict, resumed_from: int) -> tuple[list[dict], list[int]] | None:
    """What a run resumed at evaluation ``resumed_from`` with the settings of ``record`` keeps of the
    log at ``log``, if that is the log of the stopped run it continues: its evaluations up to
    ``resumed_from``, and its "resumed_at". That is, a log of a stopped run (its "stopped") with the
    same settings (the device and precision may differ, as for its partial result) whose
    evaluations run on, one by one, to ``resumed_from``; else None."""
    from ..jobs.checkpoint import NOT_SETTINGS  # torch: not for nst plot, which reads logs too

    def deciding(settings: object) -> object:
        return {k: v for k, v in settings.items() if k not in NOT_SETTINGS} if isinstance(settings, dict) else None

    try:
        old = json.loads(Path(log).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(old, dict) or not old.get("stopped") or not isinstance(old.get("evaluations"), list):
        return None
    if deciding(old.get("settings")) is None or deciding(old.get("settings")) != deciding(record.get("settings")):
        return None
    before = [e for e in old["evaluations"] if isinstance(e, dict) and isinstance(e.get("i"), int)
              and not isinstance(e["i"], bool) and e["i"] <= resumed_from]
    if resumed_from > 0 and (not before or [e["i"] for e in before] != list(range(before[0]["i"], resumed_from + 1))):
        return None
    resumed_at = old.get("resumed_at")
    resumed_at = [n for n in resumed_at if isinstance(n, int) and n < resumed_from] if isinstance(resumed_at, list) else []
    return before, resumed_at


def contact_sheet(frames: Sequence[Image.Image], labels: Sequence[str] | None = None,
                  columns: int | None = None, thumb: int = 192) -> Image.Image:
    """A grid of ``frames`` on white, with ``labels`` below.

    Every cell is the size of the last frame (the final image) resized so its long edge is
    ``thumb``, plus PAD (and LABEL_HEIGHT when labels are given); each frame is fitted into it,
    keeping its aspect ratio, and centred. The sheet has a PAD margin on the right and bottom too.
    ``columns`` defaults to ceil(sqrt(len(frames))) and is at most len(frames). Returns an RGB image.
    """
    n = len(frames)
    if n == 0:
        raise InputError("contact sheet: no frames")
    if labels is not None and len(labels) != n:
        raise InputError(f"contact sheet: {len(labels)} labels for {n} frames; give one label per frame")
    if columns is None:
        columns = math.ceil(math.sqrt(n))
    if not isinstance(columns, int) or columns < 1:
        raise InputError(f"contact sheet: columns={columns!r}; must be a positive integer")
    if not isinstance(thumb, int) or thumb < 1:
        raise InputError(f"contact sheet: thumb={thumb!r}; must be a positive integer")
    columns = min(columns, n)
    rows = math.ceil(n / columns)
    box = _fit(frames[-1].size, thumb)
    cell_w = box[0] + PAD
    cell_h = box[1] + PAD + (LABEL_HEIGHT if labels is not None else 0)
    sheet = Image.new("RGB", (columns * cell_w + PAD, rows * cell_h + PAD), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for k, frame in enumerate(frames):
        x0, y0 = PAD + (k % columns) * cell_w, PAD + (k // columns) * cell_h
        small = ImageOps.contain(to_rgb(frame), box, Image.Resampling.LANCZOS)
        sheet.paste(small, (x0 + (box[0] - small.width) // 2, y0 + (box[1] - small.height) // 2))
        if labels is not None:
            text = _clip(draw, str(labels[k]), font, box[0])
            draw.text((x0, y0 + box[1] + 2), text, fill="black", font=font)
    return sheet


def save_animation(frames: Sequence[Image.Image], path: str | Path, duration_ms: int = 80,
                   hold_last_ms: int = 1500) -> Path:
    """Write ``frames`` as a GIF that loops forever, all at the last frame's size, the last held longer.

    Each frame shows for ``duration_ms`` (GIF stores 10 ms steps), the last for ``hold_last_ms``; Pillow
    quantises each to an adaptive palette and merges consecutive identical frames (adding their times).
    """
    path = check_animation_path(path)
    if len(frames) == 0:
        raise InputError(f"{path}: no frames to animate")
    for name, value in (("duration_ms", duration_ms), ("hold_last_ms", hold_last_ms)):
        if not isinstance(value, int) or value < 1:
            raise InputError(f"{path}: {name}={value!r}; must be a positive number of milliseconds")
    size = frames[-1].size
    images = [to_rgb(f) if f.size == size else to_rgb(f).resize(size, Image.Resampling.BICUBIC) for f in frames]
    durations = [duration_ms] * (len(images) - 1) + [hold_last_ms]
    with atomic_write(path) as f:
        images[0].save(f, format="GIF", save_all=True, append_images=images[1:], duration=durations, loop=0)
    return path


def check_animation_path(path: str | Path) -> Path:
    """``path`` as a Path if it names a .gif file; InputError otherwise."""
    path = Path(path)
    if path.suffix.lower() != ".gif":
        raise InputError(f"{path}: an animation must be a .gif file, not {path.suffix or '(no extension)'!r}")
    return path


def load_log(path: str | Path) -> dict:
    """Read a run log written by the CLI's --log (JSON with an "evaluations" list)."""
    path = Path(path)
    try:
        log = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a run log") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"{path}: not a JSON run log ({e})") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror or e})") from None
    if not isinstance(log, dict) or not isinstance(log.get("evaluations"), list):
        raise InputError(f"{path}: not a run log: expected a JSON object with an \"evaluations\" list")
    return log


def plot_log(log: Mapping, path: str | Path, title: str | None = None) -> Path:
    """Plot a run log to ``path`` (.png, .jpg, .svg or .pdf): the figure of ``loss_figure``."""
    path = Path(path)
    fmt = PLOT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"{path}: unknown plot extension {path.suffix or '(none)'!r}; allowed: "
                         + ", ".join(sorted(PLOT_FORMATS)))
    fig = loss_figure(log, title)
    with atomic_write(path) as f:
        fig.savefig(f, format=fmt)
    return path


def loss_figure(log: Mapping, title: str | None = None):
    """A matplotlib Figure of a run log: the weighted cost terms and each style layer's cost
    against evaluation number, log y axes, dashed lines where the scale changes.

    Only positive values are drawn (a log axis cannot show the rest), and no rounding noise: a
    point whose weighted term is ``negligible`` next to that evaluation's J (J_content ~1e-13 at
    the first evaluation from the content) would stretch the axis over ten empty decades.
    Needs matplotlib.
    """
    evaluations = log.get("evaluations") if isinstance(log, Mapping) else None
    if not isinstance(evaluations, list) or not all(isinstance(e, Mapping) for e in evaluations):
        raise InputError("run log: expected a mapping with an \"evaluations\" list of objects")
    try:
        # matplotlib is optional (the plot extra) and slow to import: only for a plot
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
    except ImportError as e:
        raise NSTError("the loss plot needs matplotlib: pip install matplotlib") from e

    settings = log.get("settings") or {}
    alpha = float(settings.get("content_weight", 1.0))
    beta = float(settings.get("style_weight", 1.0))
    tv = float(settings.get("tv_weight", 0.0))
    xs = [e.get("i", k + 1) for k, e in enumerate(evaluations)]

    fig = Figure(figsize=(11, 4.2), layout="constrained")
    FigureCanvasAgg(fig)  # no pyplot: no global state, nothing to close
    left, right = fig.subplots(1, 2)
    Js = _values(evaluations, "J")
    _line(left, xs, Js, "J")
    _line(left, xs, _terms(_values(evaluations, "J_content", alpha), Js), f"α·J_content (α={alpha:g})")
    _line(left, xs, _terms(_values(evaluations, "J_style", beta), Js), f"β·J_style (β={beta:g})")
    tv_terms = _values(evaluations, "J_tv", tv)
    if any(v is not None and v != 0 for v in tv_terms):
        _line(left, xs, _terms(tv_terms, Js), f"tv·J_tv (tv={tv:g})")
    layers: dict[str, None] = {}
    for e in evaluations:
        layers.update(dict.fromkeys(e.get("style_layers") or {}))
    for name in layers:
        costs = [_number((e.get("style_layers") or {}).get(name), name) for e in evaluations]
        # beta * J_style^l bounds the layer's weighted term (lambda_l <= 1): below J's noise, it is noise
        noise = _terms([None if c is None else beta * c for c in costs], Js) if beta > 0 else costs
        _line(right, xs, [c if n is not None else None for c, n in zip(costs, noise)], name)
    for ax, heading in ((left, "cost terms (their sum is J)"), (right, r"style cost per layer $J_{style}^{l}$")):
        ax.set_title(heading)
        ax.set_xlabel("evaluation i")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if ax.lines:
            ax.set_yscale("log")
            ax.legend(fontsize="small")
        else:
            ax.text(0.5, 0.5, "no positive values", ha="center", va="center", transform=ax.transAxes)
        for k in range(1, len(evaluations)):
            if evaluations[k].get("scale") != evaluations[k - 1].get("scale"):
                size = evaluations[k].get("size")
                ax.axvline(xs[k], color="grey", linestyle="--", linewidth=0.8)
                if isinstance(size, (list, tuple)) and len(size) == 2:
                    ax.text(xs[k], 0.98, f" {size[0]}×{size[1]}", transform=ax.get_xaxis_transform(),
                            va="top", ha="left", fontsize="small", color="grey")
    if title:
        fig.suptitle(title)
    return fig


def _fit(size: tuple[int, int], long_edge: int) -> tuple[int, int]:
    """``size`` scaled so its long edge is ``long_edge``, keeping the aspect ratio."""
    scale = long_edge / max(size)
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def _clip(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> str:
    """``text``, shortened with an ellipsis until it fits ``width`` pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def _number(value, key: str) -> float | None:
    """A log value as a float, None if absent; anything else is an InputError naming ``key``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"run log: {key}={value!r}; must be a number")
    return float(value)


def _values(evaluations: list, key: str, weight: float = 1.0) -> list[float | None]:
    return [None if (v := _number(e.get(key), key)) is None else weight * v for e in evaluations]


def _terms(terms: list[float | None], Js: list[float | None]) -> list[float | None]:
    """The weighted terms of J, with None where a term is rounding noise next to its J."""
    return [None if t is None or (J is not None and negligible(t, J)) else t for t, J in zip(terms, Js)]


def _line(ax, xs: list, ys: list[float | None], label: str) -> None:
    """Plot the positive, finite points of a series (a log axis cannot show the rest); skip it if none."""
    points = [(x, y) for x, y in zip(xs, ys) if y is not None and math.isfinite(y) and y > 0]
    if points:
        ax.plot(*zip(*points), label=label, linewidth=1.2)
