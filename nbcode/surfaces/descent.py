"""Escaping a saddle point: when a path leaves a ball around it, measured and predicted.

The paths themselves come from :func:`nbcode.optim.gd_path` (plain or perturbed gradient
descent) and :func:`nbcode.optim.newton_path`, run on a :class:`~nbcode.surfaces.Surface`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from nbcode import _validate as v

__all__ = ["escape_steps", "predicted_escape_steps"]


def escape_steps(path: np.ndarray, center: Any, radius: float) -> float:
    """The first step ``k`` at which ``path[k]`` is farther than ``radius`` from ``center``.

    Returns ``inf`` if the path never leaves the ball. A row of NaN (the padding of a diverged
    run, see :func:`nbcode.optim.gd_path`) counts as out of the ball.

    Examples
    --------
    >>> escape_steps(np.array([[0.1, 0.0], [0.3, 0.0], [1.2, 0.0]]), [0.0, 0.0], 1.0)
    2
    """
    radius = v.real(radius, "radius", low=0, low_open=True)
    p = v.array(path, "path", ndim=2, finite=False)
    c = v.vector(center, "center", size=p.shape[1])
    dist = np.linalg.norm(p - c, axis=1)
    out = np.nonzero(~(dist <= radius))[0]  # nan (diverged) counts as out
    return int(out[0]) if out.size else math.inf


def predicted_escape_steps(offset: float, lam_min: float, lr: float, radius: float, noise: float = 0.0) -> float:
    """Steps to leave a ball of ``radius`` around a saddle, from the linearized dynamics.

    Along the eigenvector of :math:`\\lambda_{\\min} < 0` gradient descent multiplies the
    offset :math:`\\delta` by :math:`r = 1 + \\eta|\\lambda_{\\min}|` per step, so it leaves a
    ball of radius :math:`R` after

    .. math:: k \\approx \\frac{\\log(R/\\delta)}{\\log(1 + \\eta|\\lambda_{\\min}|)}
              \\approx \\frac{\\log(R/\\delta)}{\\eta\\,|\\lambda_{\\min}|}

    steps, i.e. after a time :math:`t = \\eta k \\approx \\log(R/\\delta)/|\\lambda_{\\min}|`.
    With noise :math:`\\sigma` added at every step, the offset after :math:`k` steps is
    :math:`r^k(\\delta + s\\xi)` with :math:`\\xi \\sim N(0, 1)` and
    :math:`s^2 = \\sigma^2 \\sum_{j \\ge 1} r^{-2j} = \\sigma^2/(r^2 - 1)`. Averaging
    :math:`\\log|s\\xi|` gives :math:`\\log s - (\\gamma + \\log 2)/2` (:math:`\\gamma` is Euler's
    constant), so :math:`\\delta` is replaced by the effective offset
    :math:`\\sqrt{\\delta^2 + c\\, s^2}` with :math:`c = e^{-\\gamma}/2`, exact in both limits
    :math:`\\sigma = 0` and :math:`\\delta = 0`.

    Examples
    --------
    >>> round(predicted_escape_steps(1e-3, -2.0, 0.05, 1.0), 2)
    72.48
    """
    lam_min = v.real(lam_min, "lam_min", high=0, high_open=True)
    lr = v.real(lr, "learning rate", low=0, low_open=True, symbol="lr")
    offset = v.real(offset, "offset", low=0)
    noise = v.real(noise, "noise", low=0)
    radius = v.real(radius, "radius", low=0, low_open=True)
    if offset + noise == 0:
        raise ValueError(f"Invalid offset or noise: offset={offset}, noise={noise} (need one of them > 0)")
    r = 1.0 + lr * abs(lam_min)
    c = math.exp(-0.5772156649015329) / 2.0
    eff = math.sqrt(offset**2 + c * noise**2 / (r * r - 1.0))
    return max(0.0, math.log(radius / eff) / math.log(r))
