"""Newton's method in one dimension: the local optimal step :math:`\\eta_{opt}(w) = 1/L''(w)`.

Near any smooth function's minimum, :math:`L` is close to its second-order Taylor expansion, so
gradient descent with the step :math:`1/L''(w_k)` jumps to the minimum of that parabola:

.. math:: w_{k+1} = w_k - \\frac{L'(w_k)}{L''(w_k)}.

With :math:`L''(w^*) > 0` the error squares each step (quadratic convergence); with
:math:`L''(w^*) = 0` it only shrinks by a constant factor; with :math:`L'' \\le 0` the step points
uphill or is undefined.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

__all__ = ["newton_path", "local_eta_opt", "convergence_ratios"]


def local_eta_opt(hess: Callable[[float], float], w: float) -> float:
    """:math:`1/L''(w)`, the step that lands on the minimum of the local parabola.

    Examples
    --------
    >>> local_eta_opt(lambda w: 3 * w * w, 1.0)  # L = w**4 / 4
    0.3333333333333333
    """
    h = float(hess(w))
    if not math.isfinite(h) or h <= 0:
        raise ValueError(f"Invalid curvature: {h} at w={w} (need L''(w) > 0 for a local eta_opt)")
    return 1.0 / h


def newton_path(grad: Callable[[float], float], hess: Callable[[float], float], w0: float, steps: int) -> np.ndarray:
    """``steps`` Newton steps :math:`w \\leftarrow w - L'(w)/L''(w)` from ``w0``; returns ``steps + 1`` iterates.

    The path stops early (the rest is ``nan``) when :math:`L''(w) = 0` or a value overflows.

    Examples
    --------
    >>> newton_path(lambda w: 2 * w - 2, lambda w: 2.0, 5.0, 2).tolist()  # a parabola: one step
    [5.0, 1.0, 1.0]
    """
    if not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"Invalid number of steps: {steps}")
    if not math.isfinite(w0):
        raise ValueError(f"Invalid starting point: {w0}")
    out = np.full(int(steps) + 1, np.nan)
    w = float(w0)
    out[0] = w
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for k in range(int(steps)):
            try:
                h = float(hess(w))
                if h == 0.0 or not math.isfinite(h):
                    break
                w = w - float(grad(w)) / h
            except (OverflowError, ZeroDivisionError):
                break
            if not math.isfinite(w):
                break
            out[k + 1] = w
    return out


def convergence_ratios(errors: np.ndarray, power: float = 1.0) -> np.ndarray:
    """Measured rates :math:`R_k = |e_{k+1}| / |e_k|^{p}` of a sequence of errors.

    With ``power = 1`` this is the linear rate (the contraction factor of gradient descent on a
    quadratic, in absolute value, for :math:`e = w - w^*`; its square for :math:`e = L(w) - L^*`);
    with ``power = 2`` a constant :math:`R_k` means quadratic convergence.

    Examples
    --------
    >>> convergence_ratios(np.array([1.0, 0.5, 0.25])).tolist()
    [0.5, 0.5]
    """
    e = np.abs(np.asarray(errors, dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(e[1:] / e[:-1] ** power)
