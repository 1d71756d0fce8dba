"""The optimisation loop of Gatys et al. (CVPR 2016), coarse to fine, and the public ``stylize()``."""

from __future__ import annotations

import contextlib
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from . import color
from .config import Config
from .costs import content_cost, layer_style_cost, style_gram, total_cost, weighted_style_cost
from .errors import InputError, NSTError
from .images import load_image, resize_long_edge, to_pil, to_tensor
from .vgg import VGGFeatures


@dataclass(frozen=True)
class Iterate:
    """One evaluation of J(G), handed to the progress callback."""

    i: int             # 1-based evaluation count over the whole run (all scales)
    total: int         # evaluations in the run
    J: float           # the objective: alpha J_content + beta J_style + tv_weight J_tv
    J_content: float
    J_style: float
    J_tv: float
    style_layers: Mapping[str, float]  # J_style^l of each style layer (before lambda)
    seconds: float     # since the optimisation started
    scale: int         # 0-based level of the coarse-to-fine schedule
    image: Tensor      # current G, (1, 3, H, W) RGB in [0, 1], detached; copy it to keep it

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of G at this scale."""
        return self.image.shape[-1], self.image.shape[-2]


Progress = Callable[[Iterate], None]
# The Gram targets for a content of a given long edge: (long edge, content RGB (1, 3, H, W)) -> Grams.
# The content is given because colour preservation makes the targets depend on it.
Targets = Callable[[int, Tensor], Mapping[str, Tensor]]


def resolve_device(name: str) -> torch.device:
    """'auto' -> cuda, then mps, then cpu; otherwise check the named device exists."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, ValueError):
        raise InputError(f"device {name!r} is not allowed; expected auto, cpu, cuda, cuda:N or mps") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(f"device {name!r}: CUDA is not available here; use --device cpu or auto")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise InputError(f"device {name!r}: only {torch.cuda.device_count()} CUDA device(s) here")
    elif dev.type == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise InputError(f"device {name!r}: MPS is not available here; use --device cpu or auto")
    elif dev.type != "cpu":
        raise InputError(f"device {name!r} is not allowed; expected auto, cpu, cuda, cuda:N or mps")
    return dev


def build_network(cfg: Config, device: torch.device) -> VGGFeatures:
    """The frozen VGG19, truncated after the deepest content or style layer, on ``device``."""
    layers = (*cfg.content_layers, *(n for n, _ in cfg.style_layers))
    return VGGFeatures(layers, model=cfg.model, weights=cfg.weights, pooling=cfg.pooling).to(device)


def schedule(cfg: Config) -> list[tuple[int, int]]:
    """The coarse-to-fine schedule: (long edge, evaluations of J) for each scale, coarsest first.

    Scales are a factor sqrt(2) apart in long edge (half the pixels each step down), ending at
    cfg.size and never below 64 px; the evaluations are split as measured in benchmarks/README.md.
    """
    sizes = [cfg.size]
    while len(sizes) < cfg.scales and round(sizes[0] / math.sqrt(2)) >= 64:
        sizes.insert(0, round(sizes[0] / math.sqrt(2)))
    evals = split_evaluations(cfg.iterations, len(sizes))
    return list(zip(sizes, evals))


def split_evaluations(total: int, n: int) -> list[int]:
    """``total`` evaluations over ``n`` scales, coarsest first: half to the finest scale, the
    other half shared equally by the coarser ones (3 scales: 1/4, 1/4, 1/2)."""
    if n == 1:
        return [total]
    share = total // 2 // (n - 1)
    return [share] * (n - 1) + [total - share * (n - 1)]


def blend_targets(parts: Sequence[tuple[Mapping[str, Tensor], float]]) -> dict[str, Tensor]:
    """The style Grams of a blend: the weighted mean of each style's Grams, layer by layer.

    Matching the mean minimises the weighted sum of the styles' Gram distances. One style
    returns its Grams unchanged.
    """
    if len(parts) == 1:
        return dict(parts[0][0])
    total = sum(w for _, w in parts)
    return {n: sum(g[n] * (w / total) for g, w in parts) for n in parts[0][0]}


def total_variation(G: Tensor) -> Tensor:
    """J_tv: the mean squared difference between neighbouring pixels of G, (1, C, H, W) -> scalar.

    Not in Gatys et al. (2016): a regulariser against high-frequency pixel noise (Mahendran &
    Vedaldi 2015; jcjohnson/neural-style's -tv_weight). Off by default: small weights made no
    visible difference on the examples, large ones blur the strokes.
    """
    dh = (G[..., 1:, :] - G[..., :-1, :]).pow(2).mean()
    dw = (G[..., :, 1:] - G[..., :, :-1]).pow(2).mean()
    return dh + dw


