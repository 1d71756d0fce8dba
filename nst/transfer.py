"""Stylizing one image: the network on its device, coarse to fine, and the public ``stylize()``.

The pieces live beside it: the device and precision (nst.device), the schedule (nst.schedule),
J and its gradient (nst.objective), the loop (nst.optim) and the style targets (nst.targets).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from PIL import Image
from torch import Tensor

from . import color
from .config import Config
from .costs import style_gram
from .device import autocast, memory_guard, resolve_device, resolve_precision
from .errors import InputError
from .images import load_image, resize_long_edge, resize_tensor, to_pil, to_tensor
from .objective import Evaluation, FeatureCost, Objective, Temporal
from .optim import minimize
from .schedule import schedule
from .targets import StyleTargets, Targets
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
        with memory_guard(cfg.size, self.device), torch.no_grad():
            S = to_tensor(resize_long_edge(style, long_edge), self.device)
            if cfg.preserve_color == "histogram":
                S = color.match_color(S, content.to(S))
            elif cfg.preserve_color == "luminance":
                S = color.gray_to_rgb(color.match_luminance(color.luminance(S), color.luminance(content.to(S))))
            with autocast(self.device, self.dtype):
                feats = self.net(S)
            return {n: style_gram(feats[n].float()) for n, _ in cfg.style_layers}

    def objective(self, content: Tensor, grams_S: Mapping[str, Tensor], temporal: Temporal | None = None
                  ) -> Objective:
        """J and its gradient at one scale: ``content`` is the RGB image the network sees as the
        content (1, 3, H, W), ``grams_S`` the style targets at that size."""
        network = FeatureCost(self.net, self.cfg, content, grams_S, self.dtype)
        return Objective(network, self.cfg, [n for n, _ in self.cfg.style_layers], temporal)

    def run(self, content: Image.Image, targets: Targets, style: Image.Image | None = None,
            progress: Progress | None = None, *, should_stop: Callable[[], bool] | None = None,
            init: Tensor | None = None, temporal: Temporal | None = None,
            plan: Sequence[tuple[int, int]] | None = None) -> Image.Image:
        """Stylize a content image (long edge cfg.size) towards ``targets``; return G.

        ``targets(long_edge, content)`` gives the style Grams at each scale of the schedule.
        ``style`` is needed only for init='style'. ``should_stop()`` is asked after every
        evaluation; when it turns true the run ends early with the best G so far.

        For video frames (nst.sequence): ``init`` is the starting G, RGB (1, 3, H, W) at the
        content's size, instead of cfg.init; ``temporal`` adds J_temporal at the last scale (its
        target RGB at the content's size); ``plan`` is the (long edge, evaluations) of each scale
        instead of nst.schedule.schedule(cfg).
        """
        cfg = self.cfg
        torch.manual_seed(cfg.seed)
        if cfg.init == "style" and style is None and init is None:
            raise InputError("init='style' needs the style image")
        luminance = cfg.preserve_color == "luminance"
        plan = list(plan) if plan is not None else schedule(cfg)
        total = sum(n for _, n in plan)
        start = time.perf_counter()
        count = 0
        with memory_guard(cfg.size, self.device):
            C_full = to_tensor(content, self.device)
            G = initial_image(cfg, C_full, style) if init is None else init.to(C_full).clone()
            if luminance:
                G = color.luminance(G)
                if temporal is not None and temporal.target.shape[1] == 3:
                    temporal = replace(temporal, target=color.luminance(temporal.target))
            for scale, (long_edge, evaluations) in enumerate(plan):
                C = to_tensor(resize_long_edge(content, long_edge), self.device)
                seen = color.gray_to_rgb(color.luminance(C)) if luminance else C
                last = scale == len(plan) - 1
                objective = self.objective(seen, targets(long_edge, C), temporal if last else None)

                def on_evaluation(ev: Evaluation, G: Tensor, C: Tensor = C, scale: int = scale) -> None:
                    nonlocal count
                    count += 1
                    if progress is not None:
                        image = color.combine_luminance(G, C) if luminance else G
                        progress(Iterate(count, total, ev.J, ev.J_content, ev.J_style, ev.J_tv, ev.style_layers,
                                         time.perf_counter() - start, scale, image, ev.J_temporal))

                outcome = minimize(objective, resize_tensor(G, tuple(C.shape[-2:])), evaluations,
                                   optimizer=cfg.optimizer, lr=cfg.step_size, on_evaluation=on_evaluation,
                                   should_stop=should_stop)
                G = outcome.best
                if outcome.stopped:
                    break
        G = resize_tensor(G, tuple(C_full.shape[-2:]))  # a run stopped at a coarse scale
        if luminance:
            G = color.combine_luminance(G, C_full)
        return to_pil(G)


def initial_image(cfg: Config, content: Tensor, style_img: Image.Image | None) -> Tensor:
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
