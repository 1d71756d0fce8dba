"""The memory budget and the plan of a scale (nst.core.planner): pure decisions, no large allocation."""

import re

import pytest
import torch

from nst import Config
from nst.core.network import build_network
from nst.core.planner import (
    ADAM_VECTORS,
    AUTO_TILE_MAX,
    HISTORY_SIZE,
    LBFGS_VECTORS,
    MIN_HISTORY,
    NetworkMemory,
    forward_tile,
    plan_scale,
)
from nst.core.schedule import auto_schedule, expected_seconds, schedule
from nst.core.tiling import Geometry
from nst.errors import InputError, NSTError
from nst.net import memory
from nst.units import memory_arg, parse_memory

GiB = 2**30


@pytest.fixture(scope="module")
def net():
    cfg = Config(device="cpu")
    vgg = build_network(cfg, torch.device("cpu"))
    geo = Geometry.of(vgg)
    return NetworkMemory.of(vgg, cfg.content_layers), geo.stride, geo.halo


def plan(net, size, free, channels=3, **kw):
    mem, stride, halo = net
    return plan_scale(mem, stride, halo, size, size, channels, free=free, **kw)


def V(size, channels=3):
    return 4 * channels * size * size


@pytest.mark.parametrize("text, value", [
    ("4G", 4 * GiB), ("4g", 4 * GiB), ("4GiB", 4 * GiB), ("4gb", 4 * GiB), ("512M", 512 * 2**20),
    ("1.5G", int(1.5 * GiB)), ("3000000000", 3000000000), (2**30, GiB), (" 2 T ", 2 * 2**40),
])
def test_parse_memory(text, value):
    assert parse_memory(text) == value


@pytest.mark.parametrize("text", ["", "four", "4X", "-1G", "4GG", "1K", "0"])
def test_parse_memory_rejects(text):
    with pytest.raises(InputError, match="memory size"):
        parse_memory(text)


def test_config_fields():
    assert Config(max_memory="4G").max_memory == 4 * GiB and Config().max_memory is None
    assert Config(tile="512").tile == 512 and Config(tile="off").tile == "off" and Config().tile == "auto"
    assert Config(scales="3").scales == 3 and Config().scales == "auto"
    for bad in (dict(tile=8), dict(tile="big"), dict(tile=1.5), dict(scales=0), dict(scales="off"),
                dict(max_memory="lots")):
        with pytest.raises(InputError):
            Config(**bad)


def test_plenty_of_memory_is_untiled_with_the_full_history(net):
    p = plan(net, 512, free=64 * GiB)
    assert p.tile is None and p.tiles == 1 and p.optimizer == "lbfgs" and p.history_size == HISTORY_SIZE
    assert p.notes == () and p.estimate <= p.budget


def test_auto_tiles_only_when_an_untiled_evaluation_does_not_fit(net):
    mem = net[0]
    untiled = mem.content_cache(1024, 1024) + mem.evaluation(1024, 1024) + (LBFGS_VECTORS + 2 * MIN_HISTORY) * V(1024)
    assert plan(net, 1024, free=untiled).tile is None
    p = plan(net, 1024, free=untiled - 1)
    assert p.tile is not None and p.tiles > 1 and p.tile <= AUTO_TILE_MAX and p.tile % 16 == 0
    assert p.estimate <= p.budget and p.halo == 80
    assert any("tiles of" in n for n in p.notes)


def test_history_shrinks_before_the_image_is_tiled(net):
    mem = net[0]
    untiled = mem.content_cache(512, 512) + mem.evaluation(512, 512)
    free = untiled + (LBFGS_VECTORS + 2 * 20) * V(512) + 100
    p = plan(net, 512, free=free)
    assert p.tile is None and p.optimizer == "lbfgs" and p.history_size == 20
    assert p.notes == ("L-BFGS history 20 instead of 50",)


def test_adam_when_no_useful_history_fits(net):
    """4096 px under 4 GiB (3 GiB left after PyTorch): L-BFGS's state alone is 15 image-sized
    tensors (2.8 GiB), so Adam (8) with tiles."""
    p = plan(net, 4096, free=3 * GiB)
    assert p.optimizer == "adam" and p.history_size == 0 and p.tile is not None
    assert p.estimate <= 3 * GiB and not p.cache_content
    assert any("Adam instead of L-BFGS" in n for n in p.notes)
    assert plan(net, 4096, free=3 * GiB, optimizer="adam").notes[-1].startswith(f"{p.tiles} tiles")


