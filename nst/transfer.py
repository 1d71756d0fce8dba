"""The optimisation loop of Gatys et al. (CVPR 2016) and the public ``stylize()``."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image
from torch import Tensor

from .config import Config
from .costs import content_cost, style_cost, style_gram, total_cost
from .errors import InputError, NSTError
from .images import load_image, resize_long_edge, to_pil, to_tensor
from .vgg import VGGFeatures


@dataclass(frozen=True)
class Iterate:
    """One evaluation of J(G), handed to the progress callback."""

    i: int             # 1-based evaluation count
    total: int         # evaluations in the run
    J: float
    J_content: float
    J_style: float
    seconds: float     # since the optimisation started
    image: Tensor      # current G, (1, 3, H, W) RGB in [0, 1], detached; copy it to keep it


Progress = Callable[[Iterate], None]


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


@torch.no_grad()
def content_targets(net: VGGFeatures, content: Tensor, layers: tuple[str, ...]) -> dict[str, Tensor]:
    """a_C for each content layer, computed once."""
    feats = net(content)
    return {n: feats[n] for n in layers}


@torch.no_grad()
def style_targets(net: VGGFeatures, style: Tensor, layers: tuple[str, ...]) -> dict[str, Tensor]:
    """The style Gram of S for each style layer (see costs.style_gram), computed once."""
    feats = net(style)
    return {n: style_gram(feats[n]) for n in layers}


def fold(z: Tensor) -> Tensor:
    """Map unconstrained parameters onto [0, 1] by reflection at 0 and 1 (a triangle wave).

    G = fold(z) is always a valid image and J(fold(z)) is one fixed function of z, so
    L-BFGS's curvature pairs stay consistent; clamping between steps would break them.
    Unlike a sigmoid, the slope is +-1 everywhere, so pixels at 0 or 1 never freeze.
    """
    return 1 - (1 - torch.remainder(z, 2)).abs()


def initial_image(cfg: Config, content: Tensor, style_img: Image.Image | None) -> Tensor:
    """G at the start: the content, uniform noise (seeded), the style or an image file."""
    _, _, h, w = content.shape
    if cfg.init == "content":
        return content.clone()
    if cfg.init == "noise":
        gen = torch.Generator().manual_seed(cfg.seed)  # on the CPU: the same noise on every device
        return torch.rand(content.shape, generator=gen).to(content)
    img = style_img if cfg.init == "style" else load_image(cfg.init)
    return to_tensor(img.resize((w, h), Image.Resampling.BICUBIC), content.device, content.dtype)


class _BudgetSpent(Exception):
    """Raised inside the closure once --iterations evaluations are done."""


def optimize(net: VGGFeatures, init: Tensor, a_C: Mapping[str, Tensor], grams_S: Mapping[str, Tensor],
             cfg: Config, progress: Progress | None = None) -> Tensor:
    """Minimise J(G) = alpha J_content + beta J_style over G's pixels.

    Runs exactly cfg.iterations evaluations of J and returns the G with the lowest J seen,
    (1, 3, H, W) in [0, 1].
    """
    z = init.detach().clone(memory_format=torch.contiguous_format).requires_grad_(True)
    style_names = [n for n, _ in cfg.style_layers]
    lambdas = [w for _, w in cfg.style_layers]
    targets_S = [grams_S[n] for n in style_names]
    count = 0
    best_J = math.inf
    best_G = init.detach().clone()
    start = time.perf_counter()

    def closure() -> Tensor:
        nonlocal count, best_J
        if count >= cfg.iterations:
            raise _BudgetSpent
        optimizer.zero_grad(set_to_none=True)
        G = fold(z)
        feats = net(G)
        # Several content layers: J_content is their mean.
        J_content = sum(content_cost(a_C[n], feats[n]) for n in cfg.content_layers) / len(cfg.content_layers)
        J_style = style_cost(targets_S, [feats[n] for n in style_names], lambdas)
        J = total_cost(J_content, J_style, cfg.content_weight, cfg.style_weight)
        J.backward()
        count += 1
        J_value = J.item()
        if J_value < best_J:
            best_J = J_value
            best_G.copy_(G.detach())
        if progress is not None:
            progress(Iterate(count, cfg.iterations, J_value, J_content.item(), J_style.item(),
                             time.perf_counter() - start, G.detach()))
        return J

    if cfg.optimizer == "lbfgs":
        # Strong-Wolfe line search: without it, unit steps can diverge into noise. Tolerances 0:
        # run the whole budget (the loss scale depends on alpha and beta); the closure stops it.
        optimizer = torch.optim.LBFGS([z], lr=cfg.step_size, max_iter=cfg.iterations, max_eval=cfg.iterations,
                                      tolerance_grad=0.0, tolerance_change=0.0, history_size=50,
                                      line_search_fn="strong_wolfe")
    else:
        optimizer = torch.optim.Adam([z], lr=cfg.step_size)
    try:
        while count < cfg.iterations:
            optimizer.step(closure)
    except _BudgetSpent:
        pass
    return best_G


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

    ``style_targets`` and ``content_targets`` compute a target once; ``run`` optimises one G.
    A batch keeps one Stylizer and the style targets of each style.
    """

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.device = resolve_device(cfg.device)
        self.net = build_network(cfg, self.device)

    def style_targets(self, style: Image.Image) -> dict[str, Tensor]:
        """The style Grams of a prepared style image, one per style layer."""
        with memory_guard(max(style.size), self.device):
            S = to_tensor(style, self.device)
            return style_targets(self.net, S, tuple(n for n, _ in self.cfg.style_layers))

    def run(self, content: Image.Image, grams_S: Mapping[str, Tensor], style: Image.Image | None = None,
            progress: Progress | None = None) -> Image.Image:
        """Stylize a prepared content image towards precomputed style Grams; return G.

        ``style`` (prepared) is needed only for init='style'.
        """
        cfg = self.cfg
        torch.manual_seed(cfg.seed)
        if cfg.init == "style" and style is None:
            raise InputError("init='style' needs the style image")
        with memory_guard(cfg.size, self.device):
            C = to_tensor(content, self.device)
            a_C = content_targets(self.net, C, cfg.content_layers)
        with memory_guard(cfg.size, self.device):
            G = optimize(self.net, initial_image(cfg, C, style), a_C, grams_S, cfg, progress)
        return to_pil(G)


def stylize(content: str | Path | Image.Image, style: str | Path | Image.Image, *,
            progress: Progress | None = None, **options) -> Image.Image:
    """Stylize ``content`` with ``style``; return the generated image.

    ``options`` are the fields of ``nst.Config`` (same defaults as the CLI); ``progress`` is
    called with an ``Iterate`` after every evaluation of J.
    """
    cfg = Config(**options)
    content_img = prepare_image(content, cfg.size)
    style_img = prepare_image(style, cfg.size)
    st = Stylizer(cfg)
    return st.run(content_img, st.style_targets(style_img), style_img, progress)
