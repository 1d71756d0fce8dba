"""The optimisation loop and stylize() on tiny images with the real default weights."""

import numpy as np
import pytest
import torch
from PIL import Image

from nst import Config, Iterate, stylize
from nst.core.optim import fold
from nst.errors import InputError

TINY = dict(size=40, iterations=6, device="cpu")


def run(content, style, **kw):
    its: list[Iterate] = []
    img = stylize(content, style, progress=its.append, **{**TINY, **kw})
    return img, its


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_stylize_lowers_J(content_path, style_path, optimizer):
    img, its = run(content_path, style_path, optimizer=optimizer, iterations=8)
    assert isinstance(img, Image.Image) and img.mode == "RGB"
    assert max(img.size) == 40 and img.size == (40, 33)  # content is 48x40: aspect kept
    assert [it.i for it in its] == list(range(1, 9)), "--iterations counts evaluations"
    assert its[-1].J < its[0].J
    assert all(np.isfinite(it.J) for it in its)


def test_iterate_fields_consistent(content_path, style_path):
    _, its = run(content_path, style_path, iterations=3, content_weight=2.0, style_weight=5.0)
    it = its[-1]
    assert it.J == pytest.approx(2.0 * it.J_content + 5.0 * it.J_style, rel=1e-5)
    assert it.image.shape == (1, 3, 33, 40) and 0 <= float(it.image.min()) and float(it.image.max()) <= 1


def test_content_init_zero_content_cost_first(content_path, style_path):
    _, its = run(content_path, style_path, iterations=1, init="content")
    assert its[0].J_content == pytest.approx(0.0, abs=1e-6)


def test_same_seed_same_output(content_path, style_path):
    a, _ = run(content_path, style_path, init="noise", seed=3)
    b, _ = run(content_path, style_path, init="noise", seed=3)
    c, _ = run(content_path, style_path, init="noise", seed=4)
    assert np.array_equal(np.asarray(a), np.asarray(b))
    assert not np.array_equal(np.asarray(a), np.asarray(c))


def test_pil_inputs_and_style_init(content_path, style_path):
    img, its = run(Image.open(content_path), Image.open(style_path), init="style", iterations=2)
    assert img.size == (40, 33) and len(its) == 2


def test_init_from_path(content_path, style_path):
    img, _ = run(content_path, style_path, init=str(style_path), iterations=2)
    assert img.size == (40, 33)


def test_fold_keeps_pixels_valid_and_is_identity_inside():
    z = torch.tensor([-1.5, -0.25, 0.0, 0.3, 1.0, 1.25, 2.5])
    torch.testing.assert_close(fold(z), torch.tensor([0.5, 0.25, 0.0, 0.3, 1.0, 0.75, 0.5]))


@pytest.mark.parametrize("bad, match", [
    (dict(size=4), "size"), (dict(iterations=-1), "iterations"), (dict(style_weight=-1.0), "style_weight"),
    (dict(optimizer="sgd"), "optimizer"), (dict(content_layers="conv4_9"), "unknown layer"),
    (dict(style_layers="conv1_1:x"), "bad layer weight"), (dict(style_layers="conv1_1:-1"), "non-negative"),
    (dict(init="nowhere.png"), "init"), (dict(pooling="min"), "pooling"), (dict(device="tpu"), "device"),
])
def test_bad_options_raise_input_error(content_path, style_path, bad, match):
    with pytest.raises(InputError, match=match):
        stylize(content_path, style_path, **{**TINY, **bad})


def test_config_parses_layer_specs():
    cfg = Config(content_layers="conv4_2, relu5_1", style_layers="conv1_1:2,conv2_1")
    assert cfg.content_layers == ("conv4_2", "relu5_1")
    assert cfg.style_layers == (("conv1_1", 2.0), ("conv2_1", 1.0))
    assert Config(style_layers={"conv3_1": 0.5}).style_layers == (("conv3_1", 0.5),)


# --- coarse to fine, colour, style scale, TV, emphasis, blends -----------------------------

