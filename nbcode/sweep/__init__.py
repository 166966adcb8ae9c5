"""Live parameter sweeps that work in Jupyter, in the built HTML book, and under nbval.

See :func:`sweep`. A drawing function returns a :class:`Plot` (matplotlib-like, declarative);
controls are :class:`Slider` and :class:`Choice`.
"""

from nbcode.sweep.controls import Choice, Slider
from nbcode.sweep.assets import JS_PATH, PLAY_JS_PATH
from nbcode.sweep.core import Sweep, sweep, sweep_mode
from nbcode.sweep.figure import Axes, Plot

__all__ = ["sweep", "Sweep", "Slider", "Choice", "Plot", "Axes", "sweep_mode", "JS_PATH", "PLAY_JS_PATH"]
