"""G at the start of a run (Config.init): the content, noise, the style, an image file, or one
pass of AdaIN (``Start``, which keeps AdaIN's networks and each style's encoding); with regions,
each region's own start blended by their guidance; and the size it is made at (``start_edge``)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from PIL import Image
from torch import Tensor

from ..errors import InputError
from ..net.adain import AdaIN
from ..net.device import autocast
from ..pixels.images import load_image, long_edge_size, resize_tensor, to_tensor
from . import regions
from .config import Config
from .network import Network
from .runs import StyleImages

# The largest long edge AdaIN's start is computed at; a larger G starts from it upsampled (also
# with no evaluations, when the start is made at the content's full size: Start._one). At
# 1024 px its encoder's largest activation is 256 MiB (64 channels, float32); at 4096 px, 4 GiB.
ADAIN_MAX = 1024


def start_edge(scales: Sequence[tuple[int, int]]) -> int | None:
    """The long edge G starts at: the first scale's with evaluations, at most ADAIN_MAX px; None
    (the content's full size) when there is no evaluation to run."""
    # Each scale resizes G anyway, and AdaIN's activations (not tiled) at 4096 px would take
    # more memory than the whole tiled run.
    return next((min(e, ADAIN_MAX) for e, n in scales if n > 0), None)


class Start:
    """G at the start for one network (see Config.init), with AdaIN's encoder and decoder
    (nst.net.adain) built at first use and each style's encoding kept for the next image."""

    def __init__(self, network: Network) -> None:
        self.network = network
        self._adain: AdaIN | None = None
        self._adain_styles: dict[tuple[int, int], tuple[Image.Image, Tensor]] = {}

    @property
    def adain(self) -> AdaIN:
        """The AdaIN encoder and decoder (nst.net.adain), built at first use and kept."""
        if self._adain is None:
            self._adain = AdaIN().to(self.network.device)
        return self._adain

    def image(self, content: Tensor, style: StyleImages | None, parts: Sequence[regions.Region] = ()) -> Tensor:
        """G at the start, at the content's size (Stylizer.initial_image says how)."""
        G = self._one(content, style)
        if not parts or self.network.cfg.start not in ("adain", "style"):
            return G
        T = regions.guidance([r.mask for r in parts], *content.shape[-2:])
        G = G * T[0].to(G)
        for r, t in zip(parts, T[1:]):
            if bool(t.any()):
                G = G + t.to(G) * (self._one(content, r.images) if r.targets is not None else content)
        return G

    def _one(self, content: Tensor, style: StyleImages | None) -> Tensor:
        net = self.network
        cfg = net.cfg
        styles = [(style, 1.0)] if isinstance(style, Image.Image) else list(style or [])
        if cfg.start in ("style", "adain") and not styles:
            raise InputError(f"init={cfg.start!r} needs the style image")
        if cfg.start != "adain":
            return _initial_image(cfg, content, styles[0][0] if styles else None)
        size = max(content.shape[-2:])
        if size > ADAIN_MAX:  # a start at the full size (no evaluations: start_edge is None)
            h, w = content.shape[-2:]
            small_w, small_h = long_edge_size((w, h), ADAIN_MAX)
            small = self._one(resize_tensor(content, (small_h, small_w)), style)
            return resize_tensor(small, (h, w))
        with torch.no_grad(), autocast(net.device, net.dtype):
            encoded = [(self._adain_style(img, size, content), w) for img, w in styles]
            return self.adain.transfer(content, encoded, cfg.adain_strength).to(content)

    def _adain_style(self, style: Image.Image, size: int, content: Tensor) -> Tensor:
        """AdaIN's encoding of a style for a content of long edge ``size``, kept for the next
        image of a batch (unless colour preservation makes it depend on the content)."""
        if self.network.cfg.preserve_color != "none":
            return self.adain.encode(self.network.style_tensor(style, size, content))
        key = (id(style), size)
        hit = self._adain_styles.get(key)
        if hit is None or hit[0] is not style:  # the entry holds the image, so its id is not reused
            hit = (style, self.adain.encode(self.network.style_tensor(style, size, None)))
            self._adain_styles[key] = hit
            while len(self._adain_styles) > 8:
                self._adain_styles.pop(next(iter(self._adain_styles)))
        return hit[1]


def _initial_image(cfg: Config, content: Tensor, style_img: Image.Image | None) -> Tensor:
    """G at the start, at the content's size: the content, uniform noise (seeded), the style or an image file."""
    _, _, h, w = content.shape
    if cfg.start == "content":
        return content.clone()
    if cfg.start == "noise":
        gen = torch.Generator().manual_seed(cfg.seed)  # on the CPU: the same noise on every device
        return torch.rand(content.shape, generator=gen).to(content)
    img = style_img if cfg.start == "style" else load_image(cfg.start)
    return to_tensor(img.resize((w, h), Image.Resampling.BICUBIC), content.device, content.dtype)
