"""Settings of one style transfer run, with their defaults in one place (Gatys et al., 2016).

It imports the network's modules (and so torch) only where a setting is checked against them, so
that planning a run's jobs (nst.jobs.joblist, ``nst status``) reads these defaults without torch."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path

from PIL import Image

from ..errors import InputError
from ..units import parse_memory

OPTIMIZERS = ("lbfgs", "adam")
PRESERVE_COLOR = ("none", "luminance", "histogram")
# lambda_l by depth rank of the style layers (shallowest first), before normalising: deeper
# layers weighted more follow the style softly, shallower ones strongly, in finer texture.
EMPHASIS = ("soft", "balanced", "strong")
INITS = ("auto", "content", "noise", "style", "adain")
# From this many evaluations on, a run is long, and the defaults are chosen for its end rather than
# its start (benchmarks/README.md, issue #34): init 'auto' starts from the content instead of the
# AdaIN picture (AdaIN wins early, and costs 50-90 evaluations late).
LONG_RUN = 150
# Step sizes by optimiser when lr is not given: L-BFGS takes unit steps (its curvature
# estimate scales them); Adam moves pixels in [0, 1] by about lr per step.
DEFAULT_LR = {"lbfgs": 1.0, "adam": 0.02}
# Batch runs: how the outputs in a directory OUT are named, and their format.
BATCH_NAME = "{content}_{style}{ext}"
BATCH_EXT = ".jpg"
# The smallest tile edge --tile accepts: smaller tiles are mostly halo.
TILE_MIN = 16

LayerWeights = tuple[tuple[str, float], ...]
StyleInput = str | Path | Image.Image


def style_parts(style: StyleInput | Sequence[tuple[StyleInput, float]]) -> list[tuple[StyleInput, float]]:
    """One style, or a blend as (style, weight) pairs -> [(style, weight), ...], weights checked."""
    parts = [(style, 1.0)] if isinstance(style, (str, Path, Image.Image)) else [(s, float(w)) for s, w in style]
    weights = [w for _, w in parts]
    if not parts or any(not math.isfinite(w) or w < 0 for w in weights) or sum(weights) <= 0:
        raise InputError(f"style blend weights {weights}: must be finite, non-negative and not all zero")
    return parts


def parse_layers(spec: str | Iterable[str]) -> tuple[str, ...]:
    """'conv4_2,relu5_1' or an iterable of names -> tuple of known layer names."""
    names = [n.strip() for n in spec.split(",")] if isinstance(spec, str) else [str(n).strip() for n in spec]
    names = [n for n in names if n]
    if not names:
        raise InputError(f"empty layer list {spec!r}; give comma-separated names such as conv4_2")
    from ..net.vgg import check_layers  # lazy: it imports torch, which planning jobs and nst status do without
    check_layers(names)
    if len(set(names)) != len(names):
        raise InputError(f"layer listed twice in {spec!r}")
    return tuple(names)


def parse_layer_weights(spec: str | Mapping[str, float] | Iterable) -> LayerWeights:
    """'conv1_1,conv2_1:2' / {'conv1_1': 1} / [('conv1_1', 1.0)] -> (('conv1_1', 1.0), ...).

    A name without ':weight' has weight 1. Weights are the paper's lambda_l before normalising.
    """
    if isinstance(spec, str):
        items = []
        for part in (p.strip() for p in spec.split(",")):
            if not part:
                continue
            name, sep, w = part.partition(":")
            try:
                weight = float(w) if sep else 1.0
            except ValueError:
                raise InputError(f"bad layer weight {part!r}; expected name:number, e.g. conv1_1:0.5") from None
            items.append((name.strip(), weight))
    elif isinstance(spec, Mapping):
        items = [(str(k), float(v)) for k, v in spec.items()]
    else:
        items = [(n, 1.0) if isinstance(n, str) else (str(n[0]), float(n[1])) for n in spec]
    names = parse_layers([n for n, _ in items])
    weights = [w for _, w in items]
    if any(not math.isfinite(w) or w < 0 for w in weights) or sum(weights) <= 0:
        raise InputError(f"layer weights in {spec!r} must be finite, non-negative and not all zero")
    return tuple(zip(names, weights))


def format_layer_weights(layers: LayerWeights) -> str:
    """Inverse of parse_layer_weights for display: weight 1 is left implicit."""
    return ",".join(n if w == 1 else f"{n}:{w:g}" for n, w in layers)


@dataclass(frozen=True)
class Config:
    """Every setting of a run. The CLI and ``stylize`` take their defaults from here."""

    # size, iterations, scales, tv_weight, init and precision: measured in benchmarks/README.md
    size: int = 384                     # long edge of the output, pixels
    content_weight: float = 1.0         # alpha
    style_weight: float = 10.0          # beta: tuned by eye on examples/ (see README)
    content_layers: tuple[str, ...] = ("conv4_2",)
    style_layers: LayerWeights = field(
        default=(("conv1_1", 1.0), ("conv2_1", 1.0), ("conv3_1", 1.0), ("conv4_1", 1.0), ("conv5_1", 1.0)))
    optimizer: str = "lbfgs"
    iterations: int = 50                # evaluations of J (forward + backward passes), all scales; 0: the init
    lr: float | None = None             # None: DEFAULT_LR[optimizer]
    init: str = "auto"                  # auto | content | noise | style | adain | path of an image (see start)
    adain_strength: float = 0.6         # init adain: 1 the full AdaIN picture, 0 the content as decoded
    seed: int = 0
    device: str = "auto"                # auto | cpu | cuda | cuda:N | mps
    model: str = "vgg19-normalized"     # see nst.net.vgg.MODELS
    weights: str | None = None          # a local state dict instead of the model's own weights
    pooling: str = "avg"                # avg (Gatys et al. recommend it) | max
    style_emphasis: str = "balanced"    # soft | balanced | strong: lambda by layer depth (see EMPHASIS)
    style_scale: float = 1.0            # style long edge = style_scale x the content's
    preserve_color: str = "none"        # none | luminance | histogram (Gatys et al. 2017)
    tv_weight: float = 0.0              # weight of J_tv; small weights made no visible difference
    # coarse-to-fine levels: N sqrt(2) apart, or auto: one scale up to 1023 px, above it a pyramid
    # from 512-1023 px doubling to the size, half the evaluations of each level at the next (nst.core.schedule)
    scales: int | str = "auto"
    precision: str = "auto"             # the network's dtype: auto | float32 | bfloat16 (nst.net.device)
    tile: int | str = "auto"            # auto | off | N: tiles of N px (nst.core.tiling); auto: when memory needs it
    max_memory: int | str | None = None  # bytes or '4G' (nst.core.planner); None: a safe fraction of what is free

    def __post_init__(self) -> None:
        # lazy: these import torch, which planning jobs and nst status do without (the module docstring)
        from ..net.device import PRECISIONS
        from ..net.vgg import MODELS, POOLINGS
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731 - frozen dataclass
        set_("content_layers", parse_layers(self.content_layers))
        set_("style_layers", parse_layer_weights(self.style_layers))
        _check(self.size >= 16, "size", self.size, "an integer >= 16")
        _check(self.iterations >= 0, "iterations", self.iterations, "an integer >= 0 (0: the initial image)")
        set_("scales", auto_or_int(self.scales, "scales", 1, "auto or an integer >= 1"))
        set_("tile", auto_or_int(self.tile, "tile", TILE_MIN, f"auto, off or an integer >= {TILE_MIN}", off=True))
        if self.max_memory is not None:
            set_("max_memory", parse_memory(self.max_memory))
        _check(0 <= self.adain_strength <= 1, "adain_strength", self.adain_strength, "a number in [0, 1]")
        _check(math.isfinite(self.style_scale) and self.style_scale > 0, "style_scale", self.style_scale,
               "a number > 0")
        _check(self.preserve_color in PRESERVE_COLOR, "preserve_color", self.preserve_color,
               " | ".join(PRESERVE_COLOR))
        _check(self.style_emphasis in EMPHASIS, "style_emphasis", self.style_emphasis, " | ".join(EMPHASIS))
        if self.style_emphasis != "balanced" and len({w for _, w in self.style_layers}) > 1:
            raise InputError(f"style_emphasis={self.style_emphasis!r} sets the layer weights; give it or "
                             f"weights in style_layers ({format_layer_weights(self.style_layers)}), not both")
        for k in ("content_weight", "style_weight", "tv_weight"):
            v = getattr(self, k)
            _check(math.isfinite(v) and v >= 0, k, v, "a finite number >= 0")
        _check(self.lr is None or (math.isfinite(self.lr) and self.lr > 0), "lr", self.lr, "a number > 0")
        _check(self.optimizer in OPTIMIZERS, "optimizer", self.optimizer, " | ".join(OPTIMIZERS))
        _check(self.model in MODELS, "model", self.model, " | ".join(MODELS))
        _check(self.precision in PRECISIONS, "precision", self.precision, " | ".join(PRECISIONS))
        _check(self.pooling in POOLINGS, "pooling", self.pooling, " | ".join(POOLINGS))
        if self.init not in INITS and not Path(self.init).is_file():
            raise InputError(f"init {self.init!r}: not one of {', '.join(INITS)} nor an image file")
        if self.weights is not None:
            set_("weights", str(self.weights))

    @property
    def start(self) -> str:
        """What G starts from: ``init``, with 'auto' the AdaIN picture for a run of fewer than
        LONG_RUN evaluations and the content from LONG_RUN on."""
        if self.init != "auto":
            return self.init
        return "adain" if self.iterations < LONG_RUN else "content"

    @property
    def float32_on_stall(self) -> bool:
        """Whether the float32 network takes over from bfloat16 where bfloat16 stalls (an L-BFGS
        step that finds no lower J: its rounding swamps J's changes late in a long run, measured
        from ~400 evaluations at 256² in benchmarks/README.md, issue #34): with precision 'auto',
        where it chose bfloat16 (the network's own dtype decides, nst.core.scales). An asked-for
        'bfloat16' stays bfloat16."""
        return self.precision == "auto"

    @property
    def step_size(self) -> float:
        return self.lr if self.lr is not None else DEFAULT_LR[self.optimizer]

    @property
    def style_lambdas(self) -> tuple[float, ...]:
        """lambda_l of each style layer, in the order of style_layers (normalised by the costs)."""
        if self.style_emphasis == "balanced":
            return tuple(w for _, w in self.style_layers)
        from ..net.vgg import depth  # lazy: it imports torch, which planning jobs and nst status do without
        by_depth = sorted(self.style_layers, key=lambda nw: depth(nw[0]))
        rank = {n: r for r, (n, _) in enumerate(by_depth, start=1)}
        if self.style_emphasis == "strong":  # shallowest layer weighted most
            rank = {n: len(rank) + 1 - r for n, r in rank.items()}
        return tuple(float(rank[n]) for n, _ in self.style_layers)

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


def auto_or_int(value, name: str, least: int, allowed: str, off: bool = False) -> int | str:
    """'auto' (and 'off' if allowed) as they are; an integer (or its digits) >= least as an int."""
    if value in ("auto", "off") and (off or value == "auto"):
        return value
    try:
        n = int(value) if not isinstance(value, (bool, float)) else None
    except (TypeError, ValueError):
        n = None
    _check(n is not None and n >= least, name, value, allowed)
    return n


def _check(ok: bool, name: str, value, allowed: str) -> None:
    if not ok:
        raise InputError(f"{name}={value!r} is not allowed; expected {allowed}")
