"""Regions (nst.core.regions): guided Grams of Gatys et al. (CVPR 2017) with each region's Gram a
mean over its own positions, in J as terms, untiled and tiled alike."""

import pytest
import torch

from nst import Config
from nst.core.costs import guided_gram, layer_style_cost, style_gram
from nst.core.network import build_network
from nst.core.objective import Objective, StyleLayer, Untiled, costs_of
from nst.core.regions import at_layer, guidance, guided
from nst.core.tiling import Geometry, Tiled

LAYERS = ("conv1_1", "conv2_1")


@pytest.fixture(scope="module")
def setup():
    cfg = Config(device="cpu", style_layers="conv1_1,conv2_1", content_layers="conv2_2")
    net = build_network(cfg, torch.device("cpu"))
    gen = torch.Generator().manual_seed(0)
    C, G, S1, S2 = (torch.rand(1, 3, 44, 52, generator=gen) for _ in range(4))
    with torch.no_grad():
        f1, f2 = net(S1), net(S2)
    grams = [{n: style_gram(f[n]) for n in LAYERS} for f in (f1, f2)]
    return cfg, net, C, G, grams, Geometry.of(net).strides


def regions_of(masks, names, grams, strides, H=44, W=52, weights=None):
    T = guidance(masks, H, W)
    out = []
    for i, (t, g) in enumerate(zip(T, grams)):
        r = guided(names[i], g, 1.0 if weights is None else weights[i], t, strides, LAYERS)
        if r is not None:
            out.append(r)
    return out


def evaluate(cfg, net, C, G, style, tile=None):
    costs = costs_of(cfg, style)
    features = [c for c in costs if c.on_features]
    network = Untiled(net, features, C) if tile is None else Tiled(net, features, C, tile=tile)
    return Objective(network, costs)(G)


def test_guided_gram_of_all_ones_is_the_gram():
    a = torch.rand(1, 8, 6, 7)
    assert torch.allclose(guided_gram(a, torch.ones(6, 7)), style_gram(a), rtol=1e-6, atol=0)


def test_guided_gram_is_a_mean_over_the_region():
    """A uniform texture: a region's guided Gram does not depend on how large the region is."""
    a = torch.rand(4, 1, 1).expand(1, 4, 10, 12).clone()  # every position the same vector
    big, small = torch.zeros(10, 12), torch.zeros(10, 12)
    big[:, :8], small[2:4, 3:5] = 1.0, 1.0
    assert torch.allclose(guided_gram(a, big), guided_gram(a, small), rtol=1e-6)
    assert torch.allclose(guided_gram(a, small), style_gram(a), rtol=1e-6)


def test_one_region_over_the_whole_picture_is_todays_J(setup):
    """A mask that is all white: J and its gradient exactly as without regions."""
    cfg, net, C, G, grams, strides = setup
    plain = evaluate(cfg, net, C, G, grams[1])
    whole = evaluate(cfg, net, C, G, regions_of([torch.ones(44, 52)], ["rest", "sky"], [grams[0], grams[1]], strides))
    assert whole.J == plain.J and whole.J_style == plain.J_style
    assert torch.equal(whole.grad, plain.grad)
    assert whole.regions == {"sky": pytest.approx(plain.J_style, rel=1e-6)}


def test_two_disjoint_regions_are_the_sum_of_their_terms(setup):
    cfg, net, C, G, grams, strides = setup
    left = torch.zeros(44, 52)
    left[:, :24] = 1.0
    rs = regions_of([left], ["rest", "left"], grams, strides)
    ev = evaluate(cfg, net, C, G, rs)
    feats = net(G)
    by_region = {}
    for r, g in zip(rs, grams):
        T = {n: r.guidance[n] for n in LAYERS}
        by_region[r.name] = sum(0.5 * layer_style_cost(g[n], feats[n], T[n]).item() for n in LAYERS)
    assert rs[0].weight == pytest.approx(1 - 24 / 52) and rs[1].weight == pytest.approx(24 / 52)
    assert ev.regions == {k: pytest.approx(v, rel=1e-5) for k, v in by_region.items()}
    assert ev.J_style == pytest.approx(sum(r.weight * by_region[r.name] for r in rs), rel=1e-5)


