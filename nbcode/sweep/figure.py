"""A small declarative figure: what a sweep's drawing function returns.

A :class:`Plot` holds one row of :class:`Axes`, each a list of lines, markers, reference
lines, texts and at most one contour background, plus a caption. It is plain data, so the same
frame can be drawn by matplotlib (in Jupyter, and for static figures) and shipped as JSON to
the book's HTML pages, where a small SVG renderer draws it with no kernel. The method names
follow matplotlib's (``plot``, ``scatter``, ``axhline``, ``contour``, ``set``) so that drawing
code reads like ordinary matplotlib code.
"""

from __future__ import annotations

import base64
import functools
import io
import numbers
from dataclasses import dataclass, field
from typing import Any, Sequence

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes as _MplAxes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter

from nbcode.plot import STYLE_PATH, _resolve, snap_figure
from nbcode.plot.quantize import snap_field
from nbcode import _validate

__all__ = ["Plot", "Axes", "Line", "RefLine", "Text", "Background"]

#: matplotlib line styles and the SVG dash pattern sweep.js draws for each
DASHES = {"-": "", "--": "6,4", ":": "1.5,3", "-.": "6,3,1.5,3", "": "none"}
_MARKERS = {None, "o", "s", "x", "+", "."}
_SCALES = {"linear", "log"}


def _as_1d(values: Any, name: str, *, finite: bool = False) -> np.ndarray:
    """A float64 copy, flattened; a column or row vector is a line too (as in matplotlib), a
    table of several columns is refused. NaN or inf breaks a line (``finite=False``)."""
    a = _validate.array(values, name, finite=finite)
    if sum(n > 1 for n in a.shape) > 1:
        raise ValueError(f"Invalid shape of {name}: {a.shape} (need one dimension: a line is a vector)")
    return a.reshape(-1)


def _color(c: Any, default: int = 0) -> str:
    """A colour argument of the methods below (``color`` in messages)."""
    return _resolve(c, default, "color")


def _ax(ax: Any) -> None:
    if not isinstance(ax, _MplAxes):
        raise TypeError(f"Invalid ax: {_validate.show(ax)} (need matplotlib axes)")


def _levels(levels: Any) -> None:
    """Contour levels: a number of levels (an integer >= 1) or increasing finite values."""
    if isinstance(levels, (numbers.Integral, np.integer)) and not isinstance(levels, (bool, np.bool_)):
        _validate.count(levels, "levels", low=1)
        return
    lv = _validate.array(levels, "levels", ndim=1)
    if np.any(np.diff(lv) <= 0):
        raise ValueError(f"Invalid levels: {_validate.show(levels)} (need an integer or increasing values)")


def _cmap(cmap: Any) -> None:
    _validate.text(cmap, "cmap")
    if cmap not in mpl.colormaps:
        raise ValueError(f"Invalid cmap: {_validate.show(cmap)} (need the name of a matplotlib colormap, e.g. 'viridis')")


@dataclass
class Line:
    """A polyline and/or markers in data coordinates; NaN or inf breaks the line."""

    x: np.ndarray
    y: np.ndarray
    label: str | None = None
    color: str = "#0072B2"
    ls: str = "-"
    lw: float = 1.8
    marker: str | None = None
    ms: float = 5.0
    alpha: float = 1.0


@dataclass
class RefLine:
    """A horizontal (``axis='y'``) or vertical (``axis='x'``) reference line."""

    axis: str
    value: float
    label: str | None = None
    color: str = "#000000"
    ls: str = "--"
    lw: float = 1.0


@dataclass
class Text:
    """A text at data coordinates ``(x, y)``."""

    x: float
    y: float
    s: str
    color: str = "#000000"
    ha: str = "left"
    va: str = "bottom"


