"""One evaluation of J with three content layers (content weight 7), tiled and untiled: J, J_content,
J_style and sums of the gradient, as JSON. #18 compared the code before its refactor with after:

    PYTHONPATH=/path/to/checkout-at-70a50f1 python benchmarks/same_arithmetic.py old
    PYTHONPATH=. python benchmarks/same_arithmetic.py new
"""
import sys, torch, json
new = sys.argv[1] == "new"
from nst import Config
cfg = Config(device="cpu", content_layers="conv2_2,conv3_2,conv4_2", style_layers="conv1_1,conv2_1,conv3_1", content_weight=7.0, precision="float32")
if new:
    from nst.core.network import build_network
    from nst.core.costs import style_gram
    from nst.core.objective import Untiled, Objective, costs_of
    from nst.core.tiling import Tiled
else:
    from nst.transfer import build_network
    from nst.costs import style_gram
    from nst.objective import FeatureCost, Objective
    from nst.tiling import TiledFeatureCost
net = build_network(cfg, torch.device("cpu"))
g = torch.Generator().manual_seed(0)
C, G, S = (torch.rand(1, 3, 61, 53, generator=g) for _ in range(3))
with torch.no_grad():
    grams = {n: style_gram(f) for n, f in net(S).items() if n in ("conv1_1", "conv2_1", "conv3_1")}
out = {}
for tiled in (False, True):
    if new:
        costs = costs_of(cfg, grams)
        ev_net = Tiled(net, costs[:2], C, tile=16) if tiled else Untiled(net, costs[:2], C)
        ev = Objective(ev_net, costs)(G)
    else:
        fc = TiledFeatureCost(net, cfg, C, grams, tile=16) if tiled else FeatureCost(net, cfg, C, grams)
        ev = Objective(fc, cfg, [n for n, _ in cfg.style_layers])(G)
    out[str(tiled)] = [ev.J, ev.J_content, ev.J_style, float(ev.grad.double().sum()), float(ev.grad.abs().double().sum())]
print(json.dumps(out))
