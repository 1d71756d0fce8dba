"""Stylizing one image: the network on its device, coarse to fine, and the public ``stylize()``.

The pieces live beside it: the device and precision (nst.device), the schedule (nst.schedule),
J and its gradient (nst.objective), the loop (nst.optim) and the style targets (nst.targets).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image
from torch import Tensor

from . import color, memory
from .config import DEFAULT_LR, Config
from .costs import style_gram
from .device import autocast, memory_guard, resolve_device, resolve_precision
from .errors import InputError
from .images import load_image, long_edge_size, resize_long_edge, resize_tensor, to_pil, to_tensor
from .memory import NetworkMemory, Plan
from .objective import Evaluation, FeatureCost, Objective, Temporal
from .optim import HISTORY_SIZE, minimize
from .schedule import expected_seconds, schedule
from .targets import StyleTargets, Targets
from .tiling import Geometry, TiledFeatureCost, tiled_grams
from .vgg import VGGFeatures


@dataclass(frozen=True)
class Iterate:
    """One evaluation of J(G), handed to the progress callback."""

    i: int             # 1-based evaluation count over the whole run (all scales)
    total: int         # evaluations in the run
    J: float           # the objective: alpha J_content + beta J_style + tv_weight J_tv (+ temporal)
    J_content: float
    J_style: float
    J_tv: float
    style_layers: Mapping[str, float]  # J_style^l of each style layer (before lambda)
    seconds: float     # since the optimisation started
    scale: int         # 0-based level of the coarse-to-fine schedule
    image: Tensor      # current G, (1, 3, H, W) RGB in [0, 1], detached; copy it to keep it
    J_temporal: float = 0.0  # video frames only (nst.objective.Temporal)
    plan: Plan | None = None  # how this scale runs: tiles, optimiser, history (nst.memory)
    eta: float | None = None  # expected seconds of the whole optimisation, from the first evaluation of each scale

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of G at this scale."""
        return self.image.shape[-1], self.image.shape[-2]

    def better_than(self, other: Iterate | None) -> bool:
        """Whether this iterate replaces ``other`` as the image the run returns: the run returns
        the first G with the lowest J at the finest scale reached (each scale starts anew)."""
        return other is None or self.scale > other.scale or self.J < other.J


Progress = Callable[[Iterate], None]


def build_network(cfg: Config, device: torch.device) -> VGGFeatures:
    """The frozen VGG19, truncated after the deepest content or style layer, on ``device``."""
    layers = (*cfg.content_layers, *(n for n, _ in cfg.style_layers))
    return VGGFeatures(layers, model=cfg.model, weights=cfg.weights, pooling=cfg.pooling).to(device)


def prepare_image(image: str | Path | Image.Image, size: int) -> Image.Image:
    """Load an image (path or PIL) as RGB with its long edge resized to ``size``."""
    return resize_long_edge(load_image(image), size)