@dataclass
class Background:
    """Contours (or a filled map) of ``z`` over the grid ``x`` × ``y``, drawn behind the data."""

    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    levels: Any = 12
    filled: bool = False
    cmap: str = "viridis"

    def draw(self, ax: Any, fast: bool = False) -> None:
        """Contours on ``ax``; ``fast`` pastes a cached raster instead (for live redraws)."""
        _ax(ax)
        if _validate.flag(fast, "fast"):
            ax.imshow(self._raster(), extent=(self.x[0], self.x[-1], self.y[0], self.y[-1]), aspect="auto", zorder=0)
            return
        fn = ax.contourf if self.filled else ax.contour
        # snapped to 1e-6 of its range: round-off neither moves a contour nor breaks a tie
        fn(self.x, self.y, snap_field(self.z), levels=self.levels, cmap=self.cmap, linewidths=None if self.filled else 0.8)

    def _raster(self) -> np.ndarray:
        key = (self.x.tobytes(), self.y.tobytes(), self.z.tobytes(), repr(self.levels), self.filled, self.cmap)
        if key not in _RASTERS:
            fig = Figure(figsize=(4, 3), dpi=100)
            fig.set_layout_engine("none")
            ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
            self.draw(ax)
            ax.set_xlim(float(self.x[0]), float(self.x[-1]))
            ax.set_ylim(float(self.y[0]), float(self.y[-1]))
            ax.set_axis_off()
            canvas = FigureCanvasAgg(fig)
            canvas.draw()
            if len(_RASTERS) > 32:
                _RASTERS.clear()
            _RASTERS[key] = np.asarray(canvas.buffer_rgba()).copy()
        return _RASTERS[key]

    def to_png_data_uri(self, width_px: int, height_px: int) -> str:
        """Render just the contours, edge to edge, as a PNG data URI (for the HTML renderer)."""
        width_px = _validate.count(width_px, "width_px", low=1)
        height_px = _validate.count(height_px, "height_px", low=1)
        fig = Figure(figsize=(width_px / 100, height_px / 100), dpi=100)
        fig.set_layout_engine("none")
        ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
        self.draw(ax)
        ax.set_xlim(float(self.x[0]), float(self.x[-1]))
        ax.set_ylim(float(self.y[0]), float(self.y[-1]))
        ax.set_axis_off()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
        return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


_RASTERS: dict[Any, np.ndarray] = {}
_plain_log_formatter = FuncFormatter(lambda v, _: f"{v:.0e}".replace("e-0", "e-").replace("e+0", "e"))


@functools.lru_cache(maxsize=2)
def book_rc(fast: bool) -> dict[str, Any]:
    """The book style as rcParams; ``fast`` drops the constrained layout and tight bbox (slow)."""
    params = mpl.rc_params_from_file(str(STYLE_PATH), use_default_template=False)
    rc: dict[str, Any] = {str(k): params[k] for k in params}
    if fast:
        rc["figure.constrained_layout.use"] = False
        rc["savefig.bbox"] = None
        rc["figure.dpi"] = rc["savefig.dpi"] = 72
    return rc


