"""nst: neural style transfer after Gatys, Ecker & Bethge, "Image Style Transfer Using CNNs" (CVPR 2016).

The names below are imported when first used (PEP 562), so that ``import nst`` and the commands
that need no network (``nst info``, ``nst plot``) start without importing torch.
"""

import importlib

__version__ = "0.1.0"
_WHERE = {"Config": "config", "Iterate": "transfer", "InputError": "errors", "NSTError": "errors",
          "WeightsError": "errors", "Stylizer": "transfer", "StyleTargets": "targets", "stylize": "transfer"}
__all__ = [*_WHERE, "__version__"]


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
