"""The book's plot style and colours, and figures that look the same on every machine.

Every figure in the book uses one matplotlib style, ``book.mplstyle``: the Okabe-Ito
colour-blind-safe palette, light grids, no top/right spines, sizes legible in print.

A figure is snapped to its own resolution before it is drawn (:func:`snap_figure`; installed for
every figure a notebook shows by :func:`use_book_style`): each number is rounded to a step of
1/1,000 to 1/2,500 of its axis, so round-off that differs between machines never moves a pixel.
"""

from __future__ import annotations

import numbers
from pathlib import Path
from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Polygon, Rectangle

from nbcode import _validate
from nbcode.plot.quantize import Quantizer, snap

__all__ = ["STYLE_PATH", "PALETTE", "use_book_style", "color", "snap_figure"]

STYLE_PATH = Path(__file__).with_name("book.mplstyle")

#: The Okabe-Ito palette (blue, vermillion, green, purple, orange, sky blue, yellow, black).
PALETTE: tuple[str, ...] = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#F0E442",
    "#000000",
)


def use_book_style() -> None:
    """Make the book's style the default for every later figure.

    Examples
    --------
    >>> use_book_style()
    >>> mpl.rcParams["axes.spines.top"]
    False
    """
    plt.style.use(str(STYLE_PATH))
    _snap_before_display()