@dataclass
class Axes:
    """One panel of a :class:`Plot`. Build it with the matplotlib-like methods."""

    title: str = ""
    xlabel: str = ""
    ylabel: str = ""
    xlim: tuple[float, float] | None = None
    ylim: tuple[float, float] | None = None
    xscale: str = "linear"
    yscale: str = "linear"
    show_legend: bool = False
    lines: list[Line] = field(default_factory=list)
    refs: list[RefLine] = field(default_factory=list)
    texts: list[Text] = field(default_factory=list)
    background: Background | None = None

    def plot(
        self,
        x: Any,
        y: Any,
        *,
        label: str | None = None,
        color: int | str | None = None,
        ls: str = "-",
        lw: float = 1.8,
        marker: str | None = None,
        ms: float = 5.0,
        alpha: float = 1.0,
    ) -> Axes:
        """Add a line (``ls=''`` for markers only). Returns ``self`` so calls chain."""
        xa, ya = _as_1d(x, "x"), _as_1d(y, "y")
        if xa.shape != ya.shape:
            raise ValueError(f"x and y must have the same length, got {xa.size} and {ya.size}")
        if ls not in DASHES:
            raise ValueError(f"Invalid line style: {ls!r} (use one of {sorted(DASHES)})")
        if marker not in _MARKERS:
            raise ValueError(f"Invalid marker: {marker!r}")
        lw, ms = _validate.real(lw, "lw", low=0), _validate.real(ms, "ms", low=0)
        alpha = _validate.probability(alpha, "alpha")
        c = _color(color, default=len(self.lines))
        self.lines.append(Line(xa, ya, label, c, ls, lw, marker, ms, alpha))
        return self

    def scatter(
        self,
        x: Any,
        y: Any,
        *,
        label: str | None = None,
        color: int | str | None = None,
        marker: str = "o",
        ms: float = 5.0,
        alpha: float = 1.0,
    ) -> Axes:
        """Add markers with no connecting line."""
        _validate.choice(marker, "marker", sorted(m for m in _MARKERS if m is not None))
        return self.plot(x, y, label=label, color=color, ls="", marker=marker, ms=ms, alpha=alpha)

    def axhline(self, y: float, *, label: str | None = None, color: int | str = "#000000", ls: str = "--", lw: float = 1.0) -> Axes:
        """Add a horizontal reference line at height ``y``."""
        y, lw = _validate.real(y, "y"), _validate.real(lw, "lw", low=0)
        _validate.choice(ls, "line style", list(DASHES))
        self.refs.append(RefLine("y", y, label, _ref_color(color), ls, lw))
        return self

    def axvline(self, x: float, *, label: str | None = None, color: int | str = "#000000", ls: str = "--", lw: float = 1.0) -> Axes:
        """Add a vertical reference line at ``x``."""
        x, lw = _validate.real(x, "x"), _validate.real(lw, "lw", low=0)
        _validate.choice(ls, "line style", list(DASHES))
        self.refs.append(RefLine("x", x, label, _ref_color(color), ls, lw))
        return self

    def text(self, x: float, y: float, s: str, *, color: int | str = "#000000", ha: str = "left", va: str = "bottom") -> Axes:
        """Write ``s`` at data coordinates ``(x, y)``."""
        x, y = _validate.real(x, "x"), _validate.real(y, "y")
        _validate.choice(ha, "ha", ["left", "center", "right"])
        _validate.choice(va, "va", ["top", "center", "bottom", "baseline"])
        self.texts.append(Text(x, y, str(s), _ref_color(color), ha, va))
        return self

    def contour(self, x: Any, y: Any, z: Any, *, levels: Any = 12, filled: bool = False, cmap: str = "viridis") -> Axes:
        """Draw contours of ``z[i, j] = f(x[j], y[i])`` behind the data; fixes the limits to the grid."""
        # the grid is finite; the surface may have NaN or inf (an undefined region, log 0): gaps
        xa, ya, za = _as_1d(x, "x", finite=True), _as_1d(y, "y", finite=True), _validate.array(z, "z", finite=False)
        _validate.flag(filled, "filled")
        _levels(levels)
        _cmap(cmap)
        if za.shape != (ya.size, xa.size):
            raise ValueError(f"z must have shape (len(y), len(x)) = {(ya.size, xa.size)}, got {za.shape}")
        self.background = Background(xa, ya, za, levels, filled, cmap)
        self.xlim = (float(xa[0]), float(xa[-1]))
        self.ylim = (float(ya[0]), float(ya[-1]))
        return self

    def set(
        self,
        *,
        title: str | None = None,
        xlabel: str | None = None,
        ylabel: str | None = None,
        xlim: Sequence[float] | None = None,
        ylim: Sequence[float] | None = None,
        xscale: str | None = None,
        yscale: str | None = None,
    ) -> Axes:
        """Set titles, labels, limits and scales (``'linear'`` or ``'log'``)."""
        for name, scale in (("xscale", xscale), ("yscale", yscale)):
            if scale is not None and scale not in _SCALES:
                raise ValueError(f"Invalid {name}: {scale!r} (use 'linear' or 'log')")
        for name, lim in (("xlim", xlim), ("ylim", ylim)):
            if lim is None:
                continue
            pair = _validate.array(lim, name, finite=False)
            if pair.shape != (2,) or not np.all(np.isfinite(pair)) or pair[0] == pair[1]:
                raise ValueError(f"Invalid {name}: {lim!r} (two different finite numbers)")
        if title is not None:
            self.title = title
        if xlabel is not None:
            self.xlabel = xlabel
        if ylabel is not None:
            self.ylabel = ylabel
        if xlim is not None:
            self.xlim = (float(xlim[0]), float(xlim[1]))
        if ylim is not None:
            self.ylim = (float(ylim[0]), float(ylim[1]))
        if xscale is not None:
            self.xscale = xscale
        if yscale is not None:
            self.yscale = yscale
        return self

    def legend(self) -> Axes:
        """Show a legend of the labelled lines."""
        self.show_legend = True
        return self

    def draw(self, ax: Any, fast: bool = False) -> None:
        """Draw this panel on a matplotlib ``ax``."""
        _ax(ax)
        fast = _validate.flag(fast, "fast")
        if self.background is not None:
            self.background.draw(ax, fast=fast)
        for ln in self.lines:
            ax.plot(
                ln.x, ln.y, label=ln.label, color=ln.color, ls=ln.ls if ln.ls else "none", lw=ln.lw,
                marker=ln.marker, ms=ln.ms, alpha=ln.alpha,
            )
        for r in self.refs:
            fn = ax.axhline if r.axis == "y" else ax.axvline
            fn(r.value, label=r.label, color=r.color, ls=r.ls, lw=r.lw)
        for t in self.texts:
            ax.text(t.x, t.y, t.s, color=t.color, ha=t.ha, va=t.va)
        ax.set_xscale(self.xscale)
        ax.set_yscale(self.yscale)
        if fast:  # mathtext tick labels (10^k) cost ~15 ms a panel; plain ones are enough live
            for axis, scale in ((ax.xaxis, self.xscale), (ax.yaxis, self.yscale)):
                if scale == "log":
                    axis.set_major_formatter(_plain_log_formatter)
                    axis.set_minor_formatter(NullFormatter())
        if self.xlim is not None:
            ax.set_xlim(*self.xlim)
        if self.ylim is not None:
            ax.set_ylim(*self.ylim)
        ax.set_title(self.title)
        ax.set_xlabel(self.xlabel)
        ax.set_ylabel(self.ylabel)
        if (self.show_legend and any(ln.label for ln in self.lines)) or any(r.label for r in self.refs):
            # a labelled reference line always gets a legend (as in sweep.js)
            ax.legend()


