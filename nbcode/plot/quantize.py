"""Numbers snapped to the resolution of the figure that shows them.

A figure can show a value only to a fraction of a pixel; two machines (other CPUs, BLAS kernels,
thread counts) compute it to within round-off. :class:`Quantizer` rounds a value to a step of
``m * 10**e``, ``m`` one of 1, 2, 5, the largest with at least :data:`STEPS` steps in
the axis span, so the stored or drawn number is the same on every machine and the picture is the
same to the eye. The sweeps' payloads (:mod:`nbcode.sweep.encode`) and every figure the book
shows (:func:`nbcode.plot.snap_figure`) go through it.
"""

from __future__ import annotations

import math
import numbers
import sys
from decimal import Decimal
from typing import Any, Iterable

import numpy as np

from nbcode import _validate

__all__ = ["Quantizer", "STEPS", "CLAMP_SPANS", "snap", "snap_field"]

#: An axis span is resolved into at least this many quantization steps.
STEPS = 1000
#: Values further than this many spans outside an axis are clamped to that distance.
CLAMP_SPANS = 100.0
# Rounding goes to the nearest count after a shift by an irrational fraction of a step, so that
# the rounding edges sit at (k + 0.438...) steps: simple numbers that a computation hits exactly
# (0.0375, 2.5, ...) on one machine and to within round-off on another are never on an edge.
# Zero still maps to count 0; a value is off by at most 0.56 of a step.
_SHIFT = 0.5 + (math.sqrt(5.0) - 1.0) / 20.0
# Steps below 10**_MIN_E cannot be counted (10.0**-e overflows): such tiny spans are treated as zero.
_MIN_E = -308
_MAX = sys.float_info.max


def _finite(values: Iterable[float], log: bool, name: str = "data") -> list[float]:
    out = []
    try:
        for v in values:
            if v is None or not math.isfinite(v) or (log and v <= 0):
                continue
            out.append(math.log10(v) if log else float(v))
    except TypeError:  # not iterable, or an entry that is not a real number (checked only on failure: a hot path)
        raise TypeError(f"Invalid {name}: {_validate.show(values)} (need real numbers; None, NaN and inf are skipped)") from None
    return out


def _scalar(v: Any, name: str) -> None:
    """Refuse what is not a real number or None (NaN and inf are values an axis cannot show)."""
    if v is not None and (isinstance(v, (bool, np.bool_)) or not isinstance(v, (numbers.Real, np.integer, np.floating))):
        raise TypeError(f"Invalid {name}: {_validate.show(v)} (need a real number or None)")


