"""Stylizing one image: the network on its device, coarse to fine, and the public ``stylize()``.

The pieces live beside it: the device and precision (nst.net.device), the schedule (nst.core.schedule),
J and its gradient (nst.core.objective), the loop (nst.core.optim) and the style targets (nst.core.targets).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from PIL import Image
from torch import Tensor

from ..errors import InputError, NSTError, Setting
from ..net import memory
from ..net.adain import AdaIN
from ..net.device import autocast, memory_guard, resolve_device, resolve_precision
from ..net.vgg import VGGFeatures
from ..pixels import color
from ..pixels.images import load_image, long_edge_size, resize_long_edge, resize_tensor, to_pil, to_tensor
from . import planner, regions
from .config import DEFAULT_LR, INITS, OPTIMIZERS, Config, StyleInput, style_parts
from .costs import guided_gram, style_gram
from .objective import Evaluation, Objective, Temporal, Untiled, costs_of
from .optim import HISTORY_SIZE, NonFiniteError, Outcome, minimize
from .planner import NetworkMemory, Plan
from .schedule import expected_seconds, schedule
from .targets import StyleTargets, Targets
from .tiling import Geometry, Tiled, tiled_grams

# The largest long edge AdaIN's start is computed at; a larger G starts from it upsampled. At
# 1024 px its encoder's largest activation is 256 MiB (64 channels, float32); at 4096 px, 4 GiB.
ADAIN_MAX = 1024


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
    J_temporal: float = 0.0  # video frames only (nst.core.objective.Temporal)
    plan: Plan | None = None  # how this scale runs: tiles, optimiser, history (nst.core.planner)
    eta: float | None = None  # expected seconds of the whole optimisation, from the latest evaluations' times
    regions: Mapping[str, float] = field(default_factory=dict)  # each region's J_style, with regions

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of G at this scale."""
        return self.image.shape[-1], self.image.shape[-2]

    def better_than(self, other: Iterate | None) -> bool:
        """Whether this iterate replaces ``other`` as the image the run returns: the run returns
        the first G with the lowest J at the finest scale reached (each scale starts anew)."""
        return other is None or self.scale > other.scale or self.J < other.J


Progress = Callable[[Iterate], None]
# The style(s) an init may need: one image, or a blend's (image, weight) pairs.
StyleImages = Image.Image | Sequence[tuple[Image.Image, float]]


@dataclass(frozen=True)
class RunState:
    """Where a run stands, enough to continue it: the best G so far at one scale of the schedule.

    ``Stylizer.run`` hands these out (``on_state``) and continues from one (``resume``). With
    ``optimizer`` (the loop's state at its last iteration boundary, nst.core.optim.Outcome.state) the
    resumed run evaluates the same points as an uninterrupted one; without it, it continues from
    G with a fresh L-BFGS history, which costs it a few evaluations' worth of progress.
    """

    G: Tensor           # the best G so far at this scale, (1, C, h, w) float32 on the CPU; C = 1: luminance only
    image: Tensor       # G as RGB (luminance recombined with the content's colours): a preview
    scale: int          # 0-based level of the schedule
    done: int           # evaluations of J at this scale up to the point a resumed run continues from
    i: int              # the same, over the whole run (all scales)
    total: int          # evaluations in the whole run
    J: float | None = None          # of G; None before the first evaluation at this scale
    J_content: float | None = None
    J_style: float | None = None
    stopped: bool = False           # handed out because should_stop() ended the run early
    optimizer: dict | None = None   # the loop's state to continue from (else: G, with a fresh history)
    evaluated: int | None = None    # evaluations done over the whole run when it stopped (>= i)

    @property
    def finished(self) -> bool:
        return self.i >= self.total


class ResumeError(InputError):
    """A RunState that does not fit this run (another schedule, size or colour mode)."""


@dataclass(frozen=True)
class RunResult:
    """What ``Stylizer.run`` did: the image, the costs of its G, how each scale ran, and the state
    that keeps the work (the one to resume from if it stopped; if it finished, the finished state,
    which a resumed run writes without evaluating: what to keep when the output cannot be written)."""

    image: Image.Image       # G at the content's size: the best G at the finest scale reached
    state: RunState
    plans: tuple[Plan, ...] = ()   # how each scale run in this process ran, coarsest first
    evaluations: int = 0     # evaluations of J done in this process (the run's count is state.i)
    J: float | None = None   # of the image (None if no evaluation was made at its scale)
    J_content: float | None = None
    J_style: float | None = None
    J_tv: float | None = None
    J_temporal: float | None = None

    @property
    def stopped(self) -> bool:
        """should_stop() ended the run before its evaluations were spent."""
        return self.state.stopped

    @property
    def total(self) -> int:
        return self.state.total