class Plot:
    """A figure of ``ncols`` panels side by side, with a caption underneath.

    Parameters
    ----------
    ncols : int
        Number of panels.
    width, height : float
        Size in inches (100 px per inch in the HTML renderer).
    caption : str
        A line of text under the panels, e.g. the measured numbers of this frame.

    Examples
    --------
    >>> p = Plot(ncols=2, caption="eta = 0.5")
    >>> p[0].plot([0, 1, 2], [1.0, 0.5, 0.25], label="loss").set(yscale="log")  # doctest: +ELLIPSIS
    Axes(...)
    >>> len(p.axes), p.axes[0].lines[0].y.tolist()
    (2, [1.0, 0.5, 0.25])
    """

    def __init__(self, ncols: int = 1, *, width: float | None = None, height: float = 3.6, caption: str = "") -> None:
        ncols = _validate.count(ncols, "ncols", low=1, high=4)
        _validate.optional(_validate.real, width, "width", low=0, low_open=True)
        _validate.real(height, "height", low=0, low_open=True)
        self.axes = [Axes() for _ in range(ncols)]
        self.width = float(width if width is not None else min(4.2 * ncols, 10.0))
        self.height = float(height)
        self.caption = _validate.text(caption, "caption")

    def __getitem__(self, i: int) -> Axes:
        return self.axes[i]

    def __repr__(self) -> str:
        return f"Plot(ncols={len(self.axes)}, caption={self.caption!r})"

    def _repr_png_(self) -> bytes:
        """Jupyter shows a Plot as its matplotlib rendering."""
        buf = io.BytesIO()
        self.to_matplotlib().savefig(buf, format="png", metadata={"Software": None})
        return buf.getvalue()

    def to_matplotlib(self, fast: bool = False) -> Figure:
        """Draw with matplotlib in the book's style; returns a figure not attached to pyplot.

        The numbers are snapped to the figure's resolution (:func:`nbcode.plot.snap_figure`), so
        the picture is the same on every machine.

        ``fast=True`` is for live redraws: fixed margins instead of the constrained layout,
        a lower resolution and contours pasted from a cache (about 2x quicker).
        """
        fast = _validate.flag(fast, "fast")
        with mpl.rc_context(book_rc(fast)):  # type: ignore[arg-type]
            fig = Figure(figsize=(self.width, self.height))
            axs = fig.subplots(1, len(self.axes), squeeze=False)[0]
            for spec, ax in zip(self.axes, axs):
                spec.draw(ax, fast=fast)
            if self.caption:
                fig.supxlabel(self.caption, fontsize=10)
            if fast:
                w, h = self.width, self.height
                fig.subplots_adjust(left=0.7 / w, right=1 - 0.15 / w, bottom=0.75 / h, top=1 - 0.35 / h,
                                    wspace=0.9 / (w / len(self.axes)))
        return fig if fast else snap_figure(fig)


def _ref_color(c: Any) -> str:
    """The colour of a reference line or a text (None is not a colour here: the default is black)."""
    if c is None:
        raise TypeError("Invalid color: None (need a palette index, 'C<i>' or a matplotlib colour name)")
    return _color(c)
