"""VGG19 by layer name, truncation, weight layouts and their checks."""

import socket

import pytest
import torch
import torch.nn.functional as F

from nst.errors import InputError, NSTError, WeightsError
from nst.net import vgg
from nst.net.vgg import LAYER_INDEX, LAYER_NAMES, VGGFeatures


def test_layer_names_follow_torchvision_indices():
    assert len(LAYER_NAMES) == 37
    expected = {"conv1_1": 0, "relu1_1": 1, "pool1": 4, "conv2_1": 5, "conv3_1": 10, "conv4_1": 19,
                "conv4_2": 21, "relu4_2": 22, "pool4": 27, "conv5_1": 28, "conv5_4": 34, "relu5_4": 35, "pool5": 36}
    assert {k: LAYER_INDEX[k] for k in expected} == expected
    assert vgg.CONV_INDICES == (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34)


@pytest.fixture(scope="module")
def net():
    return VGGFeatures(["conv1_1", "relu2_1", "conv4_2"], pooling="max")


def test_truncated_after_deepest_layer_frozen_eval(net):
    assert len(net.features) == LAYER_INDEX["conv4_2"] + 1
    assert not net.training
    assert all(not p.requires_grad for p in net.parameters())


def test_returns_named_activations_with_shapes(net):
    out = net(torch.rand(1, 3, 32, 48))
    assert set(out) == {"conv1_1", "relu2_1", "conv4_2"}
    assert out["conv1_1"].shape == (1, 64, 32, 48)
    assert out["relu2_1"].shape == (1, 128, 16, 24)
    assert out["conv4_2"].shape == (1, 512, 4, 6)
    assert (out["relu2_1"] >= 0).all()
    assert (out["conv1_1"] < 0).any(), "conv output must be taken before the (not in-place) ReLU"


def test_avg_pooling_replaces_max():
    n = VGGFeatures(["conv2_1"], pooling="avg")
    assert isinstance(n.features[4], torch.nn.AvgPool2d)


def test_parity_with_hand_written_adain_network():
    """Our explicit Caffe preprocessing + torchvision layout == AdaIN's own 1x1 conv + reflection-free convs."""
    raw = torch.load(vgg.normalized_weights_path(), weights_only=True)
    x = torch.rand(1, 3, 24, 20)
    y = F.conv2d(x, raw["0.weight"], raw["0.bias"])  # RGB[0,1] -> BGR*255 - mean
    y = F.relu(F.conv2d(y, raw["2.weight"], raw["2.bias"], padding=1))  # relu1_1
    y = F.relu(F.conv2d(y, raw["5.weight"], raw["5.bias"], padding=1))  # relu1_2
    y = F.avg_pool2d(y, 2)
    y = F.conv2d(y, raw["9.weight"], raw["9.bias"], padding=1)  # conv2_1
    ours = VGGFeatures(["conv2_1"], pooling="avg")(x)["conv2_1"]
    torch.testing.assert_close(ours, y, rtol=1e-4, atol=1e-3)


def test_torchvision_layout_file_loads(tmp_path):
    src = VGGFeatures(["conv5_4"])
    path = tmp_path / "tv.pth"
    torch.save({f"features.{k}": v for k, v in src.features.state_dict().items()}, path)
    n = VGGFeatures(["conv5_4"], weights=path)
    for a, b in zip(n.parameters(), src.parameters()):
        assert torch.equal(a, b)


def test_adain_layout_file_loads_via_weights(tmp_path):
    n = VGGFeatures(["conv1_1"], weights=vgg.normalized_weights_path())
    assert n.features[0].weight.shape == (64, 3, 3, 3)


def test_checksum_enforced(monkeypatch):
    monkeypatch.setattr(vgg, "NORMALIZED_SHA256", "0" * 64)
    with pytest.raises(WeightsError, match="sha256"):
        VGGFeatures(["conv1_1"])


def test_corrupt_copy_of_default_weights_rejected(tmp_path, monkeypatch):
    bad = tmp_path / "vgg_normalised.pth"
    bad.write_bytes(vgg.normalized_weights_path().read_bytes()[:-10] + b"0123456789")
    monkeypatch.setattr(vgg, "normalized_weights_path", lambda: bad)
    with pytest.raises(WeightsError, match="does not match"):
        VGGFeatures(["conv1_1"])


@pytest.mark.parametrize("content, match", [(b"not a pickle", "not a PyTorch state dict"), (None, "missing")])
def test_bad_weight_files(tmp_path, content, match):
    path = tmp_path / "w.pth"
    if content is None:
        torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3)}, path)
    else:
        path.write_bytes(content)
    with pytest.raises(WeightsError, match=match):
        VGGFeatures(["conv1_1"], weights=path)


def test_unknown_layer_rejected():
    with pytest.raises(InputError, match="unknown layer 'conv9_1'"):
        VGGFeatures(["conv9_1"])


def test_torchvision_weights_offline_fail_with_clear_message(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def no_network(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    with pytest.raises(NSTError) as e:
        VGGFeatures(["conv1_1"], model="vgg19")
    msg = str(e.value)
    assert "\n" not in msg
    # The library names the setting; the command line says --model vgg19-normalized (test_words.py).
    assert "vgg19-dcbb9e9d.pth" in msg and str(tmp_path) in msg and "model='vgg19-normalized'" in msg


def test_vgg19_features_is_torchvisions_features_without_the_classifier():
    from torchvision.models import vgg19

    from nst.net.vgg import vgg19_features
    ours, theirs = vgg19_features(), vgg19(weights=None).features
    assert repr(ours) == repr(theirs)
    assert [k for k, _ in ours.state_dict().items()] == [k for k, _ in theirs.state_dict().items()]