# The forecast of a run's time (Iterate.eta) follows the mean of this many latest evaluations.
RECENT = 5

# Above these weights J's gradient overflows float32 easily (J itself is summed in float64).
LARGE_WEIGHT = 1e20


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
        if self.device.type == "cpu":
            memory.bound_heap()  # the process's RSS is what the budget bounds on the CPU
        self.dtype = resolve_precision(cfg.precision, self.device)  # the network's; costs are float32
        self.net = build_network(cfg, self.device)
        self.geometry = Geometry.of(self.net)
        self.memory = NetworkMemory.of(self.net, cfg.content_layers)
        # Every big allocation is planned against this (bytes; nst.core.planner).
        self.budget = cfg.max_memory if cfg.max_memory is not None else memory.default_budget(self.device)
        self._adain: AdaIN | None = None
        self._adain_styles: dict[tuple[int, int], tuple[Image.Image, Tensor]] = {}

    def guard(self) -> contextlib.AbstractContextManager:
        """Running out of memory -> one NSTError naming the size, the memory budget and tiling."""
        return memory_guard(self.cfg.size, self.device, self.budget, self.cfg.tile)

    def plan(self, height: int, width: int, channels: int = 3, *, free: int | None = None,
             strict: bool = True, guided: int = 0) -> Plan:
        """How a scale of G (channels x height x width) runs within ``free`` bytes (default: what is
        left of the budget now). Not ``strict``: when nothing fits, the smallest plan, said in its
        notes, instead of an NSTError. ``guided``: the regions with guided Grams (nst.core.regions)."""
        cfg = self.cfg
        if free is None:
            free = self.free()
        memory = replace(self.memory, guided=guided) if guided else self.memory
        try:
            return planner.plan_scale(memory, self.geometry.stride, self.geometry.halo, height, width, channels,
                                     free=free, tile=cfg.tile, optimizer=cfg.optimizer, history_size=HISTORY_SIZE,
                                     max_memory=self.budget, strict=strict)
        except planner.BudgetError as e:
            e.given = cfg.max_memory is not None  # else the default share of the memory available
            raise

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
            S = self._style_tensor(style, size, content)
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

    def _style_tensor(self, style: Image.Image, size: int, content: Tensor | None) -> Tensor:
        """The style as the costs see it: long edge cfg.style_scale x ``size``, its colours or
        luminance matched to ``content`` under colour preservation."""
        cfg = self.cfg
        S = to_tensor(resize_long_edge(style, max(16, round(cfg.style_scale * size))), self.device)
        if cfg.preserve_color == "histogram":
            S = color.match_color(S, content.to(S))
        elif cfg.preserve_color == "luminance":
            S = color.gray_to_rgb(color.match_luminance(color.luminance(S), color.luminance(content.to(S))))
        return S

    @property
    def adain(self) -> AdaIN:
        """The AdaIN encoder and decoder (nst.net.adain), built at first use and kept."""
        if self._adain is None:
            self._adain = AdaIN().to(self.device)
        return self._adain

    def initial_image(self, content: Tensor, style: StyleImages | None,
                      parts: Sequence[regions.Region] = ()) -> Tensor:
        """G at the start, at the content's size (see Config.init). For init='adain', one pass of
        AdaIN (Huang & Belongie 2017) on the content and the style (a blend: all its styles,
        interpolated by weight), with cfg.adain_strength. With regions (``parts``) and an init
        made from the style (adain, style): each region's own start (the photo where a region has
        no style), blended by the regions' guidance; ``style`` is the rest of the picture's."""
        G = self._initial_image(content, style)
        if not parts or self.cfg.init not in ("adain", "style"):
            return G
        T = regions.guidance([r.mask for r in parts], *content.shape[-2:])
        G = G * T[0].to(G)
        for r, t in zip(parts, T[1:]):
            if bool(t.any()):
                G = G + t.to(G) * (self._initial_image(content, r.images) if r.targets is not None else content)
        return G

    def _initial_image(self, content: Tensor, style: StyleImages | None) -> Tensor:
        cfg = self.cfg
        styles = [(style, 1.0)] if isinstance(style, Image.Image) else list(style or [])
        if cfg.init in ("style", "adain") and not styles:
            raise InputError(f"init={cfg.init!r} needs the style image")
        if cfg.init != "adain":
            return _initial_image(cfg, content, styles[0][0] if styles else None)
        size = max(content.shape[-2:])
        with torch.no_grad(), autocast(self.device, self.dtype):
            encoded = [(self._adain_style(img, size, content), w) for img, w in styles]
            return self.adain.transfer(content, encoded, cfg.adain_strength).to(content)

    def _adain_style(self, style: Image.Image, size: int, content: Tensor) -> Tensor:
        """AdaIN's encoding of a style for a content of long edge ``size``, kept for the next
        image of a batch (unless colour preservation makes it depend on the content)."""
        if self.cfg.preserve_color != "none":
            return self.adain.encode(self._style_tensor(style, size, content))
        key = (id(style), size)
        hit = self._adain_styles.get(key)
        if hit is None or hit[0] is not style:  # the entry holds the image, so its id is not reused
            hit = (style, self.adain.encode(self._style_tensor(style, size, None)))
            self._adain_styles[key] = hit
            while len(self._adain_styles) > 8:
                self._adain_styles.pop(next(iter(self._adain_styles)))
        return hit[1]

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

    def run(self, content: Image.Image, targets: Targets, style: StyleImages | None = None,
            progress: Progress | None = None, *, should_stop: Callable[[], bool] | None = None,
            resume: RunState | None = None, on_state: Callable[[RunState], None] | None = None,
            state_every: float | None = None, init: Tensor | None = None, temporal: Temporal | None = None,
            scales: Sequence[tuple[int, int]] | None = None, regions: Sequence[regions.Region] = ()) -> RunResult:
        """Stylize a content image (long edge cfg.size) towards ``targets``; return its RunResult
        (``.image`` is G as a picture).

        ``targets(long_edge, content)`` gives the style Grams at each scale of the schedule.
        ``style`` (an image, or a blend's (image, weight) pairs) is needed only for init='style'
        or 'adain'. ``should_stop()`` is asked after every evaluation; when it turns true the run
        ends early with the best G so far. With cfg.iterations 0 the initial image is returned.

        ``on_state(state)`` receives a RunState every ``state_every`` seconds (None: never) and,
        with ``state.stopped`` set, when should_stop() ended the run early: what to keep so that
        ``resume=state`` continues the run later with its remaining evaluations (ResumeError if
        the state does not fit this run's schedule or image size). A J or gradient that turns
        non-finite is retried from the best G with smaller steps (nst.core.optim.minimize); if that
        fails it raises NSTError naming the likely cause.

        For video frames (nst.jobs.sequence): ``init`` is the starting G, RGB (1, 3, H, W) at the
        content's size, instead of cfg.init; ``temporal`` adds J_temporal at the last scale (its
        target RGB at the content's size); ``scales`` is the (long edge, evaluations) of each scale
        instead of nst.core.schedule.schedule(cfg).

        ``regions`` (nst.core.regions.Region): parts of the picture with their own style, from
        masks; ``targets`` and ``style`` are then the style of the rest of the picture.
        """
        torch.manual_seed(self.cfg.seed)
        run = _Run(self, content, targets, list(scales) if scales is not None else schedule(self.cfg), progress,
                   should_stop, resume, on_state, state_every, temporal, regions)
        with self.guard():
            G = run.start_image(style, init)
            run.forecast(G)
            for scale in range(run.first, len(run.scales)):
                if run.scales[scale][1] == 0:  # nothing to do at this scale (a tiny budget, or none)
                    continue
                prepared = run.prepare_scale(scale, G)
                G = None  # the previous scale's G: the prepared scale holds it resized (an image less in memory)
                G, stopped = run.run_scale(prepared)
                del prepared
                if stopped:
                    break
            return run.result(G)



