"""Exact tiled evaluation (nst.core.tiling): the same J and dJ/dG as the untiled network, on tiny images."""

import dataclasses

import pytest
import torch

from nst import Config, stylize
from nst.core import tiling
from nst.core.costs import style_gram
from nst.core.network import build_network
from nst.core.objective import Untiled, costs_of
from nst.core.tiling import Geometry, Tiled, splits, tiled_grams, tiles

SHALLOW = dict(style_layers="conv1_1,conv2_1,conv3_1", content_layers="conv2_2")  # halo 12 px: real cuts
DEFAULT_LAYERS = dict()  # conv1_1 .. conv5_1 and conv4_2: halo 80 px


def _setup(layers, pooling, size, style_size, seed=0):
    cfg = Config(device="cpu", pooling=pooling, style_weight=10.0, content_weight=2.0, **layers)
    net = build_network(cfg, torch.device("cpu"))
    gen = torch.Generator().manual_seed(seed)
    h, w = size
    C, G = torch.rand(1, 3, h, w, generator=gen), torch.rand(1, 3, h, w, generator=gen)
    S = torch.rand(1, 3, *style_size, generator=gen)
    with torch.no_grad():
        feats = net(S)
    grams = {n: style_gram(feats[n]) for n, _ in cfg.style_layers}
    return cfg, net, C, G, grams


def _network_part(evaluate, G):
    """(J_content, [J_style^l], dJ/dG) of an evaluator of J's network part."""
    values, grad = evaluate(G)
    return values[0], values[1:], grad


def FeatureCost(net, cfg, C, grams):
    return lambda G: _network_part(Untiled(net, costs_of(cfg, grams)[:2], C), G)


class TiledFeatureCost(Tiled):
    def __init__(self, net, cfg, C, grams, *, tile, cache_content=True):
        super().__init__(net, costs_of(cfg, grams)[:2], C, tile=tile, cache_content=cache_content)

    def __call__(self, G):
        return _network_part(super().__call__, G)


def _rel(a, b):
    return ((a - b).norm() / b.norm()).item()


@pytest.mark.parametrize("layers, pooling, size, style_size, tile, cache_content", [
    (SHALLOW, "avg", (61, 53), (61, 53), 16, True),          # odd sizes, tiles cut through the image
    (SHALLOW, "avg", (61, 53), (61, 53), 16, False),         # the content recomputed per tile
    (SHALLOW, "max", (64, 47), (40, 30), 16, True),          # max pooling, style smaller than content
    (dict(style_layers="relu1_1,relu2_1,pool2", content_layers="relu2_2"), "max", (45, 37), (50, 58), 16, False),
    (DEFAULT_LAYERS, "avg", (64, 50), (33, 47), 32, True),   # the default layers: halo 80 px
    (DEFAULT_LAYERS, "max", (57, 63), (57, 63), 32, False),
])
def test_tiled_J_and_gradient_equal_untiled(layers, pooling, size, style_size, tile, cache_content):
    cfg, net, C, G, grams = _setup(layers, pooling, size, style_size)
    Jc, Js, grad = FeatureCost(net, cfg, C, grams)(G)
    cost = TiledFeatureCost(net, cfg, C, grams, tile=tile, cache_content=cache_content)
    assert len(cost.tiles) > 1
    tJc, tJs, tgrad = cost(G)
    assert tJc.item() == pytest.approx(Jc.item(), rel=1e-5)
    for a, b in zip(tJs, Js):
        assert a.item() == pytest.approx(b.item(), rel=1e-5)
    assert tgrad.shape == grad.shape
    assert _rel(tgrad, grad) <= 1e-4


def test_a_halo_one_stride_short_is_wrong(monkeypatch):
    """The halo of Geometry.of is needed: one stride less and the gradient is off (so the test above can fail)."""
    cfg, net, C, G, grams = _setup(SHALLOW, "avg", (61, 53), (61, 53))
    _, _, grad = FeatureCost(net, cfg, C, grams)(G)
    geo = Geometry.of(net)
    short = dataclasses.replace(geo, halo=geo.halo - geo.stride)
    monkeypatch.setattr(tiling.Geometry, "of", classmethod(lambda cls, net: short))
    _, _, tgrad = TiledFeatureCost(net, cfg, C, grams, tile=16)(G)
    assert _rel(tgrad, grad) > 1e-3