class Stylizer:
    """The frozen network on its device, loaded once and reused for any number of images.

    ``style_targets`` computes the Grams of one style image; ``run`` optimises one G for a
    content image, coarse to fine. A batch keeps one Stylizer and caches the style targets.
    """

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.device = resolve_device(cfg.device)
        self.dtype = resolve_precision(cfg.precision, self.device)  # the network's; costs are float32
        self.net = build_network(cfg, self.device)
        self.geometry = Geometry.of(self.net)
        self.memory = NetworkMemory.of(self.net, cfg.content_layers)
        # Every big allocation is planned against this (bytes; nst.memory).
        self.budget = cfg.max_memory if cfg.max_memory is not None else memory.default_budget(self.device)

    def guard(self) -> contextlib.AbstractContextManager:
        """Running out of memory -> one NSTError naming the size, --max-memory and --tile."""
        return memory_guard(self.cfg.size, self.device, self.budget, self.cfg.tile)

    def plan(self, height: int, width: int, channels: int = 3, *, free: int | None = None,
             strict: bool = True) -> Plan:
        """How a scale of G (channels x height x width) runs within ``free`` bytes (default: what is
        left of the budget now). Not ``strict``: when nothing fits, the smallest plan, said in its
        notes, instead of an NSTError."""
        cfg = self.cfg
        if free is None:
            free = self.free()
        return memory.plan_scale(self.memory, self.geometry.stride, self.geometry.halo, height, width, channels,
                                 free=free, tile=cfg.tile, optimizer=cfg.optimizer, history_size=HISTORY_SIZE,
                                 max_memory=self.budget, strict=strict)

    def free(self) -> int:
        """Bytes of the budget not in use now."""
        return self.budget - memory.in_use(self.device)

    def style_targets(self, style: Image.Image, size: int, content: Tensor | None = None) -> dict[str, Tensor]:
        """The Grams of ``style`` (RGB, any size) for a content of long edge ``size``.

        The style is resized to cfg.style_scale x size on its long edge. With colour
        preservation the style is first matched to ``content`` (RGB (1, 3, H, W) at that size):
        its colours (histogram) or its luminance (luminance), so ``content`` is required then.
        """
        cfg = self.cfg
        if cfg.preserve_color != "none" and content is None:
            raise InputError(f"preserve_color={cfg.preserve_color!r} needs the content image for the style targets")
        long_edge = max(16, round(cfg.style_scale * size))
        names = [n for n, _ in cfg.style_layers]
        with self.guard(), torch.no_grad():
            S = to_tensor(resize_long_edge(style, long_edge), self.device)
            if cfg.preserve_color == "histogram":
                S = color.match_color(S, content.to(S))
            elif cfg.preserve_color == "luminance":
                S = color.gray_to_rgb(color.match_luminance(color.luminance(S), color.luminance(content.to(S))))
            tile = memory.forward_tile(self.memory, self.geometry.stride, self.geometry.halo, *S.shape[-2:],
                                       free=self.free(), tile=cfg.tile)
            if tile is not None:  # a large style: its Grams summed over tiles (nst.tiling)
                return tiled_grams(self.net, S, names, tile, self.dtype)
            with autocast(self.device, self.dtype):
                feats = self.net(S)
            return {n: style_gram(feats[n].float()) for n in names}

    def objective(self, content: Tensor, grams_S: Mapping[str, Tensor], temporal: Temporal | None = None,
                  plan: Plan | None = None) -> Objective:
        """J and its gradient at one scale: ``content`` is the RGB image the network sees as the
        content (1, 3, H, W), ``grams_S`` the style targets at that size. ``plan`` (default: made
        now for an RGB G) says whether the network's part is evaluated untiled or tile by tile."""
        if plan is None:
            plan = self.plan(*content.shape[-2:])
        if plan.tile is None:
            network = FeatureCost(self.net, self.cfg, content, grams_S, self.dtype)
        else:
            network = TiledFeatureCost(self.net, self.cfg, content, grams_S, self.dtype, tile=plan.tile,
                                       cache_content=plan.cache_content)
        return Objective(network, self.cfg, [n for n, _ in self.cfg.style_layers], temporal)

    def run(self, content: Image.Image, targets: Targets, style: Image.Image | None = None,
            progress: Progress | None = None, *, should_stop: Callable[[], bool] | None = None) -> Image.Image:
        """Stylize a content image (long edge cfg.size) towards ``targets``; return G.

        ``targets(long_edge, content)`` gives the style Grams at each scale of the schedule.
        ``style`` is needed only for init='style'. ``should_stop()`` is asked after every
        evaluation; when it turns true the run ends early with the best G so far.
        """
        cfg = self.cfg
        torch.manual_seed(cfg.seed)
        if cfg.init == "style" and style is None:
            raise InputError("init='style' needs the style image")
        luminance = cfg.preserve_color == "luminance"
        scales = schedule(cfg)
        total = sum(n for _, n in scales)
        start = time.perf_counter()
        count = 0
        with self.guard():
            G = _initial_image(cfg, to_tensor(content, self.device), style)  # full size, resized below
            if luminance:
                G = color.luminance(G)
            # Every scale's plan, forecast now (an NSTError now if one does not fit, not an hour
            # into the run): when a scale's plan is made, its content, the content as seen and
            # G are in memory (G replacing this full-size one). Their relative work is for the ETA.
            free = self.free() + 4 * G.numel()
            work = []
            for long_edge, _ in scales:
                h, w = _shape(content, long_edge)
                residents = 4 * h * w * (3 * (2 if luminance else 1) + G.shape[1])
                work.append(self.plan(h, w, G.shape[1], free=free - residents).work)
            eta: float | None = None
            for scale, (long_edge, evaluations) in enumerate(scales):
                C = to_tensor(resize_long_edge(content, long_edge), self.device)
                G = resize_tensor(G, tuple(C.shape[-2:]))
                seen = color.gray_to_rgb(color.luminance(C)) if luminance else C
                grams = targets(long_edge, C)
                plan = self.plan(*C.shape[-2:], G.shape[1], strict=False)  # after the targets: they hold memory too
                objective = self.objective(seen, grams, plan=plan)
                del grams
                work[scale] = plan.work
                scale_start = time.perf_counter()

                def on_evaluation(ev: Evaluation, G: Tensor, C: Tensor = C, scale: int = scale, plan: Plan = plan,
                                  scale_start: float = scale_start) -> None:
                    nonlocal count, eta
                    count += 1
                    now = time.perf_counter()
                    if count == sum(n for _, n in scales[:scale]) + 1:  # the first at this scale
                        eta = expected_seconds(now - start, now - scale_start, scale, [n for _, n in scales], work)
                    if progress is not None:
                        image = color.combine_luminance(G, C) if luminance else G
                        progress(Iterate(count, total, ev.J, ev.J_content, ev.J_style, ev.J_tv, ev.style_layers,
                                         now - start, scale, image, ev.J_temporal, plan, eta))

                outcome = minimize(objective, G, evaluations, optimizer=plan.optimizer,
                                   lr=_step_size(cfg, plan.optimizer), history_size=max(1, plan.history_size),
                                   on_evaluation=on_evaluation, should_stop=should_stop)
                del objective
                G = outcome.best
                if outcome.stopped:
                    break
            G = resize_tensor(G, (content.height, content.width))  # a run stopped at a coarse scale
            if luminance:
                G = color.combine_luminance(G, to_tensor(content, self.device))
        return to_pil(G)


