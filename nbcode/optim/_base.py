"""The shape every optimizer shares: a pair of pure functions, plus a small stateful wrapper.

An optimizer is an :class:`Optimizer`, i.e. ``init(params) -> state`` and
``update(grads, state, params) -> (updates, state)``; the new parameters are
``params + updates`` (:func:`apply_updates`). The state is a ``NamedTuple`` whose field names
match the keys of ``torch.optim``'s state (``exp_avg``, ``momentum_buffer``, ...), so the two
can be compared field by field.
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

import numpy as np

__all__ = ["Optimizer", "apply_updates", "Stepper", "run"]

Array = np.ndarray
InitFn = Callable[[Array], Any]
UpdateFn = Callable[[Array, Any, Array], tuple[Array, Any]]


class Optimizer(NamedTuple):
    """A functional optimizer: ``init(params) -> state``, ``update(grads, state, params) -> (updates, state)``."""

    init: InitFn
    update: UpdateFn


def apply_updates(params: Array, updates: Array) -> Array:
    """``params + updates`` (a new array; nothing is modified in place)."""
    return np.asarray(params, dtype=float) + updates


def as_params(params: Any) -> Array:
    """Parameters as a float64 array (a copy), refusing non-finite entries."""
    w = np.array(params, dtype=np.float64)
    if not np.all(np.isfinite(w)):
        raise ValueError("Invalid parameters: they contain NaN or infinity")
    return w


class Stepper:
    """A stateful wrapper for notebooks: ``s = Stepper(adam(lr=0.1), w0); s.step(grad)``.

    Examples
    --------
    >>> from nbcode.optim import sgd
    >>> s = Stepper(sgd(lr=0.5), [2.0])
    >>> s.step(s.params * 2.0).tolist()          # gradient of w^2 is 2w: one step lands on 0
    [0.0]
    """

    def __init__(self, opt: Optimizer, params: Any) -> None:
        self.opt = opt
        self.params = as_params(params)
        self.state = opt.init(self.params)

    def step(self, grads: Any) -> Array:
        """Apply one update with ``grads`` and return the new parameters."""
        g = np.asarray(grads, dtype=np.float64)
        if g.shape != self.params.shape:
            raise ValueError(f"grads have shape {g.shape}, parameters have shape {self.params.shape}")
        updates, self.state = self.opt.update(g, self.state, self.params)
        self.params = apply_updates(self.params, updates)
        return self.params


def run(opt: Optimizer, grad: Callable[[Array], Array], w0: Any, steps: int, *, stop_at: float = 1e6) -> Array:
    """The ``steps + 1`` iterates of ``opt`` on a function with gradient ``grad``, from ``w0``.

    A run that leaves the ball of radius ``stop_at`` (divergence) is padded with NaN from there
    on, so every run has the same length.

    Examples
    --------
    >>> from nbcode.optim import sgd
    >>> run(sgd(lr=0.25), lambda w: 2 * w, [1.0], 3)[:, 0].tolist()
    [1.0, 0.5, 0.25, 0.125]
    """
    if not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"Invalid number of steps: {steps}")
    w = as_params(w0)
    state = opt.init(w)
    path = np.full((int(steps) + 1,) + w.shape, np.nan)
    path[0] = w
    for k in range(1, int(steps) + 1):
        updates, state = opt.update(np.asarray(grad(w), dtype=np.float64), state, w)
        w = apply_updates(w, updates)
        if not np.all(np.isfinite(w)) or float(np.max(np.abs(w))) > stop_at:
            break
        path[k] = w
    return path


def check_nonneg(value: float, message: str) -> float:
    """``value`` as a float if ``0 <= value`` (NaN is refused), else ``ValueError(message)``."""
    if not isinstance(value, (int, float, np.integer, np.floating)) or not 0.0 <= value or math.isinf(value):
        raise ValueError(message)
    return float(value)


def check_betas(betas: tuple[float, float]) -> tuple[float, float]:
    """Adam-style ``(beta1, beta2)`` with ``0 <= beta < 1``, with PyTorch's messages."""
    b1, b2 = betas
    if not 0.0 <= b1 < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {b1}")
    if not 0.0 <= b2 < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {b2}")
    return float(b1), float(b2)