from nst.core.costs import style_gram  # noqa: E402
from nst.core.objective import total_variation  # noqa: E402
from nst.core.schedule import schedule  # noqa: E402
from nst.core.stylizer import Stylizer  # noqa: E402
from nst.pixels import color  # noqa: E402
from nst.pixels.images import resize_long_edge, to_tensor  # noqa: E402


def test_schedule_sqrt2_apart_ending_at_size():
    plan = schedule(Config(size=512, scales=3, iterations=100))
    assert [s for s, _ in plan] == [256, 362, 512]
    assert [n for _, n in plan] == [25, 25, 50]
    assert schedule(Config(size=512, scales=1, iterations=7)) == [(512, 7)]
    assert [s for s, _ in schedule(Config(size=100, scales=5))] == [71, 100], "never below 64 px"


def test_coarse_to_fine_runs_every_scale_in_order(content_path, style_path):
    img, its = run(content_path, style_path, size=96, scales=2, iterations=6)
    assert img.size == (96, 80)
    assert [it.i for it in its] == list(range(1, 7)) and {it.total for it in its} == {6}
    assert [it.scale for it in its] == [0, 0, 0, 1, 1, 1]
    assert its[0].size == (68, 57) and its[-1].size == (96, 80)


def test_iterate_reports_each_style_layer(content_path, style_path):
    _, its = run(content_path, style_path, iterations=2, style_layers="conv1_1:3,conv2_1")
    it = its[-1]
    assert list(it.style_layers) == ["conv1_1", "conv2_1"]
    assert it.J_style == pytest.approx(0.75 * it.style_layers["conv1_1"] + 0.25 * it.style_layers["conv2_1"],
                                       rel=1e-5)


def test_total_variation_analytic():
    G = torch.zeros(1, 1, 3, 4)
    assert total_variation(G).item() == 0
    G[..., :, 2:] = 1.0  # one vertical edge: 3 of the 9 horizontal neighbour pairs differ by 1
    assert total_variation(G).item() == pytest.approx(3 / 9)


def test_tv_weight_enters_J(content_path, style_path):
    _, its = run(content_path, style_path, iterations=3, tv_weight=50.0)
    for it in its:
        assert it.J_tv > 0
        assert it.J == pytest.approx(it.J_content + 10 * it.J_style + 50.0 * it.J_tv, rel=1e-5)


def test_style_emphasis_sets_lambdas_by_depth():
    assert Config().style_lambdas == (1.0,) * 5
    assert Config(style_emphasis="soft").style_lambdas == (1.0, 2.0, 3.0, 4.0, 5.0)
    assert Config(style_emphasis="strong").style_lambdas == (5.0, 4.0, 3.0, 2.0, 1.0)
    assert Config(style_emphasis="soft", style_layers="conv3_1,conv1_1").style_lambdas == (2.0, 1.0)
    with pytest.raises(InputError, match="not both"):
        Config(style_emphasis="soft", style_layers="conv1_1:2,conv2_1")


def grams_by_hand(st, image, size):
    with torch.no_grad():
        feats = st.net(to_tensor(resize_long_edge(image, size)))
    return {n: style_gram(feats[n]) for n, _ in st.cfg.style_layers}


def test_style_scale_resizes_the_style_relative_to_the_content(style_path):
    st = Stylizer(Config(device="cpu", precision="float32", style_scale=2.0, style_layers="conv1_1,conv2_1"))
    style = Image.open(style_path).convert("RGB")
    got = st.style_targets(style, 40)
    want = grams_by_hand(st, style, 80)
    for n in want:
        torch.testing.assert_close(got[n], want[n])


def test_histogram_mode_matches_the_style_colours_to_the_content(content_path, style_path):
    st = Stylizer(Config(device="cpu", precision="float32", preserve_color="histogram", style_layers="conv1_1"))
    style = Image.open(style_path).convert("RGB")
    C = to_tensor(Image.open(content_path).convert("RGB"))
    with pytest.raises(InputError, match="content"):
        st.style_targets(style, 40)
    got = st.style_targets(style, 40, C)["conv1_1"]
    with torch.no_grad():
        want = style_gram(st.net(color.match_color(to_tensor(style), C))["conv1_1"])
    torch.testing.assert_close(got, want)