def test_luminance_G_has_a_third_of_the_state(net):
    rgb, grey = plan(net, 4096, free=6 * GiB), plan(net, 4096, free=6 * GiB, channels=1)
    assert grey.history_size >= rgb.history_size and grey.estimate <= 6 * GiB


def test_forced_tiles_and_off(net):
    p = plan(net, 512, free=64 * GiB, tile=100)
    assert p.tile == 100 and p.tiles == 36 and p.notes == ()
    assert plan(net, 512, free=64 * GiB, tile="off").tile is None
    # The library names the setting as the Python API does; the command line says --tile auto
    # (test_words.py, and the CLI tests of the same message).
    with pytest.raises(NSTError, match="tile='auto'"):
        plan(net, 4096, free=4 * GiB, tile="off")


def test_nothing_fits_names_max_memory(net):
    with pytest.raises(NSTError, match="a larger max_memory"):
        plan(net, 4096, free=ADAM_VECTORS * V(4096) - 1)


def test_under_way_a_scale_that_does_not_fit_goes_on_with_the_smallest_plan(net):
    """The run's start checks every scale strictly; a scale that then finds less free (another
    program took some) goes on with the smallest tiles and Adam, and says so."""
    p = plan(net, 4096, free=GiB, strict=False)
    assert p.optimizer == "adam" and p.tile == 128 and p.estimate > GiB
    assert p.notes[-1].startswith("over the budget (4096x4096 needs at least") and p.notes[-1].endswith("going on")
    p = plan(net, 4096, free=GiB, strict=False, tile="off")
    assert p.tile is None and "going on" in p.notes[-1]


def test_a_budget_that_forces_small_tiles_names_one_that_is_much_faster(net):
    # the case: a 640 x 427 frame with 384 MiB left of 1.2 GiB got 15 tiles of 144 px
    mem, stride, halo = net
    budget = int(1.2 * GiB)
    free = 384 << 20
    p = plan_scale(mem, stride, halo, 427, 640, 3, free=free, max_memory=budget)
    assert p.tile < 256 and p.faster is not None
    larger, ratio = p.faster
    assert ratio >= 3 and larger > budget
    q = plan_scale(mem, stride, halo, 427, 640, 3, free=free + larger - budget, max_memory=larger)
    assert p.work / q.work == pytest.approx(ratio)  # the budget named gives that plan
    # no budget is named for large tiles, for tiles asked for, or with no known budget
    assert plan_scale(mem, stride, halo, 427, 640, 3, free=1 << 30, max_memory=budget).faster is None
    assert plan_scale(mem, stride, halo, 427, 640, 3, free=free, max_memory=budget, tile=144).faster is None
    assert plan_scale(mem, stride, halo, 427, 640, 3, free=free).faster is None


def test_the_slow_plan_is_said_in_one_line_once():
    from nst.core.planner import Plan
    from nst.jobs.runner import note_slow_plan, slow_plan

    def plan(tile, faster):
        return Plan(427, 640, tile, 15, 80, "lbfgs", 5, False, 5.0, 1, 1, max_memory=int(1.2 * GiB), faster=faster)

    fast, slow = plan(None, None), plan(144, (int(1.8 * GiB), 4.65))
    assert slow_plan([fast]) is None
    assert slow_plan([fast, slow]) == ("640x427 runs in 15 tiles of 144 px within the memory budget of 1.2 GiB: "
                                       "each evaluation about 4.7x slower than within 1.8 GiB")
    heard = []
    on_plans = note_slow_plan(heard.append)
    for _ in range(3):  # a clip's frames
        on_plans([slow])
    assert len(heard) == 1


def test_forward_tile(net):
    mem, stride, halo = net
    assert forward_tile(mem, stride, halo, 512, 512, free=64 * GiB) is None
    t = forward_tile(mem, stride, halo, 4096, 4096, free=GiB)
    assert t is not None and t % stride == 0 and mem.forward(t + 2 * halo, t + 2 * halo) <= GiB
    assert forward_tile(mem, stride, halo, 512, 512, free=64 * GiB, tile=64) == 64
    assert forward_tile(mem, stride, halo, 4096, 4096, free=1, tile="off") is None


