"""J as data (nst.core.objective): the evaluators run any term, untiled and tiled alike, and J is
the weighted sum of its costs. A term defined here, in the test, is evaluated by the same code."""

from dataclasses import dataclass

import pytest
import torch

from nst import Config
from nst.core.costs import style_gram
from nst.core.network import build_network
from nst.core.objective import ContentLayer, Cost, FeatureTerm, Objective, StyleLayer, TotalVariation, Untiled, costs_of
from nst.core.tiling import Tiled


@dataclass(frozen=True, eq=False)
class MaskedContent(FeatureTerm):
    """A term nst does not have: J_content^l over the positions a mask weighs, 1/(4N) sum m (a - a_C)^2."""

    layer: str
    mask: torch.Tensor  # (n_H, n_W) of the whole layer
    share: float = 1.0
    reference = True

    def value(self, a, a_ref):
        N = a.shape[1] * a.shape[2] * a.shape[3]
        return (self.mask * (a - a_ref).pow(2)).sum() / (4 * N)

    def tile_gradient(self, a, a_ref, settled, positions, scale, where):
        m, N = self.mask[where], a.shape[1] * positions
        diff = a - a_ref
        return (m * diff.pow(2)).sum() / (4 * N), m * diff * (scale / (2 * N))


@pytest.fixture(scope="module")
def setup():
    cfg = Config(device="cpu", style_layers="conv1_1,conv2_1", content_layers="conv2_2")
    net = build_network(cfg, torch.device("cpu"))
    gen = torch.Generator().manual_seed(0)
    C, G, S = (torch.rand(1, 3, 45, 52, generator=gen) for _ in range(3))
    with torch.no_grad():
        grams = {n: style_gram(f) for n, f in net(S).items() if n in ("conv1_1", "conv2_1")}
    return cfg, net, C, G, grams


def test_a_new_term_is_evaluated_tiled_as_untiled(setup):
    cfg, net, C, G, grams = setup
    mask = torch.zeros(22, 26)
    mask[3:15, 5:20] = 1.0  # conv2_2 has stride 2: 22 x 26 positions
    costs = [Cost("masked", 3.0, (MaskedContent("conv2_2", mask),)), *costs_of(cfg, grams)[1:2]]
    values, grad = Untiled(net, costs, C)(G)
    tiled = Tiled(net, costs, C, tile=16)
    assert len(tiled.tiles) > 1
    t_values, t_grad = tiled(G)
    for a, b in zip(t_values, values):
        assert a.item() == pytest.approx(b.item(), rel=1e-5)
    assert ((t_grad - grad).norm() / grad.norm()).item() <= 1e-4
    assert values[0].item() > 0


def test_J_is_the_weighted_sum_of_the_costs(setup):
    cfg, net, C, G, grams = setup
    cfg = Config(device="cpu", style_layers="conv1_1:1,conv2_1:3", content_layers="conv2_2", content_weight=2.0,
                 tv_weight=5.0)
    costs = costs_of(cfg, grams)
    assert [c.name for c in costs] == ["content", "style", "tv"]
    assert [t.share for t in costs[1].terms] == [0.25, 0.75]  # lambda normalised once, here
    assert isinstance(costs[0].terms[0], ContentLayer) and isinstance(costs[1].terms[0], StyleLayer)
    assert isinstance(costs[2].terms[0], TotalVariation)
    objective = Objective(Untiled(net, costs[:2], C), costs)
    ev = objective(G)
    assert ev.J == pytest.approx(2.0 * ev.J_content + 10.0 * ev.J_style + 5.0 * ev.J_tv, rel=1e-12)
    assert ev.J_style == pytest.approx(0.25 * ev.style_layers["conv1_1"] + 0.75 * ev.style_layers["conv2_1"])


def test_the_gradient_is_that_of_J(setup):
    """dJ/dG from the terms equals autograd's of the whole J (tv weighted too)."""
    cfg, net, C, G, grams = setup
    cfg = Config(device="cpu", style_layers="conv1_1,conv2_1", content_layers="conv2_2", tv_weight=3.0)
    costs = costs_of(cfg, grams)
    ev = Objective(Untiled(net, costs[:2], C), costs)(G)
    x = G.clone().requires_grad_(True)
    J = 0
    for c in costs:
        for term in c.terms:
            v = term(x) if not isinstance(term, FeatureTerm) else term.value(net(x)[term.layer], net(C)[term.layer])
            J = J + c.weight * term.share * v
    J.backward()
    assert ((ev.grad - x.grad).norm() / x.grad.norm()).item() <= 1e-5
    assert ev.J == pytest.approx(J.item(), rel=1e-5)
