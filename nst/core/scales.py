"""One call of Stylizer.run, scale by scale (``Run``, each scale prepared as a ``Scale``): the
start image, every scale's plan made first with the time forecast, the loop at each scale, the
states handed out and the result; and the checks around it: a resumed state against this run
(``_check_resume``, ``_fit_state``) and the likely cause of a non-finite J (``_nonfinite_cause``)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import torch
from PIL import Image
from torch import Tensor

from ..errors import NSTError, Setting
from ..pixels import color
from ..pixels.images import long_edge_size, resize_long_edge, resize_tensor, to_pil, to_tensor
from . import planner, regions
from .config import DEFAULT_LR, INITS, OPTIMIZERS, Config
from .network import Network
from .objective import Evaluation, Objective, Temporal
from .optim import NonFiniteError, Outcome, for_another_objective, load_optimizers, minimize
from .planner import Plan
from .runs import Iterate, Progress, ResumeError, RunResult, RunState, StyleImages
from .schedule import expected_seconds
from .start import start_edge
from .targets import Targets

# The forecast of a run's time (Iterate.eta) follows the mean of this many latest evaluations.
RECENT = 5

# Above these weights J's gradient overflows float32 easily (J itself is summed in float64).
LARGE_WEIGHT = 1e20

# G at the start from the content at that size (Stylizer.initial_image): (content, style, regions) -> G.
InitialImage = Callable[[Tensor, StyleImages | None, Sequence[regions.Region]], Tensor]


@dataclass
class Scale:
    """One scale of a run, prepared: its content, the objective and plan, and where it starts."""

    index: int
    evaluations: int
    done_before: int      # evaluations at this scale done before (a resumed run's)
    C: Tensor             # the content at this scale, RGB (1, 3, h, w)
    G: Tensor | None      # the start, resized to it (None once the loop has taken it as its variables)
    plan: Plan
    objective: Objective
    left: list[int]       # evaluations left at each scale, for the forecast
    recent: deque = field(default_factory=lambda: deque(maxlen=RECENT))  # seconds of the latest evaluations
    outcome: Outcome | None = None  # minimize's, as it goes
    float32_from: int | None = None  # the run's evaluation after which the float32 network took over


class Run:
    """One call of Stylizer.run: its settings, its clock and counts, and the scales it runs."""

    def __init__(self, network: Network, content: Image.Image, targets: Targets, scales: list[tuple[int, int]],
                 progress: Progress | None, should_stop: Callable[[], bool] | None, resume: RunState | None,
                 on_state: Callable[[RunState], None] | None, state_every: float | None,
                 temporal: Temporal | None, parts: Sequence[regions.Region] = ()) -> None:
        # network: the Stylizer's (nst.core.network), its plans and objective
        self.st, self.cfg, self.content, self.targets, self.scales = network, network.cfg, content, targets, scales
        self.progress, self.should_stop, self.resume = progress, should_stop, resume
        self.on_state, self.state_every, self.temporal = on_state, state_every, temporal
        self.regions = regions.named([regions.checked(r, content.size) for r in parts])
        self.guided_count = len(self.regions) + 1 if self.regions else 0  # the rest of the picture too
        self.luminance = self.cfg.preserve_color == "luminance"
        self.channels = 1 if self.luminance else 3
        self.total = sum(n for _, n in scales)
        self.start = self.last_state = self.last_time = time.perf_counter()
        self.first = 0 if resume is None else resume.scale
        self.count = 0 if resume is None else resume.i  # evaluations over the whole run
        self.eta: float | None = None
        self.work: list[float] = []      # each scale's relative cost of an evaluation (the plan's)
        self.plans: list[Plan] = []      # of the scales run in this process
        self.kept: RunState | None = None  # the state handed out when should_stop() ended the run
        self.best: Evaluation | RunState | None = None  # of the best G at the last scale run
        self.last_scale, self.last_done = self.first, 0 if resume is None else resume.done
        # the run's evaluation after which the float32 network took over at the last scale (run_scale)
        self.float32_from: int | None = None if resume is None else (resume.optimizer or {}).get("float32_from")

    def start_image(self, style: StyleImages | None, init: Tensor | None, initial_image: InitialImage) -> Tensor:
        """G at the start: cfg.init's (``initial_image``: Stylizer.initial_image), a video frame's
        ``init``, or the resumed state's."""
        st, resume = self.st, self.resume
        if resume is not None:
            _check_resume(resume, self.scales, self.content, self.channels)
            G = resume.G.to(st.device)
        elif init is None:
            init_edge = start_edge(self.scales)  # the first scale's size, at most nst.core.start.ADAIN_MAX
            C0 = self.content if init_edge is None else resize_long_edge(self.content, init_edge)
            G = initial_image(to_tensor(C0, st.device), style, self.regions)
            del C0
        else:  # a video frame's start (nst.jobs.sequence)
            G = init.to(device=st.device, dtype=torch.float32).clone()
        if self.luminance and resume is None:
            G = color.luminance(G)
        if self.luminance and self.temporal is not None and self.temporal.target.shape[1] == 3:
            self.temporal = replace(self.temporal, target=color.luminance(self.temporal.target))
        return G

    def guided(self, long_edge: int, C: Tensor) -> list[regions.Guided]:
        """The rest of the picture and each region at this scale: guidance, Grams and weight."""
        names = [n for n, _ in self.cfg.style_layers]
        T = regions.guidance([r.mask for r in self.regions], *C.shape[-2:])
        parts = [("rest", self.targets, 1.0), *((r.name, r.targets, r.weight) for r in self.regions)]
        out = []
        for (name, targets, weight), t in zip(parts, T):
            if regions.share(t) * weight < regions.EMPTY * weight:
                continue
            grams = None if targets is None else targets(long_edge, C)
            g = regions.guided(name, grams, weight, t.to(C.device), self.st.geometry.strides, names)
            if g is not None:
                out.append(g)
        return out

    def forecast(self, G: Tensor) -> list[Plan]:
        """Every scale's plan, made now (a BudgetError now if one does not fit, not an hour into
        the run), and their relative work for the time forecast; returns the plans of the scales
        with evaluations. When a scale's plan is made, its
        content, the content as seen and G are in memory (G replacing this one)."""
        load_optimizers()  # in memory before it is measured
        free = self.st.free() + 4 * G.numel()
        short, plans = [], []
        for long_edge, n in self.scales:  # n: the scale's evaluations, resumed or not (the same plan)
            h, w = _shape(self.content, long_edge)
            residents = 4 * h * w * (3 * (2 if self.luminance else 1) + self.channels)
            try:
                plans.append(self.st.plan(h, w, self.channels, free=free - residents, guided=self.guided_count,
                                          evaluations=n))
                self.work.append(plans[-1].work)
            except planner.BudgetError as e:
                short.append(e)
        if short:  # the scale that needs the most names the smallest budget that works for all
            raise max(short, key=lambda e: e.need - e.free)
        return [p for p, (_, n) in zip(plans, self.scales) if n > 0]

    def prepare_scale(self, scale: int, G: Tensor) -> Scale:
        """The content at this scale, G resized to it, the style targets, the plan, the objective."""
        st, resume = self.st, self.resume
        long_edge, evaluations = self.scales[scale]
        done_before = resume.done if resume is not None and scale == self.first else 0
        C = to_tensor(resize_long_edge(self.content, long_edge), st.device)
        G = resize_tensor(G, tuple(C.shape[-2:]))
        seen = color.gray_to_rgb(color.luminance(C)) if self.luminance else C
        grams = self.guided(long_edge, C) if self.regions else self.targets(long_edge, C)
        plan = st.plan(*C.shape[-2:], self.channels, strict=False,  # after the targets: they hold memory too
                       guided=self.guided_count, evaluations=evaluations)
        last = scale == len(self.scales) - 1
        objective = st.objective(seen, grams, self.temporal if last else None, plan=plan)
        del grams
        self.work[scale] = plan.work
        left = [n for _, n in self.scales]
        left[scale] -= done_before
        return Scale(scale, evaluations, done_before, C, G, plan, objective, left)

    def run_scale(self, sc: Scale) -> tuple[Tensor, bool]:
        """Minimise J at this scale; (the best G, whether should_stop() ended the run). Where the
        float32 network takes over (``takes_over``), the loop runs in bfloat16 until an L-BFGS
        step finds no lower J, then goes on from its state at that boundary in float32, the
        targets made again in it (sc.float32_from: the run's evaluation it took over after)."""
        st, resume = self.st, self.resume
        if sc.index == self.first and st.device.type != "cpu":
            # A GPU's first evaluation also starts its libraries (cuBLAS, cuDNN, kernels
            # loaded on first use): measured on an H200, 20-40x a later one, which made the
            # time forecast minutes for a 20 s run. One evaluation outside the clock first.
            sc.objective(sc.G)
        self.last_time = time.perf_counter()
        opt_state = _fit_state(resume.optimizer, sc.plan) if resume is not None and sc.index == self.first else None
        if not self.takes_over(sc):
            outcome = self.minimize(sc, sc.evaluations - sc.done_before, opt_state)
            return self.scale_done(sc, outcome, outcome.best_evaluation)
        sc.float32_from = None if opt_state is None else opt_state.get("float32_from")
        if sc.float32_from is None:  # bfloat16 until a stall (resumed: the state says which)
            outcome = self.minimize(sc, sc.evaluations - sc.done_before, opt_state, until_stall=True)
            if outcome.stopped or not outcome.stalled or sc.done_before + outcome.evaluations >= sc.evaluations:
                return self.scale_done(sc, outcome, outcome.best_evaluation)
            sc.done_before += outcome.evaluations
            # From the stalled boundary (the lowest point of its line search), with the
            # evaluations after it counted: they were made (a resumed run makes them again).
            sc.G, opt_state = outcome.best, for_another_objective(outcome.state())
            sc.left[sc.index] = sc.evaluations - sc.done_before
            sc.float32_from = opt_state["float32_from"] = self.count
            del outcome
        sc.objective = None  # the bfloat16 objective's targets and activations go first
        with st.precision(torch.float32):
            sc.objective = self.objective(sc)
        outcome = self.minimize(sc, sc.evaluations - sc.done_before, opt_state)
        return self.scale_done(sc, outcome, outcome.best_evaluation)

    def takes_over(self, sc: Scale) -> bool:
        """Whether the float32 network takes over when bfloat16 stalls (Config.float32_on_stall):
        at the last scale, where the network runs in bfloat16 and L-BFGS optimises."""
        return (self.cfg.float32_on_stall and sc.index == len(self.scales) - 1 and self.st.dtype != torch.float32
                and sc.plan.optimizer == "lbfgs")

    def objective(self, sc: Scale) -> Objective:
        """This scale's objective made again (in the network's dtype now): float32's, taking over."""
        long_edge = self.scales[sc.index][0]
        seen = color.gray_to_rgb(color.luminance(sc.C)) if self.luminance else sc.C
        grams = self.guided(long_edge, sc.C) if self.regions else self.targets(long_edge, sc.C)
        last = sc.index == len(self.scales) - 1
        return self.st.objective(seen, grams, self.temporal if last else None, plan=sc.plan)

    def minimize(self, sc: Scale, evaluations: int, opt_state: dict | None, until_stall: bool = False) -> Outcome:
        """nst.core.optim.minimize on this scale's objective from sc.G, or from ``opt_state``."""
        st, cfg = self.st, self.cfg
        init, sc.G = sc.G, None  # the loop's variables from here on: its memory plan has no copy of G
        try:
            return minimize(sc.objective, init, evaluations, optimizer=sc.plan.optimizer, take_init=True,
                            lr=_step_size(cfg, sc.plan.optimizer), history_size=max(1, sc.plan.history_size),
                            on_evaluation=lambda ev, G: self.evaluated(sc, ev, G), should_stop=self.should_stop,
                            state=opt_state, on_start=lambda o: setattr(sc, "outcome", o), until_stall=until_stall)
        except NonFiniteError as e:
            cause = _nonfinite_cause(cfg, st.dtype, e.at_start, self.resume is not None)
            raise NSTError(f"{e}; ", *cause) from None

    def scale_done(self, sc: Scale, outcome: Outcome, best: Evaluation | None) -> tuple[Tensor, bool]:
        """After the loop at this scale: its plan, counts and best kept, a stopped run's state."""
        resume = self.resume
        sc.objective = None  # its targets and the content's activations go with it
        self.plans.append(sc.plan)
        self.last_scale, self.last_done = sc.index, sc.done_before + outcome.evaluations
        if sc.float32_from is not None:
            self.float32_from = sc.float32_from
        self.best = best
        if self.best is None and resume is not None and sc.index == self.first:  # nothing beat the resumed G
            self.best = resume
        if outcome.stopped:
            self.kept = self.state(sc, outcome, stopped=True)
            if self.on_state is not None:
                self.on_state(self.kept)
        # The optimiser's state (L-BFGS's curvature pairs, image-sized at this scale) goes
        # before the next scale is planned: held, it counted as memory in use there (a
        # whole 4096² run found 2.0 GiB of 4 free at its last scale, 0.8 less than alone).
        sc.outcome = None
        return outcome.best, outcome.stopped

    def evaluated(self, sc: Scale, ev: Evaluation, G: Tensor) -> None:
        """After each evaluation: the count, the forecast, progress, and the periodic state."""
        self.count += 1
        now = time.perf_counter()
        # The forecast from the latest evaluations' times (a loaded machine slows them) and
        # the work left: at this scale, then the later ones by their relative work.
        sc.recent.append(now - self.last_time)
        self.last_time = now
        self.eta = expected_seconds(now - self.start, sum(sc.recent) / len(sc.recent), sc.index, sc.left, self.work,
                                    done=sc.outcome.evaluations)
        if self.progress is not None:
            image = color.combine_luminance(G, sc.C) if self.luminance else G
            self.progress(Iterate(self.count, self.total, ev.J, ev.J_content, ev.J_style, ev.J_tv, ev.style_layers,
                                  now - self.start, sc.index, image, ev.J_temporal, sc.plan, self.eta, ev.regions))
        if self.on_state is not None and self.state_every is not None and self.count < self.total \
                and time.perf_counter() - self.last_state >= self.state_every:
            self.on_state(self.state(sc, sc.outcome))
            self.last_state = time.perf_counter()

    def state(self, sc: Scale, o: Outcome, stopped: bool = False) -> RunState:
        """Where the run stands at this scale: the best G so far, and the loop's state to continue.
        On the CPU it shares the run's tensors (the best G, Adam's moments): on_state saves it at
        once (no image-sized copies: the memory plan, nst.core.planner, has none for it)."""
        opt = o.state(copy=False)
        if opt is not None and sc.float32_from is not None:  # a resumed run goes on in float32
            opt["float32_from"] = sc.float32_from
        done = sc.done_before + (o.evaluations if opt is None else opt["evaluations"])
        G = o.best.detach().float().cpu()
        image = color.combine_luminance(G.to(sc.C), sc.C).cpu() if self.luminance else G
        ev = o.best_evaluation
        costs = (None, None, None) if ev is None else (ev.J, ev.J_content, ev.J_style)
        if ev is None and self.resume is not None and sc.index == self.first:  # its best is still the resumed one's
            costs = (self.resume.J, self.resume.J_content, self.resume.J_style)
        return RunState(G, image, sc.index, done, self.count - sc.done_before - o.evaluations + done, self.total,
                        *costs, stopped, opt, self.count)

    def result(self, G: Tensor) -> RunResult:
        """The RunResult of the best G at the finest scale reached, at the content's size."""
        st, content = self.st, self.content
        J = {k: getattr(self.best, k, None) for k in ("J", "J_content", "J_style", "J_tv", "J_temporal")}
        kept = self.kept
        if kept is None:  # finished: the state a re-run writes without evaluating
            at = (to_tensor(resize_long_edge(content, self.scales[self.last_scale][0]), st.device)
                  if self.luminance else None)
            # not copied: nothing changes G from here on (at 4096 px a copy is 200 MB)
            kept = RunState(G.detach().float().cpu(),
                            (color.combine_luminance(G, at) if self.luminance else G).detach().float().cpu(),
                            self.last_scale, self.last_done, self.total, self.total, J["J"], J["J_content"],
                            J["J_style"], evaluated=self.count,
                            optimizer=None if self.float32_from is None else {"float32_from": self.float32_from})
        G = resize_tensor(G, (content.height, content.width))  # a run stopped at a coarse scale
        if self.luminance:
            G = color.combine_luminance(G, to_tensor(content, st.device))
        if not bool(torch.isfinite(G).all()):  # never write NaN pixels
            raise NSTError("the result has non-finite pixels (a numerical fault: try ", Setting("precision", "float32"),
                           ")")
        return RunResult(to_pil(G), kept, tuple(self.plans), self.count - (0 if self.resume is None else self.resume.i),
                         **J, float32_from=self.float32_from)


