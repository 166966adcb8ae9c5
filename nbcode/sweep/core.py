"""One call for a live parameter sweep that also works in the built HTML book.

``sweep(draw, eta=Slider(...), surface=Choice([...]))`` takes a drawing function that returns
a :class:`~nbcode.sweep.figure.Plot` and shows it with controls:

* **live** (in Jupyter, with a kernel): ipywidgets controls; every move calls ``draw`` and
  redraws with matplotlib;
* **static** (when the book is built, and under nbval): ``draw`` is called once per point of
  the control grid, the frames are stored as compact JSON inside the cell's HTML output, and a
  small script (``sweep.js``) redraws them as SVG when a control moves, with no kernel. The
  output is deterministic, so nbval checks the precomputed numbers.

The mode comes from the environment variable ``NBCODE_SWEEP`` (``static`` or ``live``); when it
is unset, a running IPython kernel with ipywidgets means live, anything else static. The
Makefile sets ``NBCODE_SWEEP=static`` for the book build and the tests.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import inspect
import io
import itertools
import os
import re
import time
from typing import Any, Callable, Iterator

import numpy as np

from nbcode import _validate
from nbcode.sweep.assets import JS_PATH, PLAY_JS_PATH
from nbcode.sweep.controls import Choice, Control, Slider
from nbcode.sweep.encode import FramePool
from nbcode.sweep.figure import Plot

__all__ = ["sweep", "Sweep", "sweep_mode"]

_PNG_URI = re.compile(r"data:image/png;base64,[A-Za-z0-9+/=]+")


def sweep_mode() -> str:
    """``'static'`` or ``'live'``: how sweeps show themselves in this process."""
    env = os.environ.get("NBCODE_SWEEP", "").strip().lower()
    if env in ("static", "live"):
        return env
    if env:
        raise ValueError(f"Invalid NBCODE_SWEEP: {env!r} (use 'static' or 'live')")
    try:
        from IPython import get_ipython

        shell = get_ipython()
        import ipywidgets  # noqa: F401
    except ImportError:
        return "static"
    return "live" if shell is not None and hasattr(shell, "kernel") else "static"


class Sweep:
    """A drawing function with its controls, a dict ``{parameter name: Slider or Choice}``.

    Usually created with :func:`sweep`; call ``Sweep(draw, {...})`` directly when a parameter of
    ``draw`` is named like one of sweep's own keywords (``title``, ``max_frames``, ``max_bytes``).
    """

    def __init__(
        self,
        draw: Callable[..., Plot],
        controls: dict[str, Control],
        *,
        title: str = "",
        max_frames: int = 2500,
        max_bytes: int = 3_000_000,
    ) -> None:
        _validate.function(draw, "draw")
        if not isinstance(controls, dict):
            raise TypeError(f"Invalid controls: {_validate.show(controls)} (need a dict of name -> Slider or Choice)")
        if not controls:
            raise ValueError("Invalid controls: a sweep needs at least one control (e.g. eta=Slider(0.1, 1.0, num=10))")
        _validate.text(title, "title")
        max_frames = _validate.count(max_frames, "max_frames", low=1)
        max_bytes = _validate.count(max_bytes, "max_bytes", low=1)
        for name, c in controls.items():
            if not isinstance(c, (Slider, Choice)):
                raise ValueError(f"control {name!r} must be a Slider or a Choice, got {type(c).__name__}")
        _check_parameters(draw, list(controls))
        n = int(np.prod([len(c) for c in controls.values()]))
        if n > max_frames:
            raise ValueError(
                f"the control grid has {n} points, more than max_frames={max_frames}: use fewer slider positions"
            )
        self.draw = draw
        self.controls = controls
        self.title = title
        self.max_bytes = max_bytes
        self.n_frames = n

    # -- the grid ---------------------------------------------------------------------------
    def params_at(self, indices: tuple[int, ...]) -> dict[str, Any]:
        """Keyword arguments of ``draw`` at one grid position (one index per control)."""
        idx = _validate.sizes(indices, "indices", low=0, min_len=0)
        if len(idx) != len(self.controls):
            raise ValueError(f"Invalid indices: {_validate.show(indices)} (need one index per control, {len(self.controls)})")
        for (name, c), i in zip(self.controls.items(), idx):
            if i >= len(c):
                raise ValueError(f"Invalid indices: {_validate.show(indices)} (control {name!r} has {len(c)} positions)")
        return self._params_at(idx)

    def _params_at(self, indices: tuple[int, ...]) -> dict[str, Any]:
        return {name: c._value(i) for (name, c), i in zip(self.controls.items(), indices)}

    def grid(self) -> Iterator[dict[str, Any]]:
        """All grid positions in row-major order (the last control varies fastest)."""
        for idx in itertools.product(*(range(len(c)) for c in self.controls.values())):
            yield self._params_at(idx)

    def initial(self) -> dict[str, Any]:
        """The parameters the sweep starts at."""
        return self._params_at(tuple(c.index for c in self.controls.values()))

    def frame(self, **params: Any) -> Plot:
        """``draw(**params)``, checked to return a :class:`Plot`; an error inside ``draw`` is
        raised again with the control values at which it happened."""
        try:
            p = self.draw(**params)
        except Exception as e:
            raise RuntimeError(f"the sweep's drawing function {_name(self.draw)} failed at {_at(params)}: {type(e).__name__}: {e}") from e
        if not isinstance(p, Plot):
            raise TypeError(f"a sweep's drawing function must return an nbcode.sweep.Plot, got {type(p).__name__}")
        return p

    # -- static HTML ------------------------------------------------------------------------
    def to_json(self) -> str:
        """Every frame of the grid, as the JSON document the HTML renderer reads."""
        pool = FramePool()
        for params in self.grid():
            plot = self.frame(**params)
            with _rendering(params):
                pool.add(plot)
        controls = [
            {"name": name, "label": c.label or name, "labels": c.labels, "kind": "slider" if isinstance(c, Slider) else "choice"}
            for name, c in self.controls.items()
        ]
        return pool.to_json(controls)

    def to_html(self) -> str:
        """A self-contained HTML block: controls, the frames as JSON and the renderer."""
        data = self.to_json()
        if len(data) > self.max_bytes:
            raise ValueError(
                f"this sweep's frames take {len(data) / 1e6:.1f} MB, more than max_bytes={self.max_bytes / 1e6:.1f} MB: "
                "use fewer slider positions or fewer points per line"
            )
        # The id hashes the numbers, not the contour images: two CPUs may rasterize a contour
        # with different last bits, and the page must not change with them.
        uid = "nbsweep-" + hashlib.sha1(_PNG_URI.sub("", data).encode()).hexdigest()[:12]
        rows = []
        for name, c in self.controls.items():
            label = html.escape(c.label or name)
            cur = html.escape(c.labels[c.index])
            if isinstance(c, Slider):
                widget = (
                    f'<input type="range" data-sweep-control="{html.escape(name)}" min="0" max="{len(c) - 1}" '
                    f'step="1" value="{c.index}" aria-label="{label}">'
                    f'<output data-for="{html.escape(name)}">{cur}</output>'
                )
                if c.play:
                    widget += (f' <button type="button" data-sweep-play="{html.escape(name)}" data-label="{label}" '
                               f'data-interval="{c.interval}" aria-label="play {label}" aria-pressed="false">\u25b6</button>')
            else:
                opts = "".join(
                    f'<option value="{i}"{" selected" if i == c.index else ""}>{html.escape(lbl)}</option>'
                    for i, lbl in enumerate(c.labels)
                )
                widget = f'<select data-sweep-control="{html.escape(name)}" aria-label="{label}">{opts}</select>'
            rows.append(f'<label class="nbcode-sweep-control"><span>{label}</span> {widget}</label>')
        title = f'<div class="nbcode-sweep-title">{html.escape(self.title)}</div>' if self.title else ""
        script = JS_PATH.read_text()
        safe = data.replace("</", "<\\/")
        player = ""
        if any(isinstance(c, Slider) and c.play for c in self.controls.values()):
            player = f"\n{PLAY_JS_PATH.read_text()}\nwindow.nbcodeSweepPlay.attach({uid!r});"
        return (
            f'<div class="nbcode-sweep" id="{uid}">{title}'
            f'<div class="nbcode-sweep-controls" style="display:flex;flex-wrap:wrap;gap:0.4em 1.5em">{"".join(rows)}</div>'
            f'<div class="nbcode-sweep-figure"></div><div class="nbcode-sweep-caption" style="font-size:90%"></div>'
            f'<script type="application/json" class="nbcode-sweep-data">{safe}</script></div>'
            f"<script>{script}\nwindow.nbcodeSweep.mount({uid!r});{player}</script>"
        )

    def __repr__(self) -> str:
        dims = " x ".join(f"{name}[{len(c)}]" for name, c in self.controls.items())
        return f"<Sweep {self.title or self.draw.__name__}: {dims} = {self.n_frames} frames>"

    # -- live ---------------------------------------------------------------------------------
    def render_png(self, **params: Any) -> bytes:
        """One frame drawn by matplotlib, as PNG bytes (what a live slider move costs)."""
        plot = self.frame(**params)
        with _rendering(params, plot):
            fig = plot.to_matplotlib(fast=True)
            buf = io.BytesIO()
            fig.savefig(buf, format="png", pil_kwargs={"compress_level": 1})
        return buf.getvalue()

    def frame_json(self, **params: Any) -> str:
        """One frame as a self-contained sweep document with one grid position (what a live
        move sends to the widget)."""
        pool = FramePool()
        plot = self.frame(**params)
        with _rendering(params):
            pool.add(plot)
        return pool.to_json([])

    def widget(self) -> Any:
        """The live version: ipywidgets controls; each move recomputes the frame in the kernel.

        The frame is drawn by the same SVG renderer as the HTML book (an anywidget), so a move
        costs ``draw`` plus a few milliseconds; without anywidget, matplotlib draws it instead.
        """
        import ipywidgets as W

        boxes: dict[str, Any] = {}
        row: list[Any] = []  # the controls in order, each player after its slider
        for name, c in self.controls.items():
            options = list(zip(c.labels, (c.python_value(i) for i in range(len(c)))))
            desc = c.label or name
            style = {"description_width": "initial"}
            if isinstance(c, Slider):
                boxes[name] = W.SelectionSlider(options=options, index=c.index, description=desc, continuous_update=True, style=style)
                row.append(boxes[name])
                if c.play:
                    player = W.Play(value=c.index, min=0, max=len(c) - 1, interval=c.interval, description=f"play {desc}")
                    W.jslink((player, "value"), (boxes[name], "index"))
                    row.append(player)
            else:
                boxes[name] = W.Dropdown(options=options, index=c.index, description=desc, style=style)
                row.append(boxes[name])
        status = W.HTML()
        view: Any
        try:
            from nbcode.sweep.live import FrameView

            view = FrameView()

            def show(params: dict[str, Any]) -> None:
                view.frame = self.frame_json(**params)

        except ImportError:  # no anywidget: matplotlib draws the frame
            view = W.Image(format="png")

            def show(params: dict[str, Any]) -> None:
                view.value = self.render_png(**params)

        def redraw(_: Any = None) -> None:
            t0 = time.perf_counter()
            show({k: b.value for k, b in boxes.items()})
            status.value = f"<small>recomputed in {1e3 * (time.perf_counter() - t0):.0f} ms</small>"

        for b in boxes.values():
            b.observe(redraw, names="value")
        redraw()
        title = [W.HTML(f"<b>{html.escape(self.title)}</b>")] if self.title else []
        return W.VBox(title + [W.HBox(row, layout=W.Layout(flex_flow="row wrap")), view, status])

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        if sweep_mode() == "live":
            w = self.widget()
            bundle: dict[str, Any] = w._repr_mimebundle_(include=include, exclude=exclude)
            return bundle
        return {"text/html": self.to_html(), "text/plain": repr(self)}


def _at(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in params.items())


def _too_wide(plot: Plot) -> str:
    """A hint when a panel's finite data span more than the float range (matplotlib cannot draw
    such an axis: its length is infinite)."""
    for i, ax in enumerate(plot.axes):
        for which in ("x", "y"):
            lim = getattr(ax, f"{which}lim")
            vals = [np.asarray(lim, dtype=float)] if lim is not None else [getattr(ln, which) for ln in ax.lines]
            fin = [v[np.isfinite(v)] for v in vals]
            fin = [v for v in fin if v.size]
            if fin:
                with np.errstate(over="ignore"):
                    span = max(float(v.max()) for v in fin) - min(float(v.min()) for v in fin)
                if not np.isfinite(span):
                    return (f" (panel {i}'s {which} axis spans more than the largest float, 1.8e308: "
                            "clip or rescale the data, e.g. stop a diverging run earlier)")
    return ""


@contextlib.contextmanager
def _rendering(params: dict[str, Any], plot: Plot | None = None) -> Iterator[None]:
    """Name the frame's control values in an error raised while its Plot is encoded or drawn."""
    try:
        yield
    except Exception as e:
        hint = _too_wide(plot) if plot is not None else ""
        raise RuntimeError(f"the sweep's frame at {_at(params)} could not be drawn: {type(e).__name__}: {e}{hint}") from e


