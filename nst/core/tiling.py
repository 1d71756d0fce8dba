"""Exact tiled evaluation of the network's part of J: any image size in the memory of one tile.

The costs of Gatys et al. (2016) are sums over positions, so they can be computed a tile at a
time without approximation (this is not stitching: every tile sees the global Grams).

Notation: for a style layer l with n_C channels and M = n_H n_W positions of the WHOLE image G,
A (n_C x M) its unrolled activations, A_t the columns that belong to tile t (its interior), the
Gram that layer_style_cost compares is

    G_gram = (1/M) A A^T = (1/M) sum_t A_t A_t^T                                       (1)

and J_style^l = 1/(4 n_C^2) sum (G_gram - G_gram^S)^2. With the residual R = G_gram - G_gram^S
(symmetric), dJ_style^l / dG_gram = R / (2 n_C^2), and since dG_gram/dA acts as (g + g^T) A / M,

    dJ_style^l / dA_t = R A_t / (n_C^2 M)                                                (2)

which needs the GLOBAL R but only the tile's own activations. J_content = 1/(4 N) sum (a_G - a_C)^2
(N = n_C n_H n_W of the whole image) is a sum over positions; its gradient is local:

    dJ_content / da_t = (a_t - a_C,t) / (2 N)                                            (3)

An evaluation therefore takes two passes over the tiles of G:

1. no gradients: run each tile, keep its interior activations of each style layer, accumulate
   (1). This gives the exact global Grams, hence R and J_style^l.
2. per tile: run it again with gradients and backpropagate (2) (weighted beta lambda_l) and (3)
   (weighted alpha / number of content layers) from its interior activations; add the tile's
   pixel gradient into dJ/dG. Summed over the tiles this is dJ/dG of the whole image, because
   the interiors partition every layer's positions and each interior activation is, as a
   function of G, the same function the untiled network computes (see below), so its
   vector-Jacobian product is the same too.

Why a tile's interior activations are exact. A tile is a crop of G: its interior (the positions
it contributes) plus a halo on each side where the crop does not touch the image border. Where
it touches the border, the network's own zero padding is the image's zero padding, exactly as
untiled. Where the crop cuts through the image, each 3x3 convolution pads with zeros that the
whole image does not have: the first and last ``e`` positions of the tile are wrong, ``e``
growing by one per convolution and halving (rounded up) at each 2x2 pooling. A halo of at least
e_l s_l pixels for every layer l used (s_l: its total stride) keeps the interiors exact: about
80 px for conv5_1. Tile origins (and halos) lie on multiples of the deepest layer's stride, so
the 2x2 poolings of every tile group the same pixels as the untiled network's; where the
image's size is odd at some layer, the tile that ends at the image border drops the same last
row the untiled network drops. Average and max pooling alike: the operations are the same,
only on a crop.

Cost: pass 1 is a forward pass without gradients (about a third of pass 2's forward + backward)
over the tiles, and the halos add area; content activations are cached per tile or recomputed
(one more forward pass up to the deepest content layer), as the memory plan decides.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..net.device import autocast
from ..net.vgg import VGGFeatures
from .objective import Cost, reference_layers, unroll


@dataclass(frozen=True)
class Geometry:
    """Where tiles may start and how wide their halo must be, for one truncated network.

    ``stride``: the total stride of the deepest layer (tile origins are multiples of it);
    ``halo``: pixels of context on each cut side, a multiple of ``stride``; ``strides``: each
    returned layer's total stride.
    """

    stride: int
    halo: int
    strides: Mapping[str, int]

    @classmethod
    def of(cls, net: VGGFeatures) -> Geometry:
        e, s, need = 0, 1, 0  # wrong positions at a cut side, in this layer's units; total stride
        strides: dict[str, int] = {}
        for m, name in net.steps():
            if isinstance(m, nn.Conv2d):
                if m.stride != (1, 1) or m.dilation != (1, 1):
                    raise ValueError(f"tiling supports stride-1 convolutions only, not {m}")
                e += max(m.padding)  # 'same' padding p: p more wrong positions at each cut
            elif isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
                k, st = _pair(m.kernel_size), _pair(m.stride)
                if k != (2, 2) or st != (2, 2) or _pair(m.padding) != (0, 0):
                    raise ValueError(f"tiling supports 2x2 stride-2 pooling only, not {m}")
                e, s = math.ceil(e / 2), s * 2
            if name is not None:
                strides[name] = s
                need = max(need, e * s)
        halo = math.ceil(need / s) * s
        return cls(stride=s, halo=halo, strides=strides)

    def round_tile(self, tile: int) -> int:
        """An interior edge on the stride grid: ``tile`` rounded up to a multiple of the stride."""
        return max(self.stride, math.ceil(tile / self.stride) * self.stride)


def _pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


def splits(n: int, tile: int, stride: int) -> list[tuple[int, int]]:
    """Interiors along one axis of ``n`` pixels: ``[(start, end), ...]`` covering [0, n), each at
    most ``tile`` long (``tile`` a multiple of ``stride``), starts on the stride grid, as even as
    that allows; the last ends at n."""
    count = max(1, math.ceil(n / tile))
    step = math.ceil(n / count / stride) * stride
    starts = list(range(0, n, step))
    return [(a, min(a + step, n)) for a in starts]


@dataclass(frozen=True)
class Tile:
    """One tile: the interior [y0, y1) x [x0, x1) and the crop of the image it runs on,
    [cy0, cy1) x [cx0, cx1) (the interior and its halo, clipped to the image)."""

    y0: int
    y1: int
    x0: int
    x1: int
    cy0: int
    cy1: int
    cx0: int
    cx1: int

    @property
    def crop(self) -> tuple[slice, slice]:
        return slice(self.cy0, self.cy1), slice(self.cx0, self.cx1)

    @property
    def pixels(self) -> int:
        """Pixels the network runs on for this tile (interior and halo)."""
        return (self.cy1 - self.cy0) * (self.cx1 - self.cx0)

    def positions(self, stride: int) -> tuple[slice, slice]:
        """The interior's positions in the whole image's activations of a layer of total ``stride``."""
        return slice(self.y0 // stride, self.y1 // stride), slice(self.x0 // stride, self.x1 // stride)

    def interior(self, stride: int) -> tuple[slice, slice]:
        """The interior's positions in the tile's activations of a layer of total ``stride``."""
        oy, ox = self.cy0 // stride, self.cx0 // stride
        return (slice(self.y0 // stride - oy, self.y1 // stride - oy),
                slice(self.x0 // stride - ox, self.x1 // stride - ox))


def tiles(height: int, width: int, tile: int, geometry: Geometry) -> list[Tile]:
    """The tiles of an image of ``height`` x ``width`` pixels with interiors of at most ``tile``
    (rounded up to the stride grid) pixels a side, row by row."""
    tile, h = geometry.round_tile(tile), geometry.halo
    return [Tile(y0, y1, x0, x1, max(0, y0 - h), min(height, y1 + h), max(0, x0 - h), min(width, x1 + h))
            for y0, y1 in splits(height, tile, geometry.stride)
            for x0, x1 in splits(width, tile, geometry.stride)]


def _positions(shape: tuple[int, ...], stride: int) -> tuple[int, int]:
    """A layer's (n_H, n_W) for an image of ``shape`` (..., H, W): the poolings floor."""
    return shape[-2] // stride, shape[-1] // stride


