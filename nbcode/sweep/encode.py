"""Turn :class:`~nbcode.sweep.figure.Plot` frames into compact JSON for the HTML renderer.

**Numbers are quantized to the figure, not to a number of digits.** For each axis of a panel the
*span* is the axis limits if they are set, else the range of the data on that axis (what
``sweep.js`` shows). A value is stored as an integer count of the step
:math:`q = m\\cdot 10^e`, :math:`m \\in \\{1, 2, 5\\}`, the largest such step with at least 1,000
steps in the span: finer than a pixel, and far coarser than the round-off by which two CPUs,
BLAS kernels or thread counts differ. Log axes are quantized the same way in the log domain.
Round-off next to zero becomes exactly zero; values more than 100 spans outside an axis are
clamped there (the renderer clips them anyway). Rounding edges are shifted off the simple
decimals (see ``_SHIFT``), which exact computations tend to hit.

**Everything that repeats is stored once.** The document has six lists:

* ``pool``: arrays, as ``{"q": [m, e], "d": [...]}`` (``"log": 1`` on a log axis), ``d`` the first
  count and then the difference to the previous one, ``null`` a gap; and contour backgrounds, as
  PNG data URIs (32-colour palettes). An array that is the start of a longer one with the same
  step (a trajectory shown up to step k) is not stored again: the line takes the first ``n``
  values of the longer one.
* ``styles``: the look of a line (label, colour, dash, width, marker, size, opacity) or of a
  reference line (label, colour, dash, width);
* ``heads``: the titles, labels, scales and limits of a panel;
* ``panels``: one panel: its head, its lines as ``[x, y, style]`` or ``[x, y, style, n]``
  indices, reference lines as ``[axis, value, style]``, texts and background;
* ``frames``: a caption and the panels side by side;
* ``order``: the frame of each grid position (row-major, the last control fastest).

:func:`decode_sweep` expands a document back into one plain frame per grid position, to compare
two payloads number by number.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
from decimal import Decimal
from typing import Any, Iterable

import numpy as np

from nbcode import _validate
from nbcode.sweep.figure import DASHES as _DASH
from nbcode.plot.quantize import STEPS, Quantizer, snap_field
from nbcode.sweep.figure import Axes, Background, Plot

__all__ = ["FramePool", "LAYOUT", "Quantizer", "encode_array", "decode_array", "decode_sweep", "STEPS"]

#: Margins of a panel in pixels (left, right, top, bottom); shared with sweep.js.
LAYOUT = {"ml": 58, "mr": 12, "mt": 28, "mb": 44, "px_per_inch": 100}
_PNG_CACHE: dict[str, str] = {}  # background hash -> JSON string of its PNG data URI


def _encode_counts(key: tuple[int, int, bool], counts: Iterable[int | None]) -> str:
    m, e, log = key
    parts, prev = [], 0
    for k in counts:
        if k is None:
            parts.append("null")
        else:
            parts.append(str(k - prev))
            prev = k
    return '{"q":[' + f"{m},{e}" + "]" + (',"log":1' if log else "") + ',"d":[' + ",".join(parts) + "]}"


def encode_array(a: Any, log: bool = False, lim: Any = None) -> str:
    """``a`` encoded on an axis that shows exactly ``a`` (or has limits ``lim``).

    Examples
    --------
    >>> encode_array([0.0, 0.5, 1.0, float("nan"), 1.0])
    '{"q":[1,-3],"d":[0,500,500,null,0]}'
    """
    vals = _validate.array(a, "a", finite=False, nonempty=False, copy=False).reshape(-1)
    q = Quantizer.for_axis(vals.tolist(), _validate.flag(log, "log"), lim)
    return _encode_counts(q.key, q.counts(vals))


def decode_array(item: dict[str, Any]) -> list[float | None]:
    """The numbers of one encoded array (the inverse of :func:`encode_array`).

    Examples
    --------
    >>> decode_array(json.loads(encode_array([0.0, 0.5, float("inf"), 1.0])))
    [0.0, 0.5, None, 1.0]
    """
    if not isinstance(item, dict):
        raise TypeError(f"Invalid item: {_validate.show(item)} (need a dict like {{'q': [m, e], 'd': [...]}})")
    try:
        m, e = item["q"]
        log, k = bool(item.get("log")), 0
        out: list[float | None] = []
        for d in item["d"]:
            if d is None:
                out.append(None)
                continue
            k += int(d)
            t = float(Decimal(k * int(m)).scaleb(int(e)))
            out.append(10.0**t if log else t)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"Invalid item: {_validate.show(item)} (not an encoded array: {type(exc).__name__}: {exc})") from None
    return out


def _palette_png(uri: str) -> str:
    """A PNG data URI re-encoded with a 32-colour palette (a fifth of the size, same look)."""
    from PIL import Image

    raw = base64.b64decode(uri.split(",", 1)[1])
    img = Image.open(io.BytesIO(raw)).convert("RGBA")
    pal = img.quantize(colors=32, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    buf = io.BytesIO()
    pal.save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _prefix_hashes(counts: tuple[int | None, ...]) -> list[int]:
    """A rolling hash of every prefix of ``counts`` (one pass, not one tuple per prefix)."""
    out, h = [], 0
    for c in counts:
        h = (h * 1_000_003 + (c if c is not None else 7_777_777)) % (2**61 - 1)
        out.append(h)
    return out or [0]


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


class _Interner:
    """A list of JSON fragments, each stored once."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self._index: dict[str, int] = {}

    def add(self, fragment: str) -> int:
        i = self._index.get(fragment)
        if i is None:
            i = self._index[fragment] = len(self.items)
            self.items.append(fragment)
        return i


