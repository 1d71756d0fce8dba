"""J(G) and dJ/dG at one scale, defined once, as data (Gatys et al., CVPR 2016).

    J(G) = alpha J_content + beta J_style + tv_weight J_tv (+ temporal_weight J_temporal)
    J_content = sum_l (1/L) J_content^l        J_style = sum_l lambda_l J_style^l, sum lambda = 1

``costs_of(cfg, grams_S, temporal)`` writes this J for a run's settings: a tuple of ``Cost``
(its name, its weight in J, its terms), each term a small object with its ``share`` of its cost.
A ``FeatureTerm`` compares the activations of one network layer (``ContentLayer``,
``StyleLayer``); a pixel term looks at G itself (``TotalVariation``, ``Temporal``).

Nothing below knows which terms exist. The network's part of J is evaluated by ``Untiled`` (here:
the whole image at once) or ``Tiled`` (nst.core.tiling: tile by tile, exactly); ``Objective``
adds the pixel terms and reports every cost (``Evaluation``), which the loop (nst.core.optim)
minimises. A new term is one class here with its kind's methods (its value; for exact tiling,
its statistic over the tiles and its gradient per tile), its setting in nst.core.config and its
line in ``costs_of``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import torch
from torch import Tensor

from ..net.device import autocast
from ..net.vgg import VGGFeatures
from .config import Config
from .costs import content_cost, layer_style_cost, normalised
from .regions import Guided


@dataclass(frozen=True)
class Evaluation:
    """One evaluation of J(G) = alpha J_content + beta J_style + tv_weight J_tv + temporal_weight J_temporal."""

    J: float
    J_content: float
    J_style: float
    style_layers: Mapping[str, float]  # J_style^l of each style layer (before lambda)
    J_tv: float
    J_temporal: float
    grad: Tensor                       # dJ/dG, shaped like G
    regions: Mapping[str, float] = field(default_factory=dict)  # each region's J_style (before w_r; nst.core.regions)


def unroll(a: Tensor) -> Tensor:
    """(1, n_C, h, w) activations -> X = A^T, (h w, n_C): positions as rows, in channels_last order."""
    return a.squeeze(0).permute(1, 2, 0).reshape(-1, a.shape[1])


class FeatureTerm:
    """A term of J computed from the activations of one network ``layer``.

    Untiled, ``value`` gives its cost from the whole layer. Exact tiling (nst.core.tiling) needs
    the cost as a sum over positions: a term that needs a global statistic first says so with
    ``gathers``; ``gather`` gives a tile's share of it (summed over the tiles), ``settle`` turns
    the sum into the term's value and what the tiles' gradients need, and ``tile_gradient``
    gives a tile's part of the value (None if ``settle`` gave it whole) and dJ/da of the tile's
    interior activations; ``where`` is that interior's place in the whole layer, (rows, columns)
    of its positions, for a term that weighs positions (a mask). ``reference``: the term compares
    with the reference image's (the content's) activations at its layer, which the evaluators
    compute and hand in as ``a_ref``.
    """

    layer: str
    share: float
    reference: bool = False
    gathers: bool = False
    low_precision_input: bool = False  # value() takes a bfloat16 a as it is (computes in float32 itself)

    @property
    def label(self) -> str:
        return self.layer

    def value(self, a: Tensor, a_ref: Tensor | None) -> Tensor:
        raise NotImplementedError

    def gather(self, X: Tensor, where: tuple[slice, slice]) -> Tensor:
        raise NotImplementedError

    def settle(self, total: Tensor, positions: int) -> tuple[Tensor, object]:
        raise NotImplementedError

    def tile_gradient(self, a: Tensor, a_ref: Tensor | None, settled: object, positions: int, scale: float,
                      where: tuple[slice, slice]) -> tuple[Tensor | None, Tensor]:
        raise NotImplementedError


@dataclass(frozen=True)
class ContentLayer(FeatureTerm):
    """J_content^l = 1/(4 N) sum (a_G - a_C)^2 at ``layer`` (N = n_C n_H n_W), nst.core.costs.content_cost."""

    layer: str
    share: float = 1.0
    reference = True

    def value(self, a: Tensor, a_ref: Tensor | None) -> Tensor:
        return content_cost(a_ref, a)

    def tile_gradient(self, a, a_ref, settled, positions, scale, where):
        # A sum over positions: the tile's own part, dJ/da_t = (a_t - a_C,t) / (2 N).
        N = a.shape[1] * positions
        diff = a - a_ref
        return diff.pow(2).sum() / (4 * N), diff * (scale / (2 * N))


@dataclass(frozen=True, eq=False)
class StyleLayer(FeatureTerm):
    """J_style^l = 1/(4 n_C^2) sum (G_gram^S - G_gram^G)^2 at ``layer`` against ``gram_S``
    (nst.core.costs.layer_style_cost: each Gram over its own n_H n_W).

    With ``T``, a region's guidance at this layer (n_H, n_W): the region's J_style^l with guided
    Grams G_r = (T o A)(T o A)^T / sum T^2 (nst.core.costs.guided_gram; nst.core.regions).
    ``region`` names the region it is the style of (with regions; T None: all of the picture), and
    ``part_share`` is lambda_l, its share of the region's J_style (``share`` is lambda_l w_r, its
    share of J_style).
    """

    layer: str
    gram_S: Tensor
    share: float = 1.0
    region: str | None = None
    part_share: float = 1.0
    T: Tensor | None = None
    gathers = True
    low_precision_input = True  # costs.gram_matrix is float32 inside (a guide T promotes a T to float32 first)

    @property
    def label(self) -> str:
        return self.layer if self.region is None else f"{self.region}/{self.layer}"

    @functools.cached_property
    def area(self) -> Tensor:
        return self.T.pow(2).sum()  # sum T^2: the region's positions (weighted), where its Gram is a mean

    def _over(self, positions: int) -> Tensor | int:
        """What the Gram is a mean over: the layer's positions M, or guided, sum T^2."""
        return positions if self.T is None else self.area

    def value(self, a: Tensor, a_ref: Tensor | None) -> Tensor:
        return layer_style_cost(self.gram_S, a, self.T)

    def gather(self, X: Tensor, where: tuple[slice, slice]) -> Tensor:
        if self.T is not None:
            X = X * self.T[where].reshape(-1, 1)  # rows: positions; T o A_t
        return X.T @ X  # A_t A_t^T: the Gram of the whole image is their sum over the tiles, / M

    def settle(self, total: Tensor, positions: int) -> tuple[Tensor, Tensor]:
        R = total / self._over(positions) - self.gram_S  # the residual of the global Gram, symmetric
        return R.pow(2).sum() / (4 * R.shape[0] ** 2), R

    def tile_gradient(self, a, a_ref, R, positions, scale, where):
        # dJ_style^l/dA_t = R A_t / (n_C^2 M): the global residual, the tile's own activations;
        # guided, (2) of nst.core.tiling with each position weighted by T^2 and M = sum T^2.
        n_C = R.shape[0]
        X = unroll(a) if self.T is None else unroll(a) * self.T[where].pow(2).reshape(-1, 1)
        gX = (X @ R) * (scale / (n_C**2 * self._over(positions)))  # as rows: (R A_t)^T = A_t^T R
        return None, gX.view(1, a.shape[2], a.shape[3], a.shape[1]).permute(0, 3, 1, 2)


