"""J(G) and dJ/dG at one scale: what the optimisation loop minimises (Gatys et al., CVPR 2016).

The loop (nst.optim) sees only ``Objective``: give it G, get an ``Evaluation`` with J, its
terms and the gradient. Below it, ``FeatureCost`` computes the network's part,
alpha J_content + beta J_style, from the whole image at once; a tiled implementation of the same
call (nst.tiling) computes the same values tile by tile. The pixel terms (J_tv, J_temporal)
need no network and are computed on the whole G.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor

from .config import Config
from .costs import content_cost, layer_style_cost, total_cost, weighted_style_cost
from ..net.device import autocast
from ..net.vgg import VGGFeatures


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


class NetworkCost(Protocol):
    """alpha J_content + beta J_style of an RGB G and its gradient: (J_content, [J_style^l], dJ/dG)."""

    def __call__(self, G: Tensor) -> tuple[Tensor, Sequence[Tensor], Tensor]: ...


class FeatureCost:
    """The network's part of J, untiled: every activation of G at once.

    ``content``: the RGB image (1, 3, H, W) in [0, 1] whose activations are the content targets
    (computed once, here). ``grams_S``: the style Grams by layer name (nst.costs.style_gram).
    """

    def __init__(self, net: VGGFeatures, cfg: Config, content: Tensor, grams_S: Mapping[str, Tensor],
                 dtype: torch.dtype = torch.float32) -> None:
        self.net, self.cfg, self.dtype = net, cfg, dtype
        self.style_names = [n for n, _ in cfg.style_layers]
        self.targets_S = [grams_S[n] for n in self.style_names]
        self.lambdas = cfg.style_lambdas
        with torch.no_grad(), autocast(content.device, dtype):
            feats = net(content)
        self.a_C = {n: feats[n].float() for n in cfg.content_layers}

    def __call__(self, G: Tensor) -> tuple[Tensor, list[Tensor], Tensor]:
        cfg = self.cfg
        x = G.detach().requires_grad_(True)
        with autocast(x.device, self.dtype):
            feats = self.net(x)
        # Costs in float32 whatever the network ran in: Grams of bfloat16 features lose too much.
        feats = {n: f.float() for n, f in feats.items()}
        # Several content layers: J_content is their mean.
        J_content = sum(content_cost(self.a_C[n], feats[n]) for n in cfg.content_layers) / len(cfg.content_layers)
        J_layers = [layer_style_cost(s, feats[n]) for s, n in zip(self.targets_S, self.style_names)]
        J = total_cost(J_content, weighted_style_cost(J_layers, self.lambdas), cfg.content_weight, cfg.style_weight)
        J.backward()
        return J_content.detach(), [j.detach() for j in J_layers], x.grad


def total_variation(G: Tensor) -> Tensor:
    """J_tv: the mean squared difference between neighbouring pixels of G, (1, C, H, W) -> scalar.

    Not in Gatys et al. (2016): a regulariser against high-frequency pixel noise (Mahendran &
    Vedaldi 2015; jcjohnson/neural-style's -tv_weight). Off by default: small weights made no
    visible difference on the examples, large ones blur the strokes.
    """
    dh = (G[..., 1:, :] - G[..., :-1, :]).pow(2).mean()
    dw = (G[..., :, 1:] - G[..., :, :-1]).pow(2).mean()
    return dh + dw


def low_pass(image: Tensor, sigma: float) -> Tensor:
    """``image`` (1, C, H, W) blurred by a Gaussian of standard deviation ``sigma`` pixels
    (reflected at the borders); 0 returns it as it is."""
    if sigma <= 0:
        return image
    from torchvision.transforms.functional import gaussian_blur
    k = 2 * math.ceil(3 * sigma) + 1
    k = min(k, 2 * ((min(image.shape[-2:]) - 1) // 2) + 1)  # reflection needs a kernel narrower than the image
    return gaussian_blur(image, [k, k], [sigma, sigma]) if k > 1 else image


@dataclass(frozen=True)
class Temporal:
    """The temporal term of Ruder, Dosovitskiy & Brox (2016) for one video frame.

    J_temporal = 1/D sum c (L(G) - L(w))^2, D = the number of values of G: ``target`` w is the
    previous stylised frame warped to this one, ``weights`` c in [0, 1] (1, 1, H, W) is 0 where
    the flow is unreliable (disocclusions, motion boundaries). ``weight`` multiplies it in J.

    L is a Gaussian low-pass of ``blur`` pixels (0: none, Ruder et al.'s term). Departure from
    the paper: warping resamples the previous frame, and resampling softens its finest strokes;
    comparing pixels as they are holds every frame to that softened copy, so the softening adds
    up over a zoom or a slow pan. Compared through L, the term holds where the strokes are and
    their colours, and leaves the finest detail to the style term (benchmarks/README.md, "Video").
    """

    target: Tensor
    weights: Tensor
    weight: float
    blur: float = 0.0

    @functools.cached_property
    def _target(self) -> Tensor:
        return low_pass(self.target, self.blur)

    def __call__(self, G: Tensor) -> Tensor:
        return (self.weights * (low_pass(G, self.blur) - self._target).pow(2)).sum() / G.numel()


class Objective:
    """J(G) and dJ/dG at one scale: the network's part (untiled or tiled) plus the pixel terms.

    G is (1, C, H, W) in [0, 1] with C = 3, or C = 1 for a luminance-only G, which the network
    sees as grey. ``temporal`` adds the video term (see Temporal).
    """

    def __init__(self, network: NetworkCost, cfg: Config, style_names: Sequence[str],
                 temporal: Temporal | None = None) -> None:
        self.network, self.cfg, self.style_names, self.temporal = network, cfg, list(style_names), temporal
        total = sum(cfg.style_lambdas)
        self.lambdas = [w / total for w in cfg.style_lambdas]  # normalised, as in costs.weighted_style_cost

    def __call__(self, G: Tensor) -> Evaluation:
        cfg = self.cfg
        G = G.detach()
        J_content, J_layers, grad = self.network(G.expand(-1, 3, -1, -1))
        if G.shape[1] != 3:  # grey G seen as RGB: the expand's backward sums the channels
            grad = grad.sum(1, keepdim=True)
        # The pixel terms' graph only where they have a weight: at large sizes it is several
        # image-sized tensors (the memory is planned: nst.memory).
        with torch.set_grad_enabled(cfg.tv_weight > 0 or self.temporal is not None):
            G = G.requires_grad_(torch.is_grad_enabled())
            J_tv = total_variation(G)
            J_temporal = self.temporal(G) if self.temporal is not None else J_tv.new_zeros(())
            pixel = cfg.tv_weight * J_tv + (self.temporal.weight * J_temporal if self.temporal is not None else 0)
        if isinstance(pixel, Tensor) and pixel.requires_grad:
            pixel.backward()
            grad = grad + G.grad
        values = torch.stack([J_content, *J_layers, J_tv.detach(), J_temporal.detach()]).tolist()  # one sync
        Jc, layers, Jtv, Jt = values[0], values[1:-2], values[-2], values[-1]
        J_style = sum(w * j for w, j in zip(self.lambdas, layers))
        J = cfg.content_weight * Jc + cfg.style_weight * J_style + cfg.tv_weight * Jtv
        if self.temporal is not None:
            J += self.temporal.weight * Jt
        return Evaluation(J, Jc, J_style, dict(zip(self.style_names, layers)), Jtv, Jt, grad)
