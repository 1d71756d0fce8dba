"""An independent float32 judge of a saved picture: J = alpha J_content + beta J_style (Gatys et al. 2016).

    python benchmarks/judge.py OUT.jpg CONTENT STYLE --size 384

Written apart from nst's own costs, objective and network wrapper, so that a speed-up in nst
(bfloat16, a new optimiser, a new init) cannot flatter itself: torchvision's ``vgg19().features``
in its default NCHW layout, max pooling swapped for average pooling, the same weights (the
normalised Caffe VGG19), float32 throughout, and the costs written out here from the spec in
HELPERS.md. Only the preparation of the inputs is nst's (the content at ``size`` on its long
edge, the style at style_scale x size), so the objective is the one nst minimises. The image is
read from the file as saved (8 bits, JPEG loss included): what a user gets.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from torchvision.models import vgg19

from nst import Config
from nst.core.stylizer import prepare_image
from nst.net.vgg import LAYER_INDEX, load_weights
from nst.pixels.images import load_image, resize_long_edge

_CAFFE_MEAN_BGR = torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1)


def _tensor(img: Image.Image) -> torch.Tensor:
    a = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(a).permute(2, 0, 1).unsqueeze(0).contiguous()


class Judge:
    """J of images for one content, style and size under ``cfg``'s layers, weights and pooling."""

    def __init__(self, content: str | Path, style: str | Path, size: int, cfg: Config | None = None) -> None:
        torch.set_grad_enabled(False)
        self.cfg = cfg = cfg or Config(size=size)
        names = [*cfg.content_layers, *(n for n, _ in cfg.style_layers)]
        last = max(LAYER_INDEX[n] for n in names)
        net = vgg19(weights=None).features[: last + 1]
        net.load_state_dict({k: v for k, v in load_weights(cfg.model, cfg.weights).items()
                             if int(k.split(".")[0]) <= last})
        if cfg.pooling == "avg":
            for i, m in enumerate(net):
                if isinstance(m, nn.MaxPool2d):
                    net[i] = nn.AvgPool2d(2, 2)
        self.net = net.eval().float()
        self.index = {n: LAYER_INDEX[n] for n in names}
        self.content_img = prepare_image(content, size)
        style_img = resize_long_edge(load_image(style), max(16, round(cfg.style_scale * size)))
        self.a_C = self._features(_tensor(self.content_img))
        a_S = self._features(_tensor(style_img))
        self.grams_S = {n: self._gram(a_S[n]) for n, _ in cfg.style_layers}
        lam = [w for w in cfg.style_lambdas]
        self.lambdas = [w / sum(lam) for w in lam]

    def _features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        x = x.flip(1) * 255.0 - _CAFFE_MEAN_BGR  # RGB [0, 1] -> Caffe BGR, 0..255, mean removed
        out, wanted = {}, {i: n for n, i in self.index.items()}
        for i, m in enumerate(self.net):
            x = m(x)
            if i in wanted:
                out[wanted[i]] = x.clone()  # a later in-place op must not change it
        return out

    @staticmethod
    def _gram(a: torch.Tensor) -> torch.Tensor:
        """G = A A^T / (n_H n_W), A the n_C x (n_H n_W) unrolled activations (each Gram over its own size)."""
        _, c, h, w = a.shape
        A = a.reshape(c, h * w).double()
        return A @ A.T / (h * w)

    def __call__(self, image: str | Path | Image.Image) -> dict[str, float]:
        img = load_image(image)
        if img.size != self.content_img.size:
            raise ValueError(f"image is {img.size}, the content at this size is {self.content_img.size}")
        a_G = self._features(_tensor(img))
        cfg = self.cfg
        Jc = 0.0
        for n in cfg.content_layers:
            _, c, h, w = a_G[n].shape
            Jc += float(((self.a_C[n].double() - a_G[n].double()) ** 2).sum()) / (4 * h * w * c)
        Jc /= len(cfg.content_layers)
        Js = 0.0
        for lam, (n, _) in zip(self.lambdas, cfg.style_layers):
            c = a_G[n].shape[1]
            # 1/(4 n_C^2 (n_H n_W)^2) sum (G_S - G_G)^2, with each Gram already divided by its own n_H n_W
            Js += lam * float(((self.grams_S[n] - self._gram(a_G[n])) ** 2).sum()) / (4 * c * c)
        return {"J": cfg.content_weight * Jc + cfg.style_weight * Js, "J_content": Jc, "J_style": Js}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("image", nargs="+")
    p.add_argument("--content", required=True)
    p.add_argument("--style", required=True)
    p.add_argument("--size", type=int, default=Config.size)
    a = p.parse_args()
    judge = Judge(a.content, a.style, a.size)
    for path in a.image:
        r = judge(path)
        print(f"{path}: J = {r['J']:.4f} (J_content {r['J_content']:.4f}, J_style {r['J_style']:.5f})")


if __name__ == "__main__":
    main()
