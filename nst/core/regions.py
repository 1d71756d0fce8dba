"""Regions: a style per part of the picture, from guidance masks (Gatys, Ecker, Bethge, Hertzmann &
Shechtman, "Controlling Perceptual Factors in Neural Style Transfer", CVPR 2017, §4).

A region r has a guidance channel T_r over the content: a mask in [0, 1], soft edges allowed.
Masks that overlap are normalised per pixel (where they sum above 1, each is divided by the sum)
and what they leave, 1 - sum_r T_r, is the rest of the picture, which gets the run's own style.
At a layer of total stride s, T_r^l is T_r averaged over each s x s block of pixels: the
positions of that layer (``at_layer``; benchmarks/README.md, "Regions", compares it with an
eroded guidance that keeps only positions whose receptive field lies inside the region).

Each region's style term compares guided Grams (nst.core.costs.guided_gram), each a mean over
the region's own positions, and is weighted by w_r, the region's share of the picture (mean T_r)
times its ``weight`` (default 1): so the style acts on every pixel as strongly as a single style
over the whole picture does, and a picture that is one region gives exactly the J of a run
without regions. A region whose style is None keeps the photo: it has no style term.

A run takes its regions through ``checked`` (the mask's aspect ratio, the weight) and ``named``
(unique names, none "rest").
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import InputError

# A region whose guidance averages below this over the picture has no positions worth a term.
EMPTY = 1e-4
SNAP = 1e-5  # resampled guidance this close to 0 or 1 is 0 or 1


@dataclass(frozen=True, eq=False)
class Region:
    """A part of the picture with its own style, as ``Stylizer.run`` takes it.

    ``mask``: T_r, (H, W) or (1, 1, H, W) in [0, 1] with the content's aspect ratio (any size:
    it is resized to each scale's). ``targets``: the region's Targets (nst.core.targets), or None
    for no style (the region keeps the photo). ``images``: the style's (image, weight) pairs, for
    an AdaIN or style start. ``weight``: multiplies w_r, the region's share of the picture.
    ``name`` labels its costs (Iterate.regions, --log).
    """

    mask: Tensor
    targets: object | None
    images: Sequence = ()
    weight: float = 1.0
    name: str = "region"


@dataclass(frozen=True, eq=False)
class Guided:
    """One region's style at one scale: its Grams (None: no style), w_r, and T_r^l at each layer
    (None at a layer where T_r is 1 everywhere: the whole picture, plain Grams)."""

    name: str
    grams: Mapping[str, Tensor] | None
    weight: float
    guidance: Mapping[str, Tensor | None]


def as_mask(mask: Tensor) -> Tensor:
    """A mask as (1, 1, H, W) float32 in [0, 1]; InputError for another shape or values outside."""
    if mask.dim() == 2:
        mask = mask[None, None]
    if mask.dim() != 4 or mask.shape[:2] != (1, 1):
        raise InputError(f"a region's mask must be (H, W) or (1, 1, H, W), not {tuple(mask.shape)}")
    mask = mask.float()
    if not bool(torch.isfinite(mask).all()) or mask.min() < 0 or mask.max() > 1:
        raise InputError("a region's mask must hold values in [0, 1]")
    return mask


def guidance(masks: Sequence[Tensor], height: int, width: int) -> list[Tensor]:
    """The pixel guidance of the rest of the picture and of each region, at ``height`` x ``width``:
    [T_rest, T_1, ...], each (1, 1, H, W); overlaps normalised per pixel, so they sum to 1."""
    if not masks:
        return [torch.ones(1, 1, height, width)]
    T = torch.cat([F.interpolate(as_mask(m), size=(height, width), mode="bilinear", antialias=True,
                                 align_corners=False) for m in masks], dim=1)
    # Resampling leaves 1 - 1e-7 inside an all-white mask: snapped, so that white is exactly 1
    # (a region over the whole picture is then exactly a run without regions) and black 0.
    T = torch.where(T > 1 - SNAP, 1.0, torch.where(T < SNAP, 0.0, T))
    total = T.sum(1, keepdim=True)
    T = T / total.clamp(min=1)  # where the masks overlap beyond 1: shares of the pixel
    rest = (1 - T.sum(1, keepdim=True)).clamp(min=0)
    return [rest, *T.split(1, dim=1)]


def at_layer(T: Tensor, stride: int) -> Tensor:
    """T_r^l: the pixel guidance (1, 1, H, W) averaged over each stride x stride block, (n_H, n_W) =
    (H // stride, W // stride), the positions of a layer of that total stride."""
    return (T if stride == 1 else F.avg_pool2d(T, stride)).squeeze(0).squeeze(0)


def same_aspect(mask: tuple[int, int], image: tuple[int, int]) -> bool:
    """Whether a mask of (width, height) ``mask`` has the aspect ratio of an image of ``image``,
    up to 1 % and the rounding of either size to whole pixels (a photo resized to 32 px is 27 px
    high, its mask at the photo's own size is not)."""
    (mw, mh), (w, h) = mask, image
    tolerance = 0.01 + 1 / min(w, h) + 1 / min(mw, mh)
    return abs((mw / mh) / (w / h) - 1) <= tolerance


def checked(region: Region, content: tuple[int, int]) -> Region:
    """The region with its mask as (1, 1, H, W); InputError if the mask's aspect ratio is not that
    of the content, (width, height) ``content``, or its weight is not a finite number >= 0."""
    mask = as_mask(region.mask)
    (mh, mw), (cw, ch) = mask.shape[-2:], content
    if not same_aspect((mw, mh), (cw, ch)):
        raise InputError(f"the mask of region {region.name} is {mw}x{mh} and the content {cw}x{ch}: a mask needs "
                         "the content's aspect ratio (any size)")
    if region.weight < 0 or not math.isfinite(region.weight):
        raise InputError(f"region {region.name}: weight {region.weight!r} must be a finite number >= 0")
    return replace(region, mask=mask)


def named(parts: Sequence[Region]) -> list[Region]:
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


def share(T: Tensor) -> float:
    """The region's share of the picture: mean T_r."""
    return float(T.mean())


def guided(name: str, grams: Mapping[str, Tensor] | None, weight: float, T: Tensor,
           strides: Mapping[str, int], layers: Sequence[str]) -> Guided | None:
    """The region at one scale from its pixel guidance ``T`` (None if it is empty there)."""
    w = share(T) * weight
    if w < EMPTY * weight:
        return None
    whole = bool((T == 1).all())
    return Guided(name, grams, w, {n: None if whole else at_layer(T, strides[n]).to(T.device) for n in layers})
