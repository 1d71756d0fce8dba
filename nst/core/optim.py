"""The optimisation loop: minimise J over G's pixels with L-BFGS or Adam (Gatys et al., CVPR 2016).

The loop knows J only through an ``Objective`` (nst.core.objective): G in, J and dJ/dG out. It does
not know whether the gradient came from the whole image or from tiles.

It can be stopped after any evaluation and continued later exactly: ``Outcome.state()`` is the
loop at its last iteration boundary (the iterate, its J and gradient, L-BFGS's curvature pairs
or Adam's moments), and ``minimize(..., state=)`` goes on from there, evaluating the same points
as an uninterrupted run would.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor

from ..errors import NSTError
from .config import OPTIMIZERS
from .objective import Evaluation

FIRST_STEP = 0.05  # the average pixel change of L-BFGS's first step (see minimize)
HISTORY_SIZE = 50  # L-BFGS's curvature pairs: 2 image-sized vectors each
MAX_RESTARTS = 5   # non-finite evaluations in a row before minimize gives up
# The most a state keeps of L-BFGS's curvature pairs, in bytes: all 50 pairs of a 384 x 384 image
# (3.4 MiB a pair), 14 at 1024 x 768, 3 at 2048 x 1536. With all of them a resumed run evaluates the
# same points as an uninterrupted one; with fewer it differs a little (384 px, resumed at 30 of 60:
# final J +0.6 % with no pairs, +1.5 % with 24 of 28; benchmarks/README.md).
STATE_HISTORY_BYTES = 256 << 20


def load_optimizers() -> None:
    """Construct a torch.optim optimiser once, on one value: the first one imports torch._dynamo
    (``Optimizer``'s ``@torch._disable_dynamo`` methods), ~150 MiB resident and ~1 s, whatever
    the image's size. Called before a memory plan measures what is in use (nst.core.scales), so
    that the plan counts it instead of the run finding it over its budget."""
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])


def fold(z: Tensor) -> Tensor:
    """Map unconstrained parameters onto [0, 1] by reflection at 0 and 1 (a triangle wave).

    G = fold(z) is always a valid image and J(fold(z)) is one fixed function of z, so
    L-BFGS's curvature pairs stay consistent; clamping between steps would break them.
    Unlike a sigmoid, the slope is +-1 everywhere, so pixels at 0 or 1 never freeze.
    """
    return 1 - (1 - torch.remainder(z, 2)).abs()


def _fold_scaled(z: Tensor, k: float) -> Tensor:
    """fold(z k) in one image-sized buffer (the loop's memory is planned: nst.core.planner)."""
    G = z.detach() * k
    return G.remainder_(2).neg_().add_(1).abs_().neg_().add_(1)  # 1 - |1 - (z k mod 2)|


def _in_memory_order(t: Tensor) -> Tensor:
    """A 1-D view of a contiguous or channels_last (1, C, H, W) tensor, in its memory's order."""
    return t.view(-1) if t.is_contiguous() else t.permute(0, 2, 3, 1).view(-1)


# Values per slice of _fold_scaled_backward's work: its temporary is this, not image-sized.
FOLD_CHUNK = 1 << 20


def _fold_scaled_backward(z: Tensor, k: float, grad: Tensor) -> Tensor:
    """dJ/dz from dJ/dG for G = fold(z k): grad sign(1 - (z k mod 2)) k, the same floats as
    autograd through fold (its chain multiplies by -1 twice, which is exact). In ``grad``'s own
    buffer (the objective's gradient, a new tensor each evaluation), slice by slice: no
    image-sized temporary (nst.core.planner's ADAM_VECTORS counts none)."""
    z = z.detach()
    for layout in (torch.contiguous_format, torch.channels_last):
        if z.is_contiguous(memory_format=layout) and grad.is_contiguous(memory_format=layout):
            for zs, gs in zip(_in_memory_order(z).split(FOLD_CHUNK), _in_memory_order(grad).split(FOLD_CHUNK)):
                gs.mul_((zs * k).remainder_(2).neg_().add_(1).sign_()).mul_(k)
            return grad
    g = z * k  # layouts that differ: one image-sized buffer
    return g.remainder_(2).neg_().add_(1).sign_().mul_(grad).mul_(k)


@dataclass
class Outcome:
    """What a call of ``minimize`` did: the best G, its evaluation, and how many evaluations ran."""

    best: Tensor                   # the G with the lowest J seen (the init if no evaluation ran)
    best_evaluation: Evaluation | None  # its grad is None (not kept)
    evaluations: int               # evaluations of J done (non-finite ones not counted)
    stopped: bool                  # should_stop() ended it before the budget was spent
    restarts: int = 0              # restarts from the best G after a non-finite J or gradient
    stalled: bool = False          # ended by an L-BFGS step that did not lower J (minimize's until_stall)
    _boundary: dict | None = field(default=None, repr=False)

    def state(self, max_bytes: int = STATE_HISTORY_BYTES, copy: bool = True) -> dict | None:
        """The loop at its last iteration boundary, on the CPU, for ``minimize(..., state=)``; None
        before the first boundary (then continue from ``best``). ``state["evaluations"]`` counts the
        evaluations up to that point (later ones, inside an unfinished line search, are redone).
        Keeps the latest L-BFGS curvature pairs that fit ``max_bytes``. On the CPU, an L-BFGS
        state shares its tensors with the boundary the loop keeps (copies made there of what
        L-BFGS changes in place; the rest it never changes), so taking a state at 4096 px costs
        no memory; don't change its tensors in place (``minimize(state=)`` does: pass it a copy
        to keep one). Adam's moments are changed in place by every step: they are copied here,
        unless ``copy`` is false: then a state taken during an evaluation (on_evaluation) or after
        minimize returned shares them, and holds only until the next step (3 image-sized tensors
        less: at 8192² 1.5 GiB; nst.jobs.checkpoint saves it at once)."""
        b = self._boundary
        if b is None:
            return None
        copy = b["live"] and copy  # Adam's boundary is the live tensors
        cpu = lambda x: x.detach().to("cpu", copy=copy) if isinstance(x, Tensor) else x  # noqa: E731
        out = {k: cpu(v) for k, v in b.items() if k not in ("opt", "live")}
        opt = dict(b["opt"])
        if "old_dirs" in opt:
            per_pair = 2 * opt["prev_flat_grad"].numel() * opt["prev_flat_grad"].element_size()
            keep = min(len(opt["old_dirs"]), max_bytes // max(per_pair, 1))
            for k in ("old_dirs", "old_stps", "ro"):
                opt[k] = [cpu(x) for x in opt[k][len(opt[k]) - keep:]]
        out["opt"] = {k: cpu(v) for k, v in opt.items() if k != "al"}
        out["best_J"] = None if self.best_evaluation is None else self.best_evaluation.J  # of ``best``
        return out


def for_another_objective(state: dict) -> dict:
    """``state`` (an ``Outcome.state()``) to go on from with another objective of the same image
    (a float32 network after a bfloat16 one, nst.core.scales): its J, gradient and best J are the
    old objective's, so they are dropped and the first evaluation makes them again with the new
    one (the best G is then judged by one objective only); L-BFGS's history is kept."""
    return {k: v for k, v in state.items() if k not in ("J", "grad", "best_J")}


class NonFiniteError(NSTError):
    """J or its gradient turned non-finite and restarting from the best G with smaller steps did not help.

    ``at_start`` is true when not even the first evaluation was finite: the cause is then in the
    objective or the starting image, not in the steps.
    """

    def __init__(self, message: str, at_start: bool) -> None:
        super().__init__(message)
        self.at_start = at_start


class _Stop(Exception):
    """Raised inside the closure to leave the optimiser's step."""


class _NonFinite(Exception):
    """Raised inside the closure when J or dJ/dG is not finite."""


def _finite(ev: Evaluation) -> bool:
    """J and every value of its gradient finite; slice by slice (torch.isfinite of the whole
    gradient makes ~1.5 image-sized temporaries: |g| and its masks)."""
    g = ev.grad.detach()
    flat = _in_memory_order(g) if g.dim() == 4 and (g.is_contiguous() or g.is_contiguous(
        memory_format=torch.channels_last)) else g.reshape(-1)
    return math.isfinite(ev.J) and all(bool(torch.isfinite(x).all()) for x in flat.split(FOLD_CHUNK))


def _key(z: Tensor) -> tuple[int, float]:
    """Tells apart the points of one line search (x + t d for different t) without keeping them:
    the sum of z's bits and its norm, computed without a copy of z (at 4096 px a float64 copy
    would be 400 MB)."""
    z = z.detach()
    bits = z.view(torch.int32) if z.dtype == torch.float32 else z.double()
    return int(bits.sum(dtype=torch.int64)), float(torch.linalg.vector_norm(z, dtype=torch.float64))


def minimize(objective: Callable[[Tensor], Evaluation], init: Tensor, evaluations: int, *,
             optimizer: str = "lbfgs", lr: float = 1.0, history_size: int | None = None,
             on_evaluation: Callable[[Evaluation, Tensor], None] | None = None,
             should_stop: Callable[[], bool] | None = None, state: dict | None = None,
             on_start: Callable[[Outcome], None] | None = None, until_stall: bool = False,
             take_init: bool = False) -> Outcome:
    """Minimise ``objective`` over G from ``init`` ((1, C, H, W) in [0, 1]) for exactly ``evaluations``
    evaluations of J, or fewer if ``should_stop()`` turns true (checked after each evaluation).

    With ``until_stall`` (L-BFGS only) it also returns, with ``Outcome.stalled``, at the first
    iteration boundary whose J is not below the one before it: a step that found no lower J, which
    a line search in a noisy objective (a bfloat16 network's, late in a run) can repeat for the
    rest of the budget. ``state()`` is then that boundary, to go on from (nst.core.scales).

    ``on_evaluation(evaluation, G)`` is called after every evaluation with the G it was made at
    (detached; copy it to keep it) and the evaluation without its gradient (``grad`` None: it went
    to the optimiser; at large sizes every image-sized tensor counts, nst.core.planner). ``on_start(outcome)`` is called once, before the first
    evaluation, with the Outcome the loop updates as it goes (its ``state()`` may be taken at
    any time). ``state``, an ``Outcome.state()`` of an earlier call with the same objective and
    image size, continues that call: from its iterate (``init`` only gives the shape then), with
    ``evaluations`` the ones left; the loop takes the state's tensors as its own (no copies: at
    4096 px each is 200 MB) and changes them in place. With ``take_init`` the loop takes
    ``init``'s buffer as its variables (the caller keeps no other reference to it: an image-sized
    tensor less) and changes it. Returns the G with the lowest J seen.

    An evaluation whose J or gradient is not finite (NaN or inf: extreme weights, a numerical
    fault) is not counted or reported, and never becomes the best G: the optimiser restarts from
    the best G so far with a step ten times smaller (L-BFGS's history is dropped). After
    MAX_RESTARTS such evaluations in a row, or if the very first one is not finite, it raises
    NonFiniteError.
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer {optimizer!r}; expected {' | '.join(OPTIMIZERS)}")
    loop = _Loop(objective, init, evaluations, optimizer, lr, HISTORY_SIZE if history_size is None else history_size,
                 on_evaluation, should_stop, state, until_stall and optimizer == "lbfgs", take_init)
    if on_start is not None:
        on_start(loop.outcome)
    if evaluations <= 0:
        return loop.outcome
    return loop.run()


# A point of a line search the loop has evaluated: (its key, J, the gradient in z, its count).
Known = tuple[tuple[int, float], float, Tensor, int]


class _Loop:
    """One call of minimize: the variables z, the optimiser, the best G, the boundary to resume from."""

    def __init__(self, objective: Callable[[Tensor], Evaluation], init: Tensor, evaluations: int, optimizer: str,
                 lr: float, history_size: int, on_evaluation: Callable[[Evaluation, Tensor], None] | None,
                 should_stop: Callable[[], bool] | None, state: dict | None, until_stall: bool = False,
                 take_init: bool = False) -> None:
        self.objective, self.evaluations, self.optimizer, self.until_stall = objective, evaluations, optimizer, until_stall
        self.history_size, self.on_evaluation, self.should_stop, self.state = history_size, on_evaluation, should_stop, state
        # The variables are G / k (before folding). L-BFGS is invariant to this scaling except for its
        # first step, lr / sum|g|, which moves the average pixel by lr k / n: with k = n * FIRST_STEP
        # it moves by FIRST_STEP instead of ~1/n, sparing the line search ~6 evaluations of growing it.
        k = self.k = init.numel() * FIRST_STEP if optimizer == "lbfgs" else 1.0
        if state is not None and (state.get("optimizer") != optimizer or state.get("k") != k
                                  or tuple(state["z"].shape) != tuple(init.shape)):
            raise ValueError("state is of another optimizer or image size")
        self.step = lr if state is None else state["lr"]
        # Resumed: ``init`` is the best G so far when the state says its J (it may be a point after the
        # boundary, or before it), so that the best is the one an uninterrupted run would return.
        resumed_best = state is not None and state.get("best_J") is not None
        if state is None or resumed_best:
            self.best = init.detach().clone()
        if state is None:  # taken: init's own buffer becomes z (divided in place: the same floats)
            z = (init.detach().div_(k) if k != 1 else init.detach()) if take_init else init.detach() / k
        else:
            z = state["z"].to(init)
        self.z = z.contiguous().requires_grad_(True)
        if state is not None and not resumed_best:
            self.best = fold(self.z.detach() * k)
        self.outcome = Outcome(self.best, None, 0, False)
        if state is None:
            # The boundary before the first evaluation: stopped before L-BFGS finishes its first
            # iteration, a resumed run starts from here and evaluates the same points.
            self.outcome._boundary = {"optimizer": optimizer, "k": k, "lr": self.step, "evaluations": 0,
                                      "z": self.z.detach().clone(), "opt": {}, "live": False}
        self.best_J = state["best_J"] if resumed_best else math.inf
        # L-BFGS runs one iteration per step(), so that its state is whole between calls. Each step()
        # begins by asking the closure for J and the gradient at the point the last line search chose,
        # which that line search has evaluated: ``known`` holds that search's lowest and latest
        # evaluations, so the point is neither evaluated again nor counted.
        self.known: list[Known] = []
        if state is not None and optimizer == "lbfgs" and state.get("grad") is not None:
            self.known.append((_key(self.z), state["J"], state["grad"].to(self.z), 0))
            self.best_J = min(self.best_J, state["J"])
        self.fresh = True  # the next closure call begins an L-BFGS step
        self.opt: torch.optim.Optimizer | None = None

    def run(self) -> Outcome:
        """Step until the evaluations are spent or should_stop(); restart after a non-finite J."""
        in_a_row, counted = 0, 0
        self.opt = self.make()
        self.resume()
        while True:
            try:
                self.iterate()
            except _Stop:
                return self.outcome
            except _NonFinite:
                outcome = self.outcome
                if outcome.best_evaluation is None and self.state is None:
                    raise NonFiniteError("J or its gradient is not finite at the first evaluation", at_start=True)
                in_a_row = in_a_row + 1 if outcome.evaluations == counted else 1
                counted = outcome.evaluations
                if in_a_row > MAX_RESTARTS:
                    raise NonFiniteError(f"J or its gradient stayed non-finite after {MAX_RESTARTS} restarts from "
                                         "the best image with smaller steps", at_start=False)
                self.restart()

    def resume(self) -> None:
        """Load the state's optimiser, and its boundary as this call's first."""
        state = self.state
        if state is None:
            return
        if state["opt"]:
            sd = self.opt.state_dict()
            sd["state"] = {0: state["opt"]}
            self.opt.load_state_dict(sd)  # casts the tensors to z's device and dtype
        more = {"J": state["J"], "grad": state["grad"]} if self.optimizer == "lbfgs" and state.get("grad") is not None \
            else {}
        self.outcome._boundary = self.boundary(0, self.opt.state.get(self.z, {}), **more)

    def iterate(self) -> None:
        """Optimiser steps, each ending at a boundary (until _Stop or _NonFinite)."""
        while True:
            self.fresh = True
            self.opt.step(self.closure)
            hit = _find(self.known, self.z) if self.optimizer == "lbfgs" else None
            if hit is not None:  # a boundary: the point L-BFGS chose, its J, gradient and history
                before = self.outcome._boundary.get("J")  # the last boundary's (none before the first step)
                self.outcome._boundary = self.boundary(hit[3], self.opt.state[self.z], J=hit[1], grad=hit[2])
                if self.until_stall and before is not None and hit[1] >= before:
                    self.outcome.stalled = True
                    raise _Stop

    def restart(self) -> None:
        """From the best G so far, with a step ten times smaller and no history."""
        self.outcome.restarts += 1
        self.step *= 0.1
        self.known.clear()
        with torch.no_grad():
            self.z.copy_(self.best / self.k)  # fold(best / k * k) = best, as best is in [0, 1]
        self.opt = self.make()

    def make(self) -> torch.optim.Optimizer:
        if self.optimizer == "lbfgs":
            # Strong-Wolfe line search: without it, unit steps can diverge into noise. Tolerances 0:
            # run the whole budget (the loss scale depends on alpha and beta); the closure stops it.
            return torch.optim.LBFGS([self.z], lr=self.step, max_iter=1, max_eval=self.evaluations + 1,
                                     tolerance_grad=0.0, tolerance_change=0.0, history_size=self.history_size,
                                     line_search_fn="strong_wolfe")
        # fused: one kernel, no image-sized temporaries (the unfused step makes two for its
        # denominator); on the CPU too since torch 2.4. Its floats differ from the unfused
        # step's in the last bit (1e-7 of a pixel after a few steps).
        return torch.optim.Adam([self.z], lr=self.step, fused=self.z.device.type in ("cpu", "cuda") or None)

    def closure(self) -> Tensor:
        """J at z for the optimiser, and dJ/dz in z.grad: one evaluation (or a known point's)."""
        z, outcome, opt = self.z, self.outcome, self.opt
        opt.zero_grad(set_to_none=True)
        if self.fresh and self.optimizer == "lbfgs":
            self.fresh = False
            hit = _find(self.known, z)
            self.known.clear()
            if hit is not None:
                z.grad = hit[2]
                return torch.tensor(hit[1], dtype=torch.float64)
        if self.optimizer == "adam":  # a boundary: z and Adam's moments before this step. Not copied
            # (3 image-sized tensors): Adam changes them only after the closure returns, so until
            # then, in on_evaluation and after minimize returns, they are this boundary; state() copies.
            outcome._boundary = self.boundary(outcome.evaluations, opt.state.get(z, {}), copy=False)
        if outcome.evaluations >= self.evaluations or (self.should_stop is not None and outcome.evaluations
                                                       and self.should_stop()):
            outcome.stopped = outcome.evaluations < self.evaluations
            raise _Stop
        G = _fold_scaled(z, self.k)
        ev = self.objective(G)
        if not _finite(ev):
            raise _NonFinite
        # z.grad is a new tensor that nothing changes in place (LBFGS copies it, zero_grad drops
        # it): ``known`` may keep it as it is.
        z.grad = _fold_scaled_backward(z, self.k, ev.grad)
        ev = dataclasses.replace(ev, grad=None)  # an image-sized tensor less to keep
        outcome.evaluations += 1
        if ev.J < self.best_J:
            self.best_J = ev.J
            self.best.copy_(G)
            outcome.best_evaluation = ev
        if self.optimizer == "lbfgs":  # keep the line search's lowest evaluation and this, the latest
            low = min(self.known, key=lambda e: e[1], default=None)
            self.known[:] = ([low] if low is not None and low[1] <= ev.J else []) + \
                [(_key(z), ev.J, z.grad, outcome.evaluations)]
        if self.on_evaluation is not None:
            self.on_evaluation(ev, G)
        return torch.tensor(ev.J, dtype=torch.float64)

    def boundary(self, count: int, opt_state: dict, copy: bool = True, **more) -> dict:
        """The loop's state at an iteration boundary (Outcome.state() hands it out)."""
        # L-BFGS changes only prev_flat_grad in place (copy_); d and the list items are new
        # tensors at every step, so they are kept as they are.
        kept = {n: (v.clone() if isinstance(v, Tensor) and copy and n != "d" else list(v) if isinstance(v, list)
                    else v) for n, v in opt_state.items() if n != "al"}
        z = self.z
        return {"optimizer": self.optimizer, "k": self.k, "lr": self.step, "evaluations": count,
                "z": z.detach().clone() if copy else z.detach(), **more, "opt": kept, "live": not copy}


def _find(known: list, z: Tensor):
    key = _key(z)
    return next((e for e in known if e[0] == key), None)
