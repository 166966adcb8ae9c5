"""Gradient descent, perturbed gradient descent and Newton's method near a saddle point."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from nbcode.surfaces.functions import Surface, check_point

__all__ = ["gd_path", "newton_path", "escape_steps", "predicted_escape_steps"]


def _check_lr(lr: float) -> float:
    if not isinstance(lr, (int, float, np.floating)) or not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"Invalid learning rate: {lr}")
    return float(lr)


def _check_steps(steps: int) -> int:
    if not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"Invalid number of steps: {steps}")
    return int(steps)


def gd_path(
    surface: Surface, w0: Any, lr: float, steps: int, *, noise: float = 0.0, seed: int = 0, max_norm: float = 1e6
) -> np.ndarray:
    """Iterates of (perturbed) gradient descent, shape ``(steps + 1, dim)``.

    .. math:: w_{k+1} = w_k - \\eta\\, \\nabla L(w_k) + \\sigma \\xi_k, \\qquad \\xi_k \\sim N(0, I)

    With ``noise`` :math:`\\sigma > 0` this is perturbed gradient descent (a simple version of
    :cite:`jin2017`'s). The run stops early, padded with ``nan``, once
    :math:`\\|w_k\\|` exceeds ``max_norm`` (divergence is shown, not hidden).

    Examples
    --------
    >>> from nbcode.surfaces import saddle
    >>> gd_path(saddle(), [1.0, 0.5], 0.25, 2).tolist()
    [[1.0, 0.5], [0.5, 0.75], [0.25, 1.125]]
    """
    lr = _check_lr(lr)
    steps = _check_steps(steps)
    w = check_point(w0, surface.dim)
    if not (math.isfinite(noise) and noise >= 0):
        raise ValueError(f"Invalid noise level: {noise}")
    rng = np.random.default_rng(seed)
    out = np.full((steps + 1, surface.dim), np.nan)
    out[0] = w
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(steps):
            w = w - lr * surface.grad_fn(w)
            if noise > 0:
                w = w + noise * rng.standard_normal(surface.dim)
            if not np.all(np.isfinite(w)) or np.linalg.norm(w) > max_norm:
                break
            out[k + 1] = w
    return out


def newton_path(surface: Surface, w0: Any, steps: int) -> np.ndarray:
    """Iterates of the pure Newton step :math:`w \\leftarrow w - H^{-1} g`, shape ``(steps + 1, dim)``.

    Newton's step jumps to the critical point of the local quadratic model, whatever its type:
    near a saddle it is attracted to the saddle (:cite:`dauphin2014`).

    Examples
    --------
    >>> from nbcode.surfaces import saddle
    >>> newton_path(saddle(), [1.0, 0.5], 1).tolist()
    [[1.0, 0.5], [0.0, 0.0]]
    """
    steps = _check_steps(steps)
    w = check_point(w0, surface.dim)
    out = np.full((steps + 1, surface.dim), np.nan)
    out[0] = w
    for k in range(steps):
        try:
            w = w - np.linalg.solve(surface.hess_fn(w), surface.grad_fn(w))
        except np.linalg.LinAlgError:
            break
        out[k + 1] = w
    return out


def escape_steps(path: np.ndarray, center: Any, radius: float) -> float:
    """The first step ``k`` at which ``path[k]`` is farther than ``radius`` from ``center``.

    Returns ``inf`` if the path never leaves the ball.

    Examples
    --------
    >>> escape_steps(np.array([[0.1, 0.0], [0.3, 0.0], [1.2, 0.0]]), [0.0, 0.0], 1.0)
    2
    """
    if not (math.isfinite(radius) and radius > 0):
        raise ValueError(f"Invalid radius: {radius}")
    p = np.asarray(path, dtype=np.float64)
    dist = np.linalg.norm(p - np.asarray(center, dtype=np.float64), axis=1)
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
    if not (math.isfinite(lam_min) and lam_min < 0):
        raise ValueError(f"Invalid lam_min: {lam_min} (need a negative eigenvalue)")
    lr = _check_lr(lr)
    if not (offset >= 0 and math.isfinite(offset)) or not (noise >= 0 and math.isfinite(noise)) or offset + noise == 0:
        raise ValueError(f"Invalid offset or noise: offset={offset}, noise={noise} (need one of them > 0)")
    r = 1.0 + lr * abs(lam_min)
    c = math.exp(-0.5772156649015329) / 2.0
    eff = math.sqrt(offset**2 + c * noise**2 / (r * r - 1.0))
    return max(0.0, math.log(radius / eff) / math.log(r))
