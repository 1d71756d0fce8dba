"""The optimisation loop and stylize() on tiny images with the real default weights."""

import numpy as np
import pytest
import torch
from PIL import Image

from nst import Config, Iterate, stylize
from nst.errors import InputError
from nst.transfer import fold

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
    _, its = run(content_path, style_path, iterations=1)
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
    (dict(size=4), "size"), (dict(iterations=0), "iterations"), (dict(style_weight=-1.0), "style_weight"),
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
