"""Content and style costs of Gatys et al., "Image Style Transfer Using CNNs" (CVPR 2016)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def _chw(a: Tensor) -> Tensor:
    """Accept (n_C, n_H, n_W) or (1, n_C, n_H, n_W); return (n_C, n_H, n_W)."""
    if a.dim() == 4 and a.shape[0] == 1:
        return a.squeeze(0)  # a view whose backward is a view too (a[0] would zero-fill and copy)
    if a.dim() != 3:
        raise ValueError(f"activations must be (n_C, n_H, n_W) or (1, n_C, n_H, n_W), got {tuple(a.shape)}")
    return a


def content_cost(a_C: Tensor, a_G: Tensor) -> Tensor:
    """J_content(C, G) = 1/(4 n_H n_W n_C) * sum((a_C - a_G)^2).

    a_C, a_G: (n_C, n_H, n_W) or (1, n_C, n_H, n_W), same shape. Returns a scalar.
    """
    a_C, a_G = _chw(a_C), _chw(a_G)
    if a_C.shape != a_G.shape:
        raise ValueError(f"content activations differ in shape: {tuple(a_C.shape)} vs {tuple(a_G.shape)}")
    n_C, n_H, n_W = a_G.shape
    return (a_C - a_G).pow(2).sum() / (4 * n_H * n_W * n_C)


def gram_matrix(A: Tensor) -> Tensor:
    """G_gram = A A^T for the unrolled activations A: (n_C, n_H*n_W) -> (n_C, n_C), in float32
    (float64 in float64) whatever A's dtype (a bfloat16 Gram's rounding is large against G_S - G_G late in a run)."""
    return _Gram.apply(A)  # without a gradient too: one place for the product's dtype


class _Gram(torch.autograd.Function):
    """A A^T with a one-product backward: dJ/dA = (g + g^T) A for g = dJ/dG_gram.

    Autograd of ``A @ A.T`` takes two products (one per operand), in the layout of neither
    operand; the Grams are most of the cost of J beyond the network (benchmarks/README.md).
    The product is in float32; the backward's in A's own dtype: a bfloat16 A (a bfloat16
    network's output) gets its gradient in bfloat16, which its network's backward takes anyway,
    without a float32 copy of A and its cast (~2 s of the quick start's 17, benchmarks/README.md).
    """

    @staticmethod
    def forward(ctx, A: Tensor) -> Tensor:
        ctx.save_for_backward(A)
        A = A.to(torch.promote_types(A.dtype, torch.float32))
        return A @ A.T

    @staticmethod
    def backward(ctx, g: Tensor) -> Tensor:
        (A,) = ctx.saved_tensors
        g = (g + g.T).to(A.dtype)
        # In A's own memory layout: a channels_last activation unrolls to a transposed A, and a
        # gradient in the same layout spares a conversion before the network's backward.
        return (A.T @ g).T if A.stride(0) < A.stride(1) else g @ A


def style_gram(a: Tensor) -> Tensor:
    """The Gram that layer_style_cost compares: gram_matrix(A) / (n_H n_W).

    a: (n_C, n_H, n_W) or (1, n_C, n_H, n_W). Returns (n_C, n_C). Dividing by each image's own
    n_H n_W lets S and G differ in size (the paper assumes equal sizes; identical then).
    """
    a = _chw(a)
    n_C, n_H, n_W = a.shape
    return gram_matrix(a.reshape(n_C, n_H * n_W)) / (n_H * n_W)


def guided_gram(a: Tensor, T: Tensor) -> Tensor:
    """The guided Gram of one region (Gatys, Ecker, Bethge, Hertzmann & Shechtman, CVPR 2017, §4):
    G_r = (T o A)(T o A)^T / sum(T^2).

    a: (n_C, n_H, n_W) or (1, n_C, n_H, n_W); T: the region's guidance at this layer, (n_H, n_W)
    in [0, 1]. Returns (n_C, n_C). Departure from the paper, which keeps style_gram's n_H n_W:
    dividing by the region's own area sum(T^2) makes G_r a mean over the region's positions, so
    a small region's Gram is as large as a big one's (and an all-ones T gives style_gram).
    """
    a = _chw(a)
    n_C = a.shape[0]
    if tuple(T.shape) != tuple(a.shape[1:]):
        raise ValueError(f"guidance {tuple(T.shape)} does not match the layer's positions {tuple(a.shape[1:])}")
    return gram_matrix((a * T).reshape(n_C, -1)) / T.pow(2).sum()


def layer_style_cost(a_S: Tensor, a_G: Tensor, T: Tensor | None = None) -> Tensor:
    """J_style^l(S, G) = 1/(4 n_C^2 (n_H n_W)^2) * sum((G_gram^S - G_gram^G)^2).

    a_S: style activations (n_C, n_H, n_W) / (1, n_C, n_H, n_W), or its precomputed
    style_gram (n_C, n_C) so a target is computed once. a_G: (n_C, n_H, n_W) or
    (1, n_C, n_H, n_W). Each Gram is divided by its own n_H n_W, then 1/(4 n_C^2):
    equal to the paper's formula when S and G have the same size. Returns a scalar.
    With ``T`` (n_H, n_W), a region's guidance: G's Gram is guided_gram(a_G, T) (a_S is then a
    precomputed target: the style's Gram, or its own region's guided Gram).
    """
    gram_S = a_S if a_S.dim() == 2 else style_gram(a_S)
    gram_G = style_gram(a_G) if T is None else guided_gram(a_G, T)
    if gram_S.shape != gram_G.shape:
        raise ValueError(f"style layers differ in channels: {tuple(gram_S.shape)} vs {tuple(gram_G.shape)}")
    n_C = gram_G.shape[0]
    return (gram_S - gram_G).pow(2).sum() / (4 * n_C**2)


def style_cost(a_S: Sequence[Tensor], a_G: Sequence[Tensor], weights: Sequence[float] | None = None) -> Tensor:
    """J_style = sum_l lambda_l J_style^l with lambda normalised to sum 1 (equal if None).

    a_S[l], a_G[l]: as in layer_style_cost, one entry per style layer.
    """
    if len(a_S) != len(a_G) or not a_G:
        raise ValueError(f"need one style target per layer: {len(a_S)} targets, {len(a_G)} layers")
    return weighted_style_cost([layer_style_cost(s, g) for s, g in zip(a_S, a_G)], weights)


def weighted_style_cost(J_layers: Sequence[Tensor], weights: Sequence[float] | None = None) -> Tensor:
    """sum_l lambda_l J_layers[l], lambda normalised to sum 1 (equal if None): style_cost from
    the per-layer costs J_style^l (nst.core.objective keeps them as terms; this is the formula)."""
    if not J_layers:
        raise ValueError("need at least one style layer")
    lam = normalised([1.0] * len(J_layers) if weights is None else weights)
    if len(lam) != len(J_layers):
        raise ValueError(f"style layer weights must be {len(J_layers)} non-negative numbers with a positive sum")
    return sum(w * J for w, J in zip(lam, J_layers))


def normalised(weights: Sequence[float]) -> tuple[float, ...]:
    """lambda_l normalised to sum 1 (the only place they are): non-negative, with a positive sum."""
    weights = [float(w) for w in weights]
    total = sum(weights)
    if any(not w >= 0 for w in weights) or not total > 0:
        raise ValueError(f"style layer weights {weights} must be non-negative numbers with a positive sum")
    return tuple(w / total for w in weights)


def total_cost(J_content: Tensor, J_style: Tensor, alpha: float, beta: float) -> Tensor:
    """J(G) = alpha J_content(C, G) + beta J_style(S, G)."""
    return alpha * J_content + beta * J_style