def _snap_before_display() -> None:
    """In IPython, snap every matplotlib figure just before it is rendered for display."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    for mime in ("image/png", "image/svg+xml", "image/jpeg"):
        formatter = shell.display_formatter.formatters.get(mime)
        if formatter is None:
            continue
        try:
            render = formatter.lookup_by_type(Figure)
        except KeyError:
            continue
        if getattr(render, "_nbcode_snaps", False):
            continue

        def snapped(fig: Figure, *args: Any, _render: Any = render, **kwargs: Any) -> Any:
            return _render(snap_figure(fig), *args, **kwargs)

        snapped._nbcode_snaps = True  # type: ignore[attr-defined]
        formatter.for_type(Figure, snapped)


def _axis_quantizer(ax: Any, which: str) -> Quantizer | None:
    scale = ax.get_xscale() if which == "x" else ax.get_yscale()
    if scale not in ("linear", "log"):
        return None
    lim = ax.get_xlim() if which == "x" else ax.get_ylim()
    return Quantizer.for_axis([], scale == "log", lim)


def _snap_xy(xy: np.ndarray, qx: Quantizer, qy: Quantizer) -> np.ndarray:
    out = np.array(xy, dtype=float, copy=True)
    if out.ndim == 2 and out.shape[1] == 2 and out.size:
        out[:, 0] = snap(out[:, 0], qx)
        out[:, 1] = snap(out[:, 1], qy)
    return out


def snap_figure(fig: Figure) -> Figure:
    """Round every number ``fig`` draws in data coordinates to its axis's resolution, in place.

    For each axes (linear or log on both axes): the limits, lines, markers and scatter offsets,
    filled areas, contours, patches (bars), texts placed in data coordinates, and the values of
    images. Each step is at most 1/1,000 of the axis span (under half a pixel at the book's
    sizes), and :class:`~nbcode.plot.quantize.Quantizer` keeps rounding edges off simple numbers:
    the PNG is the same on every machine. Returns ``fig``.

    Examples
    --------
    >>> fig = Figure()
    >>> ax = fig.subplots()
    >>> _ = ax.plot([0.0, 1.0], [0.0, 1.0 + 1e-13]); _ = ax.set_xlim(0, 1); _ = ax.set_ylim(0, 1.25)
    >>> snap_figure(fig).axes[0].lines[0].get_ydata().tolist()
    [0.0, 1.0]
    """
    if not isinstance(fig, Figure):
        raise TypeError(f"Invalid fig: {_validate.show(fig)} (need a matplotlib Figure)")
    for ax in fig.axes:
        qx, qy = _axis_quantizer(ax, "x"), _axis_quantizer(ax, "y")
        if qx is None or qy is None:
            continue
        ax.set_xlim(*snap(ax.get_xlim(), qx))
        ax.set_ylim(*snap(ax.get_ylim(), qy))
        data = ax.transData
        for line in ax.lines:
            try:
                x = np.asarray(line.get_xdata(), dtype=float)
                y = np.asarray(line.get_ydata(), dtype=float)
            except (TypeError, ValueError):  # dates or categories: left alone
                continue
            if line.get_transform().contains_branch(data):
                line.set_data(snap(x, qx), snap(y, qy))
        for coll in ax.collections:
            offsets = np.asarray(coll.get_offsets())
            if len(offsets) and coll.get_offset_transform().contains_branch(data):
                coll.set_offsets(_snap_xy(offsets, qx, qy))
            if coll.get_transform().contains_branch(data):
                for path in coll.get_paths():
                    try:
                        path.vertices = _snap_xy(np.asarray(path.vertices), qx, qy)
                    except AttributeError:  # a read-only path
                        pass
        for patch in ax.patches:
            if not patch.get_transform().contains_branch(data):
                continue
            if isinstance(patch, Rectangle):  # bars: corner, width, height
                x0, y0 = patch.get_xy()
                (x0, x1), (y0, y1) = snap([x0, x0 + patch.get_width()], qx), snap([y0, y0 + patch.get_height()], qy)
                patch.set_bounds(x0, y0, x1 - x0, y1 - y0)
            elif isinstance(patch, Polygon):  # fill, hist(histtype='step'), axvspan
                patch.set_xy(_snap_xy(np.asarray(patch.get_xy()), qx, qy))
        for text in ax.texts:
            if text.get_transform().contains_branch(data):
                tx, ty = text.get_position()
                try:
                    text.set_position((float(snap([tx], qx)[0]), float(snap([ty], qy)[0])))
                except (TypeError, ValueError):
                    pass
        for img in ax.images:
            arr = img.get_array()
            if arr is not None and np.issubdtype(np.asarray(arr).dtype, np.floating):
                a = np.ma.asarray(arr)
                fin = a.compressed()
                fin = fin[np.isfinite(fin)]
                if fin.size:
                    q = Quantizer(float(fin.min()), float(fin.max()), False)
                    img.set_data(np.ma.array(snap(a.filled(np.nan), q), mask=np.ma.getmaskarray(a)))
    return fig


def color(c: int | str | None, default: int = 0) -> str:
    """Resolve a colour: an index into :data:`PALETTE`, ``"C<i>"``, or any CSS colour.

    Examples
    --------
    >>> color(1)
    '#D55E00'
    >>> color("C8")
    '#0072B2'
    >>> color("#123456")
    '#123456'
    >>> color("no-such-colour")
    Traceback (most recent call last):
        ...
    ValueError: Invalid c: 'no-such-colour' (need a palette index, 'C<i>' or a matplotlib colour name)
    """
    return _resolve(c, default, "c")


def _resolve(c: Any, default: Any, name: str) -> str:
    """:func:`color`, with the argument called ``name`` in messages (``color`` in a sweep's plot)."""
    if isinstance(default, (bool, np.bool_)) or not isinstance(default, numbers.Integral):
        raise TypeError(f"Invalid default: {_validate.show(default)} (need an integer palette index)")
    if c is None:
        c = default
    if isinstance(c, str) and len(c) >= 2 and c[0] == "C" and c[1:].isdigit():
        c = int(c[1:])
    if isinstance(c, numbers.Integral) and not isinstance(c, (bool, np.bool_)):
        return PALETTE[int(c) % len(PALETTE)]
    if isinstance(c, str):
        if c.startswith("#"):
            return c
        try:
            return str(mpl.colors.to_hex(c))
        except ValueError:
            raise ValueError(f"Invalid {name}: {c!r} (need a palette index, 'C<i>' or a matplotlib colour name)") from None
    raise TypeError(f"Invalid {name}: {_validate.show(c)} (need a palette index, 'C<i>' or a matplotlib colour name)")