def _shape(image: Image.Image, long_edge: int) -> tuple[int, int]:
    """(height, width) of ``image`` resized to ``long_edge`` (as resize_long_edge does)."""
    w, h = long_edge_size(image.size, long_edge)
    return h, w


def _step_size(cfg: Config, optimizer: str) -> float:
    """The step size for ``optimizer``: cfg's, unless the plan switched optimiser (then its default)."""
    return cfg.step_size if optimizer == cfg.optimizer else DEFAULT_LR[optimizer]


def _initial_image(cfg: Config, content: Tensor, style_img: Image.Image | None) -> Tensor:
    """G at the start, at the full size: the content, uniform noise (seeded), the style or an image file."""
    _, _, h, w = content.shape
    if cfg.init == "content":
        return content.clone()
    if cfg.init == "noise":
        gen = torch.Generator().manual_seed(cfg.seed)  # on the CPU: the same noise on every device
        return torch.rand(content.shape, generator=gen).to(content)
    img = style_img if cfg.init == "style" else load_image(cfg.init)
    return to_tensor(img.resize((w, h), Image.Resampling.BICUBIC), content.device, content.dtype)


StyleInput = str | Path | Image.Image


def style_parts(style: StyleInput | Sequence[tuple[StyleInput, float]]) -> list[tuple[StyleInput, float]]:
    """One style, or a blend as (style, weight) pairs -> [(style, weight), ...], weights checked."""
    parts = [(style, 1.0)] if isinstance(style, (str, Path, Image.Image)) else [(s, float(w)) for s, w in style]
    weights = [w for _, w in parts]
    if not parts or any(not math.isfinite(w) or w < 0 for w in weights) or sum(weights) <= 0:
        raise InputError(f"style blend weights {weights}: must be finite, non-negative and not all zero")
    return parts


def stylize(content: StyleInput, style: StyleInput | Sequence[tuple[StyleInput, float]], *,
            progress: Progress | None = None, **options) -> Image.Image:
    """Stylize ``content`` with ``style``; return the generated image.

    ``style`` is an image (path or PIL) or a blend: a sequence of (image, weight) pairs, whose
    Gram targets are mixed by weight. ``options`` are the fields of ``nst.Config`` (same
    defaults as the CLI); ``progress`` is called with an ``Iterate`` after every evaluation of J.
    """
    cfg = Config(**options)
    content_img = prepare_image(content, cfg.size)
    styles = [(i, load_image(s), w) for i, (s, w) in enumerate(style_parts(style))]
    st = Stylizer(cfg)
    return st.run(content_img, StyleTargets(st).of(styles), styles[0][1], progress)