@dataclass
class _Scale:
    """One scale of a run, prepared: its content, the objective and plan, and where it starts."""

    index: int
    evaluations: int
    done_before: int      # evaluations at this scale done before (a resumed run's)
    C: Tensor             # the content at this scale, RGB (1, 3, h, w)
    G: Tensor             # the start, resized to it
    plan: Plan
    objective: Objective
    left: list[int]       # evaluations left at each scale, for the forecast
    recent: deque = field(default_factory=lambda: deque(maxlen=RECENT))  # seconds of the latest evaluations
    outcome: Outcome | None = None  # minimize's, as it goes


class _Run:
    """One call of Stylizer.run: its settings, its clock and counts, and the scales it runs."""

    def __init__(self, stylizer: Stylizer, content: Image.Image, targets: Targets, scales: list[tuple[int, int]],
                 progress: Progress | None, should_stop: Callable[[], bool] | None, resume: RunState | None,
                 on_state: Callable[[RunState], None] | None, state_every: float | None,
                 temporal: Temporal | None, parts: Sequence[regions.Region] = ()) -> None:
        self.st, self.cfg, self.content, self.targets, self.scales = stylizer, stylizer.cfg, content, targets, scales
        self.progress, self.should_stop, self.resume = progress, should_stop, resume
        self.on_state, self.state_every, self.temporal = on_state, state_every, temporal
        self.regions = _named([_checked_region(r, content) for r in parts])
        self.guided_count = len(self.regions) + 1 if self.regions else 0  # the rest of the picture too
        self.luminance = self.cfg.preserve_color == "luminance"
        self.channels = 1 if self.luminance else 3
        self.total = sum(n for _, n in scales)
        self.start = self.last_state = self.last_time = time.perf_counter()
        self.first = 0 if resume is None else resume.scale
        self.count = 0 if resume is None else resume.i  # evaluations over the whole run
        self.eta: float | None = None
        self.work: list[float] = []      # each scale's relative cost of an evaluation (the plan's)
        self.plans: list[Plan] = []      # of the scales run in this process
        self.kept: RunState | None = None  # the state handed out when should_stop() ended the run
        self.best: Evaluation | RunState | None = None  # of the best G at the last scale run
        self.last_scale, self.last_done = self.first, 0 if resume is None else resume.done

    def start_image(self, style: StyleImages | None, init: Tensor | None) -> Tensor:
        """G at the start: cfg.init's, a video frame's ``init``, or the resumed state's."""
        st, resume = self.st, self.resume
        if resume is not None:
            _check_resume(resume, self.scales, self.content, self.channels)
            G = resume.G.to(st.device)
        elif init is None:
            # At the first scale's size (at the full size only when there is no evaluation to
            # run), and at most ADAIN_MAX px: each scale resizes G anyway, and AdaIN's
            # activations (not tiled) at 4096 px would take more memory than the whole tiled run.
            init_edge = next((min(e, ADAIN_MAX) for e, n in self.scales if n > 0), None)
            C0 = self.content if init_edge is None else resize_long_edge(self.content, init_edge)
            G = st.initial_image(to_tensor(C0, st.device), style, self.regions)
            del C0
        else:  # a video frame's start (nst.jobs.sequence)
            G = init.to(device=st.device, dtype=torch.float32).clone()
        if self.luminance and resume is None:
            G = color.luminance(G)
        if self.luminance and self.temporal is not None and self.temporal.target.shape[1] == 3:
            self.temporal = replace(self.temporal, target=color.luminance(self.temporal.target))
        return G

    def guided(self, long_edge: int, C: Tensor) -> list[regions.Guided]:
        """The rest of the picture and each region at this scale: guidance, Grams and weight."""
        names = [n for n, _ in self.cfg.style_layers]
        T = regions.guidance([r.mask for r in self.regions], *C.shape[-2:])
        parts = [("rest", self.targets, 1.0), *((r.name, r.targets, r.weight) for r in self.regions)]
        out = []
        for (name, targets, weight), t in zip(parts, T):
            if regions.share(t) * weight < regions.EMPTY * weight:
                continue
            grams = None if targets is None else targets(long_edge, C)
            g = regions.guided(name, grams, weight, t.to(C.device), self.st.geometry.strides, names)
            if g is not None:
                out.append(g)
        return out

    def forecast(self, G: Tensor) -> None:
        """Every scale's plan, made now (a BudgetError now if one does not fit, not an hour into
        the run), and their relative work for the time forecast. When a scale's plan is made, its
        content, the content as seen and G are in memory (G replacing this one)."""
        free = self.st.free() + 4 * G.numel()
        short = []
        for long_edge, _ in self.scales:
            h, w = _shape(self.content, long_edge)
            residents = 4 * h * w * (3 * (2 if self.luminance else 1) + self.channels)
            try:
                self.work.append(self.st.plan(h, w, self.channels, free=free - residents,
                                              guided=self.guided_count).work)
            except planner.BudgetError as e:
                short.append(e)
        if short:  # the scale that needs the most names the smallest budget that works for all
            raise max(short, key=lambda e: e.need - e.free)

    def prepare_scale(self, scale: int, G: Tensor) -> _Scale:
        """The content at this scale, G resized to it, the style targets, the plan, the objective."""
        st, resume = self.st, self.resume
        long_edge, evaluations = self.scales[scale]
        done_before = resume.done if resume is not None and scale == self.first else 0
        C = to_tensor(resize_long_edge(self.content, long_edge), st.device)
        G = resize_tensor(G, tuple(C.shape[-2:]))
        seen = color.gray_to_rgb(color.luminance(C)) if self.luminance else C
        grams = self.guided(long_edge, C) if self.regions else self.targets(long_edge, C)
        plan = st.plan(*C.shape[-2:], self.channels, strict=False,  # after the targets: they hold memory too
                       guided=self.guided_count)
        last = scale == len(self.scales) - 1
        objective = st.objective(seen, grams, self.temporal if last else None, plan=plan)
        del grams
        self.work[scale] = plan.work
        left = [n for _, n in self.scales]
        left[scale] -= done_before
        return _Scale(scale, evaluations, done_before, C, G, plan, objective, left)

    def run_scale(self, sc: _Scale) -> tuple[Tensor, bool]:
        """Minimise J at this scale; (the best G, whether should_stop() ended the run)."""
        st, resume, cfg = self.st, self.resume, self.cfg
        if sc.index == self.first and st.device.type != "cpu":
            # A GPU's first evaluation also starts its libraries (cuBLAS, cuDNN, kernels
            # loaded on first use): measured on an H200, 20-40x a later one, which made the
            # time forecast minutes for a 20 s run. One evaluation outside the clock first.
            sc.objective(sc.G)
        self.last_time = time.perf_counter()
        opt_state = _fit_state(resume.optimizer, sc.plan) if resume is not None and sc.index == self.first else None
        try:
            outcome = minimize(sc.objective, sc.G, sc.evaluations - sc.done_before, optimizer=sc.plan.optimizer,
                               lr=_step_size(cfg, sc.plan.optimizer), history_size=max(1, sc.plan.history_size),
                               on_evaluation=lambda ev, G: self.evaluated(sc, ev, G), should_stop=self.should_stop,
                               state=opt_state, on_start=lambda o: setattr(sc, "outcome", o))
        except NonFiniteError as e:
            cause = _nonfinite_cause(cfg, st.dtype, e.at_start, resume is not None)
            raise NSTError(f"{e}; ", *cause) from None
        del opt_state
        sc.objective = None  # its targets and the content's activations go with it
        self.plans.append(sc.plan)
        self.last_scale, self.last_done = sc.index, sc.done_before + outcome.evaluations
        self.best = outcome.best_evaluation
        if self.best is None and resume is not None and sc.index == self.first:  # nothing beat the resumed G
            self.best = resume
        if outcome.stopped:
            self.kept = self.state(sc, outcome, stopped=True)
            if self.on_state is not None:
                self.on_state(self.kept)
        # The optimiser's state (L-BFGS's curvature pairs, image-sized at this scale) goes
        # before the next scale is planned: held, it counted as memory in use there (a
        # whole 4096² run found 2.0 GiB of 4 free at its last scale, 0.8 less than alone).
        sc.outcome = None
        return outcome.best, outcome.stopped

    def evaluated(self, sc: _Scale, ev: Evaluation, G: Tensor) -> None:
        """After each evaluation: the count, the forecast, progress, and the periodic state."""
        self.count += 1
        now = time.perf_counter()
        # The forecast from the latest evaluations' times (a loaded machine slows them) and
        # the work left: at this scale, then the later ones by their relative work.
        sc.recent.append(now - self.last_time)
        self.last_time = now
        self.eta = expected_seconds(now - self.start, sum(sc.recent) / len(sc.recent), sc.index, sc.left, self.work,
                                    done=sc.outcome.evaluations)
        if self.progress is not None:
            image = color.combine_luminance(G, sc.C) if self.luminance else G
            self.progress(Iterate(self.count, self.total, ev.J, ev.J_content, ev.J_style, ev.J_tv, ev.style_layers,
                                  now - self.start, sc.index, image, ev.J_temporal, sc.plan, self.eta, ev.regions))
        if self.on_state is not None and self.state_every is not None and self.count < self.total \
                and time.perf_counter() - self.last_state >= self.state_every:
            self.on_state(self.state(sc, sc.outcome))
            self.last_state = time.perf_counter()

    def state(self, sc: _Scale, o: Outcome, stopped: bool = False) -> RunState:
        """Where the run stands at this scale: the best G so far, and the loop's state to continue."""
        opt = o.state()
        done = sc.done_before + (o.evaluations if opt is None else opt["evaluations"])
        G = o.best.detach().float().cpu().clone()
        image = color.combine_luminance(G.to(sc.C), sc.C).cpu() if self.luminance else G
        ev = o.best_evaluation
        costs = (None, None, None) if ev is None else (ev.J, ev.J_content, ev.J_style)
        if ev is None and self.resume is not None and sc.index == self.first:  # its best is still the resumed one's
            costs = (self.resume.J, self.resume.J_content, self.resume.J_style)
        return RunState(G, image, sc.index, done, self.count - sc.done_before - o.evaluations + done, self.total,
                        *costs, stopped, opt, self.count)

    def result(self, G: Tensor) -> RunResult:
        """The RunResult of the best G at the finest scale reached, at the content's size."""
        st, content = self.st, self.content
        J = {k: getattr(self.best, k, None) for k in ("J", "J_content", "J_style", "J_tv", "J_temporal")}
        kept = self.kept
        if kept is None:  # finished: the state a re-run writes without evaluating
            at = (to_tensor(resize_long_edge(content, self.scales[self.last_scale][0]), st.device)
                  if self.luminance else None)
            # not copied: nothing changes G from here on (at 4096 px a copy is 200 MB)
            kept = RunState(G.detach().float().cpu(),
                            (color.combine_luminance(G, at) if self.luminance else G).detach().float().cpu(),
                            self.last_scale, self.last_done, self.total, self.total, J["J"], J["J_content"],
                            J["J_style"], evaluated=self.count)
        G = resize_tensor(G, (content.height, content.width))  # a run stopped at a coarse scale
        if self.luminance:
            G = color.combine_luminance(G, to_tensor(content, st.device))
        if not bool(torch.isfinite(G).all()):  # never write NaN pixels
            raise NSTError("the result has non-finite pixels (a numerical fault: try ", Setting("precision", "float32"),
                           ")")
        return RunResult(to_pil(G), kept, tuple(self.plans), self.count - (0 if self.resume is None else self.resume.i),
                         **J)