def test_default_budget_is_a_fraction_of_what_is_free():
    cpu = torch.device("cpu")
    used, free = memory.in_use(cpu), memory.available(cpu)
    assert 0 < used and 0 < free
    assert used < memory.default_budget(cpu) <= used + free


def test_auto_schedule():
    assert auto_schedule(384, 60) == [(384, 60)]
    assert auto_schedule(1023, 60) == [(1023, 60)]
    assert auto_schedule(1024, 60) == [(512, 40), (1024, 20)]
    assert auto_schedule(4096, 60) == [(512, 32), (1024, 16), (2048, 8), (4096, 4)]
    assert auto_schedule(3000, 60) == [(750, 34), (1500, 17), (3000, 9)]
    assert auto_schedule(4096, 2) == [(2048, 1), (4096, 1)], "one evaluation per level at least; the finest kept"
    assert schedule(Config(size=4096)) == auto_schedule(4096, Config().iterations)
    assert auto_schedule(4096, 0) == [(4096, 0)], "--iterations 0: the initial image at the full size"
    assert sum(n for _, n in auto_schedule(8192, 61)) == 61


def test_expected_seconds():
    # 3 s for the first of 10 evaluations at scale 0, then 5 at a scale whose work is 4x.
    assert expected_seconds(3.5, 3.0, 0, [10, 5], [1.0, 4.0]) == pytest.approx(3.5 + 9 * 3 + 5 * 12)
    assert expected_seconds(100.0, 12.0, 1, [10, 5], [1.0, 4.0]) == pytest.approx(100 + 4 * 12)


