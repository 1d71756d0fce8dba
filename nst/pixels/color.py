"""Colour preservation (Gatys et al. 2017, "Controlling Perceptual Factors in Neural Style Transfer")."""

from __future__ import annotations

import torch
from torch import Tensor

# NTSC YIQ (FCC) rows: Y, I, Q. I and Q rows sum to 0, so greys have no chroma.
_RGB_TO_YIQ = torch.tensor([
    [0.299, 0.587, 0.114],
    [0.5959, -0.2746, -0.3213],
    [0.2115, -0.5227, 0.3112],
], dtype=torch.float64)
_YIQ_TO_RGB = torch.linalg.inv(_RGB_TO_YIQ)

# Added to the diagonal of the style covariance before inverting its square root.
_EPS = 1e-5


def _check(x: Tensor, channels: int, name: str) -> None:
    """Require (channels, H, W) or (1, channels, H, W)."""
    if not (x.dim() == 3 or (x.dim() == 4 and x.shape[0] == 1)) or x.shape[-3] != channels:
        raise ValueError(f"{name} must be ({channels}, H, W) or (1, {channels}, H, W), got {tuple(x.shape)}")


def _apply(m: Tensor, x: Tensor) -> Tensor:
    """Per-pixel m @ x over the channel dim: m (k, c), x (..., c, H, W) -> (..., k, H, W).

    m is cast to x's device and dtype (the matrices are built in float64 on the CPU).
    """
    return torch.einsum("ij,...jhw->...ihw", m.to(device=x.device, dtype=x.dtype), x)


def rgb_to_yiq(rgb: Tensor) -> Tensor:
    """RGB (..., 3, H, W) -> YIQ (..., 3, H, W)."""
    _check(rgb, 3, "rgb")
    return _apply(_RGB_TO_YIQ, rgb)


def yiq_to_rgb(yiq: Tensor) -> Tensor:
    """YIQ (..., 3, H, W) -> RGB (..., 3, H, W), the exact inverse of rgb_to_yiq (not clamped)."""
    _check(yiq, 3, "yiq")
    return _apply(_YIQ_TO_RGB, yiq)


def luminance(rgb: Tensor) -> Tensor:
    """Y = 0.299 R + 0.587 G + 0.114 B: (..., 3, H, W) -> (..., 1, H, W)."""
    _check(rgb, 3, "rgb")
    return _apply(_RGB_TO_YIQ[:1], rgb)


def match_luminance(y_style: Tensor, y_content: Tensor) -> Tensor:
    """Gatys 2017 sec. 5.1: y_S' = sigma_C / sigma_S * (y_S - mu_S) + mu_C.

    y_style, y_content: (..., 1, H, W), sizes may differ; mean and (population) standard
    deviation over all pixels of each. A flat style (sigma_S = 0) gives the constant mu_C.
    Returns the shape of y_style.
    """
    _check(y_style, 1, "y_style")
    _check(y_content, 1, "y_content")
    y_content = y_content.to(y_style)
    mu_c = y_content.mean()
    if bool(y_style.amax() == y_style.amin()):
        return mu_c.expand_as(y_style).clone()
    mu_s, sigma_s = y_style.mean(), y_style.std(correction=0)
    return (y_content.std(correction=0) / sigma_s) * (y_style - mu_s) + mu_c


def gray_to_rgb(y: Tensor) -> Tensor:
    """Repeat the luminance channel: (..., 1, H, W) -> (..., 3, H, W)."""
    _check(y, 1, "y")
    return torch.cat((y, y, y), dim=-3)


def combine_luminance(y: Tensor, content_rgb: Tensor) -> Tensor:
    """Y from ``y`` (..., 1, H, W), I and Q from ``content_rgb`` (..., 3, H, W), back to RGB
    clamped to [0, 1]: (..., 3, H, W) in y's device and dtype."""
    _check(y, 1, "y")
    _check(content_rgb, 3, "content_rgb")
    if y.shape[:-3] != content_rgb.shape[:-3] or y.shape[-2:] != content_rgb.shape[-2:]:
        raise ValueError(f"luminance {tuple(y.shape)} and content {tuple(content_rgb.shape)} differ in size")
    iq = rgb_to_yiq(content_rgb.to(y))[..., 1:, :, :]
    return yiq_to_rgb(torch.cat((y, iq), dim=-3)).clamp(0, 1)


def color_stats(rgb: Tensor) -> tuple[Tensor, Tensor]:
    """Per-image RGB mean (3,) and covariance (3, 3) over all pixels (divided by H W).

    rgb: (3, H, W) or (1, 3, H, W). Both in rgb's device and dtype.
    """
    _check(rgb, 3, "rgb")
    x = rgb.reshape(3, -1)
    mean = x.mean(dim=1)
    d = x - mean[:, None]
    return mean, d @ d.T / d.shape[1]


def _sym_pow(cov: Tensor, p: float) -> Tensor:
    """cov^p for a symmetric 3x3 matrix by eigendecomposition, eigenvalues clamped at 0."""
    lam, v = torch.linalg.eigh(cov)
    return v @ torch.diag(lam.clamp_min(0) ** p) @ v.T


def match_color(style_rgb: Tensor, content_rgb: Tensor) -> Tensor:
    """Gatys 2017 sec. 5.2 (Image Analogies variant): each style pixel x becomes
    A (x - mu_S) + mu_C with A = Sigma_C^{1/2} (Sigma_S + eps I)^{-1/2}, clamped to [0, 1].

    style_rgb, content_rgb: (3, H, W) or (1, 3, H, W), sizes may differ. Returns the shape,
    device and dtype of style_rgb. The 3x3 algebra runs in float64 on the CPU.
    """
    mu_s, cov_s = (t.detach().cpu().double() for t in color_stats(style_rgb))
    mu_c, cov_c = (t.detach().cpu().double() for t in color_stats(content_rgb))
    a = _sym_pow(cov_c, 0.5) @ _sym_pow(cov_s + _EPS * torch.eye(3, dtype=torch.float64), -0.5)
    b = mu_c - a @ mu_s
    out = _apply(a, style_rgb) + b.to(style_rgb)[:, None, None]
    return out.clamp(0, 1)