def _checked_region(region: regions.Region, content: Image.Image) -> regions.Region:
    """The region with its mask as (1, 1, H, W); InputError if the mask's aspect ratio is not the content's."""
    mask = regions.as_mask(region.mask)
    (mh, mw), (cw, ch) = mask.shape[-2:], content.size
    if not regions.same_aspect((mw, mh), (cw, ch)):
        raise InputError(f"the mask of region {region.name} is {mw}x{mh} and the content {cw}x{ch}: a mask needs "
                         "the content's aspect ratio (any size)")
    if region.weight < 0 or not math.isfinite(region.weight):
        raise InputError(f"region {region.name}: weight {region.weight!r} must be a finite number >= 0")
    return replace(region, mask=mask)


def _named(parts: list[regions.Region]) -> list[regions.Region]:
    """The regions with names that are unique and not "rest" (the rest of the picture's): a name
    labels a region's costs (Iterate.regions), so two regions must not share one."""
    seen = {"rest"}
    out = []
    for r in parts:
        name, n = r.name, 2
        while name in seen:
            name, n = f"{r.name}-{n}", n + 1
        seen.add(name)
        out.append(r if name == r.name else replace(r, name=name))
    return out


def _shape(image: Image.Image, long_edge: int) -> tuple[int, int]:
    """(height, width) of ``image`` resized to ``long_edge`` (as resize_long_edge does)."""
    w, h = long_edge_size(image.size, long_edge)
    return h, w