@pytest.mark.parametrize("size, free", [(1024, GiB), (2048, 3 * GiB), (1500, 2 * GiB), (4096, 3 * GiB)])
def test_the_plan_tiles_as_the_cost_will(net, size, free):
    """Plan.tile and Plan.tiles describe the tiles TiledFeatureCost makes from Plan.tile."""
    from nst.core.tiling import tiles
    mem, stride, halo = net
    p = plan_scale(mem, stride, halo, size, size * 3 // 4, 3, free=free)
    assert p.tile is not None and len(tiles(size, size * 3 // 4, p.tile, Geometry(stride, halo, {}))) == p.tiles


@pytest.mark.parametrize("chunk", [None, 100])
def test_the_loops_fold_without_autograd_is_bit_identical(monkeypatch, chunk):
    """optim's closure folds z in one buffer and takes dJ/dz in the gradient's own (slice by slice:
    no image-sized temporary), without autograd's graph (its memory is planned): the same floats
    as autograd through fold, across slices that do not divide the image."""
    from nst.core import optim
    from nst.core.optim import _fold_scaled, _fold_scaled_backward, fold
    if chunk is not None:
        monkeypatch.setattr(optim, "FOLD_CHUNK", chunk)
    gen = torch.Generator().manual_seed(0)
    z = (torch.rand(1, 3, 17, 13, generator=gen) * 6 - 3).requires_grad_(True)
    g = torch.randn(1, 3, 17, 13, generator=gen)
    k = 33.15
    G = fold(z * k)
    G.backward(g)
    assert torch.equal(_fold_scaled(z, k), G.detach())
    expected = z.grad.clone()
    out = _fold_scaled_backward(z, k, g.clone())
    assert torch.equal(out, expected)
    for zl, gl in ((torch.channels_last,) * 2, (torch.contiguous_format, torch.channels_last)):
        g_in = g.contiguous(memory_format=gl)
        out = _fold_scaled_backward(z.detach().contiguous(memory_format=zl), k, g_in)
        assert torch.equal(out, expected) and (out is g_in) == (zl == gl), "in place where the layouts agree"


def test_a_budget_below_the_fixed_costs_is_a_usage_error_naming_the_smallest_that_works(tmp_path):
    """#17.4: not a negative budget and exit 1, but what is in use, the least budget, exit 2; in a batch too."""
    import re

    from click.testing import CliRunner
    from conftest import make_content, make_style

    from nst.cli import main
    make_content().save(tmp_path / "c.png")
    make_style().save(tmp_path / "s.png")
    (tmp_path / "more").mkdir()
    make_content().save(tmp_path / "more" / "d.png")
    for out in (tmp_path / "out.png", tmp_path / "styled"):
        args = [str(tmp_path / "c.png"), *([str(tmp_path / "more")] if out.name == "styled" else []),
                str(tmp_path / "s.png"), "-o", str(out), "--size", "64", "--iterations", "1", "--device", "cpu"]
        r = CliRunner().invoke(main, [*args, "--max-memory", "64M"])
        assert r.exit_code == 2, r.output
        (line,) = r.stderr.strip().splitlines()
        m = re.fullmatch(r"Error: --max-memory 64 MiB is too small for this run: PyTorch, the network and the "
                         r"images take [0-9.]+ [MG]iB, and a 64x53 image needs at least [0-9.]+ MiB untiled; the "
                         r"smallest budget that works is about (\S+): use --max-memory \1 or more, or a smaller "
                         r"--size", line)
        assert m, line
        assert not (tmp_path / "out.png").exists() and not list(tmp_path.glob("styled/*.png"))
    r = CliRunner().invoke(main, [*args, "--max-memory", str(parse_memory(m[1]) + 2**28)])  # plus what tests add
    assert r.exit_code == 0, r.output


def test_memory_arg_is_never_below_the_bytes():
    for n in (2**26 + 1, 700 * 2**20 + 5, 2**30, 2**30 + 1, 5 * 2**30 + 123):
        assert parse_memory(memory_arg(n)) >= n


def test_the_heap_is_bound_only_where_a_plan_comes_near_its_budget(monkeypatch):
    """glibc's fixed mmap threshold (memory.bound_heap) makes the RSS follow what is in use, at
    the price of a page fault per 4 KiB of every tensor made again: only plans near their budget
    (estimate x HEAP_SLACK over what they have) pay it."""
    from nst.core.network import Network
    bound = []
    monkeypatch.setattr(memory, "bound_heap", lambda: bound.append(True))
    st = Network(Config(device="cpu", max_memory="16G"))
    p = st.plan(256, 256)
    assert p.estimate * memory.HEAP_SLACK <= p.budget and bound == []
    p = st.plan(256, 256, free=p.estimate + p.estimate // 2)  # fits, with less than HEAP_SLACK to spare
    assert p.tile is None and bound == [True]


def test_a_budget_that_forces_small_tiles_is_said_before_work(tmp_path, monkeypatch):
    """A small budget is not a trap: one line, before the first evaluation, names a budget that is
    several times faster (the process's own memory is taken as 0 here, so that the plan does not
    depend on the machine)."""
    from click.testing import CliRunner
    from conftest import make_content, make_style

    from nst.cli import main
    monkeypatch.setattr(memory, "in_use", lambda device: 0)
    make_content((640, 427)).save(tmp_path / "c.png")
    make_style().save(tmp_path / "s.png")
    r = CliRunner().invoke(main, [str(tmp_path / "c.png"), str(tmp_path / "s.png"), "-o", str(tmp_path / "o.png"),
                                  "--size", "640", "--iterations", "1", "--scales", "1", "--device", "cpu",
                                  "--precision", "float32", "--max-memory", "400M"])
    assert r.exit_code == 0, r.output
    lines = [x for x in r.stderr.splitlines() if "tiles of" in x and "slower than within" in x]
    assert len(lines) == 1, r.stderr
    assert re.search(r"640x427 runs in \d+ tiles of 1\d\d px within the memory budget of 400 MiB: each evaluation "
                     r"about [3-9]\.\dx slower than within [0-9.]+ [MG]iB", lines[0]), lines[0]


def test_a_scale_of_few_evaluations_takes_adam_when_l_bfgs_leaves_only_small_tiles(net):
    # a 4096 x 2730 scale with 4.5 GiB free: L-BFGS's 31 image-sized vectors leave 288 px tiles
    mem, stride, halo = net
    free = int(4.5 * GiB)
    lbfgs = plan_scale(mem, stride, halo, 2730, 4096, 3, free=free, evaluations=30)
    assert lbfgs.optimizer == "lbfgs" and lbfgs.tile is not None
    few = plan_scale(mem, stride, halo, 2730, 4096, 3, free=free, evaluations=3)
    assert few.optimizer == "adam" and few.tile > lbfgs.tile and few.work * 2 <= lbfgs.work
    assert any(n.startswith("Adam instead of L-BFGS for 3 evaluations") for n in few.notes), few.notes
    assert few.estimate <= free
    # untiled, or no evaluation count: L-BFGS as before
    assert plan_scale(mem, stride, halo, 2730, 4096, 3, free=free).optimizer == "lbfgs"
    assert plan_scale(mem, stride, halo, 512, 512, 3, free=free, evaluations=3).optimizer == "lbfgs"