@pytest.mark.parametrize("layers, stride, halo", [
    ("conv1_1", 1, 1), ("conv1_2", 1, 2), ("conv2_1", 2, 4), ("conv3_1", 4, 12), ("pool3", 8, 24),
    ("conv1_1,conv2_1,conv3_1,conv4_1,conv5_1,conv4_2", 16, 80),
])
def test_geometry(layers, stride, halo):
    net = build_network(Config(device="cpu", style_layers=layers, content_layers="conv1_1"), torch.device("cpu"))
    geo = Geometry.of(net)
    assert (geo.stride, geo.halo) == (stride, halo)
    assert geo.round_tile(1) == stride and geo.round_tile(stride + 1) == 2 * stride


@pytest.mark.parametrize("n, tile, stride", [(53, 16, 4), (64, 16, 16), (4096, 592, 16), (17, 16, 16), (5, 16, 16)])
def test_splits_cover_the_axis_on_the_stride_grid(n, tile, stride):
    parts = splits(n, tile, stride)
    assert parts[0][0] == 0 and parts[-1][1] == n
    assert all(a == b for (_, a), (b, _) in zip(parts, parts[1:])), "contiguous, no overlap"
    assert all(a % stride == 0 and 0 < b - a <= tile for a, b in parts)


def test_tiles_clip_the_halo_at_the_border():
    net = build_network(Config(device="cpu", **SHALLOW), torch.device("cpu"))
    ts = tiles(61, 53, 16, Geometry.of(net))
    assert len(ts) == 4 * 4
    first, last = ts[0], ts[-1]
    assert (first.cy0, first.cx0, first.cy1, first.cx1) == (0, 0, 16 + 12, 16 + 12)
    assert (last.cy1, last.cx1) == (61, 53) and (last.cy0, last.cx0) == (last.y0 - 12, last.x0 - 12)


@pytest.mark.parametrize("pooling", ["avg", "max"])
def test_tiled_grams_equal_style_gram(pooling):
    """Style targets of a large style image, tile by tile (pass 1 over S)."""
    cfg, net, _, _, _ = _setup(DEFAULT_LAYERS, pooling, (32, 32), (32, 32))
    S = torch.rand(1, 3, 71, 50, generator=torch.Generator().manual_seed(1))
    names = [n for n, _ in cfg.style_layers]
    with torch.no_grad():
        want = {n: style_gram(f) for n, f in net(S).items() if n in names}
    got = tiled_grams(net, S, names, 16)
    for n in names:
        assert _rel(got[n], want[n]) <= 1e-5


def _final_J(content_path, style_path, **kw):
    # float32: in bfloat16 (the default on CPUs with native bfloat16) a tile's convolutions round
    # differently from the whole image's, and a few L-BFGS steps amplify that (2 % apart after 6).
    its = []
    stylize(content_path, style_path, progress=its.append,
            **{**dict(size=48, iterations=6, device="cpu", precision="float32", **SHALLOW), **kw})
    return its


@pytest.mark.parametrize("options", [{}, {"preserve_color": "luminance", "style_scale": 1.5, "pooling": "max"}])
def test_a_short_tiled_run_ends_at_the_untiled_J(content_path, style_path, options):
    untiled = _final_J(content_path, style_path, tile="off", **options)
    tiled = _final_J(content_path, style_path, tile=16, **options)
    assert tiled[-1].plan.tile == 16 and tiled[-1].plan.tiles == 9 and untiled[-1].plan.tile is None
    assert tiled[0].J == pytest.approx(untiled[0].J, rel=1e-5), "the same J at the same G"
    assert tiled[-1].J == pytest.approx(untiled[-1].J, rel=0.01)