def test_luminance_mode_keeps_the_content_colours(content_path, style_path):
    img, its = run(content_path, style_path, iterations=4, preserve_color="luminance")
    C = to_tensor(resize_long_edge(Image.open(content_path).convert("RGB"), 40))
    out = to_tensor(img)
    iq_out, iq_content = color.rgb_to_yiq(out)[:, 1:], color.rgb_to_yiq(C)[:, 1:]
    unclipped = (out > 0.02).all(1, keepdim=True) & (out < 0.98).all(1, keepdim=True)
    diff = (iq_out - iq_content).abs()[unclipped.expand_as(iq_out)]
    assert diff.max() < 0.02, "chroma is the content's (up to 8-bit rounding)"
    assert not torch.allclose(color.luminance(out), color.luminance(C), atol=0.02), "luminance was stylized"


def test_blend_of_two_styles(content_path, style_path, tmp_path):
    other = tmp_path / "other.png"
    Image.new("RGB", (40, 40), (250, 120, 0)).save(other)
    img, its = run(content_path, [(style_path, 2.0), (other, 1.0)], iterations=3)
    assert img.size == (40, 33) and len(its) == 3
    with pytest.raises(InputError, match="weights"):
        run(content_path, [(style_path, -1.0), (other, 1.0)])


def test_bfloat16_network_keeps_costs_in_float32(content_path, style_path, monkeypatch):
    """--precision bfloat16: the network under bfloat16 autocast (CUDA's default), the costs in float32."""
    img, its = run(content_path, style_path, iterations=8, precision="bfloat16", init="content")
    assert its[-1].J < its[0].J and all(np.isfinite(it.J) for it in its)
    assert its[0].J_content == pytest.approx(0.0, abs=1e-3), "content targets from the same bf16 network"


def test_a_scale_is_planned_without_the_previous_scales_optimiser_state(content_path, style_path, monkeypatch):
    # Held, the last scale's L-BFGS pairs counted as memory in use when the next scale was
    # planned (a whole 4096² run found 2.0 GiB of its 4 free there, 0.8 less than alone).
    import gc
    import weakref

    import nst.core.scales as transfer
    outcomes, alive_at_plan = [], []
    minimize, plan = transfer.minimize, Stylizer.plan

    def recording_minimize(*args, **kwargs):
        outcome = minimize(*args, **kwargs)
        outcomes.append(weakref.ref(outcome))
        return outcome

    def checking_plan(self, *args, **kwargs):
        gc.collect()
        alive_at_plan.append(sum(ref() is not None for ref in outcomes))
        return plan(self, *args, **kwargs)

    monkeypatch.setattr(transfer, "minimize", recording_minimize)
    monkeypatch.setattr(Stylizer, "plan", checking_plan)
    stylize(content_path, style_path, size=96, iterations=6, scales=2, device="cpu")
    assert len(outcomes) == 2 and alive_at_plan[-2:] == [0, 0]


def test_the_eta_follows_the_latest_evaluations(monkeypatch, content_path, style_path):
    """#17.3: a machine that became loaded after the first evaluations: the forecast of the time
    left follows the evaluations' latest times, not the first one's."""
    import time

    from nst.core.objective import Untiled
    real, calls = Untiled.__call__, [0]

    def slowing(self, G):
        calls[0] += 1
        if calls[0] > 3:
            time.sleep(0.05)
        return real(self, G)

    monkeypatch.setattr(Untiled, "__call__", slowing)
    its = []
    stylize(content_path, style_path, size=32, iterations=14, device="cpu", init="content", progress=its.append)
    for it in its[8:-1]:
        left = it.eta - it.seconds
        assert left >= 0.9 * 0.05 * (it.total - it.i) > 0, (it.i, left)
    assert its[-1].eta == pytest.approx(its[-1].seconds)


def test_expected_seconds_after_several_evaluations():
    from nst.core.schedule import expected_seconds
    assert expected_seconds(10.0, 2.0, 0, [10, 5], [1.0, 4.0], done=4) == pytest.approx(10 + 6 * 2 + 5 * 8)