def total_variation(G: Tensor) -> Tensor:
    """J_tv: the mean squared difference between neighbouring pixels of G, (1, C, H, W) -> scalar.

    Not in Gatys et al. (2016): a regulariser against high-frequency pixel noise (Mahendran &
    Vedaldi 2015; jcjohnson/neural-style's -tv_weight). Off by default: small weights made no
    visible difference on the examples, large ones blur the strokes.
    """
    dh = (G[..., 1:, :] - G[..., :-1, :]).pow(2).mean()
    dw = (G[..., :, 1:] - G[..., :, :-1]).pow(2).mean()
    return dh + dw


@dataclass(frozen=True)
class TotalVariation:
    """The pixel term J_tv (total_variation)."""

    share: float = 1.0
    label = "tv"

    def __call__(self, G: Tensor) -> Tensor:
        return total_variation(G)


def low_pass(image: Tensor, sigma: float) -> Tensor:
    """``image`` (1, C, H, W) blurred by a Gaussian of standard deviation ``sigma`` pixels
    (reflected at the borders); 0 returns it as it is."""
    if sigma <= 0:
        return image
    from torchvision.transforms.functional import gaussian_blur  # lazy: only a blurred temporal term needs it
    k = 2 * math.ceil(3 * sigma) + 1
    k = min(k, 2 * ((min(image.shape[-2:]) - 1) // 2) + 1)  # reflection needs a kernel narrower than the image
    return gaussian_blur(image, [k, k], [sigma, sigma]) if k > 1 else image


@dataclass(frozen=True)
class Temporal:
    """The temporal term of Ruder, Dosovitskiy & Brox (2016) for one video frame.

    J_temporal = 1/D sum c (L(G) - L(w))^2, D = the number of values of G: ``target`` w is the
    previous stylised frame warped to this one, ``confidence`` c in [0, 1] (1, 1, H, W) is 0 where
    the flow is unreliable (disocclusions, motion boundaries). ``weight`` multiplies it in J.

    L is a Gaussian low-pass of ``blur`` pixels (0: none, Ruder et al.'s term). Departure from
    the paper: warping resamples the previous frame, and resampling softens its finest strokes;
    comparing pixels as they are holds every frame to that softened copy, so the softening adds
    up over a zoom or a slow pan. Compared through L, the term holds where the strokes are and
    their colours, and leaves the finest detail to the style term (benchmarks/README.md, "Video").
    """

    target: Tensor
    confidence: Tensor
    weight: float
    blur: float = 0.0
    share = 1.0
    label = "temporal"

    @functools.cached_property
    def _target(self) -> Tensor:
        return low_pass(self.target, self.blur)

    def __call__(self, G: Tensor) -> Tensor:
        return (self.confidence * (low_pass(G, self.blur) - self._target).pow(2)).sum() / G.numel()


@dataclass(frozen=True)
class Cost:
    """One of J's named costs: ``weight`` x (sum over ``terms`` of share x the term's value) / ``over``."""

    name: str                 # content | style | tv | temporal: how Evaluation reports it
    weight: float
    terms: tuple
    over: int = 1             # J_content is the mean over its layers: their sum / L, in float32

    @property
    def on_features(self) -> bool:
        """Its terms need the network's activations (else they look at G's pixels)."""
        return all(isinstance(t, FeatureTerm) for t in self.terms)


def costs_of(cfg: Config, grams_S: Mapping[str, Tensor] | Sequence[Guided],
             temporal: Temporal | None = None) -> tuple[Cost, ...]:
    """J for ``cfg``'s settings as data: the content layers (their mean), the style layers (lambda
    normalised), total variation, and a video frame's temporal term if given. ``grams_S``: the
    style's Grams at each style layer, or the regions' (nst.core.regions.Guided) at this scale."""
    content = tuple(ContentLayer(n) for n in cfg.content_layers)
    lambdas = normalised(cfg.style_lambdas)
    if isinstance(grams_S, Mapping):
        style = tuple(StyleLayer(n, grams_S[n], w) for (n, _), w in zip(cfg.style_layers, lambdas))
    else:
        style = tuple(term for r in grams_S for term in _region_terms(cfg, r, lambdas))
    costs = [Cost("content", cfg.content_weight, content, over=len(content)),
             *([Cost("style", cfg.style_weight, style)] if style else []),  # no style: every region keeps the photo
             Cost("tv", cfg.tv_weight, (TotalVariation(),))]
    if temporal is not None:
        costs.append(Cost("temporal", temporal.weight, (temporal,)))
    return tuple(costs)


def _region_terms(cfg: Config, region: Guided, lambdas: Sequence[float]) -> list[FeatureTerm]:
    """A region's style terms: lambda_l w_r J_style^l of its guided Grams (plain Grams where it is
    the whole picture); none for a region without style, or at a layer where it has no positions."""
    if region.grams is None:
        return []
    terms = []
    for (n, _), lam in zip(cfg.style_layers, lambdas):
        T = region.guidance[n]
        if T is None:
            terms.append(StyleLayer(n, region.grams[n], lam * region.weight, region.name, lam))
        elif bool(T.any()):
            terms.append(StyleLayer(n, region.grams[n], lam * region.weight, region.name, lam, T))
    return terms


def weighted(values: Sequence[Tensor], costs: Sequence[Cost]) -> Tensor:
    """J's part of these costs: sum over costs of weight x cost_value, ``values`` in term order."""
    it, total = iter(values), None
    for cost in costs:
        part = cost_value(cost, [next(it) for _ in cost.terms])
        total = cost.weight * part if total is None else total + cost.weight * part
    return total


def cost_value(cost: Cost, values: Sequence):
    """(sum over the cost's terms of share x value) / over, in the values' own arithmetic."""
    part = None
    for term, v in zip(cost.terms, values):
        v = term.share * v
        part = v if part is None else part + v
    return part / cost.over  # by 1: exact, in value and gradient


class NetworkPart(Protocol):
    """The feature costs' terms of G and dJ/dG: (each term's value, in order; the gradient)."""

    def __call__(self, G: Tensor) -> tuple[list[Tensor], Tensor]: ...


def reference_layers(costs: Sequence[Cost]) -> list[str]:
    """The layers at which some term compares with the reference image."""
    return list(dict.fromkeys(t.layer for c in costs for t in c.terms if t.reference))


class Untiled:
    """The network's part of J, untiled: every activation of G at once.

    ``costs``: the feature costs. ``reference``: the RGB image (1, 3, H, W) in [0, 1] whose
    activations the reference terms compare with (the content), computed once, here.
    """

    def __init__(self, net: VGGFeatures, costs: Sequence[Cost], reference: Tensor,
                 dtype: torch.dtype = torch.float32) -> None:
        self.net, self.costs, self.dtype = net, tuple(costs), dtype
        with torch.no_grad(), autocast(reference.device, dtype):
            feats = net(reference)
        self.a_ref = {n: feats[n].float() for n in reference_layers(costs)}

    def __call__(self, G: Tensor) -> tuple[list[Tensor], Tensor]:
        x = G.detach().requires_grad_(True)
        with autocast(x.device, self.dtype):
            feats = self.net(x)
        # Costs in float32 whatever the network ran in: Grams of bfloat16 features lose too much.
        # A layer only style terms read stays as it is: their Gram is float32 inside (costs.gram_matrix).
        casts = {t.layer for c in self.costs for t in c.terms if not t.low_precision_input}
        feats = {n: f.float() if n in casts else f for n, f in feats.items()}
        values = [t.value(feats[t.layer], self.a_ref.get(t.layer)) for c in self.costs for t in c.terms]
        weighted(values, self.costs).backward()
        return [v.detach() for v in values], x.grad


class Objective:
    """J(G) and dJ/dG at one scale: the network's part (untiled or tiled) plus the pixel terms.

    G is (1, C, H, W) in [0, 1] with C = 3, or C = 1 for a luminance-only G, which the network
    sees as grey. ``costs``: all of J (costs_of); ``network`` evaluates those on features.
    """

    def __init__(self, network: NetworkPart, costs: Sequence[Cost]) -> None:
        self.network = network
        self.feature_costs = [c for c in costs if c.on_features]
        self.pixel_costs = [c for c in costs if not c.on_features]
        self.costs = [*self.feature_costs, *self.pixel_costs]

    def __call__(self, G: Tensor) -> Evaluation:
        G = G.detach()
        values, grad = self.network(G.expand(-1, 3, -1, -1))
        if G.shape[1] != 3:  # grey G seen as RGB: the expand's backward sums the channels
            grad = grad.sum(1, keepdim=True)
        # The pixel terms' graph only where they have a weight: at large sizes it is several
        # image-sized tensors (the memory is planned: nst.core.planner).
        weighted_pixels = [c for c in self.pixel_costs if c.weight > 0]
        with torch.set_grad_enabled(bool(weighted_pixels)):
            G = G.requires_grad_(torch.is_grad_enabled())
            pixels = {id(t): t(G) for c in self.pixel_costs for t in c.terms}
        if weighted_pixels:
            weighted([pixels[id(t)] for c in weighted_pixels for t in c.terms], weighted_pixels).backward()
            grad = grad + G.grad
        values = [*values, *(pixels[id(t)].detach() for c in self.pixel_costs for t in c.terms)]
        # A cost that is a mean (J_content over its layers) is reported as it was computed, in float32.
        it = iter(values)
        means = [cost_value(c, [next(it) for _ in c.terms]) for c in self.costs] if any(
            c.over != 1 for c in self.costs) else []
        numbers = torch.stack([*values, *means]).tolist()  # one sync
        return self.evaluation(numbers[:len(values)], numbers[len(values):], grad)

    def evaluation(self, values: list[float], means: list[float], grad: Tensor) -> Evaluation:
        """The Evaluation of these term values: J and each named cost (0 where J has none)."""
        named, by_term, parts, it = {}, {}, {}, iter(values)
        for i, cost in enumerate(self.costs):
            terms = [(t, next(it)) for t in cost.terms]
            named[cost.name] = means[i] if cost.over != 1 else sum(t.share * v for t, v in terms)
            by_term[cost.name] = {t.label: v for t, v in terms}
            for t, v in terms:  # a term that is part of a region's cost (nst.core.regions)
                if getattr(t, "region", None) is not None:
                    parts[t.region] = parts.get(t.region, 0.0) + t.part_share * v
        J = sum(c.weight * named[c.name] for c in self.costs)
        return Evaluation(J, named.get("content", 0.0), named.get("style", 0.0), by_term.get("style", {}),
                          named.get("tv", 0.0), named.get("temporal", 0.0), grad, parts)
