"""The cost functions against hand-written NumPy versions of the seed's formulas."""

import numpy as np
import pytest
import torch

from nst.core.costs import content_cost, gram_matrix, layer_style_cost, style_cost, style_gram, total_cost

rng = np.random.default_rng(0)


def np_content(aC, aG):
    n_C, n_H, n_W = aC.shape
    return ((aC - aG) ** 2).sum() / (4 * n_H * n_W * n_C)


def np_gram(a):
    n_C = a.shape[0]
    A = a.reshape(n_C, -1)
    return A @ A.T


def np_layer_style_same_size(aS, aG):
    n_C, n_H, n_W = aS.shape
    return ((np_gram(aS) - np_gram(aG)) ** 2).sum() / (4 * n_C**2 * (n_H * n_W) ** 2)


def t(a):
    return torch.from_numpy(a)


def test_content_cost_matches_formula():
    aC, aG = rng.normal(size=(2, 5, 4, 3))
    assert content_cost(t(aC), t(aG)).item() == pytest.approx(np_content(aC, aG), rel=1e-12)
    # batch dimension of 1 accepted
    assert content_cost(t(aC)[None], t(aG)[None]).item() == pytest.approx(np_content(aC, aG), rel=1e-12)


def test_content_cost_zero_for_identical():
    a = t(rng.normal(size=(3, 4, 4)))
    assert content_cost(a, a).item() == 0


def test_gram_matrix_is_A_At():
    A = rng.normal(size=(6, 20))
    G = gram_matrix(t(A)).numpy()
    np.testing.assert_allclose(G, A @ A.T, rtol=1e-12)
    np.testing.assert_allclose(G, G.T)


def test_layer_style_cost_equal_sizes_is_paper_formula():
    aS, aG = rng.normal(size=(2, 7, 5, 6))
    got = layer_style_cost(t(aS), t(aG)).item()
    assert got == pytest.approx(np_layer_style_same_size(aS, aG), rel=1e-10)


def test_layer_style_cost_different_sizes_normalises_each_gram():
    aS = rng.normal(size=(4, 6, 8))
    aG = rng.normal(size=(4, 3, 5))
    gS = np_gram(aS) / (6 * 8)
    gG = np_gram(aG) / (3 * 5)
    expected = ((gS - gG) ** 2).sum() / (4 * 4**2)
    assert layer_style_cost(t(aS), t(aG)).item() == pytest.approx(expected, rel=1e-10)


def test_layer_style_cost_accepts_precomputed_gram():
    aS, aG = rng.normal(size=(2, 3, 4, 4))
    assert layer_style_cost(style_gram(t(aS)), t(aG)).item() == pytest.approx(
        layer_style_cost(t(aS), t(aG)).item(), rel=1e-12)


def test_style_gram_of_tiled_image_is_unchanged():
    # A Gram divided by n_H n_W is a mean: tiling the activations leaves it unchanged.
    a = t(rng.normal(size=(3, 4, 5)))
    np.testing.assert_allclose(style_gram(a.repeat(1, 2, 3)).numpy(), style_gram(a).numpy(), rtol=1e-12)


def test_style_cost_normalises_lambdas():
    layers = [rng.normal(size=(2, 3, 4, 4)), rng.normal(size=(2, 5, 2, 3))]
    aS = [t(pair[0]) for pair in layers]
    aG = [t(pair[1]) for pair in layers]
    costs = [np_layer_style_same_size(p[0], p[1]) for p in layers]
    lam = np.array([1.0, 3.0])
    expected = (lam / lam.sum() * costs).sum()
    assert style_cost(aS, aG, [1.0, 3.0]).item() == pytest.approx(expected, rel=1e-10)
    # scaling every lambda changes nothing; None means equal weights
    assert style_cost(aS, aG, [10.0, 30.0]).item() == pytest.approx(expected, rel=1e-10)
    assert style_cost(aS, aG).item() == pytest.approx(np.mean(costs), rel=1e-10)


@pytest.mark.parametrize("weights", [[1.0], [-1.0, 2.0], [0.0, 0.0]])
def test_style_cost_rejects_bad_lambdas(weights):
    a = [t(rng.normal(size=(2, 3, 3)))] * 2
    with pytest.raises(ValueError):
        style_cost(a, a, weights)


def test_total_cost():
    assert total_cost(torch.tensor(2.0), torch.tensor(3.0), 5.0, 7.0).item() == 2 * 5 + 3 * 7


def test_costs_have_gradients():
    aC = t(rng.normal(size=(2, 3, 3)))
    aG = t(rng.normal(size=(2, 3, 3))).requires_grad_()
    (content_cost(aC, aG) + layer_style_cost(aC, aG)).backward()
    assert aG.grad is not None and aG.grad.abs().sum() > 0


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_gram_gradient_matches_autograd_of_A_At(layout):
    a = torch.randn(1, 4, 3, 5, dtype=torch.float64)
    if layout == "channels_last":
        a = a.contiguous(memory_format=torch.channels_last)
    A = a[0].reshape(4, 15).requires_grad_(True)
    W = torch.randn(4, 4, dtype=torch.float64)
    assert torch.autograd.gradcheck(gram_matrix, (A,))
    (gram_matrix(A) * W).sum().backward()
    B = A.detach().clone().requires_grad_(True)
    ((B @ B.T) * W).sum().backward()
    torch.testing.assert_close(A.grad, B.grad)
    assert A.grad.stride() == A.stride(), "the gradient keeps the activation's memory layout"


def test_a_bfloat16_gram_is_float32_and_its_gradient_bfloat16():
    # a bfloat16 network's activations: the Gram exactly as of their float32 values, in float32
    # (a bfloat16 Gram's rounding is large against G_S - G_G), the gradient in bfloat16 for the
    # network's backward, close to the float32 one
    A = torch.randn(8, 300).bfloat16().requires_grad_(True)
    A32 = A.detach().float().requires_grad_(True)
    W = torch.randn(8, 8)
    G = gram_matrix(A)
    assert G.dtype == torch.float32
    torch.testing.assert_close(G, A32 @ A32.T)
    (G * W).sum().backward()
    (gram_matrix(A32) * W).sum().backward()
    assert A.grad.dtype == torch.bfloat16
    torch.testing.assert_close(A.grad.float(), A32.grad, rtol=2e-2, atol=2e-2 * A32.grad.abs().max().item())
    assert gram_matrix(A.detach()).dtype == torch.float32
