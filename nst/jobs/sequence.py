"""Video frames stylised without flicker: each frame starts from the previous output warped along
the optical flow and is held to it by a temporal cost (Ruder, Dosovitskiy & Brox 2016).

The frame outputs are the checkpoint: each is written atomically with the settings that made it,
so a re-run with the same settings finds the frames already made, does only the missing ones,
and (for a video) encodes the clip again without stylising anything. A re-run with other settings
does not replace them unless told to (``stylize_frames(replace=True)``): it is refused, before any
frame is made, naming the first setting that differs (nst.jobs.framecheck).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image
from torch import Tensor

from ..core import regions
from ..core.objective import Temporal
from ..core.regions import Region
from ..core.runs import Iterate, RunResult, RunState, StyleImages
from ..core.schedule import schedule
from ..core.stylizer import Stylizer
from ..core.targets import Targets
from ..errors import InputError
from ..pixels.flow import PRESETS, motion
from ..pixels.images import load_image, save_image, to_tensor
from . import checkpoint, provenance
from .checkpoint import CHECKPOINT_EVERY
from .framecheck import check_made, frame_record, matches
from .inputs import list_frames, natural_key  # noqa: F401  (importable from here too)
from .runner import Resumable, note_slow_plan

FILLS = ("init", "warped")  # where the flow is not trusted, frame t starts from: its own init | the warp anyway


@dataclass(frozen=True)
class SequenceConfig:
    """How the frames of a sequence are tied together; the CLI takes its defaults from here.

    ``temporal_weight`` 0 stylises every frame on its own, as an image (cold start, the image
    settings' evaluations): today's flicker. Otherwise frame t starts from the output of frame
    t-1 warped along the flow and gets ``warm_iterations`` evaluations of J with
    temporal_weight x J_temporal added (nst.core.objective.Temporal), which compares the frames
    through a Gaussian low-pass of ``temporal_blur`` pixels (0: pixel by pixel, as Ruder et al.).
    The defaults were measured in benchmarks/README.md ("Video").
    """

    temporal_weight: float = 1000.0
    warm_iterations: int = 25
    flow: str = "medium"
    fill: str = "init"
    temporal_blur: float = 1.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.temporal_weight) and self.temporal_weight >= 0):
            raise InputError(f"temporal_weight={self.temporal_weight!r} is not allowed; expected a finite number >= 0")
        if not (math.isfinite(self.temporal_blur) and self.temporal_blur >= 0):
            raise InputError(f"temporal_blur={self.temporal_blur!r} is not allowed; expected a finite number >= 0")
        if self.warm_iterations < 1:
            raise InputError(f"warm_iterations={self.warm_iterations!r} is not allowed; expected an integer >= 1")
        if self.fill not in FILLS:
            raise InputError(f"fill={self.fill!r} is not allowed; expected {' | '.join(FILLS)}")
        if self.flow not in PRESETS:
            raise InputError(f"flow={self.flow!r} is not allowed; expected {' | '.join(PRESETS)}")

    @property
    def independent(self) -> bool:
        return self.temporal_weight == 0


@dataclass(frozen=True)
class FrameResult:
    """One frame of a sequence: "done" (stylised now) or "reused" (its output was there)."""

    index: int
    output: Path
    status: str
    seconds: float = 0.0
    evaluations: int = 0
    J: float | None = None
    J_content: float | None = None
    J_style: float | None = None
    J_temporal: float | None = None


@dataclass
class SequenceOutcome:
    """What ``stylize_frames`` did over its frames."""

    frames: list[FrameResult]
    stopped: bool = False     # should_stop() ended it; the frame being made was not written
    frame: int | None = None  # stopped: the frame it was making, or about to make
    kept: checkpoint.Kept | None = None  # stopped: what of that frame's partial state is kept beside its output
    partial: Path | None = None    # ... and its preview (nst.jobs.checkpoint.preview_path)
    problem: str | None = None     # stopped: why the state it stopped at was not kept, if it was not

    @property
    def done(self) -> list[FrameResult]:
        return [f for f in self.frames if f.status == "done"]


@dataclass(frozen=True)
class FrameHooks:
    """What the caller of ``stylize_frames`` hears as it goes, and how it stops it."""

    on_frame: Callable[[FrameResult], None] | None = None    # every frame's result
    progress: Callable[[int, Iterate], None] | None = None   # (frame t, iterate) after every evaluation of J
    should_stop: Callable[[], bool] | None = None            # asked between frames and after every evaluation
    on_note: Callable[[str], None] | None = None             # a partial result resumed, discarded or not written


@dataclass(frozen=True)
class FrameCheckpoints:
    """The partial result of the frame in progress, kept beside its output (nst.jobs.checkpoint) every
    ``every`` seconds (None or 0: only when stopped) and resumed by a re-run unless ``restart``."""

    setting: dict                           # nst.jobs.checkpoint.settings of the clip
    every: float | None = CHECKPOINT_EVERY
    restart: bool = False


def stylize_frames(frames: Iterable[Image.Image], outputs: Sequence[Path], stylizer: Stylizer, targets: Targets,
                   seq: SequenceConfig, record: dict, *, first: int = 0, style: StyleImages | None = None,
                   accept_existing: bool = False, checkpoints: FrameCheckpoints | None = None,
                   hooks: FrameHooks = FrameHooks(), regions: Callable[[int], Sequence[Region]] | None = None,
                   lead_in: int = 0, replace: bool = False) -> SequenceOutcome:
    """Stylise consecutive content ``frames`` (RGB, one size: the output size) into ``outputs``.

    The first frame starts cold, with the image schedule of stylizer.cfg; each later one from
    the previous output warped by the optical flow (see nst.pixels.flow.motion), pixels the flow
    cannot bring (disocclusions, motion boundaries, outside the frame) from its own initial
    image, and J gets the temporal term. A frame whose output exists with the settings of
    ``record`` (see ``matches``) is reused, not made again; the frames are still decoded to
    give the next frame its flow. Each output is written atomically with frame_record(record, t),
    t counting from ``first`` (the number of the first frame in the whole clip).
    ``hooks.progress(t, iterate)`` gets every evaluation of J; ``hooks.on_frame`` every frame's
    result. ``hooks.should_stop()`` is asked between frames and after every evaluation: when it
    turns true the run ends, and the frame in progress is not written under its name.
    ``accept_existing``: any existing output counts as made, whatever settings made it. Otherwise
    an output of this run's that exists with other settings is finished work that a re-run with
    other settings would replace: unless ``replace``, that is refused before any frame is made
    (OtherSettings, naming the first setting that differs: see ``check_made``); with ``replace``
    such frames are made again.

    With ``checkpoints`` the frame in progress also keeps a partial result beside its output
    (nst.jobs.checkpoint: every ``checkpoints.every`` seconds and when stopped), and a re-run resumes
    that frame from it, unless ``checkpoints.restart``; ``hooks.on_note`` hears, in one line, of
    a partial result resumed or discarded, or one that could not be written.

    ``regions(t)``: frame t's regions (nst.core.regions.Region), asked in increasing t for the
    frames made: still masks, or the frames of a mask video.

    ``lead_in``: the first ``lead_in`` frames and outputs come before this run's own (another
    run writes them: a shard's predecessor), so that this run's first frame starts warm, like
    every other, instead of cold. They are never written, reported (``hooks.on_frame``, the
    outcome's frames) or checkpointed, only stylised as a warm-up (``hooks.progress`` hears
    their evaluations) from the last of them whose output is already made (reused as the
    previous frame: no warm-up before it), or else cold from the first. No warm-up is done
    when this run's first frame is made already, or for independent frames.
    """
    outputs = list(outputs)
    if not 0 <= lead_in <= len(outputs):
        raise ValueError(f"lead_in={lead_in!r}: expected 0 to {len(outputs)}, the number of outputs")
    if accept_existing:
        made = [p.exists() for p in outputs]
    else:  # before any work: finished frames are never replaced unasked
        made = [matches(p, frame_record(record, first + i)) for i, p in enumerate(outputs[:lead_in])]
        made += check_made(outputs[lead_in:], record, first=first + lead_in, replace=replace)
    if all(made[lead_in:]):  # nothing to make: nothing to decode
        return _all_reused(outputs[lead_in:], first + lead_in, hooks)
    results: list[FrameResult] = []
    # the lead-in frames worth stylising: none if this run's first frame is made (or the frames are
    # independent); else those after the last one made (reused as the previous frame), or all of them
    skip = lead_in if made[lead_in] or seq.independent else max((i for i in range(lead_in) if made[i]), default=0)
    maker = _FrameMaker(stylizer, targets, seq, record, style, checkpoints, hooks, regions)
    size = None
    count = 0
    for i, (frame, output) in enumerate(zip(frames, outputs)):
        t = first + i
        count += 1
        if size is None:
            size = frame.size
        elif frame.size != size:
            raise InputError(f"frame {t} is {frame.size[0]}x{frame.size[1]}, the first {size[0]}x{size[1]}; "
                             "the frames of a sequence must all have one size")
        if i < lead_in:  # before this run's frames: only to warm-start its first
            if i >= skip and not maker.lead_in_frame(frame, output, t, made[i], max(size)):
                return SequenceOutcome(results, stopped=True, frame=first + lead_in)
            continue
        if made[i]:
            results.append(maker.reuse(frame, output, t))
            continue
        if maker.stop():
            return SequenceOutcome(results, stopped=True, frame=t)
        resumable, done = maker.make(frame, output, t, max(size))
        if done is None:  # stopped: the frame is unfinished, not written under its name
            if resumable is None:
                return SequenceOutcome(results, stopped=True, frame=t)
            return SequenceOutcome(results, stopped=True, frame=t, kept=resumable.keeper.kept,
                                   problem=resumable.keeper.problem, partial=resumable.partial)
        results.append(done)
    if count != len(outputs):
        raise InputError(f"{len(outputs)} frames expected, {count} decoded")
    return SequenceOutcome(results)


def _all_reused(outputs: Sequence[Path], first: int, hooks: FrameHooks) -> SequenceOutcome:
    """The outcome of a run whose every output is made already: each reported as reused."""
    results = []
    for t, p in enumerate(outputs, first):
        results.append(FrameResult(t, p, "reused"))
        if hooks.on_frame is not None:
            hooks.on_frame(results[-1])
    return SequenceOutcome(results)


class _FrameMaker:
    """``stylize_frames`` frame by frame: the previous frame's content and output, for the next one's
    warm start, and whether a stop was asked (asked once, it stays asked)."""

    def __init__(self, stylizer: Stylizer, targets: Targets, seq: SequenceConfig, record: dict,
                 style: StyleImages | None, checkpoints: FrameCheckpoints | None, hooks: FrameHooks,
                 regions: Callable[[int], Sequence[Region]] | None = None) -> None:
        self.stylizer, self.targets, self.seq, self.record, self.style = stylizer, targets, seq, record, style
        self.checkpoints, self.hooks, self.regions = checkpoints, hooks, regions
        self.on_plans = note_slow_plan(hooks.on_note)  # a budget that forces small tiles: said once a clip
        self.stop_asked = False
        self.prev_content: Tensor | None = None
        self.prev_output: Tensor | Path | None = None  # a path until it is needed
        self.prev_parts: Sequence[Region] | None = None  # the previous frame's regions, when it was made

    def stop(self) -> bool:
        should_stop = self.hooks.should_stop
        self.stop_asked = self.stop_asked or (should_stop is not None and should_stop())
        return self.stop_asked

    def reuse(self, frame: Image.Image, output: Path, t: int, own: bool = True) -> FrameResult:
        """Frame ``t``, made by an earlier run: kept as the previous frame for the next. Not ``own``
        (a lead-in frame, another run's): neither heard of nor its partial results touched."""
        if own and self.checkpoints is not None:
            checkpoint.remove(output)  # left by a run killed between writing the frame and removing them
        self.prev_output, self.prev_content = output, to_tensor(frame, self.stylizer.device)
        self.prev_parts = None if self.regions is None else self.regions(t)
        result = FrameResult(t, output, "reused")
        return self._heard(result) if own else result

    def lead_in_frame(self, frame: Image.Image, output: Path, t: int, made: bool, long_edge: int) -> bool:
        """Lead-in frame ``t`` (another run's, before this run's first): its output reused as the
        previous frame if it is ``made``, else stylised as a warm-up. False if stopped first."""
        if made:
            self.reuse(frame, output, t, own=False)
            return True
        return not self.stop() and self.warm_up(frame, t, long_edge)

    def warm_up(self, frame: Image.Image, t: int, long_edge: int) -> bool:
        """Stylise lead-in frame ``t`` only as the previous frame of the next: not written, not heard
        of (but for its progress), no partial result kept. False if stopped before its end."""
        C = to_tensor(frame, self.stylizer.device)
        parts = () if self.regions is None else self.regions(t)
        result = self._run(frame, C, t, long_edge, parts, None)
        if self.stop_asked:
            return False
        self.prev_content, self.prev_output, self.prev_parts = C, to_tensor(result.image, C.device), parts
        return True

    def make(self, frame: Image.Image, output: Path, t: int, long_edge: int
             ) -> tuple[Resumable | None, FrameResult | None]:
        """Stylise frame ``t`` and write it: its partial result (None without checkpoints), and its
        result (None if it stopped before the end: then it is not written)."""
        stylizer, hooks = self.stylizer, self.hooks
        start = time.perf_counter()
        C = to_tensor(frame, stylizer.device)
        parts = () if self.regions is None else self.regions(t)
        rec = frame_record(self.record, t)
        partial = None
        if self.checkpoints is not None:
            partial = Resumable(output, {**self.checkpoints.setting, "sequence": rec["sequence"]}, rec,
                                restart=self.checkpoints.restart, note=hooks.on_note, label=f"frame {t}")
        result = self._run(frame, C, t, long_edge, parts, partial)
        if self.stop_asked:
            return partial, None
        save_image(result.image, output, description=provenance.dumps(provenance.took_over(rec, result.float32_from)))
        if partial is not None:
            checkpoint.remove(output)
        done = self._heard(FrameResult(t, output, "done", time.perf_counter() - start, result.evaluations,
                                       result.J, result.J_content, result.J_style, result.J_temporal))
        self.prev_content, self.prev_output = C, to_tensor(result.image, stylizer.device)
        self.prev_parts = parts
        return partial, done

    def _run(self, frame: Image.Image, C: Tensor, t: int, long_edge: int, parts: Sequence[Region],
             partial: Resumable | None) -> RunResult:
        """Frame ``t``'s run on the stylizer, from where ``_start`` says, resumed and checkpointed by
        ``partial`` (if not None)."""
        init, temporal, scales = self._start(C, long_edge, parts)
        progress = self.hooks.progress
        on_iterate = None if progress is None else functools.partial(progress, t)

        def attempt(resume: RunState | None) -> RunResult:
            return self.stylizer.run(frame, self.targets, self.style, on_iterate, should_stop=self.stop, init=init,
                                     temporal=temporal, scales=scales, resume=resume, regions=parts,
                                     on_state=None if partial is None else partial.keeper,
                                     state_every=None if partial is None else self.checkpoints.every or None,
                                     on_plans=self.on_plans)

        return attempt(None) if partial is None else partial.run(attempt)

    def _start(self, C: Tensor, long_edge: int, parts: Sequence[Region] = ()
               ) -> tuple[Tensor | None, Temporal | None, list[tuple[int, int]]]:
        """Where frame C starts, its temporal term and its scales: cold, with the image schedule, for
        the first frame (or independent frames); else the previous output warped along the flow."""
        seq, stylizer = self.seq, self.stylizer
        if seq.independent or self.prev_output is None or self.prev_content is None:
            return None, None, schedule(dataclasses.replace(stylizer.cfg, size=long_edge))
        if isinstance(self.prev_output, Path):
            self.prev_output = to_tensor(load_image(self.prev_output), stylizer.device)
        m = motion(self.prev_content, C, seq.flow)
        warped = m.warp(self.prev_output)
        confidence = m.weights * self._regions_kept(m, C, parts)
        if seq.fill == "warped":
            init = warped
        else:
            own = stylizer.initial_image(C, self.style, parts)
            init = confidence * warped + (1 - confidence) * own
        temporal = Temporal(warped, confidence, seq.temporal_weight, seq.temporal_blur)
        return init, temporal, [(long_edge, seq.warm_iterations)]

    def _regions_kept(self, m, C: Tensor, parts: Sequence[Region]) -> Tensor | float:
        """Where the regions of the previous frame, carried along the flow, are this frame's (1; 0
        where a moving mask changed: there the previous output has another region's style)."""
        previous = self.prev_parts
        if not parts or previous is None:
            return 1.0
        # Still masks too: where the content moves across a region's border, the previous output
        # warped here is another region's.
        h, w = C.shape[-2:]
        now = torch.cat(regions.guidance([r.mask for r in parts], h, w), 1).to(C)
        before = m.warp(torch.cat(regions.guidance([r.mask for r in previous], h, w), 1).to(C))
        return (1 - (now - before).abs().amax(1, keepdim=True)).clamp(0, 1)

    def _heard(self, result: FrameResult) -> FrameResult:
        if self.hooks.on_frame is not None:
            self.hooks.on_frame(result)
        return result
