"""Turn :class:`~nbcode.sweep.figure.Plot` frames into compact JSON for the HTML renderer.

Numbers keep four significant digits (enough for a figure, and stable across machines, which
nbval needs); arrays, backgrounds and whole frames that repeat are stored once in a pool.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np

from nbcode.sweep.figure import DASHES as _DASH
from nbcode.sweep.figure import Axes, Background, Plot

__all__ = ["FramePool", "LAYOUT"]

#: Margins of a panel in pixels (left, right, top, bottom); shared with sweep.js.
LAYOUT = {"ml": 58, "mr": 12, "mt": 28, "mb": 44, "px_per_inch": 100}
_PNG_CACHE: dict[str, str] = {}  # background hash -> JSON string of its PNG data URI


def encode_array(a: np.ndarray) -> str:
    """JSON text of ``a`` with 4 significant digits; non-finite values become ``null``."""
    parts = []
    for v in np.asarray(a, dtype=float).tolist():
        if v != v or v in (float("inf"), float("-inf")):
            parts.append("null")
        else:
            s = format(v, ".4g")
            parts.append("0" if s == "-0" else s)
    return "[" + ",".join(parts) + "]"


def _num(v: float | None) -> float | None:
    if v is None or not np.isfinite(v):
        return None
    return float(format(float(v), ".6g"))


class FramePool:
    """Collects frames; repeated arrays, images and frames are stored once."""

    def __init__(self) -> None:
        self.items: list[str] = []  # JSON fragments: arrays or strings
        self._index: dict[str, int] = {}
        self.frames: list[str] = []  # unique frame JSON
        self._frame_index: dict[str, int] = {}
        self.order: list[int] = []  # grid position -> unique frame

    def _intern(self, fragment: str) -> int:
        i = self._index.get(fragment)
        if i is None:
            i = self._index[fragment] = len(self.items)
            self.items.append(fragment)
        return i

    def _background(self, bg: Background, w: int, h: int) -> int:
        h_ = hashlib.sha1()
        for arr in (bg.x, bg.y, bg.z):
            h_.update(np.ascontiguousarray(arr, dtype=float).tobytes())
        h_.update(repr((bg.levels if np.isscalar(bg.levels) else list(np.asarray(bg.levels)), bg.filled, bg.cmap, w, h)).encode())
        key = h_.hexdigest()
        if key not in _PNG_CACHE:
            if len(_PNG_CACHE) > 64:
                _PNG_CACHE.clear()
            _PNG_CACHE[key] = json.dumps(bg.to_png_data_uri(w, h))
        return self._intern(_PNG_CACHE[key])

    def _axes(self, ax: Axes, panel_w: int, panel_h: int) -> dict[str, Any]:
        d: dict[str, Any] = {
            "title": ax.title, "xlabel": ax.xlabel, "ylabel": ax.ylabel,
            "xscale": ax.xscale, "yscale": ax.yscale,
            "xlim": None if ax.xlim is None else [_num(v) for v in ax.xlim],
            "ylim": None if ax.ylim is None else [_num(v) for v in ax.ylim],
            "legend": ax.show_legend,
            "lines": [
                {"x": self._intern(encode_array(ln.x)), "y": self._intern(encode_array(ln.y)), "label": ln.label,
                 "color": ln.color, "dash": _DASH[ln.ls], "lw": ln.lw, "marker": ln.marker, "ms": ln.ms, "alpha": ln.alpha}
                for ln in ax.lines
            ],
            "refs": [{"axis": r.axis, "value": _num(r.value), "label": r.label, "color": r.color, "dash": _DASH[r.ls], "lw": r.lw} for r in ax.refs],
            "texts": [{"x": _num(t.x), "y": _num(t.y), "s": t.s, "color": t.color, "ha": t.ha, "va": t.va} for t in ax.texts],
            "bg": None,
        }
        if ax.background is not None:
            w = panel_w - LAYOUT["ml"] - LAYOUT["mr"]
            h = panel_h - LAYOUT["mt"] - LAYOUT["mb"]
            d["bg"] = self._background(ax.background, w, h)
        return d

    def add(self, plot: Plot) -> None:
        """Append ``plot`` as the next grid position."""
        if not isinstance(plot, Plot):
            raise TypeError(f"a sweep's drawing function must return an nbcode.sweep.Plot, got {type(plot).__name__}")
        width = int(round(plot.width * LAYOUT["px_per_inch"]))
        height = int(round(plot.height * LAYOUT["px_per_inch"]))
        panel_w = width // len(plot.axes)
        frame = {"w": width, "h": height, "caption": plot.caption, "axes": [self._axes(a, panel_w, height) for a in plot.axes]}
        text = json.dumps(frame, separators=(",", ":"), ensure_ascii=False)
        i = self._frame_index.get(text)
        if i is None:
            i = self._frame_index[text] = len(self.frames)
            self.frames.append(text)
        self.order.append(i)

    def to_json(self, controls: list[dict[str, Any]]) -> str:
        """The whole sweep as one JSON document."""
        head = json.dumps(controls, separators=(",", ":"), ensure_ascii=False)
        return (
            '{"controls":' + head
            + ',"pool":[' + ",".join(self.items) + "]"
            + ',"frames":[' + ",".join(self.frames) + "]"
            + ',"order":' + json.dumps(self.order, separators=(",", ":")) + "}"
        )