def _step_size(cfg: Config, optimizer: str) -> float:
    """The step size for ``optimizer``: cfg's, unless the plan switched optimiser (then its default)."""
    return cfg.step_size if optimizer == cfg.optimizer else DEFAULT_LR[optimizer]


def _fit_state(opt: dict | None, plan: Plan) -> dict | None:
    """A resumed optimiser state as this scale's plan can use it: None (continue from G with a fresh
    optimiser) if the plan chose another optimiser than the state's (the memory free now differs
    from the interrupted run's); L-BFGS's pairs cut to the plan's history."""
    if opt is None or opt.get("optimizer") != plan.optimizer:
        return None
    inner = opt["opt"]
    if plan.optimizer == "lbfgs" and len(inner.get("old_dirs", ())) > plan.history_size:
        keep = plan.history_size
        inner = {**inner, **{k: inner[k][len(inner[k]) - keep:] for k in ("old_dirs", "old_stps", "ro")}}
        opt = {**opt, "opt": inner}
    return opt


def _check_resume(state: RunState, plan: Sequence[tuple[int, int]], content: Image.Image, channels: int) -> None:
    """ResumeError unless ``state`` is a point of this run: same schedule, image size and channels."""
    total = sum(n for _, n in plan)
    if state.total != total or not 0 <= state.scale < len(plan):
        raise ResumeError(f"it is for a run of {state.total} evaluations, this one has {total}")
    long_edge, evaluations = plan[state.scale]
    if not 0 <= state.done <= evaluations or state.i != sum(n for _, n in plan[:state.scale]) + state.done:
        raise ResumeError(f"its evaluation count {state.i} does not fit this run's schedule")
    w, h = resize_long_edge(content, long_edge).size
    if tuple(state.G.shape) != (1, channels, h, w):
        raise ResumeError(f"its image is {tuple(state.G.shape)}, this run needs {(1, channels, h, w)}")
    if not bool(torch.isfinite(state.G).all()) or state.G.min() < 0 or state.G.max() > 1:
        raise ResumeError("its image has values outside [0, 1]")
    opt = state.optimizer
    if opt is not None and (opt.get("optimizer") not in OPTIMIZERS or tuple(opt["z"].shape) != tuple(state.G.shape)
                            or not bool(torch.isfinite(opt["z"]).all())):
        raise ResumeError("its optimizer state does not fit this run")


