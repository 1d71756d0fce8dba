"""Colour preservation (Gatys et al. 2017) against its formulas and a hand-written NumPy version."""

import numpy as np
import pytest
import torch

from nst.pixels.color import (
    color_stats,
    combine_luminance,
    gray_to_rgb,
    luminance,
    match_color,
    match_luminance,
    rgb_to_yiq,
    yiq_to_rgb,
)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def correlated(h, w, mix, spread, seed):
    """(1, 3, h, w) around 0.5 with covariance spread^2 * mix mix^T (small enough not to clip)."""
    z = torch.randn(3, h * w, generator=gen(seed), dtype=torch.float64)
    x = 0.5 + spread * torch.tensor(mix, dtype=torch.float64) @ z
    return x.reshape(1, 3, h, w)


def test_yiq_round_trip_exact():
    rgb = torch.rand(1, 3, 5, 7, generator=gen())
    assert rgb_to_yiq(rgb).shape == rgb.shape
    torch.testing.assert_close(yiq_to_rgb(rgb_to_yiq(rgb)), rgb, atol=1e-6, rtol=0)
    torch.testing.assert_close(rgb_to_yiq(yiq_to_rgb(rgb[0])), rgb[0], atol=1e-6, rtol=0)


def test_luminance_of_white_and_grey():
    assert luminance(torch.ones(1, 3, 2, 2)).shape == (1, 1, 2, 2)
    torch.testing.assert_close(luminance(torch.ones(3, 2, 2)), torch.ones(1, 2, 2))
    g = torch.full((1, 3, 2, 3), 0.37, dtype=torch.float64)
    torch.testing.assert_close(luminance(g), torch.full((1, 1, 2, 3), 0.37, dtype=torch.float64))
    torch.testing.assert_close(rgb_to_yiq(g)[:, 1:], torch.zeros(1, 2, 2, 3, dtype=torch.float64))  # no chroma
    # Y row sums to 1 (the three pixels are pure R, G, B)
    assert luminance(torch.eye(3).reshape(3, 1, 3)).sum().item() == pytest.approx(1.0, abs=1e-7)


def test_luminance_rejects_non_rgb():
    with pytest.raises(ValueError, match=r"\(1, 4, 2, 2\)"):
        luminance(torch.zeros(1, 4, 2, 2))


def test_match_luminance_takes_content_mean_and_std():
    y_s = torch.rand(1, 1, 6, 9, generator=gen(1), dtype=torch.float64)
    y_c = 0.3 + 0.2 * torch.rand(1, 1, 4, 5, generator=gen(2), dtype=torch.float64)
    out = match_luminance(y_s, y_c)
    assert out.shape == y_s.shape
    assert out.mean().item() == pytest.approx(y_c.mean().item(), rel=1e-5)
    assert out.std(correction=0).item() == pytest.approx(y_c.std(correction=0).item(), rel=1e-5)


def test_match_luminance_flat_style_gives_content_mean():
    y_c = torch.rand(1, 1, 4, 5, generator=gen(3))
    out = match_luminance(torch.full((1, 1, 3, 3), 0.8), y_c)
    assert out.shape == (1, 1, 3, 3)
    torch.testing.assert_close(out, torch.full((1, 1, 3, 3), y_c.mean().item()))


def test_gray_to_rgb_repeats_channel():
    y = torch.rand(1, 1, 2, 3, generator=gen(4))
    out = gray_to_rgb(y)
    assert out.shape == (1, 3, 2, 3)
    for c in range(3):
        assert torch.equal(out[:, c:c + 1], y)


def test_combine_luminance_keeps_content_chroma():
    content = 0.45 + 0.1 * torch.rand(1, 3, 4, 5, generator=gen(5))
    y = 0.3 + 0.4 * torch.rand(1, 1, 4, 5, generator=gen(6))
    out = combine_luminance(y, content)
    assert out.shape == content.shape
    assert 0 < out.min() and out.max() < 1  # nothing clipped
    yiq = rgb_to_yiq(out)
    torch.testing.assert_close(yiq[:, :1], y, atol=1e-5, rtol=0)
    torch.testing.assert_close(yiq[:, 1:], rgb_to_yiq(content)[:, 1:], atol=1e-5, rtol=0)


def test_combine_luminance_size_mismatch():
    with pytest.raises(ValueError, match=r"\(1, 1, 4, 4\).*\(1, 3, 4, 5\)"):
        combine_luminance(torch.rand(1, 1, 4, 4), torch.rand(1, 3, 4, 5))


def test_match_color_takes_content_mean_and_covariance():
    style = correlated(7, 9, [[1.0, 0.5, 0.0], [0.2, 1.0, 0.3], [0.0, -0.4, 1.0]], 0.05, seed=7)
    content = correlated(5, 6, [[0.8, 0.0, 0.3], [-0.3, 0.6, 0.0], [0.1, 0.2, 0.9]], 0.04, seed=8)
    content = content + torch.tensor([0.05, -0.05, 0.0], dtype=torch.float64)[:, None, None]
    out = match_color(style, content)
    assert out.shape == style.shape
    assert 0 < out.min() and out.max() < 1  # nothing clipped
    mu_o, cov_o = color_stats(out)
    mu_c, cov_c = color_stats(content)
    torch.testing.assert_close(mu_o, mu_c, atol=1e-4, rtol=0)
    torch.testing.assert_close(cov_o, cov_c, atol=1e-4, rtol=0)
    assert (cov_c - color_stats(style)[1]).abs().max() > 1e-3  # it did have to change


def test_match_color_keeps_dtype_and_shape():
    style = torch.rand(3, 4, 5, generator=gen(9), dtype=torch.float64)
    content = torch.rand(1, 3, 6, 3, generator=gen(10), dtype=torch.float64)
    out = match_color(style, content)
    assert out.dtype == torch.float64 and out.shape == (3, 4, 5)
    assert match_color(style.float()[None], content.float()).dtype == torch.float32


def np_match_color(s, c, eps=1e-5):
    """Hand-written NumPy version: s, c (3, H, W) -> (3, H, W)."""
    S, C = s.reshape(3, -1), c.reshape(3, -1)
    mu_s, mu_c = S.mean(1, keepdims=True), C.mean(1, keepdims=True)
    cov_s = (S - mu_s) @ (S - mu_s).T / S.shape[1] + eps * np.eye(3)
    cov_c = (C - mu_c) @ (C - mu_c).T / C.shape[1]
    ls, vs = np.linalg.eigh(cov_s)
    lc, vc = np.linalg.eigh(cov_c)
    a = (vc * np.sqrt(np.maximum(lc, 0))) @ vc.T @ (vs / np.sqrt(ls)) @ vs.T
    return np.clip(a @ (S - mu_s) + mu_c, 0, 1).reshape(s.shape)


def test_match_color_matches_numpy():
    rng = np.random.default_rng(11)
    s, c = rng.uniform(size=(3, 4, 6)), rng.uniform(size=(3, 5, 3))
    out = match_color(torch.from_numpy(s), torch.from_numpy(c)).numpy()
    np.testing.assert_allclose(out, np_match_color(s, c), atol=1e-12)
