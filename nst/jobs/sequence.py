"""Video frames stylised without flicker: each frame starts from the previous output warped along
the optical flow and is held to it by a temporal cost (Ruder, Dosovitskiy & Brox 2016).

The frame outputs are the checkpoint: each is written atomically with the settings that made it,
so a re-run with the same settings finds the frames already made, does only the missing ones,
and (for a video) encodes the clip again without stylising anything.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image
from torch import Tensor

from . import checkpoint
from . import provenance
from .checkpoint import CHECKPOINT_EVERY
from ..core.config import Config
from ..errors import InputError, NSTError
from ..pixels.images import load_image, read_description, resize_long_edge, save_image, to_tensor
from ..core.objective import Temporal
from ..core.schedule import schedule
from ..core.targets import Targets
from ..core.stylizer import Iterate, ResumeError, RunState, StyleImages, Stylizer

FLOW_PRESETS = ("ultrafast", "fast", "medium")  # OpenCV DIS presets (nst.flow.PRESETS)
FILLS = ("init", "warped")  # where the flow is not trusted, frame t starts from: its own init | the warp anyway


@dataclass(frozen=True)
class SequenceConfig:
    """How the frames of a sequence are tied together; the CLI takes its defaults from here.

    ``temporal_weight`` 0 stylises every frame on its own, as an image (cold start, the image
    settings' evaluations): today's flicker. Otherwise frame t starts from the output of frame
    t-1 warped along the flow and gets ``warm_iterations`` evaluations of J with
    temporal_weight x J_temporal added (nst.objective.Temporal), which compares the frames
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
        if self.flow not in FLOW_PRESETS:
            raise InputError(f"flow={self.flow!r} is not allowed; expected {' | '.join(FLOW_PRESETS)}")

    @property
    def independent(self) -> bool:
        return self.temporal_weight == 0


def natural_key(name: str) -> tuple:
    """Sort key for names with numbers in them: 'f2.png' before 'f10.png' (case-insensitive)."""
    parts = tuple((0, int(part)) if part.isdigit() else (1, part.casefold())
                  for part in re.split(r"(\d+)", name) if part)
    return parts, name  # ties ('f2', 'f02') broken by the name itself


def list_frames(folder: Path) -> list[Path]:
    """The images in ``folder`` (not its subfolders; hidden files left out) in natural order."""
    from .batch import list_images
    if not folder.is_dir():
        raise InputError(f"{folder}: not a directory of frames")
    frames = sorted(list_images(folder), key=lambda p: natural_key(p.name))
    if not frames:
        raise InputError(f"{folder}: no images in this directory")
    return frames


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
    kept: RunState | None = None   # stopped: that frame's partial state kept beside its output
    partial: Path | None = None    # ... and its preview (nst.checkpoint.preview_path)
    problem: str | None = None     # stopped: why the state it stopped at was not kept, if it was not

    @property
    def done(self) -> list[FrameResult]:
        return [f for f in self.frames if f.status == "done"]


def frame_record(base: dict, index: int) -> dict:
    """The provenance stored in frame ``index``'s output: ``base`` with the frame's number."""
    return {**base, "sequence": {**base.get("sequence", {}), "frame": index}}


def _deciding(settings: object) -> object:
    """The settings that decide a frame: all but how it was computed (device, precision), as
    for partial results (nst.checkpoint.NOT_SETTINGS)."""
    if not isinstance(settings, dict):
        return settings
    return {k: v for k, v in settings.items() if k not in checkpoint.NOT_SETTINGS}


def matches(path: Path, record: dict) -> bool:
    """Whether ``path`` exists and holds the settings of ``record`` (the same settings, sequence
    settings and frame: the versions, device and precision may differ)."""
    if not path.is_file():
        return False
    try:
        text = read_description(path)
        stored = json.loads(text) if text else None
    except (InputError, json.JSONDecodeError):
        return False
    record = json.loads(provenance.dumps(record))  # as stored: tuples become lists
    return (isinstance(stored, dict) and _deciding(stored.get("settings")) == _deciding(record["settings"])
            and stored.get("sequence") == record["sequence"])


def stylize_frames(frames: Iterable[Image.Image], outputs: Sequence[Path], stylizer: Stylizer, targets: Targets,
                   seq: SequenceConfig, record: dict, *, first: int = 0, style: StyleImages | None = None,
                   on_frame: Callable[[FrameResult], None] | None = None,
                   progress: Callable[[int, Iterate], None] | None = None,
                   should_stop: Callable[[], bool] | None = None, accept_existing: bool = False,
                   setting: dict | None = None, checkpoint_every: float | None = CHECKPOINT_EVERY,
                   restart: bool = False, on_note: Callable[[str], None] | None = None) -> SequenceOutcome:
    """Stylise consecutive content ``frames`` (RGB, one size: the output size) into ``outputs``.

    The first frame starts cold, with the image schedule of stylizer.cfg; each later one from
    the previous output warped by the optical flow (see nst.flow.motion), pixels the flow
    cannot bring (disocclusions, motion boundaries, outside the frame) from its own initial
    image, and J gets the temporal term. A frame whose output exists with the settings of
    ``record`` (see ``matches``) is reused, not made again; the frames are still decoded to
    give the next frame its flow. Each output is written atomically with frame_record(record, t),
    t counting from ``first`` (the number of the first frame in the whole clip).
    ``progress(t, iterate)`` gets every evaluation of J; ``on_frame`` every frame's result.
    ``should_stop()`` is asked between frames and after every evaluation: when it turns true the
    run ends, and the frame in progress is not written under its name. ``accept_existing``: any
    existing output counts as made, whatever settings made it.

    With ``setting`` (nst.checkpoint.settings of the clip) the frame in progress also keeps a
    partial result beside its output (nst.checkpoint: every ``checkpoint_every`` seconds and
    when stopped), and a re-run resumes that frame from it, unless ``restart``; ``on_note``
    hears, in one line, of a partial result resumed or discarded, or one that could not be written.
    """
    outputs = list(outputs)
    made = [p.exists() if accept_existing else matches(p, frame_record(record, first + i))
            for i, p in enumerate(outputs)]
    results: list[FrameResult] = []
    if all(made):  # nothing to make: nothing to decode
        for i, p in enumerate(outputs):
            results.append(FrameResult(first + i, p, "reused"))
            if on_frame is not None:
                on_frame(results[-1])
        return SequenceOutcome(results)
    cfg = stylizer.cfg
    stop_asked = False

    def stop() -> bool:
        nonlocal stop_asked
        stop_asked = stop_asked or (should_stop is not None and should_stop())
        return stop_asked

    def note(message: str) -> None:
        if on_note is not None:
            on_note(message)

    prev_content: Tensor | None = None
    prev_output: Tensor | Path | None = None  # a path until it is needed
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
        rec = frame_record(record, t)
        if made[i]:
            if setting is not None:
                checkpoint.remove(output)  # left by a run killed between writing the frame and removing them
            prev_output, prev_content = output, to_tensor(frame, stylizer.device)
            results.append(FrameResult(t, output, "reused"))
            if on_frame is not None:
                on_frame(results[-1])
            continue
        if stop():
            return SequenceOutcome(results, stopped=True, frame=t)
        start = time.perf_counter()
        C = to_tensor(frame, stylizer.device)
        init = temporal = None
        if seq.independent or prev_output is None or prev_content is None:
            scales = schedule(dataclasses.replace(cfg, size=max(size)))
        else:
            from .flow import motion
            if isinstance(prev_output, Path):
                prev_output = to_tensor(load_image(prev_output), stylizer.device)
            m = motion(prev_content, C, seq.flow)
            warped = m.warp(prev_output)
            if seq.fill == "warped":
                init = warped
            else:
                own = stylizer.initial_image(C, style)
                init = m.weights * warped + (1 - m.weights) * own
            temporal = Temporal(warped, m.weights, seq.temporal_weight, seq.temporal_blur)
            scales = [(max(size), seq.warm_iterations)]
        on_iterate = None if progress is None else (lambda it, t=t: progress(t, it))

        keeper = resume = None
        if setting is not None:
            frame_setting = {**setting, "sequence": rec["sequence"]}
            if not restart:
                try:
                    resume = checkpoint.load(output, frame_setting)
                except checkpoint.StaleState as e:
                    note(f"{e}; starting frame {t} over")
            keeper = checkpoint.Keeper(output, frame_setting, rec, note=note)
        while True:
            if resume is not None:
                note(f"resuming frame {t} at evaluation {resume.i} of {resume.total} from "
                     f"{checkpoint.state_path(output)}")
            try:
                result = stylizer.run(frame, targets, style, on_iterate, should_stop=stop, init=init,
                                     temporal=temporal, scales=scales, resume=resume, on_state=keeper,
                                     state_every=(checkpoint_every or None) if keeper is not None else None)
                break
            except ResumeError as e:
                if resume is None:
                    raise
                note(f"{checkpoint.state_path(output)}: {e}; starting frame {t} over")
                resume = None
        if stop_asked:  # the frame is unfinished: not written under its name
            if keeper is None:
                return SequenceOutcome(results, stopped=True, frame=t)
            return SequenceOutcome(results, stopped=True, frame=t, kept=keeper.kept, problem=keeper.problem,
                                   partial=checkpoint.preview_path(output) if keeper.kept else None)
        save_image(result.image, output, description=provenance.dumps(rec))
        if keeper is not None:
            checkpoint.remove(output)
        results.append(FrameResult(t, output, "done", time.perf_counter() - start, result.evaluations,
                                   result.J, result.J_content, result.J_style, result.J_temporal))
        if on_frame is not None:
            on_frame(results[-1])
        prev_content, prev_output = C, to_tensor(result.image, stylizer.device)
    if count != len(outputs):
        raise InputError(f"{len(outputs)} frames expected, {count} decoded")
    return SequenceOutcome(results)