def _nonfinite_cause(cfg: Config, dtype: torch.dtype, at_start: bool, resumed: bool) -> tuple[object, ...]:
    """The likely cause of a non-finite J or gradient, for the one-line message (text and Settings)."""
    large = [f"{k}={getattr(cfg, k):g}" for k in ("content_weight", "style_weight", "tv_weight")
             if getattr(cfg, k) > LARGE_WEIGHT]
    if large:
        return (f"likely cause: {', '.join(large)} too large for float32 arithmetic "
                f"(keep weights below {LARGE_WEIGHT:g})",)
    if at_start and resumed:
        return ("likely cause: the partial result it resumed from; run again with ",
                Setting("restart", python="a fresh start (no resume)"))
    if at_start and cfg.init not in INITS:
        return (f"likely cause: the init image {cfg.init}",)
    if dtype != torch.float32:
        return (f"likely cause: a numerical fault in {str(dtype).removeprefix('torch.')}; try ",
                Setting("precision", "float32"))
    return ("likely cause: a numerical fault; try a smaller ", Setting("lr"), " or other weights")


def _initial_image(cfg: Config, content: Tensor, style_img: Image.Image | None) -> Tensor:
    """G at the start, at the content's size: the content, uniform noise (seeded), the style or an image file."""
    _, _, h, w = content.shape
    if cfg.init == "content":
        return content.clone()
    if cfg.init == "noise":
        gen = torch.Generator().manual_seed(cfg.seed)  # on the CPU: the same noise on every device
        return torch.rand(content.shape, generator=gen).to(content)
    img = style_img if cfg.init == "style" else load_image(cfg.init)
    return to_tensor(img.resize((w, h), Image.Resampling.BICUBIC), content.device, content.dtype)


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
    return st.run(content_img, StyleTargets(st).of(styles), [(img, w) for _, img, w in styles], progress).image
