"""The controls of a sweep: a :class:`Slider` over a grid of numbers, a :class:`Choice` of options."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from nbcode import _validate

__all__ = ["Slider", "Choice", "Control"]


def _fmt_number(v: float, fmt: str | None) -> str:
    if fmt is not None:
        return format(v, fmt)
    return format(v, ".3g")


def _label_format(grid: np.ndarray, fmt: str | None) -> str | None:
    """Check that ``fmt`` formats the slider's values into distinct labels (when the sweep is
    made, not when it is shown). With no ``fmt``, the default ``'.3g'``, or as many significant
    digits as it takes to tell the values apart; returns the format to use when ``fmt`` is None."""
    try:
        labels = [_fmt_number(v, fmt) for v in grid]
    except Exception as e:  # ValueError (unknown code), TypeError, ...
        raise ValueError(f"Invalid fmt: {fmt!r} (need a format spec for a float, e.g. '.2f' or '.3g'; "
                         f"format(x, {fmt!r}) fails: {e})") from None
    if len(set(labels)) == len(labels):
        return None
    if fmt is None:
        for digits in range(4, 18):  # 17 significant digits tell any two floats apart
            auto = f".{digits}g"
            if len({_fmt_number(v, auto) for v in grid}) == grid.size:
                return auto
    same = next(lbl for i, lbl in enumerate(labels) if lbl in labels[:i])
    raise ValueError(f"Invalid fmt: {fmt!r} gives several slider values the same label {same!r} "
                     "(use more digits, e.g. fmt='.6g')")


class Slider:
    """A slider over a grid of values.

    Give either ``start, stop, num`` (``scale='linear'`` or ``'log'``) or explicit ``values``.
    The book's HTML precomputes one frame per value, so the grid *is* the set of positions.

    Parameters
    ----------
    start, stop : float
        Ends of the grid, both included.
    num : int
        Number of grid points (at least 2).
    values : sequence of float, optional
        Explicit grid, strictly increasing; overrides ``start, stop, num``.
    scale : {'linear', 'log'}
    value : float, optional
        Initial position: the grid point nearest to it (default: the middle one).
    label : str, optional
        Shown beside the slider (default: the parameter's name).
    fmt : str, optional
        Format spec of the displayed value, e.g. ``'.2f'`` (default ``'.3g'``, with more
        significant digits if that is what it takes to tell the values apart). A spec that
        does not format a float, or gives two values the same label, is refused.
    integer : bool
        Pass values to the drawing function as ``int``.
    play : bool
        Add a play button that steps the slider through its positions, one frame every
        ``interval`` milliseconds (in the HTML book and in the live widget): an animation, e.g.
        of an optimizer's steps.
    interval : int
        Milliseconds per frame when playing (``>= 20``).

    Examples
    --------
    >>> Slider(0.1, 1.0, num=10).values[:3].round(2).tolist()
    [0.1, 0.2, 0.3]
    >>> Slider(1e-3, 1e-1, num=3, scale="log").values.tolist()
    [0.001, 0.01, 0.1]
    """

    def __init__(
        self,
        start: float | None = None,
        stop: float | None = None,
        num: int | None = None,
        *,
        values: Sequence[float] | None = None,
        scale: str = "linear",
        value: float | None = None,
        label: str | None = None,
        fmt: str | None = None,
        integer: bool = False,
        play: bool = False,
        interval: int = 400,
    ) -> None:
        if values is not None:
            # a float64 copy: editing the caller's array later changes nothing
            grid = _validate.array(values, "values", finite=False, nonempty=False).reshape(-1)
        else:
            if start is None or stop is None or num is None:
                raise ValueError("Slider needs either values=... or start, stop and num")
            _validate.real(start, "start", finite=False)
            _validate.real(stop, "stop", finite=False)
            if not (np.isfinite(start) and np.isfinite(stop)) or start >= stop:
                raise ValueError(f"Invalid slider range: start={start}, stop={stop} (need finite start < stop)")
            num = _validate.count(num, "number of slider positions", low=2)
            if scale == "linear":
                grid = np.linspace(start, stop, int(num))
            elif scale == "log":
                if start <= 0:
                    raise ValueError(f"Invalid slider range for a log scale: start={start} (need start > 0)")
                grid = np.geomspace(start, stop, int(num))
            else:
                raise ValueError(f"Invalid slider scale: {scale!r} (use 'linear' or 'log')")
        if grid.size < 2 or not np.all(np.isfinite(grid)) or np.any(np.diff(grid) <= 0):
            raise ValueError("Slider values must be at least two finite numbers in increasing order")
        _validate.optional(_validate.real, value, "value")
        _validate.optional(_validate.text, label, "label")
        _validate.optional(_validate.text, fmt, "fmt")
        integer = _validate.flag(integer, "integer")
        if integer:
            if not np.all(grid == np.round(grid)):
                raise ValueError("integer=True needs whole-number slider values")
        if not isinstance(play, (bool, np.bool_)):
            raise TypeError(f"Invalid play: {play!r} (need True or False)")
        if isinstance(interval, bool) or not isinstance(interval, (int, np.integer)) or interval < 20:
            raise ValueError(f"Invalid interval: {interval!r} (need an integer number of milliseconds >= 20)")
        self.play = bool(play)
        self.interval = int(interval)
        self.values = grid
        self.scale = scale
        self.integer = integer
        self.fmt = fmt
        self.label = label
        self.index = int(np.argmin(np.abs(grid - value))) if value is not None else (grid.size - 1) // 2
        self._auto_fmt: str | None = None
        if not integer:  # integer labels are str(int(v)): distinct, and fmt is not used
            self._auto_fmt = _label_format(grid, fmt)

    @property
    def labels(self) -> list[str]:
        fmt = self.fmt if self.fmt is not None else self._auto_fmt
        return [str(int(v)) if self.integer else _fmt_number(v, fmt) for v in self.values]

    def python_value(self, i: int) -> Any:
        """The value at grid position ``i`` (``0 <= i < len(self)``)."""
        return self._value(_validate.count(i, "i", high=self.values.size - 1))

    def _value(self, i: int) -> Any:  # unchecked: the sweep's grid loop
        v = float(self.values[i])
        return int(round(v)) if self.integer else v

    def __len__(self) -> int:
        return int(self.values.size)


def _same_option(a: Any, b: Any) -> bool:
    """Whether option ``a`` is ``b``: the same object, equal arrays (same shape and entries),
    or ``a == b`` when that is one truth value (never "the truth value of an array is ambiguous")."""
    if a is b:
        return True
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape and bool(np.array_equal(a, b))
    try:
        eq = a == b
    except Exception:
        return False
    return bool(eq) if isinstance(eq, (bool, np.bool_)) else False


class Choice:
    """A drop-down choice among options: strings, or ``(label, value)`` pairs.

    Examples
    --------
    >>> c = Choice(["relu", "tanh"], value="tanh")
    >>> c.labels, c.index
    (['relu', 'tanh'], 1)
    """

    def __init__(self, options: Sequence[Any], *, value: Any = None, label: str | None = None) -> None:
        if isinstance(options, (str, bytes)) or not isinstance(options, (Sequence, np.ndarray)):
            raise TypeError(f"Invalid options: {_validate.show(options)} (need a list of options)")
        if len(options) < 1:
            raise ValueError("Invalid options: Choice needs at least one option")
        pairs = [o if isinstance(o, tuple) and len(o) == 2 else (str(o), o) for o in options]
        self._labels = [str(lbl) for lbl, _ in pairs]
        self._values = [v for _, v in pairs]
        if len(set(self._labels)) != len(self._labels):
            raise ValueError(f"Choice labels must be distinct, got {self._labels}")
        self.label = label
        if value is None:
            self.index = 0
        else:
            matches = [i for i, v in enumerate(self._values) if _same_option(v, value)]
            if not matches:
                raise ValueError(f"Invalid initial choice: value={value!r} is not one of the options")
            self.index = matches[0]

    @property
    def labels(self) -> list[str]:
        return list(self._labels)

    def python_value(self, i: int) -> Any:
        """The value of option ``i`` (``0 <= i < len(self)``)."""
        return self._value(_validate.count(i, "i", high=len(self._values) - 1))

    def _value(self, i: int) -> Any:  # unchecked: the sweep's grid loop
        return self._values[i]

    def __len__(self) -> int:
        return len(self._values)


Control = Slider | Choice