class FramePool:
    """Collects frames (one per grid position); everything that repeats is stored once."""

    def __init__(self) -> None:
        self._arrays: list[tuple[tuple[int, int, bool], tuple[int | None, ...]]] = []  # provisional
        self._array_index: dict[tuple[Any, ...], int] = {}
        self._images: list[str] = []
        self._image_index: dict[str, int] = {}
        self._styles = _Interner()
        self._heads = _Interner()
        self._panels: list[dict[str, Any]] = []  # with provisional array ids
        self._panel_index: dict[str, int] = {}
        self._frames = _Interner()
        self.order: list[int] = []

    # -- collecting ---------------------------------------------------------------------------
    def _array(self, q: Quantizer, values: Any) -> int:
        key = (q.key, q.counts(values))
        i = self._array_index.get(key)
        if i is None:
            i = self._array_index[key] = len(self._arrays)
            self._arrays.append(key)
        return i

    def _background(self, bg: Background, w: int, h: int) -> str:
        # Quantize the surface before hashing and drawing, so that round-off neither splits one
        # background into two entries nor moves a contour.
        bg = Background(bg.x, bg.y, snap_field(bg.z), bg.levels, bg.filled, bg.cmap)
        h_ = hashlib.sha1()
        for arr in (bg.x, bg.y, bg.z):
            h_.update(np.ascontiguousarray(arr, dtype=float).tobytes())
        h_.update(repr((bg.levels if np.isscalar(bg.levels) else list(np.asarray(bg.levels)), bg.filled, bg.cmap, w, h)).encode())
        key = h_.hexdigest()
        if key not in _PNG_CACHE:
            if len(_PNG_CACHE) > 64:
                _PNG_CACHE.clear()
            _PNG_CACHE[key] = _palette_png(bg.to_png_data_uri(w, h))
        return _PNG_CACHE[key]

    def _image(self, uri: str) -> int:
        i = self._image_index.get(uri)
        if i is None:
            i = self._image_index[uri] = len(self._images)
            self._images.append(uri)
        return i

    def _panel(self, ax: Axes, panel_w: int, panel_h: int) -> int:
        xlog, ylog = ax.xscale == "log", ax.yscale == "log"
        xs = [v for ln in ax.lines for v in ln.x.tolist()] + [r.value for r in ax.refs if r.axis == "x"]
        ys = [v for ln in ax.lines for v in ln.y.tolist()] + [r.value for r in ax.refs if r.axis == "y"]
        qx = Quantizer.for_axis(xs, xlog, ax.xlim)
        qy = Quantizer.for_axis(ys, ylog, ax.ylim)
        lines = []
        for ln in ax.lines:
            style = {"label": ln.label, "color": ln.color, "dash": _DASH[ln.ls], "lw": ln.lw, "marker": ln.marker,
                     "ms": ln.ms, "alpha": ln.alpha}
            lines.append([self._array(qx, ln.x), self._array(qy, ln.y), self._styles.add(_dumps(style))])
        head = {
            "title": ax.title, "xlabel": ax.xlabel, "ylabel": ax.ylabel, "xscale": ax.xscale, "yscale": ax.yscale,
            "xlim": None if ax.xlim is None else [qx.number(v) for v in ax.xlim],
            "ylim": None if ax.ylim is None else [qy.number(v) for v in ax.ylim],
            "legend": ax.show_legend,
        }
        panel: dict[str, Any] = {
            "head": self._heads.add(_dumps(head)),
            "lines": lines,
            "refs": [[r.axis, (qx if r.axis == "x" else qy).number(r.value),
                      self._styles.add(_dumps({"label": r.label, "color": r.color, "dash": _DASH[r.ls], "lw": r.lw}))]
                     for r in ax.refs],
            "texts": [{"x": qx.number(t.x), "y": qy.number(t.y), "s": t.s, "color": t.color, "ha": t.ha, "va": t.va}
                      for t in ax.texts],
            "bg": None,
        }
        if ax.background is not None:
            w = panel_w - LAYOUT["ml"] - LAYOUT["mr"]
            h = panel_h - LAYOUT["mt"] - LAYOUT["mb"]
            panel["bg"] = self._image(self._background(ax.background, w, h))
        text = _dumps(panel)
        i = self._panel_index.get(text)
        if i is None:
            i = self._panel_index[text] = len(self._panels)
            self._panels.append(panel)
        return i

    def add(self, plot: Plot) -> None:
        """Append ``plot`` as the next grid position."""
        if not isinstance(plot, Plot):
            raise TypeError(f"Invalid plot: {_validate.show(plot)} (a sweep's drawing function must return an "
                            f"nbcode.sweep.Plot, got {type(plot).__name__})")
        width = int(round(plot.width * LAYOUT["px_per_inch"]))
        height = int(round(plot.height * LAYOUT["px_per_inch"]))
        panel_w = width // len(plot.axes)
        axes = [self._panel(a, panel_w, height) for a in plot.axes]
        self.order.append(self._frames.add(_dumps({"w": width, "h": height, "caption": plot.caption, "axes": axes})))

    # -- writing ------------------------------------------------------------------------------
    def _resolve_arrays(self) -> tuple[list[str], list[tuple[int, bool]]]:
        """Pool the arrays; an array that starts a longer one (same step) becomes a prefix of it.

        Returns the pool's fragments (images first, then arrays) and, for each provisional array
        id, its pool index and whether it is the whole pooled array.
        """
        pool = [json.dumps(uri) for uri in self._images]
        # (step key, length, hash of the first `length` counts) -> provisional id of a pooled array
        starts: dict[tuple[Any, ...], int] = {}
        pooled_at: dict[int, int] = {}  # provisional id -> pool index
        where: list[tuple[int, bool]] = [(0, True)] * len(self._arrays)
        # longest first, so that each shorter array can find a longer one that it starts
        for i in sorted(range(len(self._arrays)), key=lambda i: -len(self._arrays[i][1])):
            key, counts = self._arrays[i]
            hashes = _prefix_hashes(counts)
            j = starts.get((key, len(counts), hashes[-1]))
            if j is not None and self._arrays[j][1][: len(counts)] == counts:
                where[i] = (pooled_at[j], len(self._arrays[j][1]) == len(counts))
                continue
            pooled_at[i] = len(pool)
            pool.append(_encode_counts(key, counts))
            where[i] = (pooled_at[i], True)
            for n, h in enumerate(hashes, start=1):
                starts.setdefault((key, n, h), i)
        return pool, where

    def to_json(self, controls: list[dict[str, Any]]) -> str:
        """The whole sweep as one JSON document; ``controls`` describes the controls (a list of
        dicts, as :meth:`Sweep.to_json` builds it)."""
        if not isinstance(controls, list) or not all(isinstance(c, dict) for c in controls):
            raise TypeError(f"Invalid controls: {_validate.show(controls)} (need a list of dicts)")
        pool, where = self._resolve_arrays()
        panels = []
        for p in self._panels:
            lines = []
            for x, y, s in p["lines"]:
                (xi, x_whole), (yi, y_whole) = where[x], where[y]
                n = len(self._arrays[x][1])
                lines.append([xi, yi, s] if x_whole and y_whole else [xi, yi, s, n])
            panels.append(_dumps({**p, "lines": lines}))
        return (
            '{"controls":' + _dumps(controls)
            + ',"pool":[' + ",".join(pool) + "]"
            + ',"styles":[' + ",".join(self._styles.items) + "]"
            + ',"heads":[' + ",".join(self._heads.items) + "]"
            + ',"panels":[' + ",".join(panels) + "]"
            + ',"frames":[' + ",".join(self._frames.items) + "]"
            + ',"order":' + _dumps(self.order) + "}"
        )


