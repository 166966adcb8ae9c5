"""Newton's method in one dimension: the local optimal step :math:`\\eta_{opt}(w) = 1/L''(w)`.

Near any smooth function's minimum, :math:`L` is close to its second-order Taylor expansion, so
gradient descent with the step :math:`1/L''(w_k)` jumps to the minimum of that parabola:

.. math:: w_{k+1} = w_k - \\frac{L'(w_k)}{L''(w_k)}.

With :math:`L''(w^*) > 0` the error squares each step (quadratic convergence); with
:math:`L''(w^*) = 0` it only shrinks by a constant factor; with :math:`L'' \\le 0` the step points
uphill or is undefined. The iterates come from :func:`nbcode.optim.newton_path`
(``newton_path(grad, w0, steps, hess=hess)``); this module has the local step and the measured
rates of convergence.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from nbcode import _validate as v

__all__ = ["local_eta_opt", "convergence_ratios"]


def local_eta_opt(hess: Callable[[float], float], w: float) -> float:
    """:math:`1/L''(w)`, the step that lands on the minimum of the local parabola.

    Examples
    --------
    >>> local_eta_opt(lambda w: 3 * w * w, 1.0)  # L = w**4 / 4
    0.3333333333333333
    """
    hess = v.function(hess, "hess")
    w = v.real(w, "w")
    out = hess(w)
    try:
        h = float(out)
    except (TypeError, ValueError) as e:
        raise TypeError(f"Invalid hess: it returned {v.show(out)} at w={w} (need a number, L''(w))") from e
    if not math.isfinite(h) or h <= 0:
        raise ValueError(f"Invalid curvature: {h} at w={w} (need L''(w) > 0 for a local eta_opt)")
    return 1.0 / h


def convergence_ratios(errors: np.ndarray, power: float = 1.0) -> np.ndarray:
    """Measured rates :math:`R_k = |e_{k+1}| / |e_k|^{p}` of a sequence of errors.

    With ``power = 1`` this is the linear rate (the contraction factor of gradient descent on a
    quadratic, in absolute value, for :math:`e = w - w^*`; its square for :math:`e = L(w) - L^*`);
    with ``power = 2`` a constant :math:`R_k` means quadratic convergence. ``errors`` is a finite
    1-D sequence of at least two errors; ``power > 0``. An error of exactly 0 gives a ratio of
    NaN or inf after it (the sequence has converged: there is no rate to measure).

    Examples
    --------
    >>> convergence_ratios(np.array([1.0, 0.5, 0.25])).tolist()
    [0.5, 0.5]
    """
    e = v.array(errors, "errors", ndim=1)
    if e.size < 2:
        raise ValueError(f"Invalid errors: {e.tolist()} (need at least 2 of them)")
    power = v.real(power, "power", low=0, low_open=True)
    e = np.abs(e)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(e[1:] / e[:-1] ** power)