def fold(z: Tensor) -> Tensor:
    """Map unconstrained parameters onto [0, 1] by reflection at 0 and 1 (a triangle wave).

    G = fold(z) is always a valid image and J(fold(z)) is one fixed function of z, so
    L-BFGS's curvature pairs stay consistent; clamping between steps would break them.
    Unlike a sigmoid, the slope is +-1 everywhere, so pixels at 0 or 1 never freeze.
    """
    return 1 - (1 - torch.remainder(z, 2)).abs()


def resize_tensor(x: Tensor, size: tuple[int, int]) -> Tensor:
    """(1, C, H, W) -> (1, C, *size) bicubic, antialiased when shrinking, clamped to [0, 1]."""
    if tuple(x.shape[-2:]) == size:
        return x
    return F.interpolate(x, size=size, mode="bicubic", align_corners=False, antialias=True).clamp_(0, 1)


FIRST_STEP = 0.05  # the average pixel change of L-BFGS's first step (see optimize)


class _BudgetSpent(Exception):
    """Raised inside the closure once a scale's evaluations are done."""


@dataclass
class _Run:
    """Counts of a whole coarse-to-fine run, shared by its scales."""

    total: int
    progress: Progress | None
    start: float
    count: int = 0


def optimize(net: VGGFeatures, init: Tensor, a_C: Mapping[str, Tensor], grams_S: Mapping[str, Tensor],
             cfg: Config, evaluations: int, run: _Run | None = None, scale: int = 0,
             show: Callable[[Tensor], Tensor] | None = None) -> Tensor:
    """Minimise J(G) = alpha J_content + beta J_style + tv_weight J_tv over G's pixels at one scale.

    ``init``: (1, C, H, W) in [0, 1], C = 3, or C = 1 for a luminance-only G (shown to the
    network as grey). Runs exactly ``evaluations`` evaluations of J and returns the G with the
    lowest J seen, shaped like ``init``. ``show`` maps G to the RGB image given to progress.
    """
    run = run or _Run(evaluations, None, time.perf_counter())
    # The variables are G / k (before folding). L-BFGS is invariant to this scaling except for its
    # first step, lr / sum|g|, which moves the average pixel by lr k / n: with k = n * FIRST_STEP
    # it moves by FIRST_STEP instead of ~1/n, sparing the line search ~6 evaluations of growing it.
    k = init.numel() * FIRST_STEP if cfg.optimizer == "lbfgs" else 1.0
    z = (init.detach() / k).contiguous().requires_grad_(True)
    style_names = [n for n, _ in cfg.style_layers]
    lambdas = cfg.style_lambdas
    targets_S = [grams_S[n] for n in style_names]
    done = 0
    best_J = math.inf
    best_G = init.detach().clone()
    autocast = _autocast(init.device)

    def closure() -> Tensor:
        nonlocal done, best_J
        if done >= evaluations:
            raise _BudgetSpent
        optimizer.zero_grad(set_to_none=True)
        G = fold(z * k)
        with autocast:
            feats = net(G.expand(-1, 3, -1, -1))
        # Costs in float32 whatever the network ran in: Grams of bfloat16 features lose too much.
        feats = {n: f.float() for n, f in feats.items()}
        # Several content layers: J_content is their mean.
        J_content = sum(content_cost(a_C[n], feats[n]) for n in cfg.content_layers) / len(cfg.content_layers)
        J_layers = [layer_style_cost(s, feats[n]) for s, n in zip(targets_S, style_names)]
        J_style = weighted_style_cost(J_layers, lambdas)
        J = total_cost(J_content, J_style, cfg.content_weight, cfg.style_weight)
        J_tv = total_variation(G)
        J = J + cfg.tv_weight * J_tv
        J.backward()
        done += 1
        run.count += 1
        J_value = J.item()
        if J_value < best_J:
            best_J = J_value
            best_G.copy_(G.detach())
        if run.progress is not None:
            image = G.detach() if show is None else show(G.detach())
            run.progress(Iterate(run.count, run.total, J_value, J_content.item(), J_style.item(), J_tv.item(),
                                 dict(zip(style_names, (float(j) for j in torch.stack(J_layers).tolist()))),
                                 time.perf_counter() - run.start, scale, image))
        return J

    if cfg.optimizer == "lbfgs":
        # Strong-Wolfe line search: without it, unit steps can diverge into noise. Tolerances 0:
        # run the whole budget (the loss scale depends on alpha and beta); the closure stops it.
        optimizer = torch.optim.LBFGS([z], lr=cfg.step_size, max_iter=evaluations, max_eval=evaluations,
                                      tolerance_grad=0.0, tolerance_change=0.0, history_size=50,
                                      line_search_fn="strong_wolfe")
    else:
        optimizer = torch.optim.Adam([z], lr=cfg.step_size)
    try:
        while done < evaluations:
            optimizer.step(closure)
    except _BudgetSpent:
        pass
    return best_G


