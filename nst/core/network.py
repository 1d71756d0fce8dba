"""The frozen network on its device: built once, its memory budget and each scale's plan against
it, the style Grams it computes and J at a scale, untiled or tiled (``Network``, which
``Stylizer`` extends with the run)."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import replace

import torch
from PIL import Image
from torch import Tensor

from ..errors import InputError
from ..net import memory
from ..net.device import autocast, memory_guard, resolve_device, resolve_precision
from ..net.vgg import VGGFeatures
from ..pixels import color
from ..pixels.images import resize_long_edge, to_tensor
from . import planner, regions
from .config import Config
from .costs import guided_gram, style_gram
from .objective import Objective, Temporal, Untiled, costs_of
from .optim import HISTORY_SIZE
from .planner import NetworkMemory, Plan
from .tiling import Geometry, Tiled, tiled_grams


def build_network(cfg: Config, device: torch.device) -> VGGFeatures:
    """The frozen VGG19, truncated after the deepest content or style layer, on ``device``."""
    layers = (*cfg.content_layers, *(n for n, _ in cfg.style_layers))
    return VGGFeatures(layers, model=cfg.model, weights=cfg.weights, pooling=cfg.pooling).to(device)


class Network:
    """The frozen network on its device, loaded once and reused for any number of images: its
    memory budget, the plan of a scale within it, ``style_targets``, the Grams of one style
    image (nst.core.targets.StyleTargets keeps them), and ``objective``, J at one scale."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.device = resolve_device(cfg.device)
        self.dtype = resolve_precision(cfg.precision, self.device)  # the network's; costs are float32
        self.net = build_network(cfg, self.device)
        self.geometry = Geometry.of(self.net)
        self.memory = NetworkMemory.of(self.net, cfg.content_layers)
        # Every big allocation is planned against this (bytes; nst.core.planner).
        self.budget = cfg.max_memory if cfg.max_memory is not None else memory.default_budget(self.device)

    @contextlib.contextmanager
    def precision(self, dtype: torch.dtype):
        """The network runs in ``dtype`` inside the block (the targets and objectives made there),
        as it was after it: float32 taking over from a stalled bfloat16 run (Config.float32_on_stall)."""
        kept, self.dtype = self.dtype, dtype
        try:
            yield
        finally:
            self.dtype = kept

    def guard(self) -> contextlib.AbstractContextManager:
        """Running out of memory -> one NSTError naming the size, the memory budget and tiling."""
        return memory_guard(self.cfg.size, self.device, self.budget, self.cfg.tile)

    def plan(self, height: int, width: int, channels: int = 3, *, free: int | None = None,
             strict: bool = True, guided: int = 0, evaluations: int | None = None) -> Plan:
        """How a scale of G (channels x height x width) runs within ``free`` bytes (default: what is
        left of the budget now). Not ``strict``: when nothing fits, the smallest plan, said in its
        notes, instead of an NSTError. ``guided``: the regions with guided Grams (nst.core.regions).
        ``evaluations``: the scale's, if known (few of them may take Adam: planner.plan_scale)."""
        cfg = self.cfg
        if free is None:
            free = self.free()
        sizes = replace(self.memory, guided=guided) if guided else self.memory
        try:
            plan = planner.plan_scale(sizes, self.geometry.stride, self.geometry.halo, height, width, channels,
                                      free=free, tile=cfg.tile, optimizer=cfg.optimizer, history_size=HISTORY_SIZE,
                                      max_memory=self.budget, strict=strict, evaluations=evaluations)
        except planner.BudgetError as e:
            e.given = cfg.max_memory is not None  # else the default share of the memory available
            raise
        if self.device.type == "cpu" and plan.estimate * memory.HEAP_SLACK > plan.budget:
            memory.bound_heap()  # the budget is near: the process's RSS must follow what is in use
        return plan

    def free(self) -> int:
        """Bytes of the budget not in use now."""
        return self.budget - memory.in_use(self.device)

    def style_targets(self, style: Image.Image, size: int, content: Tensor | None = None,
                      mask: Tensor | None = None) -> dict[str, Tensor]:
        """The Grams of ``style`` (RGB, any size) for a content of long edge ``size``.

        The style is resized to cfg.style_scale x size on its long edge. With colour
        preservation the style is first matched to ``content`` (RGB (1, 3, H, W) at that size):
        its colours (histogram) or its luminance (luminance), so ``content`` is required then.
        ``mask``: the style's own region ((H, W) in [0, 1], the style's aspect ratio): the guided
        Grams of that region (nst.core.regions) instead of the whole style's.
        """
        cfg = self.cfg
        if cfg.preserve_color != "none" and content is None:
            raise InputError(f"preserve_color={cfg.preserve_color!r} needs the content image for the style targets")
        names = [n for n, _ in cfg.style_layers]
        with self.guard(), torch.no_grad():
            S = self.style_tensor(style, size, content)
            T = None
            if mask is not None:
                pixels = regions.guidance([mask], *S.shape[-2:])[1].to(self.device)
                T = {n: regions.at_layer(pixels, self.geometry.strides[n]) for n in names}
                if any(not bool(t.any()) for t in T.values()):
                    raise InputError("the style's own region is empty (or too small for the deepest style layer)")
            tile = planner.forward_tile(self.memory, self.geometry.stride, self.geometry.halo, *S.shape[-2:],
                                       free=self.free(), tile=cfg.tile)
            if tile is not None:  # a large style: its Grams summed over tiles (nst.core.tiling)
                return tiled_grams(self.net, S, names, tile, self.dtype, T)
            with autocast(self.device, self.dtype):
                feats = self.net(S)
            if T is not None:
                return {n: guided_gram(feats[n].float(), T[n]) for n in names}
            return {n: style_gram(feats[n].float()) for n in names}

    def style_tensor(self, style: Image.Image, size: int, content: Tensor | None) -> Tensor:
        """The style as the costs see it: long edge cfg.style_scale x ``size``, its colours or
        luminance matched to ``content`` under colour preservation."""
        cfg = self.cfg
        S = to_tensor(resize_long_edge(style, max(16, round(cfg.style_scale * size))), self.device)
        if cfg.preserve_color == "histogram":
            S = color.match_color(S, content.to(S))
        elif cfg.preserve_color == "luminance":
            S = color.gray_to_rgb(color.match_luminance(color.luminance(S), color.luminance(content.to(S))))
        return S

    def objective(self, content: Tensor, grams_S: Mapping[str, Tensor] | Sequence[regions.Guided],
                  temporal: Temporal | None = None, plan: Plan | None = None) -> Objective:
        """J and its gradient at one scale: ``content`` is the RGB image the network sees as the
        content (1, 3, H, W), ``grams_S`` the style targets at that size (or each region's,
        nst.core.regions). ``plan`` (default: made
        now for an RGB G) says whether the network's part is evaluated untiled or tile by tile."""
        if plan is None:
            plan = self.plan(*content.shape[-2:])
        costs = costs_of(self.cfg, grams_S, temporal)
        on_features = [c for c in costs if c.on_features]
        if plan.tile is None:
            network = Untiled(self.net, on_features, content, self.dtype)
        else:
            network = Tiled(self.net, on_features, content, self.dtype, tile=plan.tile,
                            cache_content=plan.cache_content)
        return Objective(network, costs)