class Quantizer:
    """The quantization of one axis: a step ``m * 10**e`` and a clamping window, in the axis's
    own domain (``log10`` of the values on a log axis).

    Examples
    --------
    >>> q = Quantizer.for_axis([0.0, 1.0], log=False)
    >>> (q.m, q.e), q.count(0.1234), q.count(-3e-17), q.value(123)
    ((1, -3), 123, 0, 0.123)
    >>> q = Quantizer.for_axis([0.0, 4.0], log=False)   # 2,000 steps of 0.002
    >>> (q.m, q.e), q.value(q.count(1.2345))
    ((2, -3), 1.234)
    >>> Quantizer.for_axis([1e-6, 1.0], log=True).step  # 6 decades: steps of 0.005 decade
    0.005
    """

    def __init__(self, lo: float, hi: float, log: bool) -> None:
        lo, hi, log = _validate.real(lo, "lo"), _validate.real(hi, "hi"), _validate.flag(log, "log")
        if hi < lo:
            raise ValueError(f"Invalid hi: {_validate.show(hi)} (need hi >= lo = {_validate.show(lo)})")
        span = hi - lo
        if not span > 0:
            span = abs(lo) * 0.1 or 1.0
        span = min(span, _MAX)  # an axis wider than the float range (hi - lo = inf)
        target = span / STEPS
        e = int(math.floor(math.log10(target)))
        if e < _MIN_E:  # a (sub)normal span near 1e-308: 10**-e would overflow; a degenerate axis at 0
            span, target, e = 1.0, 1.0 / STEPS, -3
        m = 1
        for cand in (5, 2):  # the largest of 1, 2, 5 times 10^e that still gives STEPS steps
            if cand * 10.0**e <= target * (1 + 1e-12):
                m = cand
                break
        self.log, self.m, self.e = log, m, e
        self.step = float(Decimal(m).scaleb(e))
        self.lo = lo - CLAMP_SPANS * span
        self.hi = hi + CLAMP_SPANS * span

    @staticmethod
    def for_axis(data: Iterable[float], log: bool, lim: Any = None) -> Quantizer:
        """The quantizer of an axis with limits ``lim`` (if set) or showing ``data`` (entries
        that are None, NaN or infinite, or <= 0 on a log axis, are skipped)."""
        log = _validate.flag(log, "log")
        if lim is not None:
            lim = _validate.array(lim, "lim", shape=(2,), copy=False).tolist()
            vals = _finite(lim, log, "lim")
        else:
            if isinstance(data, np.ndarray) and data.dtype.kind not in "biuf":
                raise TypeError(f"Invalid data: {_validate.show(data)} (need real numbers)")
            vals = _finite(data, log)
        if not vals:
            return Quantizer(0.0, 1.0, log)
        return Quantizer(min(vals), max(vals), log)

    def count(self, v: float | None) -> int | None:
        """``v`` as an integer number of steps; None for a value the axis cannot show (None,
        NaN, infinite, or <= 0 on a log axis)."""
        _scalar(v, "v")
        return self._count(v)

    def _count(self, v: float | None) -> int | None:
        if v is None or not math.isfinite(v) or (self.log and v <= 0):
            return None
        t = math.log10(v) if self.log else float(v)
        t = min(max(t, self.lo), self.hi)
        # 10**|e| is exact in binary for the spans a figure has, so one rounding happens here
        scaled = t * 10.0**-self.e if self.e <= 0 else t / 10.0**self.e
        return int(math.floor(scaled / self.m + _SHIFT))

    def value(self, k: int | None) -> float | None:
        """The number that ``k`` steps stand for (exact decimal, then the nearest float)."""
        if k is None:
            return None
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Integral):
            raise TypeError(f"Invalid k: {k!r} (need an integer)")
        k = int(k)
        t = min(max(float(Decimal(k * self.m).scaleb(self.e)), -_MAX), _MAX)  # a step past the float range
        return float(format(10.0**t, ".6g")) if self.log else t

    def counts(self, values: Any) -> tuple[int | None, ...]:
        """Counts of every value of ``values`` (flattened)."""
        a = _validate.array(values, "values", finite=False, nonempty=False, copy=False)
        return tuple(self._count(v) for v in a.reshape(-1).tolist())

    @property
    def key(self) -> tuple[int, int, bool]:
        return (self.m, self.e, self.log)

    def number(self, v: float | None) -> float | None:
        """``v`` rounded to this axis's step (for limits, reference lines and text anchors)."""
        _scalar(v, "v")
        return self.value(self._count(v))


def snap(values: Any, q: Quantizer) -> np.ndarray:
    """``values`` rounded to the steps of ``q`` (a float array; what the axis cannot show is
    left as it is: NaN, infinities and, on a log axis, values <= 0).

    Examples
    --------
    >>> q = Quantizer.for_axis([0.0, 1.0], log=False)
    >>> snap([0.1231, 1e-17, float("nan")], q).tolist()
    [0.123, 0.0, nan]
    """
    if not isinstance(q, Quantizer):
        raise TypeError(f"Invalid q: {_validate.show(q)} (need a Quantizer)")
    a = _validate.array(values, "values", finite=False, nonempty=False)
    ok = np.isfinite(a) & ((a > 0) if q.log else True)
    if not ok.any():
        return a
    t = np.log10(a[ok]) if q.log else a[ok]
    t = np.clip(t, q.lo, q.hi)
    scaled = t * 10.0**-q.e if q.e <= 0 else t / 10.0**q.e
    k = np.floor(scaled / q.m + _SHIFT) * q.m
    # k * 10^e as the float nearest to the decimal (10^|e| is exact): the same as Quantizer.value
    if q.e <= 0:
        t = k / 10.0**-q.e
    else:
        with np.errstate(over="ignore"):  # a step past the float range (an axis as wide as it)
            t = np.minimum(np.maximum(k * 10.0**q.e, -_MAX), _MAX)
    if q.log:
        a[ok] = [float(format(10.0**v, ".6g")) for v in t.tolist()]
    else:
        a[ok] = t + 0.0  # no -0
    return a


def snap_field(z: Any, steps: float = 1e6) -> np.ndarray:
    """A surface ``z`` (for contours and images) rounded to ``1/steps`` of its range (a power of
    ten): contours drawn from it do not move with round-off, and exact ties stay ties.

    Examples
    --------
    >>> snap_field([[0.0, 1.0], [0.5 + 1e-12, float("nan")]]).tolist()
    [[0.0, 1.0], [0.5, nan]]
    """
    a = _validate.array(z, "z", ndim=2, finite=False)
    steps = _validate.real(steps, "steps", low=0, low_open=True)
    fin = a[np.isfinite(a)]
    if fin.size:
        step = 10.0 ** math.floor(math.log10(max(float(fin.max() - fin.min()), 1e-300) / steps))
        a = np.round(a / step) * step + 0.0
    return a