def tiled_grams(net: VGGFeatures, image: Tensor, layers: Sequence[str], tile: int,
                dtype: torch.dtype = torch.float32, guidance: Mapping[str, Tensor] | None = None
                ) -> dict[str, Tensor]:
    """style_gram of each layer in ``layers`` for ``image`` (1, 3, H, W), one tile at a time: (1).
    With ``guidance`` (a region's T^l (n_H, n_W) at each layer): its guided_gram instead.

    Equal to style_gram(net(image)[l]) up to float rounding; memory is one tile's forward pass.
    """
    geometry = Geometry.of(net)

    def gram(n: str) -> Callable[[Tensor, tuple[slice, slice]], Tensor]:
        def of(X: Tensor, where: tuple[slice, slice]) -> Tensor:  # A_t A_t^T, or (T o A_t)(T o A_t)^T
            if guidance is not None:
                X = X * guidance[n][where].reshape(-1, 1)
            return X.T @ X
        return of

    sums = _tile_sums(net, image, tiles(image.shape[-2], image.shape[-1], tile, geometry), geometry, dtype,
                      [(n, gram(n)) for n in layers])
    out = {}
    for n, s in zip(layers, sums):
        n_H, n_W = _positions(image.shape, geometry.strides[n])
        out[n] = s / (n_H * n_W if guidance is None else guidance[n].pow(2).sum())
    return out


@torch.no_grad()
def _tile_sums(net: VGGFeatures, image: Tensor, tile_list: Sequence[Tile], geometry: Geometry, dtype: torch.dtype,
               stats: Sequence[tuple[str, Callable[[Tensor, tuple[slice, slice]], Tensor]]]) -> list[Tensor]:
    """Each statistic of ``stats`` summed over the tiles' interiors (float32): (layer, f), f of a
    tile's unrolled interior activations X at that layer and their place in the whole layer."""
    sums: list[Tensor | None] = [None] * len(stats)
    for t in tile_list:
        with autocast(image.device, dtype):
            feats = net(image[(..., *t.crop)])
        for i, (layer, f) in enumerate(stats):
            stride = geometry.strides[layer]
            s = f(unroll(feats[layer][(..., *t.interior(stride))].float()), t.positions(stride))
            sums[i] = s if sums[i] is None else sums[i] + s
        del feats
    return sums


