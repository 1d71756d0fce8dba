"""The memory budget (``max_memory``) and, for each scale, the plan that fits it (``tile``).

A plan decides, before a scale starts, everything that is big: whether the network's part of J
is evaluated on the whole image or tile by tile (nst.core.tiling) and with what tile, whether the
content activations are cached per tile or recomputed, and the optimiser's image-sized state
(L-BFGS's history, or Adam when no useful history fits). Every estimate is in bytes:

- one network evaluation (forward + backward) of an h x w input: EVAL_FACTOR x the float32
  outputs of its layers, F(h, w); a forward pass without gradients (tiles' pass 1, targets):
  FORWARD_FACTOR x the largest layer's output plus the returned layers. The factors were
  measured (benchmarks/README.md, "Memory against size") and carry a margin.
- the loop, in image-sized tensors V (4 bytes x the values of G): L-BFGS LBFGS_VECTORS V plus
  2 V per curvature pair of its history; Adam ADAM_VECTORS V (measured the same way).
- tiled: the content layers' activations if cached (the gradient the tiles accumulate is the
  one the loop's vectors count: only an RGB gradient's excess over a luminance G's is added).

The budget is the process's resident memory on the CPU and PyTorch's allocations on a GPU
(nst.net.memory measures both); the plan gets the budget less what is in use when it is made.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field, replace

from torch import nn

from ..errors import InputError, Setting
from ..units import format_bytes, memory_arg
from .optim import HISTORY_SIZE
from .tiling import splits

# Calibrated by measurement (benchmarks/README.md, "Memory against size"), with margin.
EVAL_FACTOR = 1.8        # a forward + backward's peak over the float32 outputs of the layers
FORWARD_FACTOR = 2.5     # a forward pass's peak (no gradients) over its largest output ...
LBFGS_VECTORS = 21       # torch's L-BFGS with nst's loop and a checkpoint's state, history apart (20.2 measured)
ADAM_VECTORS = 6         # Adam with nst's loop and a checkpoint's state (5.3 measured)

MIN_HISTORY = 5          # fewer pairs than this: Adam instead (see benchmarks/README.md)
AUTO_TILE_MAX = 1024          # the largest interior auto-tiling picks: leaves memory for the history
AUTO_TILE_MIN = 128           # the smallest: below it the halos cost more than the interiors
FEW_EVALUATIONS = 10     # a scale with at most this many: L-BFGS's pairs barely fill, so ...
ADAM_FOR_TILES = 2.0     # ... Adam, if L-BFGS leaves only tiles so small that Adam's plan is this much less work
SLOW_TILE = 256          # auto tiles under this edge: the plan names a budget that would be faster ...
FASTER = 3.0             # ... by this much per evaluation (or as much as an untiled plan gains, if less)


class BudgetError(InputError):
    """The memory budget is too small for the run at all: what it needs, what is in use, the least
    budget that would do. A usage error (exit 2 in the CLI), raised before any evaluation."""

    def __init__(self, need: int, free: int, budget: int | None, size: tuple[int, int], how: str,
                 tile_off: bool = False) -> None:
        self.need, self.free, self.budget, self.size, self.how, self.tile_off = need, free, budget, size, how, tile_off
        self.given = True  # the budget was asked for (else it is the default share of the memory available)
        super().__init__()

    @property
    def in_use(self) -> int | None:
        """What the process held when the plan was made: PyTorch, the network, the images."""
        return None if self.budget is None else self.budget - self.free

    @property
    def smallest(self) -> int | None:
        """The least budget that would do, rounded up to 64 MiB."""
        return None if self.budget is None else -(-(self.in_use + self.need) // 2**26) * 2**26

    def message_parts(self) -> tuple[object, ...]:
        w, h = self.size
        image = f"a {w}x{h} image needs at least {format_bytes(self.need)} {self.how}"
        hint = [Setting("tile", "auto"), " or "] if self.tile_off else []
        if self.budget is None:
            return (f"{image}, more than the {format_bytes(max(0, self.free))} free: use ", *hint, "a larger ",
                    Setting("max_memory"), " or a smaller ", Setting("size"))
        budget = ([Setting("max_memory", format_bytes(self.budget))] if self.given
                  else [f"the default memory budget, {format_bytes(self.budget)} (3/4 of the memory available)"])
        fixed = f"PyTorch, the network and the images take {format_bytes(self.in_use)}"
        return (*budget, f" is too small for this run: {fixed}, and {image}; the smallest budget that works is "
                f"about {memory_arg(self.smallest)}: use ", *hint, Setting("max_memory", memory_arg(self.smallest)),
                " or more, or a smaller ", Setting("size"))

    def __str__(self) -> str:
        return "".join(map(str, self.message_parts()))


@dataclass(frozen=True)
class NetworkMemory:
    """The network's memory as a function of its input size: per layer (channels, total stride)
    of every module's output, and which outputs are returned (by name, with their stride)."""

    layers: tuple[tuple[int, int], ...]           # (channels, stride) of each module's extra output
    returned: tuple[tuple[str, int, int], ...]    # (name, channels, stride)
    content: tuple[tuple[str, int, int], ...]     # (name, channels, stride) of the content layers
    guided: int = 0  # regions (nst.core.regions): each keeps a weighted copy, T o A, of the returned layers

    @classmethod
    def of(cls, net, content_layers) -> NetworkMemory:
        c, s, layers, by_name = 3, 1, [(3, 1)], {}
        for m, name in net.steps():
            if isinstance(m, nn.Conv2d):
                c = m.out_channels
                layers.append((c, s))
            elif isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
                s *= 2
                # max pooling keeps its indices (int64) for the backward: 2 floats' worth each
                layers.append((c * (3 if isinstance(m, nn.MaxPool2d) else 1), s))
            elif isinstance(m, nn.ReLU) and not m.inplace:
                layers.append((c, s))
            if name is not None:
                by_name[name] = (c, s)
        returned = tuple((n, *by_name[n]) for n in net.layers)
        content = tuple(r for r in returned if r[0] in content_layers)
        return cls(tuple(layers), returned, content)

    @staticmethod
    def _floats(spec, h: int, w: int) -> int:
        return sum(c * (h // s) * (w // s) for c, s in spec)

    def evaluation(self, h: int, w: int) -> int:
        """Peak bytes of one forward + backward pass (with the costs) of an h x w input."""
        guided = self.guided * self._floats([(c, s) for _, c, s in self.returned], h, w)
        return int(EVAL_FACTOR * 4 * (self._floats(self.layers, h, w) + guided))

    def forward(self, h: int, w: int) -> int:
        """Peak bytes of a forward pass without gradients of an h x w input, its returned layers kept."""
        largest = max(c * (h // s) * (w // s) for c, s in self.layers)
        return int(4 * (FORWARD_FACTOR * largest + self._floats([(c, s) for _, c, s in self.returned], h, w)))

    def content_cache(self, h: int, w: int) -> int:
        """Bytes of the content layers' activations of an h x w image (the per-tile cache)."""
        return 4 * self._floats([(c, s) for _, c, s in self.content], h, w)


@dataclass(frozen=True)
class Plan:
    """How one scale runs: untiled or tiled, the optimiser and its history, within ``budget``."""

    height: int
    width: int
    tile: int | None             # the tiles' interior edge in pixels; None: untiled
    tiles: int                   # how many (1 untiled)
    halo: int                    # pixels of context on each cut side of a tile
    optimizer: str
    history_size: int            # L-BFGS's curvature pairs (0 for Adam)
    cache_content: bool          # tiled: content activations kept per tile (else recomputed)
    work: float                  # network pixels processed per evaluation, forward + backward units
    estimate: int                # planned peak bytes on top of what was in use
    budget: int                  # bytes the plan had (the budget less what was in use)
    notes: tuple[str, ...] = field(default=())  # departures from the settings, one phrase each
    max_memory: int | None = None  # the whole budget (max_memory, or its default), if known
    untiled_fits: bool = False     # tiled as asked, though the whole image fits: slower for nothing
    faster: tuple[int, float] | None = None  # small tiles forced by the budget: (a budget, in bytes, whose
    #                                         plan is this many times less work per evaluation); see faster_budget

    @property
    def planned_peak(self) -> int | None:
        """The peak memory the plan expects in all (what was in use when it was made, plus its
        estimate), if the whole budget is known."""
        return None if self.max_memory is None else self.max_memory - self.budget + self.estimate

    def to_json(self) -> dict:
        return {"size": [self.width, self.height], "tile": self.tile, "tiles": self.tiles, "halo": self.halo,
                "optimizer": self.optimizer, "history_size": self.history_size,
                "content": "cached" if self.cache_content else "recomputed", "planned_peak": self.planned_peak}


# Relative cost of a tiled evaluation's extra passes, per network pixel, against a forward +
# backward pass (measured: benchmarks/README.md): pass 1 is a forward pass without gradients;
# recomputing the content is a forward pass up to the content layer.
PASS1_COST = 0.33
CONTENT_COST = 0.3


def plan_scale(net: NetworkMemory, stride: int, halo: int, height: int, width: int, channels: int, *,
               free: int, tile: str | int = "auto", optimizer: str = "lbfgs",
               history_size: int = HISTORY_SIZE, max_memory: int | None = None, strict: bool = True,
               evaluations: int | None = None) -> Plan:
    """The plan for optimising a ``channels`` x ``height`` x ``width`` G within ``free`` bytes.

    ``tile``: 'off' (untiled), 'auto' (tiled only when an untiled evaluation does not fit) or
    an interior edge in pixels. The order of sacrifice: first the whole image (tiles, as large
    as fit up to AUTO_TILE_MAX with MIN_HISTORY pairs), then the content cache, then L-BFGS's history
    (down to MIN_HISTORY), then L-BFGS itself (Adam keeps 2 image-sized tensors, not 2 per pair).
    When not even that fits: BudgetError if ``strict``, else the smallest plan with a note saying so
    (a run that is under way goes on: its start checked the plans of all its scales). A scale of
    at most FEW_EVALUATIONS ``evaluations`` (a large print's last scales) takes Adam instead
    when L-BFGS's state leaves room only for tiles so small that Adam's plan does ADAM_FOR_TILES
    times less work per evaluation: so few evaluations barely fill L-BFGS's history, and small
    tiles cost their halos many times over (benchmarks/README.md, #35).
    """
    s = _Sizing(net, stride, halo, height, width, channels, free, tile, optimizer, history_size, max_memory)
    plan = s.plan(strict)
    if evaluations is not None and evaluations <= FEW_EVALUATIONS and plan.optimizer == "lbfgs" \
            and plan.tile is not None and "adam" in s.optimizers:
        adam = s.first_fit("adam")
        if adam is not None and adam.work * ADAM_FOR_TILES <= plan.work:
            why = (f"Adam instead of L-BFGS for {evaluations} evaluations: L-BFGS's state leaves room only "
                   f"for tiles of {plan.tile} px, {plan.work / adam.work:.1f}x the work per evaluation")
            plan = replace(adam, notes=tuple(why if n.startswith("Adam instead") else n for n in adam.notes))
    if plan.tile is not None and plan.tile < SLOW_TILE and tile == "auto" and max_memory is not None:
        more = faster_budget(s, plan)
        if more is not None:
            plan = replace(plan, faster=(max_memory - free + more[0], more[1]))
    return plan


def faster_budget(s: _Sizing, plan: Plan) -> tuple[int, float] | None:
    """The least free bytes, in steps of an eighth of ``plan``'s, whose plan does FASTER times
    less work per evaluation (or, if no plan can, as much less as the untiled one does), and that
    ratio; None when no budget up to 16 times as large gains 1.5 times."""
    best = plan.work / s.pixels  # the untiled plan's gain: the most any budget can give
    want = min(FASTER, best * 0.95)
    if want < 1.5:
        return None
    for k in range(1, 8 * 16):
        free = plan.budget + k * max(plan.budget, 1 << 26) // 8
        larger = copy.copy(s)
        larger.free = free
        other = larger.plan(strict=False)
        if other.estimate <= free:  # fits (else the smallest plan, over the budget)
            ratio = plan.work / other.work
            if ratio >= want:
                return free, ratio
    return None


class _Sizing:
    """What plan_scale weighs for one scale: the loop's state, an untiled evaluation, tiles."""

    def __init__(self, net: NetworkMemory, stride: int, halo: int, height: int, width: int, channels: int,
                 free: int, tile: str | int, optimizer: str, history_size: int, max_memory: int | None) -> None:
        self.net, self.stride, self.halo, self.height, self.width = net, stride, halo, height, width
        self.free, self.tile, self.optimizer, self.history_size, self.max_memory = (free, tile, optimizer,
                                                                                   history_size, max_memory)
        self.V = 4 * channels * height * width  # an image-sized tensor of G
        self.V_rgb = 4 * 3 * height * width
        self.pixels = height * width
        self.untiled = net.content_cache(height, width) + net.evaluation(height, width)
        self.optimizers = [optimizer] if optimizer == "adam" else ["lbfgs", "adam"]
        self.min_hist = {"lbfgs": min(MIN_HISTORY, history_size), "adam": 0}
        long_edge = max(height, width)
        self.tiles_to_try = ([] if tile == "off" else [int(tile)] if tile != "auto" else
                             list(range(min(AUTO_TILE_MAX, (long_edge - 1) // stride * stride), AUTO_TILE_MIN - 1,
                                        -stride)))

    def plan(self, strict: bool) -> Plan:
        """L-BFGS first, tiled if need be; Adam only when no L-BFGS plan fits; else ``smallest``."""
        for opt in self.optimizers:
            plan = self.first_fit(opt)
            if plan is not None:
                return plan
        return self.smallest(strict)

    def loop(self, opt: str, hist: int | None = None) -> int:
        """The optimiser's bytes with ``hist`` curvature pairs (default: the fewest it may keep)."""
        hist = self.min_hist[opt] if hist is None else hist
        return (LBFGS_VECTORS + 2 * hist) * self.V if opt == "lbfgs" else ADAM_VECTORS * self.V

    def tiled_peak(self, t: int) -> tuple[int, int, int, int]:
        """(evaluation peak, tile count, network pixels per pass, the interiors' largest edge) for tiles of t."""
        h, w, halo = self.height, self.width, self.halo
        ys, xs = splits(h, t, self.stride), splits(w, t, self.stride)
        hs = [min(h, b + halo) - max(0, a - halo) for a, b in ys]
        ws = [min(w, b + halo) - max(0, a - halo) for a, b in xs]
        peak = max(self.net.evaluation(hh, ww) for hh in hs for ww in ws)
        edge = max(b - a for a, b in ys + xs)
        # The gradient the tiles accumulate is the evaluation's, which the loop's vectors already
        # count (benchmarks/tiles.py loop: its stub returns a new gradient, as tiles do); what
        # is left is the part an RGB gradient has over a luminance G's.
        return peak + self.V_rgb - self.V, len(ys) * len(xs), sum(hs) * sum(ws), edge

    def first_fit(self, opt: str) -> Plan | None:
        """Untiled if it fits (and may), else the largest tiles that fit, with ``opt``; None if none does."""
        tile, free = self.tile, self.free
        if tile in ("auto", "off") and self.untiled + self.loop(opt) <= free:
            return self.finish(opt, None, True, self.untiled, 1, self.pixels)
        for t in self.tiles_to_try:
            peak, count, net_pixels, edge = self.tiled_peak(t)
            if peak + self.loop(opt) > free:
                continue
            content = self.net.content_cache(self.height, self.width)
            cache = peak + content + self.loop(opt) <= free
            fixed = peak + (content if cache else 0)
            # auto: the tiles as they come out (t = 1008 on 1024 px gives 2 x 2 tiles of 512)
            return self.finish(opt, edge if tile == "auto" else t, cache, fixed, count, net_pixels)
        return None

    def smallest(self, strict: bool) -> Plan:
        """Nothing fits: BudgetError if ``strict``, else the smallest plan, its note saying so."""
        opt, free, size = self.optimizers[-1], self.free, (self.width, self.height)
        if self.tile == "off" or not self.tiles_to_try:  # untiled, or an image too small for auto's tiles
            need = self.untiled + self.loop(opt)
            if strict:
                raise BudgetError(need, free, self.max_memory, size, "untiled", tile_off=self.tile == "off")
            what = (f"an untiled evaluation at {self.width}x{self.height} needs about {format_bytes(need)}, more "
                    f"than the {format_bytes(max(0, free))} left of the budget")
            return self.finish(opt, None, True, self.untiled, 1, self.pixels, over=f"over the budget ({what}): going on")
        t = self.tiles_to_try[-1]
        peak, count, net_pixels, edge = self.tiled_peak(t)
        need = peak + self.loop(opt)
        if strict:
            raise BudgetError(need, free, self.max_memory, size, f"with tiles of {t} px")
        what = (f"{self.width}x{self.height} needs at least {format_bytes(need)} with tiles of {t} px, more than the "
                f"{format_bytes(max(0, free))} left of the budget")
        return self.finish(opt, edge if self.tile == "auto" else t, False, peak, count, net_pixels,
                           over=f"over the budget ({what}): going on")

    def finish(self, opt: str, t: int | None, cache: bool, fixed: int, count: int, net_pixels: int,
               over: str | None = None) -> Plan:
        """The Plan: L-BFGS's history as long as the rest of the budget allows, the work, the notes."""
        hist, history_size = 0, self.history_size
        if opt == "lbfgs":
            spare = self.free - fixed - self.loop("lbfgs", 0)
            hist = max(self.min_hist["lbfgs"], min(history_size, spare // (2 * self.V)))
        work = float(self.pixels) if t is None else net_pixels * (1 + PASS1_COST + (0 if cache else CONTENT_COST))
        notes = []
        if t is not None and self.tile == "auto":
            notes.append(f"{count} tiles of {t} px (+{self.halo} px halo): an untiled evaluation needs "
                         f"{format_bytes(self.untiled + self.loop(opt))} of the {format_bytes(self.free)} free")
        if opt != self.optimizer:
            notes.append(f"Adam instead of L-BFGS, whose history of {self.min_hist['lbfgs']} does not fit")
        elif opt == "lbfgs" and hist < history_size:
            notes.append(f"L-BFGS history {hist} instead of {history_size}")
        if over:
            notes.append(over)
        fits = t is not None and self.tile != "auto" and self.untiled + self.loop(opt) <= self.free
        return Plan(self.height, self.width, t, count, self.halo if t is not None else 0, opt, hist, cache, work,
                    fixed + self.loop(opt, hist), self.free, tuple(notes), self.max_memory, fits)


def forward_tile(net: NetworkMemory, stride: int, halo: int, height: int, width: int, *, free: int,
                 tile: str | int = "auto") -> int | None:
    """The tiles' interior edge for a forward pass without gradients (the style targets) of a
    height x width image within ``free`` bytes, or None for the whole image at once."""
    if tile == "off":
        return None
    if tile != "auto":
        return int(tile)
    if net.forward(height, width) <= free:
        return None
    for t in range(math.ceil(max(height, width) / stride) * stride, stride - 1, -stride):
        if net.forward(min(height, t + 2 * halo), min(width, t + 2 * halo)) <= free:
            return t
    return stride  # nothing fits: the smallest tiles; running out of memory is reported as such