def test_a_style_larger_than_the_budget_is_tiled(content_path, style_path, monkeypatch):
    """The style targets too are summed over tiles when the whole style would not fit."""
    from PIL import Image

    from nst.core import planner as memory
    from nst.core.stylizer import Stylizer

    st = Stylizer(Config(device="cpu", **SHALLOW))
    style = Image.open(style_path).convert("RGB")
    want = st.style_targets(style, 64)
    calls = []
    real = tiling.tiled_grams
    monkeypatch.setattr(memory.NetworkMemory, "forward", lambda self, h, w: 10**12 if h * w > 48 * 48 else 1)
    monkeypatch.setattr("nst.core.network.tiled_grams", lambda *a, **k: calls.append(a[3]) or real(*a, **k))
    got = st.style_targets(style, 64)
    assert calls and calls[0] < 64
    for n in want:
        assert _rel(got[n], want[n]) <= 1e-5


# --- the command line ---------------------------------------------------------------------------

def _invoke(*args):
    from click.testing import CliRunner

    from nst.cli import main
    return CliRunner().invoke(main, [str(a) for a in args])


def test_cli_tiles_and_records_the_plan(tmp_path, content_path, style_path):
    import json

    out = tmp_path / "o.png"
    r = _invoke(content_path, style_path, "-o", out, "--size", "48", "--iterations", "3", "--device", "cpu",
                "--style-layers", SHALLOW["style_layers"], "--content-layers", SHALLOW["content_layers"],
                "--tile", "16", "--max-memory", "20G")
    assert r.exit_code == 0, r.output
    rec = json.loads(_invoke("info", out).stdout)
    assert rec["settings"]["tile"] == 16 and rec["settings"]["max_memory"] == 20 * 2**30
    assert rec["max_memory"] == 20 * 2**30
    (scale,) = rec["scales"]
    assert scale.items() >= {"size": [48, 40], "tile": 16, "tiles": 9, "halo": 12, "optimizer": "lbfgs",
                             "history_size": 50, "content": "cached"}.items()
    assert 0 < scale["planned_peak"] < 20 * 2**30


@pytest.mark.parametrize("args, flag", [(["--tile", "8"], "--tile"), (["--tile", "big"], "--tile"),
                                        (["--max-memory", "lots"], "--max-memory"), (["--scales", "0"], "--scales"),
                                        (["--max-memory", "1K"], "--max-memory")])
def test_cli_bad_tile_and_memory_are_usage_errors(tmp_path, content_path, style_path, args, flag):
    r = _invoke(content_path, style_path, "-o", tmp_path / "o.jpg", "--device", "cpu", *args)
    assert r.exit_code == 2 and flag in r.stderr and "Traceback" not in r.stderr, r.output


@pytest.mark.parametrize("tile, says", [("off", "--tile auto"), ("auto", "tiles of 128 px")])
def test_cli_too_large_for_the_budget_is_one_line_before_any_work(tmp_path, content_path, style_path, monkeypatch,
                                                                    tile, says):
    """A budget that some scale's plan cannot fit: one line naming --max-memory, before the first
    evaluation (the run's start plans every scale)."""
    from nst.core import scales as transfer
    from nst.net import memory
    monkeypatch.setattr(memory, "in_use", lambda device: 0)
    monkeypatch.setattr(transfer, "minimize", lambda *a, **k: pytest.fail("the run started"))
    r = _invoke(content_path, style_path, "-o", tmp_path / "o.jpg", "--size", "200", "--device", "cpu",
                "--tile", tile, "--max-memory", "64M")
    assert r.exit_code == 2, r.output  # a usage error (#17.4)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0] and "--max-memory" in lines[0], r.stderr
    assert not (tmp_path / "o.jpg").exists()


def test_out_of_memory_names_max_memory_and_tile(tmp_path, content_path, style_path, monkeypatch):
    from nst.core import scales as transfer

    def no_memory(*args, **kwargs):
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 68719476736 bytes.")

    monkeypatch.setattr(transfer, "minimize", no_memory)
    r = _invoke(content_path, style_path, "-o", tmp_path / "o.jpg", "--size", "40", "--device", "cpu",
                "--max-memory", "6G", "--tile", "off")
    assert r.exit_code == 1
    line = r.stderr.strip().splitlines()[-1]
    assert line == ("Error: out of memory on cpu at --size 40; try a smaller --max-memory than 6.0G, --tile auto "
                    "or --size 16"), line