def _name(draw: Callable[..., Any]) -> str:
    return getattr(draw, "__name__", type(draw).__name__)


def _check_parameters(draw: Callable[..., Any], names: list[str]) -> None:
    """Refuse, when the sweep is made, a control that names no parameter of ``draw`` (rather than
    failing at the first frame, at display time); a parameter without a default and without a
    control is refused as well."""
    try:
        sig = inspect.signature(draw)
    except (TypeError, ValueError):  # a builtin or an odd callable: nothing to check against
        return
    params = sig.parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return
    accepts = {k for k, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    unknown = [n for n in names if n not in accepts]
    if unknown:
        raise ValueError(f"Invalid control {unknown[0]!r}: {_name(draw)} has no parameter of that name "
                         f"(its parameters: {sorted(accepts)})")
    missing = [k for k in accepts if params[k].default is inspect.Parameter.empty and k not in names]
    if missing:
        raise ValueError(f"Invalid controls: {_name(draw)} needs {missing[0]!r}, and no control gives it")


def sweep(draw: Callable[..., Plot], *, title: str = "", max_frames: int = 2500, max_bytes: int = 3_000_000, **controls: Control) -> Sweep:
    """A live sweep of ``draw`` over the given controls (one keyword per parameter of ``draw``).

    Parameters
    ----------
    draw : callable
        ``draw(**params) -> Plot``; called with one value per control.
    title : str
        Shown above the controls.
    max_frames : int
        Refuse grids with more points than this (each point is a precomputed frame in the HTML).
    max_bytes : int
        Refuse a static sweep whose frames exceed this many bytes (page weight).
    **controls : Slider or Choice
        The parameters to vary. A parameter of ``draw`` named ``title``, ``max_frames`` or
        ``max_bytes`` cannot be given here (those are this function's own keywords): pass the
        controls as a dict instead, ``Sweep(draw, {"title": Choice([...])})``.

    Returns
    -------
    Sweep
        Shows itself: as ipywidgets in a live kernel, as a self-contained HTML block otherwise.

    Examples
    --------
    >>> from nbcode.sweep import Plot, Slider
    >>> def draw(eta):
    ...     p = Plot()
    ...     p[0].plot([0, 1, 2], [1, 1 - eta, (1 - eta) ** 2])
    ...     return p
    >>> s = sweep(draw, eta=Slider(0.1, 0.9, num=5))
    >>> s
    <Sweep draw: eta[5] = 5 frames>
    >>> s.initial()
    {'eta': 0.5}
    """
    for own, v in (("title", title), ("max_frames", max_frames), ("max_bytes", max_bytes)):
        if isinstance(v, (Slider, Choice)):
            raise TypeError(
                f"Invalid control {own!r}: {own!r} is sweep's own keyword, so a control cannot be passed under that name; "
                f"rename the parameter of {_name(draw)}, or pass the controls as a dict: "
                f"Sweep({_name(draw)}, {{{own!r}: {type(v).__name__}(...)}})"
            )
    return Sweep(draw, controls, title=title, max_frames=max_frames, max_bytes=max_bytes)
