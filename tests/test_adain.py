"""AdaIN (Huang & Belongie 2017): the warm start's maths, its weights and the run that uses it."""

import numpy as np
import pytest
import torch
from conftest import make_content, make_style
from PIL import Image

from nst import Config, Stylizer, stylize
from nst.core.start import _initial_image
from nst.core.stylizer import prepare_image
from nst.errors import InputError, WeightsError
from nst.net.adain import DECODER_SHA256, AdaIN, adaptive_instance_norm, load_decoder_weights, mean_std
from nst.pixels.images import to_pil, to_tensor


@pytest.fixture(scope="module")
def adain():
    return AdaIN()


def test_adain_gives_the_content_the_style_statistics():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 4, 6, 5, generator=g) * 3 + 1
    y = torch.randn(1, 4, 7, 3, generator=g) * torch.tensor([0.5, 2, 4, 1]).view(1, 4, 1, 1) - 2
    out = adaptive_instance_norm(x, y)
    mu_o, sd_o = mean_std(out, eps=0)
    mu_y, sd_y = mean_std(y)
    assert torch.allclose(mu_o, mu_y, atol=1e-5)
    assert torch.allclose(sd_o, sd_y, rtol=1e-3)
    # the content's normalised pattern is kept: AdaIN is an affine map per channel
    mu_x, sd_x = mean_std(x)
    assert torch.allclose((out - mu_y) / sd_y, (x - mu_x) / sd_x, atol=1e-5)


def test_decoder_weights_checked_by_sha256(tmp_path):
    bad = tmp_path / "decoder.pth"
    torch.save({"1.weight": torch.zeros(1)}, bad)
    with pytest.raises(WeightsError, match="sha256"):
        load_decoder_weights(bad)
    with pytest.raises(WeightsError, match="missing"):
        load_decoder_weights(tmp_path / "none.pth")
    assert len(DECODER_SHA256) == 64


def test_adain_output_has_the_content_size_for_any_size(adain):
    for h, w in ((37, 50), (40, 40), (17, 9)):
        C = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(h))
        S = torch.rand(1, 3, 24, 31, generator=torch.Generator().manual_seed(w))
        out = adain(C, [(S, 1.0)])
        assert out.shape == C.shape
        assert float(out.min()) >= 0 and float(out.max()) <= 1


def test_adain_strength_and_blend(adain):
    C = to_tensor(make_content((48, 40)), "cpu")
    S1 = to_tensor(make_style((40, 40)), "cpu")
    S2 = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    full, half, none = (adain(C, [(S1, 1.0)], s) for s in (1.0, 0.5, 0.0))
    assert not torch.equal(full, half) and not torch.equal(half, none)
    # strength 0 decodes the content's own features: nearer the content than the stylised picture
    assert (none - C).abs().mean() < (full - C).abs().mean()
    # a blend with all the weight on one style is that style
    assert torch.allclose(adain(C, [(S1, 2.0), (S2, 0.0)]), full, atol=1e-6)
    with pytest.raises(InputError, match="strength"):
        adain(C, [(S1, 1.0)], 1.5)


def test_encoder_has_the_normalised_vgg19_weights_and_reflection_padding(adain):
    from nst.net.vgg import load_weights
    ref = load_weights("vgg19-normalized", None)
    convs = [m for m in adain.encoder if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 9  # conv1_1 .. conv4_1
    assert torch.equal(convs[0].weight, ref["0.weight"]) and torch.equal(convs[-1].bias, ref["19.bias"])
    assert all(m.padding_mode == "reflect" for m in convs)


def test_iterations_zero_returns_the_initial_image_for_every_init(content_path, style_path, tmp_path):
    other = tmp_path / "init.png"
    Image.new("RGB", (30, 20), (10, 200, 90)).save(other)
    for init in ("content", "noise", "style", "adain", str(other)):
        cfg = Config(size=40, iterations=0, init=init, device="cpu", seed=5)
        st = Stylizer(cfg)
        content = prepare_image(content_path, 40)
        C = to_tensor(content, st.device)
        style = Image.open(style_path).convert("RGB")
        expected = to_pil(st.initial_image(C, style))
        got = stylize(content_path, style_path, size=40, iterations=0, init=init, device="cpu", seed=5)
        assert np.array_equal(np.asarray(got), np.asarray(expected)), init
        if init == "content":
            assert np.array_equal(np.asarray(got), np.asarray(content))
        elif init != "adain":
            assert torch.equal(to_tensor(got, "cpu"),
                               to_tensor(to_pil(_initial_image(cfg, C, style)), "cpu"))


def test_adain_strength_is_checked():
    with pytest.raises(InputError, match="adain_strength"):
        Config(adain_strength=1.2)
    with pytest.raises(InputError, match="iterations"):
        Config(iterations=-1)
    assert Config(iterations=0).iterations == 0


def test_adain_start_is_computed_at_most_at_adain_max(content_path, style_path, monkeypatch):
    """AdaIN's activations are not tiled: above ADAIN_MAX px the start is made at ADAIN_MAX and
    upsampled (at 4096 px they would take more memory than the whole tiled run)."""
    import nst.core.start as start

    monkeypatch.setattr(start, "ADAIN_MAX", 32)
    seen = []
    original = Stylizer.initial_image

    def spy(self, content, style, *regions):
        seen.append(tuple(content.shape[-2:]))
        return original(self, content, style, *regions)

    monkeypatch.setattr(Stylizer, "initial_image", spy)
    out = stylize(content_path, style_path, size=48, iterations=1, scales=1, device="cpu")
    assert seen == [(27, 32)] and out.size == (48, 40)  # (H, W); the content is 48 x 40


def test_adain_start_without_evaluations_is_made_at_most_at_adain_max(content_path, style_path, monkeypatch):
    """--iterations 0 returns the start at the full size: AdaIN is still run at ADAIN_MAX and
    enlarged (at 8192 px AdaIN's activations took more than 24 GB: OOM-killed)."""
    import nst.core.start as start
    from nst.net.adain import AdaIN

    monkeypatch.setattr(start, "ADAIN_MAX", 32)
    seen = []
    original = AdaIN.transfer

    def spy(self, content, *args, **kwargs):
        seen.append(tuple(content.shape[-2:]))
        return original(self, content, *args, **kwargs)

    monkeypatch.setattr(AdaIN, "transfer", spy)
    out = stylize(content_path, style_path, size=48, iterations=0, device="cpu", init="adain")
    assert seen == [(27, 32)] and out.size == (48, 40)
    assert len(set(out.getdata())) > 50  # a picture, not a flat colour