def _autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """bfloat16 convolutions on CUDA, float32 elsewhere (on the CPU bfloat16 was measured and
    rejected; on CUDA it is not timed yet: benchmarks/README.md)."""
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def prepare_image(image: str | Path | Image.Image, size: int) -> Image.Image:
    """Load an image (path or PIL) as RGB with its long edge resized to ``size``."""
    return resize_long_edge(load_image(image), size)


_OOM_MESSAGES = ("out of memory", "can't allocate memory", "cannot allocate memory")


@contextlib.contextmanager
def memory_guard(size: int, device: torch.device) -> Iterator[None]:
    """Turn running out of memory (CUDA, MPS or CPU) into an NSTError naming the size and a smaller one.

    Memory grows with the pixel count, so half the pixels (the long edge / sqrt 2) is suggested.
    """
    try:
        yield
    except (RuntimeError, MemoryError) as e:  # torch.OutOfMemoryError is a RuntimeError
        if not (isinstance(e, MemoryError) or any(m in str(e).lower() for m in _OOM_MESSAGES)):
            raise
        smaller = max(16, int(size / math.sqrt(2)) // 16 * 16)
        if device.type == "cuda":
            torch.cuda.empty_cache()
        raise NSTError(f"out of memory on {device} at --size {size}; try --size {smaller}") from e


class Stylizer:
    """The frozen network on its device, loaded once and reused for any number of images.

    ``style_targets`` computes the Grams of one style image; ``run`` optimises one G for a
    content image, coarse to fine. A batch keeps one Stylizer and caches the style targets.
    """

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.device = resolve_device(cfg.device)
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
            with _autocast(self.device):
                feats = self.net(S)
            return {n: style_gram(feats[n].float()) for n, _ in cfg.style_layers}

    def run(self, content: Image.Image, targets: Targets, style: Image.Image | None = None,
            progress: Progress | None = None) -> Image.Image:
        """Stylize a content image (long edge cfg.size) towards ``targets``; return G.

        ``targets(long_edge, content)`` gives the style Grams at each scale of the schedule.
        ``style`` is needed only for init='style'.
        """
        cfg = self.cfg
        torch.manual_seed(cfg.seed)
        if cfg.init == "style" and style is None:
            raise InputError("init='style' needs the style image")
        luminance = cfg.preserve_color == "luminance"
        plan = schedule(cfg)
        run = _Run(sum(n for _, n in plan), progress, time.perf_counter())
        with memory_guard(cfg.size, self.device):
            C_full = to_tensor(content, self.device)
            G = _initial_image(cfg, C_full, style)
            if luminance:
                G = color.luminance(G)
            for scale, (long_edge, evaluations) in enumerate(plan):
                C = to_tensor(resize_long_edge(content, long_edge), self.device)
                seen = color.gray_to_rgb(color.luminance(C)) if luminance else C
                with torch.no_grad(), _autocast(self.device):
                    a_C = {n: f.float() for n, f in self.net(seen).items() if n in cfg.content_layers}
                show = (lambda Y, C=C: color.combine_luminance(Y, C)) if luminance else None
                G = optimize(self.net, resize_tensor(G, tuple(C.shape[-2:])), a_C, targets(long_edge, C), cfg,
                             evaluations, run, scale, show)
        if luminance:
            G = color.combine_luminance(G, C_full)
        return to_pil(G)


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


class StyleTargets:
    """Style Grams for any number of runs: each style image's Grams computed once per size (the
    last ``maxsize`` kept), blended by weight. With colour preservation the Grams depend on the
    content, so they are computed for each content instead."""

    def __init__(self, stylizer: Stylizer, maxsize: int = 64) -> None:
        self.stylizer = stylizer
        self.maxsize = maxsize
        self._cache: OrderedDict[tuple[Hashable, int], dict[str, Tensor]] = OrderedDict()

    def grams(self, key: Hashable, style: Image.Image, size: int, content: Tensor) -> dict[str, Tensor]:
        """The Grams of ``style`` (named by ``key``) for a content of long edge ``size``."""
        if self.stylizer.cfg.preserve_color != "none":
            return self.stylizer.style_targets(style, size, content)
        if (key, size) in self._cache:
            self._cache.move_to_end((key, size))
        else:
            self._cache[key, size] = self.stylizer.style_targets(style, size)
            if len(self._cache) > self.maxsize:
                self._cache.popitem(last=False)
        return self._cache[key, size]

    def of(self, styles: Sequence[tuple[Hashable, Image.Image, float]]) -> Targets:
        """The Targets of a style or blend given as (key, image, weight) triples."""
        return lambda size, content: blend_targets([(self.grams(key, img, size, content), w)
                                                    for key, img, w in styles])


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