def _shape(image: Image.Image, long_edge: int) -> tuple[int, int]:
    """(height, width) of ``image`` resized to ``long_edge`` (as resize_long_edge does)."""
    w, h = long_edge_size(image.size, long_edge)
    return h, w


def _step_size(cfg: Config, optimizer: str) -> float:
    """The step size for ``optimizer``: cfg's, unless the plan switched optimiser (then its default)."""
    return cfg.step_size if optimizer == cfg.optimizer else DEFAULT_LR[optimizer]


def _fit_state(opt: dict | None, plan: Plan) -> dict | None:
    """A resumed optimiser state as this scale's plan can use it: None (continue from G with a fresh
    optimiser) if the plan chose another optimiser than the state's (the memory free now differs
    from the interrupted run's); L-BFGS's pairs cut to the plan's history."""
    if opt is None or opt.get("optimizer") != plan.optimizer:
        return None
    inner = opt["opt"]
    if plan.optimizer == "lbfgs" and len(inner.get("old_dirs", ())) > plan.history_size:
        keep = plan.history_size
        inner = {**inner, **{k: inner[k][len(inner[k]) - keep:] for k in ("old_dirs", "old_stps", "ro")}}
        opt = {**opt, "opt": inner}
    return opt


def _check_resume(state: RunState, plan: Sequence[tuple[int, int]], content: Image.Image, channels: int) -> None:
    """ResumeError unless ``state`` is a point of this run: same schedule, image size and channels."""
    total = sum(n for _, n in plan)
    if state.total != total or not 0 <= state.scale < len(plan):
        raise ResumeError(f"it is for a run of {state.total} evaluations, this one has {total}")
    long_edge, evaluations = plan[state.scale]
    if not 0 <= state.done <= evaluations or state.i != sum(n for _, n in plan[:state.scale]) + state.done:
        raise ResumeError(f"its evaluation count {state.i} does not fit this run's schedule")
    w, h = resize_long_edge(content, long_edge).size
    if tuple(state.G.shape) != (1, channels, h, w):
        raise ResumeError(f"its image is {tuple(state.G.shape)}, this run needs {(1, channels, h, w)}")
    if not bool(torch.isfinite(state.G).all()) or state.G.min() < 0 or state.G.max() > 1:
        raise ResumeError("its image has values outside [0, 1]")
    opt = state.optimizer
    if opt is not None and (opt.get("optimizer") not in OPTIMIZERS or tuple(opt["z"].shape) != tuple(state.G.shape)
                            or not bool(torch.isfinite(opt["z"]).all())):
        raise ResumeError("its optimizer state does not fit this run")


def _nonfinite_cause(cfg: Config, dtype: torch.dtype, at_start: bool, resumed: bool) -> tuple[object, ...]:
    """The likely cause of a non-finite J or gradient, for the one-line message (text and Settings)."""
    large = [f"{k}={getattr(cfg, k):g}" for k in ("content_weight", "style_weight", "tv_weight")
             if getattr(cfg, k) > LARGE_WEIGHT]
    if large:
        return (f"likely cause: {', '.join(large)} too large for float32 arithmetic "
                f"(keep weights below {LARGE_WEIGHT:g})",)
    if at_start and resumed:
        return ("likely cause: the partial result it resumed from; run again with ",
                Setting("restart", python="a fresh start (no resume)"))
    if at_start and cfg.init not in INITS:
        return (f"likely cause: the init image {cfg.init}",)
    if dtype != torch.float32:
        return (f"likely cause: a numerical fault in {str(dtype).removeprefix('torch.')}; try ",
                Setting("precision", "float32"))
    return ("likely cause: a numerical fault; try a smaller ", Setting("lr"), " or other weights")

