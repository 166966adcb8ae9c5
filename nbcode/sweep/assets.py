"""The files a sweep ships with: ``sweep.js``, the renderer of the HTML book and of the live widget."""

from __future__ import annotations

from pathlib import Path

__all__ = ["JS_PATH", "PLAY_JS_PATH"]

#: The SVG renderer shared by the static HTML form and the live anywidget view.
JS_PATH = Path(__file__).with_name("sweep.js")

#: The player of a slider with ``play=True`` (a button that steps through its positions); added
#: to a sweep's HTML only when it has such a slider.
PLAY_JS_PATH = Path(__file__).with_name("play.js")
