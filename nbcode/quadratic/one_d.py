"""One-dimensional quadratics: the smallest model of gradient descent (used from the intro on).

The iterates themselves come from :func:`nbcode.optim.gd_path` (``gd_path(q, w0, lr, steps)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nbcode import _validate as v

__all__ = ["Quadratic1D", "contraction_factor", "regime", "steps_to_tolerance", "EDGE"]

#: A contraction factor within this distance of 0 or ±1 counts as exactly there. Eigenvalues and
#: products such as η·λ carry round-off of order 1e-16 that differs between machines; it must not
#: decide between "one step" and "monotone", or between "cycling" and "oscillating".
EDGE = 1e-9


def _check_lr(lr: float) -> float:
    return v.real(lr, "learning rate", low=0, symbol="lr")


def _check_curvature(a: float) -> float:
    return v.real(a, "curvature", low=0, low_open=True, symbol="a")


_FLOAT64 = np.dtype(np.float64)


def _point(w: object) -> float | np.ndarray:
    """``w`` for :meth:`Quadratic1D.__call__` and :meth:`Quadratic1D.grad`, checked cheaply (both
    run at every step of a path): a float64 array passes as it is (no copy; NaN entries, the
    padding of a diverged path, give NaN), another real array becomes float64, a number must be
    finite."""
    if type(w) is float:  # the common cases first: no conversion, no copy
        if math.isfinite(w):
            return w
    elif isinstance(w, np.ndarray):
        if w.dtype is _FLOAT64:
            return w
        if w.dtype.kind in "iuf":
            return w.astype(np.float64)
        raise TypeError(f"Invalid w: {v.show(w)} (need a number or a real NumPy array)")
    elif not isinstance(w, (list, tuple)):
        return v.real(w, "w")
    else:
        raise TypeError(f"Invalid w: {v.show(w)} (need a number or a NumPy array, not a {type(w).__name__})")
    raise ValueError(f"Invalid w: {w} (need a finite number)")


@dataclass(frozen=True)
class Quadratic1D:
    """:math:`E(w) = \\tfrac12 a w^2 + b w + c` with curvature ``a > 0``.

    Examples
    --------
    >>> q = Quadratic1D(a=2.0, b=-4.0)
    >>> q.w_star, float(q(q.w_star)), float(q.grad(0.0))
    (2.0, -4.0, -4.0)
    """

    a: float
    b: float = 0.0
    c: float = 0.0

    def __post_init__(self) -> None:
        # stored as floats: NumPy scalars (np.float32(2.0)) give the float64 results of Python numbers
        object.__setattr__(self, "a", _check_curvature(self.a))
        for name in ("b", "c"):
            object.__setattr__(self, name, v.real(getattr(self, name), f"coefficient {name}"))

    @property
    def w_star(self) -> float:
        """The minimizer :math:`-b/a`."""
        return -self.b / self.a

    @property
    def eta_opt(self) -> float:
        """The learning rate that reaches the minimum in one step, :math:`1/a`."""
        return 1.0 / self.a

    def __call__(self, w: float | np.ndarray) -> float | np.ndarray:
        """:math:`E(w)` at a finite number ``w``, or at every entry of an array ``w`` (NaN entries,
        the padding of a diverged path, give NaN)."""
        w = _point(w)
        return 0.5 * self.a * np.square(w) + self.b * np.asarray(w) + self.c

    def grad(self, w: float | np.ndarray) -> float | np.ndarray:
        """:math:`E'(w) = a w + b` (``w`` as for :meth:`__call__`)."""
        return self.a * np.asarray(_point(w)) + self.b


def contraction_factor(lr: float, a: float) -> float:
    """:math:`r = 1 - \\eta a`: each step multiplies :math:`w - w^*` by ``r``.

    Examples
    --------
    >>> contraction_factor(0.5, 3.0)
    -0.5
    """
    return 1.0 - _check_lr(lr) * _check_curvature(a)


def regime(lr: float, a: float) -> str:
    """Name the behaviour of gradient descent with step ``lr`` on curvature ``a``.

    One of ``'stuck'`` (η = 0), ``'monotone'`` (η < 1/a), ``'one step'`` (η = 1/a),
    ``'oscillating'`` (1/a < η < 2/a), ``'cycling'`` (η = 2/a) and ``'divergent'`` (η > 2/a).

    Examples
    --------
    >>> [regime(eta, 1.0) for eta in (0.5, 1.0, 1.5, 2.0, 2.5)]
    ['monotone', 'one step', 'oscillating', 'cycling', 'divergent']
    """
    r = contraction_factor(lr, a)
    if r == 1.0:
        return "stuck"
    if abs(r) <= EDGE:
        return "one step"
    if abs(r + 1.0) <= EDGE:
        return "cycling"
    if 0.0 < r < 1.0:
        return "monotone"
    if -1.0 < r < 0.0:
        return "oscillating"
    return "divergent"


def steps_to_tolerance(lr: float, a: float, distance0: float, tol: float) -> float:
    """Steps until :math:`|w_k - w^*| \\le` ``tol``, from :math:`|r|^k d_0 \\le tol`.

    Returns ``inf`` when gradient descent does not converge (:math:`|r| \\ge 1`), ``0`` when
    already within tolerance, and ``1`` when :math:`\\eta = 1/a`.

    Examples
    --------
    >>> steps_to_tolerance(0.5, 1.0, 1.0, 1e-3)  # 0.5**10 < 1e-3 <= 0.5**9
    10
    """
    r = abs(contraction_factor(lr, a))
    distance0 = v.real(distance0, "distance0", low=0)
    tol = v.real(tol, "tolerance", low=0, low_open=True, symbol="tol")
    if distance0 <= tol:
        return 0
    if r <= EDGE:
        return 1
    if r >= 1.0 - EDGE:
        return math.inf
    return math.ceil(math.log(tol / distance0) / math.log(r) - 1e-12)