def decode_sweep(doc: str | dict[str, Any]) -> dict[str, Any]:
    """A sweep's JSON document with every grid position expanded to its own frame and every
    pooled array decoded: ``{"controls": [...], "frames": [frame, ...]}``, one frame per grid
    position in row-major order. A frame's panels hold their lines as dicts with ``x``, ``y``
    (lists of numbers, None for a gap) and the line's style; backgrounds stay data URIs.
    """
    if not isinstance(doc, (str, dict)):
        raise TypeError(f"Invalid doc: {_validate.show(doc)} (need a sweep's JSON document, as a str or a dict)")
    try:
        return _decode_sweep(json.loads(doc) if isinstance(doc, str) else doc)
    except (json.JSONDecodeError, KeyError, IndexError, TypeError, ValueError) as exc:
        raise ValueError(f"Invalid doc: {_validate.show(doc)} (not a sweep document: {type(exc).__name__}: {exc})") from None


def _decode_sweep(data: dict[str, Any]) -> dict[str, Any]:
    pool = [decode_array(it) if isinstance(it, dict) else it for it in data["pool"]]
    styles = data["styles"]

    def panel(p: dict[str, Any]) -> dict[str, Any]:
        lines = []
        for ln in p["lines"]:
            x, y, s = pool[ln[0]], pool[ln[1]], styles[ln[2]]
            if len(ln) > 3:
                x, y = x[: ln[3]], y[: ln[3]]
            lines.append({**s, "x": x, "y": y})
        refs = [{"axis": a, "value": v, **styles[si]} for a, v, si in p["refs"]]
        return {**data["heads"][p["head"]], **{k: v for k, v in p.items() if k != "head"}, "lines": lines,
                "refs": refs, "bg": None if p["bg"] is None else pool[p["bg"]]}

    panels = [panel(p) for p in data["panels"]]
    frames = []
    for i in data["order"]:
        f = data["frames"][i]
        frames.append({**f, "axes": [panels[a] for a in f["axes"]]})
    return {"controls": data["controls"], "frames": frames}