class Tiled:
    """The network's part of J, tile by tile: the same call and values as objective.Untiled (up to
    float rounding), with the memory of one tile. See the module docstring; the terms say what
    they need (nst.core.objective.FeatureTerm), this class only runs the tiles.

    ``costs``: the feature costs. ``reference``: the RGB image (1, 3, H, W) in [0, 1], the size of
    G, whose activations the reference terms compare with (the content). ``tile``: the
    interiors' edge in pixels (rounded up to the network's stride). ``cache_content``: keep the
    reference layers' activations of every tile (n_C n_H n_W floats per layer, the whole
    layer's) or recompute them at each evaluation (one forward pass per tile up to the deepest).
    """

    def __init__(self, net: VGGFeatures, costs: Sequence[Cost], reference: Tensor,
                 dtype: torch.dtype = torch.float32, *, tile: int, cache_content: bool = True) -> None:
        self.net, self.dtype = net, dtype
        self.geometry = Geometry.of(net)
        self.reference = reference
        self.tiles = tiles(reference.shape[-2], reference.shape[-1], tile, self.geometry)
        # (term, its scale in J: the cost's weight x the term's share), in the costs' order
        self.terms = [(term, cost.weight / cost.over * term.share) for cost in costs for term in cost.terms]
        self.layers = list(dict.fromkeys(term.layer for term, _ in self.terms))
        self.reference_layers = reference_layers(costs)
        self.a_ref: list[dict[str, Tensor]] | None = None
        if cache_content:
            self.a_ref = [self._reference_of(t) for t in self.tiles]

    @torch.no_grad()
    def _reference_of(self, t: Tile) -> dict[str, Tensor]:
        """The reference layers' activations of the reference image in tile ``t``'s interior."""
        with autocast(self.reference.device, self.dtype):
            feats = self.net(self.reference[(..., *t.crop)])
        return {n: feats[n][(..., *t.interior(self.geometry.strides[n]))].float().clone()
                for n in self.reference_layers}

    def __call__(self, G: Tensor) -> tuple[list[Tensor], Tensor]:
        G = G.detach()
        positions = {n: math.prod(_positions(G.shape, self.geometry.strides[n])) for n in self.layers}
        # Pass 1: the terms' global statistics (the Grams (1)), hence their values and residuals.
        settled = {}
        values: dict[int, Tensor] = {}
        gathering = [term for term, _ in self.terms if term.gathers]
        if gathering:  # each term's statistic summed over the tiles' interiors
            sums = _tile_sums(self.net, G, self.tiles, self.geometry, self.dtype,
                              [(term.layer, term.gather) for term in gathering])
            for i, term in enumerate(gathering):
                values[id(term)], settled[id(term)] = term.settle(sums[i], positions[term.layer])
        for term, _ in self.terms:
            if not term.gathers:
                values[id(term)] = G.new_zeros((), dtype=torch.float32)
        # Pass 2: per tile, backpropagate each term's gradient ((2), (3)) from its interior activations.
        grad = torch.zeros(G.shape, dtype=G.dtype, device=G.device)
        for i, t in enumerate(self.tiles):
            a_ref = self.a_ref[i] if self.a_ref is not None else self._reference_of(t)
            x = G[(..., *t.crop)].detach().requires_grad_(True)
            with autocast(x.device, self.dtype):
                feats = self.net(x)
            outputs, grads = [], []
            for n in self.layers:
                a = feats[n][(..., *t.interior(self.geometry.strides[n]))]
                if a.numel() == 0:
                    continue
                a32 = a.detach().float()
                g = torch.zeros_like(a32)
                for term, scale in self.terms:
                    if term.layer != n:
                        continue
                    part, dg = term.tile_gradient(a32, a_ref.get(n), settled.get(id(term)), positions[n], scale,
                                                  t.positions(self.geometry.strides[n]))
                    g += dg
                    if part is not None:  # a sum over positions: the tiles' parts add up to the value
                        values[id(term)] = values[id(term)] + part
                outputs.append(a)
                grads.append(g.to(a.dtype))
            if outputs:
                torch.autograd.backward(outputs, grads)
                grad[(..., *t.crop)] += x.grad
            del feats, outputs, grads, x
        return [values[id(term)].detach() for term, _ in self.terms], grad
