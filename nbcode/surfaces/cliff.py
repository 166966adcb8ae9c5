"""A cliff: the loss of a one-unit recurrent network, after :cite:`pascanu2013`."""

from __future__ import annotations

from typing import Any

import numpy as np
from nbcode import _validate

__all__ = ["rnn_loss", "rnn_loss_grad"]


def _check(T: int) -> int:
    return _validate.count(T, "number of time steps", low=1)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def rnn_loss(w: Any, b: Any, *, T: int = 50, x0: float = 0.5, target: float = 0.7) -> np.ndarray:
    """:math:`L(w, b) = (x_T - \\text{target})^2` with :math:`x_t = w\\,\\sigma(x_{t-1}) + b`.

    Broadcasts over arrays ``w`` and ``b``. Where the map :math:`x \\mapsto w\\sigma(x) + b` has two
    stable fixed points, :math:`x_T` goes to the one whose basin contains ``x0``; where the unstable
    fixed point between them (the basin edge) crosses ``x0``, :math:`x_T` jumps: the loss has a
    cliff, a wall where the gradient is huge (for ``b = -5``, ``x0 = 0.5`` at
    :math:`w = (x_0 - b)/\\sigma(x_0) \\approx 8.84`).

    Examples
    --------
    >>> float(rnn_loss(0.0, 0.7))
    0.0
    """
    T = _check(T)
    w, b = _validate.array(w, "w"), _validate.array(b, "b")
    x0, target = _validate.real(x0, "x0"), _validate.real(target, "target")
    x = np.broadcast_to(np.asarray(x0, dtype=np.float64), np.broadcast(np.asarray(w), np.asarray(b)).shape).copy()
    for _ in range(T):
        x = w * _sigmoid(x) + b
    return np.asarray((x - target) ** 2)


def rnn_loss_grad(w: Any, b: Any, *, T: int = 50, x0: float = 0.5, target: float = 0.7) -> tuple[np.ndarray, np.ndarray]:
    """``(dL/dw, dL/db)`` of :func:`rnn_loss` by forward-mode differentiation through time.

    .. math:: \\frac{\\partial x_t}{\\partial w} = \\sigma(x_{t-1}) + w\\,\\sigma'(x_{t-1})
              \\frac{\\partial x_{t-1}}{\\partial w}, \\qquad
              \\frac{\\partial x_t}{\\partial b} = 1 + w\\,\\sigma'(x_{t-1}) \\frac{\\partial x_{t-1}}{\\partial b}

    Examples
    --------
    >>> [round(float(g), 6) for g in rnn_loss_grad(0.0, 0.7)]
    [0.0, 0.0]
    """
    T = _check(T)
    w, b = _validate.array(w, "w"), _validate.array(b, "b")
    x0, target = _validate.real(x0, "x0"), _validate.real(target, "target")
    shape = np.broadcast(np.asarray(w), np.asarray(b)).shape
    x = np.broadcast_to(np.asarray(x0, dtype=np.float64), shape).copy()
    dw = np.zeros(shape)
    db = np.zeros(shape)
    for _ in range(T):
        s = _sigmoid(x)
        ds = s * (1.0 - s)
        dw = s + w * ds * dw
        db = 1.0 + w * ds * db
        x = w * s + b
    r = 2.0 * (x - target)
    return r * dw, r * db