def test_a_guided_term_s_gradient_is_autograd_s(setup):
    cfg, net, C, G, grams, strides = setup
    T = torch.rand(44, 52)
    rs = regions_of([T], ["rest", "soft"], grams, strides)
    ev = evaluate(cfg, net, C, G, rs)
    x = G.clone().requires_grad_(True)
    feats = net(x)
    J_content = ((feats["conv2_2"] - net(C)["conv2_2"]).pow(2).sum() / (4 * feats["conv2_2"].numel()))
    J_style = sum(r.weight * 0.5 * layer_style_cost(g[n], feats[n], r.guidance[n])
                  for r, g in zip(rs, grams) for n in LAYERS)
    (cfg.content_weight * J_content + cfg.style_weight * J_style).backward()
    assert ((ev.grad - x.grad).norm() / x.grad.norm()).item() <= 1e-5


@pytest.mark.parametrize("soft", [False, True])
def test_tiled_equals_untiled_with_masks(setup, soft):
    cfg, net, C, G, grams, strides = setup
    y, x = torch.meshgrid(torch.linspace(0, 1, 44), torch.linspace(0, 1, 52), indexing="ij")
    mask = (x + 0.3 * y).clamp(0, 1) if soft else (x > 0.4).float()
    rs = regions_of([mask], ["rest", "r"], grams, strides)
    assert any(isinstance(t, StyleLayer) and t.T is not None for c in costs_of(cfg, rs) for t in c.terms)
    untiled = evaluate(cfg, net, C, G, rs)
    tiled = evaluate(cfg, net, C, G, rs, tile=16)
    assert tiled.J == pytest.approx(untiled.J, rel=1e-5)
    assert tiled.regions == {k: pytest.approx(v, rel=1e-4) for k, v in untiled.regions.items()}
    assert ((tiled.grad - untiled.grad).norm() / untiled.grad.norm()).item() <= 1e-4


def test_a_region_without_style_gets_no_style_gradient(setup):
    """Style 'none' on the left half: the style term's gradient is zero there at the first layer's
    positions that see only the left half (its receptive field ends before the border)."""
    cfg, net, C, G, grams, strides = setup
    left = torch.zeros(44, 52)
    left[:, :26] = 1.0
    style_only = Config(device="cpu", style_layers="conv1_1", content_layers="conv2_2", content_weight=0.0)
    rs = regions_of([left], ["rest", "photo"], [grams[1], None], strides)
    assert [r.name for r in rs] == ["rest", "photo"]
    ev = evaluate(style_only, net, C, G, rs)
    assert ev.grad[..., :, :24].abs().max().item() == 0.0
    assert ev.grad[..., :, 28:].abs().max().item() > 0
    assert ev.regions.keys() == {"rest"}


def test_no_style_anywhere_leaves_J_content(setup):
    cfg, net, C, G, grams, strides = setup
    rs = regions_of([torch.ones(44, 52)], ["rest", "photo"], [grams[0], None], strides)
    ev = evaluate(cfg, net, C, G, rs)
    assert ev.J_style == 0.0 and ev.J == pytest.approx(cfg.content_weight * ev.J_content)


def test_overlapping_masks_are_shares_of_each_pixel():
    a, b = torch.zeros(8, 8), torch.zeros(8, 8)
    a[:, :6], b[:, 2:] = 1.0, 1.0
    rest, Ta, Tb = guidance([a, b * 0.5], 8, 8)
    total = rest + Ta + Tb
    assert torch.allclose(total, torch.ones_like(total))
    assert Ta[0, 0, 0, 3].item() == pytest.approx(1 / 1.5) and Tb[0, 0, 0, 3].item() == pytest.approx(0.5 / 1.5)
    assert rest[0, 0, 0, 7].item() == pytest.approx(0.5)  # b's soft half leaves half the pixel to the rest


def test_guidance_at_a_layer_averages_its_blocks():
    T = torch.zeros(1, 1, 9, 8)
    T[..., :4, :] = 1.0
    T[..., 4:6, :2] = 1.0
    L = at_layer(T, 2)
    assert L.shape == (4, 4)  # the poolings floor: 9 // 2
    assert L[0, 0] == 1.0 and L[2, 0] == 1.0 and L[2, 1] == 0.0 and L[3, 0] == 0.0
