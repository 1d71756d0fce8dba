"""Settings of one style transfer run, with their defaults in one place (Gatys et al., 2016)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from .errors import InputError
from .vgg import MODELS, POOLINGS, check_layers

OPTIMIZERS = ("lbfgs", "adam")
INITS = ("content", "noise", "style")
# Step sizes by optimiser when lr is not given: L-BFGS takes unit steps (its curvature
# estimate scales them); Adam moves pixels in [0, 1] by about lr per step.
DEFAULT_LR = {"lbfgs": 1.0, "adam": 0.02}
# Batch runs: how the outputs in a directory OUT are named, and their format.
BATCH_NAME = "{content}_{style}{ext}"
BATCH_EXT = ".jpg"

LayerWeights = tuple[tuple[str, float], ...]


def parse_layers(spec: str | Iterable[str]) -> tuple[str, ...]:
    """'conv4_2,relu5_1' or an iterable of names -> tuple of known layer names."""
    names = [n.strip() for n in spec.split(",")] if isinstance(spec, str) else [str(n).strip() for n in spec]
    names = [n for n in names if n]
    if not names:
        raise InputError(f"empty layer list {spec!r}; give comma-separated names such as conv4_2")
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

    size: int = 384                     # long edge of the output, pixels
    content_weight: float = 1.0         # alpha
    style_weight: float = 10.0          # beta: tuned by eye on examples/ (see README)
    content_layers: tuple[str, ...] = ("conv4_2",)
    style_layers: LayerWeights = field(
        default=(("conv1_1", 1.0), ("conv2_1", 1.0), ("conv3_1", 1.0), ("conv4_1", 1.0), ("conv5_1", 1.0)))
    optimizer: str = "lbfgs"
    iterations: int = 300               # function evaluations (forward + backward passes)
    lr: float | None = None             # None: DEFAULT_LR[optimizer]
    init: str = "content"               # content | noise | style | path of an image
    seed: int = 0
    device: str = "auto"                # auto | cpu | cuda | cuda:N | mps
    model: str = "vgg19-normalized"     # see nst.vgg.MODELS
    weights: str | None = None          # a local state dict instead of the model's own weights
    pooling: str = "avg"                # avg (Gatys et al. recommend it) | max

    def __post_init__(self) -> None:
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731 - frozen dataclass
        set_("content_layers", parse_layers(self.content_layers))
        set_("style_layers", parse_layer_weights(self.style_layers))
        _check(self.size >= 16, "size", self.size, "an integer >= 16")
        _check(self.iterations >= 1, "iterations", self.iterations, "an integer >= 1")
        for k in ("content_weight", "style_weight"):
            v = getattr(self, k)
            _check(math.isfinite(v) and v >= 0, k, v, "a finite number >= 0")
        _check(self.lr is None or (math.isfinite(self.lr) and self.lr > 0), "lr", self.lr, "a number > 0")
        _check(self.optimizer in OPTIMIZERS, "optimizer", self.optimizer, " | ".join(OPTIMIZERS))
        _check(self.model in MODELS, "model", self.model, " | ".join(MODELS))
        _check(self.pooling in POOLINGS, "pooling", self.pooling, " | ".join(POOLINGS))
        if self.init not in INITS and not Path(self.init).is_file():
            raise InputError(f"init {self.init!r}: not one of {', '.join(INITS)} nor an image file")
        if self.weights is not None:
            set_("weights", str(self.weights))

    @property
    def step_size(self) -> float:
        return self.lr if self.lr is not None else DEFAULT_LR[self.optimizer]

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


def _check(ok: bool, name: str, value, allowed: str) -> None:
    if not ok:
        raise InputError(f"{name}={value!r} is not allowed; expected {allowed}")
