"""The optimisation loop: minimise J over G's pixels with L-BFGS or Adam (Gatys et al., CVPR 2016).

The loop knows J only through an ``Objective`` (nst.objective): G in, J and dJ/dG out. It does
not know whether the gradient came from the whole image or from tiles.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from .config import OPTIMIZERS
from .objective import Evaluation

FIRST_STEP = 0.05  # the average pixel change of L-BFGS's first step (see minimize)
HISTORY_SIZE = 50  # L-BFGS's curvature pairs: 2 image-sized vectors each


def fold(z: Tensor) -> Tensor:
    """Map unconstrained parameters onto [0, 1] by reflection at 0 and 1 (a triangle wave).

    G = fold(z) is always a valid image and J(fold(z)) is one fixed function of z, so
    L-BFGS's curvature pairs stay consistent; clamping between steps would break them.
    Unlike a sigmoid, the slope is +-1 everywhere, so pixels at 0 or 1 never freeze.
    """
    return 1 - (1 - torch.remainder(z, 2)).abs()


@dataclass
class Outcome:
    """What a call of ``minimize`` did: the best G, its evaluation, and how many evaluations ran."""

    best: Tensor                   # the G with the lowest J seen (the init if no evaluation ran)
    best_evaluation: Evaluation | None
    evaluations: int               # evaluations of J done
    stopped: bool                  # should_stop() ended it before the budget was spent


class _Stop(Exception):
    """Raised inside the closure to leave the optimiser's step."""


def minimize(objective: Callable[[Tensor], Evaluation], init: Tensor, evaluations: int, *,
             optimizer: str = "lbfgs", lr: float = 1.0, history_size: int | None = None,
             on_evaluation: Callable[[Evaluation, Tensor], None] | None = None,
             should_stop: Callable[[], bool] | None = None) -> Outcome:
    """Minimise ``objective`` over G from ``init`` ((1, C, H, W) in [0, 1]) for exactly ``evaluations``
    evaluations of J, or fewer if ``should_stop()`` turns true (checked after each evaluation).

    ``on_evaluation(evaluation, G)`` is called after every evaluation with the G it was made at
    (detached; copy it to keep it). Returns the G with the lowest J seen.
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer {optimizer!r}; expected {' | '.join(OPTIMIZERS)}")
    best = init.detach().clone()
    outcome = Outcome(best, None, 0, False)
    if evaluations <= 0:
        return outcome
    # The variables are G / k (before folding). L-BFGS is invariant to this scaling except for its
    # first step, lr / sum|g|, which moves the average pixel by lr k / n: with k = n * FIRST_STEP
    # it moves by FIRST_STEP instead of ~1/n, sparing the line search ~6 evaluations of growing it.
    k = init.numel() * FIRST_STEP if optimizer == "lbfgs" else 1.0
    z = (init.detach() / k).contiguous().requires_grad_(True)
    best_J = math.inf

    def closure() -> Tensor:
        nonlocal best_J
        if outcome.evaluations >= evaluations or (should_stop is not None and outcome.evaluations and should_stop()):
            outcome.stopped = outcome.evaluations < evaluations
            raise _Stop
        opt.zero_grad(set_to_none=True)
        G = fold(z * k)
        ev = objective(G.detach())
        G.backward(ev.grad)
        outcome.evaluations += 1
        if ev.J < best_J:
            best_J = ev.J
            best.copy_(G.detach())
            outcome.best_evaluation = ev
        if on_evaluation is not None:
            on_evaluation(ev, G.detach())
        return torch.tensor(ev.J, dtype=torch.float64)

    if optimizer == "lbfgs":
        # Strong-Wolfe line search: without it, unit steps can diverge into noise. Tolerances 0:
        # run the whole budget (the loss scale depends on alpha and beta); the closure stops it.
        opt = torch.optim.LBFGS([z], lr=lr, max_iter=evaluations, max_eval=evaluations, tolerance_grad=0.0,
                                tolerance_change=0.0,
                                history_size=HISTORY_SIZE if history_size is None else history_size, line_search_fn="strong_wolfe")
    else:
        opt = torch.optim.Adam([z], lr=lr)
    try:
        while True:
            opt.step(closure)
    except _Stop:
        pass
    return outcome
