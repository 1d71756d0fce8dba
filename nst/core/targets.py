"""Style targets: each style image's Grams computed once per size and blended by weight."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence

from PIL import Image
from torch import Tensor

from .network import Network

# The Gram targets for a content of a given long edge: (long edge, content RGB (1, 3, H, W)) -> Grams.
# The content is given because colour preservation makes the targets depend on it.
Targets = Callable[[int, Tensor], Mapping[str, Tensor]]


def blend_targets(parts: Sequence[tuple[Mapping[str, Tensor], float]]) -> dict[str, Tensor]:
    """The style Grams of a blend: the weighted mean of each style's Grams, layer by layer.

    Matching the mean minimises the weighted sum of the styles' Gram distances. One style
    returns its Grams unchanged.
    """
    if len(parts) == 1:
        return dict(parts[0][0])
    total = sum(w for _, w in parts)
    return {n: sum(g[n] * (w / total) for g, w in parts) for n in parts[0][0]}


class StyleTargets:
    """Style Grams for any number of runs: each style image's Grams computed once per size (the
    last ``maxsize`` kept), blended by weight. With colour preservation the Grams depend on the
    content, so they are computed for each content instead. ``network`` computes them
    (nst.core.network.Network.style_targets; a Stylizer is one)."""

    def __init__(self, network: Network, maxsize: int = 64) -> None:
        self.network = network
        self.maxsize = maxsize
        self._cache: OrderedDict[tuple[Hashable, int, object], dict[str, Tensor]] = OrderedDict()

    def grams(self, key: Hashable, style: Image.Image, size: int, content: Tensor,
              mask: Tensor | None = None) -> dict[str, Tensor]:
        """The Grams of ``style`` (named by ``key``, which names its ``mask`` too) for a content of
        long edge ``size``; with ``mask``, of the style's own region (Network.style_targets)."""
        masked = () if mask is None else (mask,)
        if self.network.cfg.preserve_color != "none":
            return self.network.style_targets(style, size, content, *masked)
        at = (key, size, self.network.dtype)  # float32 taking over has its own (Network.precision)
        if at in self._cache:
            self._cache.move_to_end(at)
        else:
            self._cache[at] = self.network.style_targets(style, size, None, *masked)
            if len(self._cache) > self.maxsize:
                self._cache.popitem(last=False)
        return self._cache[at]

    def of(self, styles: Sequence[tuple]) -> Targets:
        """The Targets of a style or blend given as (key, image, weight) triples, or (key, image,
        weight, mask) for a style's own region (the key naming the mask too)."""
        return lambda size, content: blend_targets([(self.grams(s[0], s[1], size, content, *s[3:]), s[2])
                                                    for s in styles])
