"""nst: neural style transfer after Gatys, Ecker & Bethge, "Image Style Transfer Using CNNs" (CVPR 2016)."""

from .config import Config
from .errors import InputError, NSTError, WeightsError
from .targets import StyleTargets
from .transfer import Iterate, Stylizer, stylize

__version__ = "0.1.0"
__all__ = ["Config", "Iterate", "InputError", "NSTError", "WeightsError", "Stylizer", "StyleTargets", "stylize",
           "__version__"]
