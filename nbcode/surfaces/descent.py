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
    offset by :math:`r = 1 + \\eta|\\lambda_{\\min}|` per step; the noise adds variance
    :math:`\\sigma^2 \\sum_{j<k} r^{2j} \\approx \\sigma^2 r^{2k}/(r^2-1)`, so the offset after
    :math:`k` steps is about :math:`r^k \\sqrt{\\delta^2 + \\sigma^2/(r^2-1)}` and

    .. math:: k \\approx \\frac{\\log\\big(R / \\sqrt{\\delta^2 + \\sigma^2/(r^2 - 1)}\\big)}{\\log(1 + \\eta|\\lambda_{\\min}|)}
              \\approx \\frac{\\log(R/\\delta)}{\\eta\\,|\\lambda_{\\min}|} \\quad (\\sigma = 0,\\ \\eta|\\lambda| \\ll 1).

    In time :math:`t = \\eta k`, the escape takes :math:`\\log(R/\\delta)/|\\lambda_{\\min}|`.

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
    eff = math.sqrt(offset**2 + noise**2 / (r * r - 1.0))
    return max(0.0, math.log(radius / eff) / math.log(r))
