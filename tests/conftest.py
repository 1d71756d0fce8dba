"""Shared fixtures: tiny synthetic images so the suite stays fast on 2 CPU cores."""

import numpy as np
import pytest
from PIL import Image


def make_content(size=(48, 40)) -> Image.Image:
    w, h = size
    y, x = np.mgrid[0:h, 0:w]
    a = np.zeros((h, w, 3), np.uint8)
    a[..., 0] = (x * 255 // w).astype(np.uint8)
    a[..., 1] = (y * 255 // h).astype(np.uint8)
    a[..., 2] = 128
    a[h // 4: 3 * h // 4, w // 3: 2 * w // 3] = (250, 250, 40)  # a block: some structure
    return Image.fromarray(a, "RGB")


def make_style(size=(40, 40)) -> Image.Image:
    w, h = size
    y, x = np.mgrid[0:h, 0:w]
    stripes = ((x + y) // 4) % 2
    a = np.stack([stripes * 200 + 30, 60 + 0 * x, (1 - stripes) * 220 + 20], -1).astype(np.uint8)
    return Image.fromarray(a, "RGB")


@pytest.fixture
def content_path(tmp_path):
    p = tmp_path / "content.png"
    make_content().save(p)
    return p


@pytest.fixture
def style_path(tmp_path):
    p = tmp_path / "style.png"
    make_style().save(p)
    return p


@pytest.fixture(autouse=True)
def _own_cache(tmp_path_factory, monkeypatch):
    """Every test's processes keep the weights' checksum cache (nst.net.weights) in a folder of the
    test session, never in the user's ~/.cache; a test may set XDG_CACHE_HOME itself."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "xdg-cache"))


@pytest.fixture
def pair(tmp_path):
    """A content and a style image written as c.png and s.png in tmp_path: (content, style)."""
    c, s = tmp_path / "c.png", tmp_path / "s.png"
    make_content().save(c)
    make_style().save(s)
    return c, s
