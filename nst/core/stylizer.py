"""Stylizing one image: ``Stylizer`` (the network of nst.core.network, with the start image and
the run, coarse to fine) and the public ``stylize()``.

The pieces live beside it: the device and precision (nst.net.device), the schedule (nst.core.schedule),
J and its gradient (nst.core.objective), the loop (nst.core.optim), the style targets (nst.core.targets),
the start image (nst.core.start), the run's types (nst.core.runs) and its scales (nst.core.scales).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from PIL import Image
from torch import Tensor

from ..net.adain import AdaIN
from ..pixels.images import load_image, resize_long_edge
from . import regions
from .config import Config, StyleInput, style_parts
from .network import Network
from .objective import Temporal
from .planner import Plan
from .runs import Progress, RunResult, RunState, StyleImages
from .scales import Run
from .schedule import schedule
from .start import Start
from .targets import StyleTargets, Targets


def prepare_image(image: str | Path | Image.Image, size: int) -> Image.Image:
    """Load an image (path or PIL) as RGB with its long edge resized to ``size``."""
    return resize_long_edge(load_image(image), size)


class Stylizer(Network):
    """The frozen network on its device, loaded once and reused for any number of images.

    ``style_targets`` computes the Grams of one style image; ``run`` optimises one G for a
    content image, coarse to fine. A batch keeps one Stylizer and caches the style targets.
    """

    def __init__(self, cfg: Config) -> None:
        super().__init__(cfg)
        self._start = Start(self)

    @property
    def adain(self) -> AdaIN:
        """The AdaIN encoder and decoder (nst.net.adain), built at first use and kept."""
        return self._start.adain

    def initial_image(self, content: Tensor, style: StyleImages | None,
                      parts: Sequence[regions.Region] = ()) -> Tensor:
        """G at the start, at the content's size (see Config.init). For init='adain', one pass of
        AdaIN (Huang & Belongie 2017) on the content and the style (a blend: all its styles,
        interpolated by weight), with cfg.adain_strength. With regions (``parts``) and an init
        made from the style (adain, style): each region's own start (the photo where a region has
        no style), blended by the regions' guidance; ``style`` is the rest of the picture's."""
        return self._start.image(content, style, parts)

    def run(self, content: Image.Image, targets: Targets, style: StyleImages | None = None,
            progress: Progress | None = None, *, should_stop: Callable[[], bool] | None = None,
            resume: RunState | None = None, on_state: Callable[[RunState], None] | None = None,
            state_every: float | None = None, init: Tensor | None = None, temporal: Temporal | None = None,
            scales: Sequence[tuple[int, int]] | None = None, regions: Sequence[regions.Region] = (),
            on_plans: Callable[[Sequence[Plan]], None] | None = None) -> RunResult:
        """Stylize a content image (long edge cfg.size) towards ``targets``; return its RunResult
        (``.image`` is G as a picture).

        ``targets(long_edge, content)`` gives the style Grams at each scale of the schedule.
        ``style`` (an image, or a blend's (image, weight) pairs) is needed only for init='style'
        or 'adain'. ``should_stop()`` is asked after every evaluation; when it turns true the run
        ends early with the best G so far. With cfg.iterations 0 the initial image is returned.

        ``on_state(state)`` receives a RunState every ``state_every`` seconds (None: never) and,
        with ``state.stopped`` set, when should_stop() ended the run early: what to keep so that
        ``resume=state`` continues the run later with its remaining evaluations (ResumeError if
        the state does not fit this run's schedule or image size). A periodic state shares the
        run's tensors (the best G, Adam's moments: no image-sized copies, which the memory plan
        does not count): save it, or copy what you keep, before on_state returns. A J or gradient that turns
        non-finite is retried from the best G with smaller steps (nst.core.optim.minimize); if that
        fails it raises NSTError naming the likely cause.

        For video frames (nst.jobs.sequence): ``init`` is the starting G, RGB (1, 3, H, W) at the
        content's size, instead of cfg.init; ``temporal`` adds J_temporal at the last scale (its
        target RGB at the content's size); ``scales`` is the (long edge, evaluations) of each scale
        instead of nst.core.schedule.schedule(cfg).

        ``regions`` (nst.core.regions.Region): parts of the picture with their own style, from
        masks; ``targets`` and ``style`` are then the style of the rest of the picture.

        ``on_plans(plans)`` receives the memory plan of each scale with evaluations
        (nst.core.planner.Plan: tiles, optimiser, ``faster``), made before the first evaluation.
        """
        torch.manual_seed(self.cfg.seed)
        run = Run(self, content, targets, list(scales) if scales is not None else schedule(self.cfg), progress,
                  should_stop, resume, on_state, state_every, temporal, regions)
        with self.guard():
            G = run.start_image(style, init, self.initial_image)
            plans = run.forecast(G)
            if on_plans is not None:
                on_plans(plans)
            for scale in range(run.first, len(run.scales)):
                if run.scales[scale][1] == 0:  # nothing to do at this scale (a tiny budget, or none)
                    continue
                prepared = run.prepare_scale(scale, G)
                G = None  # the previous scale's G: the prepared scale holds it resized (an image less in memory)
                G, stopped = run.run_scale(prepared)
                del prepared
                if stopped:
                    break
            return run.result(G)


def stylize(content: StyleInput, style: StyleInput | Sequence[tuple[StyleInput, float]], *,
            progress: Progress | None = None, **options) -> Image.Image:
    """Stylize ``content`` with ``style``; return the generated image.

    ``style`` is an image (path or PIL) or a blend: a sequence of (image, weight) pairs, whose
    Gram targets are mixed by weight. ``options`` are the fields of ``nst.Config`` (same
    defaults as the CLI); ``progress`` is called with an ``Iterate`` after every evaluation of J.
    """
    cfg = Config(**options)
    content_img = prepare_image(content, cfg.size)
    styles = [(i, load_image(s), w) for i, (s, w) in enumerate(style_parts(style))]
    st = Stylizer(cfg)
    return st.run(content_img, StyleTargets(st).of(styles), [(img, w) for _, img, w in styles], progress).image
