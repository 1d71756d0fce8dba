"""The run's types: what ``Stylizer.run`` hands out (``Iterate`` to the progress callback,
``RunState`` to keep and resume from, ``RunResult`` at the end) and ``ResumeError``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from PIL import Image
from torch import Tensor

from ..errors import InputError
from .planner import Plan


@dataclass(frozen=True)
class Iterate:
    """One evaluation of J(G), handed to the progress callback."""

    i: int             # 1-based evaluation count over the whole run (all scales)
    total: int         # evaluations in the run
    J: float           # the objective: alpha J_content + beta J_style + tv_weight J_tv (+ temporal)
    J_content: float
    J_style: float
    J_tv: float
    style_layers: Mapping[str, float]  # J_style^l of each style layer (before lambda)
    seconds: float     # since the optimisation started
    scale: int         # 0-based level of the coarse-to-fine schedule
    image: Tensor      # current G, (1, 3, H, W) RGB in [0, 1], detached; copy it to keep it
    J_temporal: float = 0.0  # video frames only (nst.core.objective.Temporal)
    plan: Plan | None = None  # how this scale runs: tiles, optimiser, history (nst.core.planner)
    eta: float | None = None  # expected seconds of the whole optimisation, from the latest evaluations' times
    regions: Mapping[str, float] = field(default_factory=dict)  # each region's J_style, with regions

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of G at this scale."""
        return self.image.shape[-1], self.image.shape[-2]

    def better_than(self, other: Iterate | None) -> bool:
        """Whether this iterate replaces ``other`` as the image the run returns: the run returns
        the first G with the lowest J at the finest scale reached (each scale starts anew)."""
        return other is None or self.scale > other.scale or self.J < other.J


Progress = Callable[[Iterate], None]
# The style(s) an init may need: one image, or a blend's (image, weight) pairs.
StyleImages = Image.Image | Sequence[tuple[Image.Image, float]]


@dataclass(frozen=True)
class RunState:
    """Where a run stands, enough to continue it: the best G so far at one scale of the schedule.

    ``Stylizer.run`` hands these out (``on_state``) and continues from one (``resume``). With
    ``optimizer`` (the loop's state at its last iteration boundary, nst.core.optim.Outcome.state) the
    resumed run evaluates the same points as an uninterrupted one; without it, it continues from
    G with a fresh L-BFGS history, which costs it a few evaluations' worth of progress.
    """

    G: Tensor           # the best G so far at this scale, (1, C, h, w) float32 on the CPU; C = 1: luminance only
    image: Tensor       # G as RGB (luminance recombined with the content's colours): a preview
    scale: int          # 0-based level of the schedule
    done: int           # evaluations of J at this scale up to the point a resumed run continues from
    i: int              # the same, over the whole run (all scales)
    total: int          # evaluations in the whole run
    J: float | None = None          # of G; None before the first evaluation at this scale
    J_content: float | None = None
    J_style: float | None = None
    stopped: bool = False           # handed out because should_stop() ended the run early
    optimizer: dict | None = None   # the loop's state to continue from (else: G, with a fresh history)
    evaluated: int | None = None    # evaluations done over the whole run when it stopped (>= i)

    @property
    def finished(self) -> bool:
        return self.i >= self.total


class ResumeError(InputError):
    """A RunState that does not fit this run (another schedule, size or colour mode)."""


@dataclass(frozen=True)
class RunResult:
    """What ``Stylizer.run`` did: the image, the costs of its G, how each scale ran, and the state
    that keeps the work (the one to resume from if it stopped; if it finished, the finished state,
    which a resumed run writes without evaluating: what to keep when the output cannot be written)."""

    image: Image.Image       # G at the content's size: the best G at the finest scale reached
    state: RunState
    plans: tuple[Plan, ...] = ()   # how each scale run in this process ran, coarsest first
    evaluations: int = 0     # evaluations of J done in this process (the run's count is state.i)
    J: float | None = None   # of the image (None if no evaluation was made at its scale)
    J_content: float | None = None
    J_style: float | None = None
    J_tv: float | None = None
    J_temporal: float | None = None
    float32_from: int | None = None  # the evaluation after which float32 took over from bfloat16 (a stall)

    @property
    def stopped(self) -> bool:
        """should_stop() ended the run before its evaluations were spent."""
        return self.state.stopped

    @property
    def total(self) -> int:
        return self.state.total
