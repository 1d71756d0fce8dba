"""Optical flow between video frames, backward warping, and where the flow can be trusted.

Ruder, Dosovitskiy & Brox (2016), *Artistic style transfer for videos*, warp the previous
stylised frame into the current one along the optical flow and trust it only where the forward
and backward flows agree (Sundaram, Brox & Keutzer 2010). The flow here is OpenCV's DIS
(Kroeger et al. 2016): classical, no downloaded weights, milliseconds per frame at video sizes.
(Ruder et al. used DeepFlow and EpicFlow, which take seconds to minutes a frame.)

Flows are (H, W, 2) float32 arrays in pixels, (dx, dy): ``flow(a, b)`` maps each pixel x of
``a`` to x + flow(x) in ``b``. OpenCV is imported here only, so the image path works without it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import NSTError

# DIS presets by name (OpenCV's); "medium" was chosen by the benchmark (benchmarks/README.md).
PRESETS = ("ultrafast", "fast", "medium")


def gray(image: Tensor) -> np.ndarray:
    """(1, 3, H, W) RGB in [0, 1] -> (H, W) uint8 luma (Rec. 601), what DIS works on."""
    y = image[0, 0] * 0.299 + image[0, 1] * 0.587 + image[0, 2] * 0.114
    return (y.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()


def optical_flow(a: np.ndarray, b: np.ndarray, preset: str = "medium") -> np.ndarray:
    """Dense flow from frame ``a`` to frame ``b`` ((H, W) uint8 each): a(x) ~ b(x + flow(x)).

    Returns (H, W, 2) float32 (dx, dy) in pixels.
    """
    try:
        import cv2  # lazy: OpenCV is only needed for a sequence's flow (images work without it)
    except ImportError:
        raise NSTError("the optical flow of video frames needs OpenCV: pip install opencv-python-headless") from None
    if preset not in PRESETS:
        raise ValueError(f"flow preset {preset!r}; expected {' | '.join(PRESETS)}")
    dis = cv2.DISOpticalFlow_create(getattr(cv2, f"DISOPTICAL_FLOW_PRESET_{preset.upper()}"))
    return dis.calc(np.ascontiguousarray(a), np.ascontiguousarray(b), None)


def _grid(flow: Tensor) -> Tensor:
    """(H, W, 2) pixel flow -> grid_sample's (1, H, W, 2) grid in [-1, 1] (align_corners=True)."""
    h, w = flow.shape[:2]
    ys, xs = torch.meshgrid(torch.arange(h, device=flow.device, dtype=flow.dtype),
                            torch.arange(w, device=flow.device, dtype=flow.dtype), indexing="ij")
    x = (xs + flow[..., 0]) * (2 / max(w - 1, 1)) - 1
    y = (ys + flow[..., 1]) * (2 / max(h - 1, 1)) - 1
    return torch.stack([x, y], -1).unsqueeze(0)


def warp(image: Tensor, flow: np.ndarray | Tensor, mode: str = "bilinear") -> tuple[Tensor, Tensor]:
    """Backward warping: out(x) = image(x + flow(x)), interpolated by ``mode`` (grid_sample's).

    ``image`` (1, C, H, W); ``flow`` (H, W, 2) in pixels, e.g. the flow from the current frame
    to the previous one, to bring the previous frame into the current one. Returns the warped
    image and (1, 1, H, W) ``inside``: 1 where x + flow(x) falls inside the image, else 0 (those
    pixels are filled from the border). Bicubic overshoots at sharp edges: clamp an image after it.
    """
    flow = torch.as_tensor(flow).to(image.device, torch.float32)
    grid = _grid(flow)
    out = F.grid_sample(image.float(), grid, mode=mode, padding_mode="border", align_corners=True)
    inside = ((grid.abs() <= 1).all(-1)).to(out.dtype).unsqueeze(1)
    return out.to(image.dtype), inside


def consistency(backward: np.ndarray, forward: np.ndarray) -> Tensor:
    """Where the backward flow (current -> previous frame) can be trusted: (1, 1, H, W) in {0, 1}.

    0 at disocclusions, where the forward flow (previous -> current) taken at the point the
    backward flow lands on does not lead back, |f~ + b|^2 > 0.01 (|f~|^2 + |b|^2) + 0.5; at
    motion boundaries, |grad b_x|^2 + |grad b_y|^2 > 0.01 |b|^2 + 0.002; and where b leaves
    the frame (Sundaram et al. 2010; Ruder et al. 2016, Section 3.2).
    """
    b = torch.as_tensor(backward, dtype=torch.float32)
    f = torch.as_tensor(forward, dtype=torch.float32)
    f_back, inside = warp(f.permute(2, 0, 1).unsqueeze(0), b)       # f~(x) = f(x + b(x))
    f_back = f_back[0].permute(1, 2, 0)
    occluded = (f_back + b).pow(2).sum(-1) > 0.01 * (f_back.pow(2).sum(-1) + b.pow(2).sum(-1)) + 0.5
    gy, gx = torch.gradient(b, dim=(0, 1))                             # d b / dy, d b / dx, each (H, W, 2)
    boundary = (gx.pow(2) + gy.pow(2)).sum(-1) > 0.01 * b.pow(2).sum(-1) + 0.002
    return (~occluded & ~boundary).float()[None, None] * inside


@dataclass(frozen=True)
class Motion:
    """How the previous frame maps onto the current one: the flow current -> previous and the
    (1, 1, H, W) weights in {0, 1} where it can be trusted (see ``consistency``)."""

    backward: np.ndarray
    weights: Tensor

    def warp(self, previous: Tensor) -> Tensor:
        """``previous`` (1, C, H, W), an image in [0, 1], brought into the current frame along the flow.

        Bicubic: each warp resamples the previous output, and bilinear interpolation between
        pixels softens its finest strokes, a loss that adds up from frame to frame on a zoom or
        a slow pan (benchmarks/README.md, "Video").
        """
        return warp(previous, self.backward, "bicubic")[0].clamp(0, 1)


def motion(previous: Tensor, current: Tensor, preset: str = "medium") -> Motion:
    """The Motion between two RGB content frames (1, 3, H, W) in [0, 1] of one size: DIS both ways."""
    a, b = gray(previous), gray(current)
    backward = optical_flow(b, a, preset)
    forward = optical_flow(a, b, preset)
    return Motion(backward, consistency(backward, forward).to(current.device))
