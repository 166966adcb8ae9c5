"""Four 2-D test functions for the optimizer race (value, gradient, Hessian in closed form).

Private to :mod:`nbcode.optim`: the book's general collection of loss surfaces lives in
``nbcode.surfaces``; these are the few the race needs, kept here so the chapter does not
depend on that package's schedule. Each is checked against ``torch.func`` in the tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = ["Surface2D", "SURFACES", "beale", "valley", "saddle", "rosenbrock"]

Array = np.ndarray


@dataclass(frozen=True)
class Surface2D:
    """A 2-D test function with its derivatives, a start point, a plotting box and its minimizer(s)."""

    name: str
    f: Callable[[Array], float]
    grad: Callable[[Array], Array]
    hess: Callable[[Array], Array]
    w0: tuple[float, float]
    box: tuple[float, float, float, float]  # xmin, xmax, ymin, ymax
    minima: tuple[tuple[float, float], ...]

    def grid(self, n: int = 120) -> tuple[Array, Array, Array]:
        """``x, y, Z`` with ``Z[i, j] = f(x[j], y[i])`` for contour plots."""
        x = np.linspace(self.box[0], self.box[1], n)
        y = np.linspace(self.box[2], self.box[3], n)
        X, Y = np.meshgrid(x, y)
        Z = np.vectorize(lambda a, b: self.f(np.array([a, b])))(X, Y)
        return x, y, Z


# Beale's function: minimum 0 at (3, 0.5); flat plateaus and steep walls.
_BEALE_C = (1.5, 2.25, 2.625)


def beale(w: Array) -> float:
    """:math:`\\sum_{i=1}^3 (c_i - x + x y^i)^2` with :math:`c = (1.5, 2.25, 2.625)`.

    >>> beale(np.array([3.0, 0.5]))
    0.0
    """
    x, y = float(w[0]), float(w[1])
    return float(sum((c - x + x * y ** (i + 1)) ** 2 for i, c in enumerate(_BEALE_C)))


def beale_grad(w: Array) -> Array:
    x, y = float(w[0]), float(w[1])
    gx = gy = 0.0
    for i, c in enumerate(_BEALE_C):
        p = i + 1
        r = c - x + x * y**p
        gx += 2 * r * (y**p - 1)
        gy += 2 * r * x * p * y ** (p - 1)
    return np.array([gx, gy])


def beale_hess(w: Array) -> Array:
    x, y = float(w[0]), float(w[1])
    H = np.zeros((2, 2))
    for i, c in enumerate(_BEALE_C):
        p = i + 1
        r = c - x + x * y**p
        rx, ry = y**p - 1, x * p * y ** (p - 1)
        rxy = p * y ** (p - 1)
        ryy = x * p * (p - 1) * y ** (p - 2) if p >= 2 else 0.0
        H += 2 * np.array([[rx * rx, rx * ry + r * rxy], [rx * ry + r * rxy, ry * ry + r * ryy]])
    return H


# A long, narrow, rotated quadratic valley: eigenvalues 0.1 and 10 (kappa = 100), axes at 30 degrees.
_TH = math.radians(30.0)
_Q = np.array([[math.cos(_TH), -math.sin(_TH)], [math.sin(_TH), math.cos(_TH)]])
_A = _Q @ np.diag([0.1, 10.0]) @ _Q.T


def valley(w: Array) -> float:
    """:math:`\\tfrac12 w^\\top A w` with eigenvalues 0.1 and 10 along axes rotated by 30°."""
    w = np.asarray(w, dtype=float)
    return float(0.5 * w @ _A @ w)


def valley_grad(w: Array) -> Array:
    return _A @ np.asarray(w, dtype=float)


def valley_hess(w: Array) -> Array:
    return _A.copy()


def saddle(w: Array) -> float:
    """:math:`\\tfrac12 x^2 - \\tfrac12 y^2 + \\tfrac14 y^4`: a saddle at 0 (Hessian diag(1, -1)), minima at :math:`(0, \\pm 1)`.

    >>> saddle(np.array([0.0, 1.0]))
    -0.25
    """
    x, y = float(w[0]), float(w[1])
    return 0.5 * x * x - 0.5 * y * y + 0.25 * y**4


def saddle_grad(w: Array) -> Array:
    x, y = float(w[0]), float(w[1])
    return np.array([x, -y + y**3])


def saddle_hess(w: Array) -> Array:
    y = float(w[1])
    return np.array([[1.0, 0.0], [0.0, -1.0 + 3 * y * y]])


def rosenbrock(w: Array) -> float:
    """:math:`(1 - x)^2 + 100 (y - x^2)^2`, minimum 0 at (1, 1) in a curved valley.

    >>> rosenbrock(np.array([1.0, 1.0]))
    0.0
    """
    x, y = float(w[0]), float(w[1])
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def rosenbrock_grad(w: Array) -> Array:
    x, y = float(w[0]), float(w[1])
    return np.array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])


def rosenbrock_hess(w: Array) -> Array:
    x, y = float(w[0]), float(w[1])
    return np.array([[2 - 400 * (y - x * x) + 800 * x * x, -400 * x], [-400 * x, 200.0]])


SURFACES: dict[str, Surface2D] = {
    "Beale": Surface2D("Beale", beale, beale_grad, beale_hess, (1.0, 1.5), (-1.0, 4.5, -1.5, 2.5), ((3.0, 0.5),)),
    "long valley": Surface2D("long valley", valley, valley_grad, valley_hess, (-4.0, 0.5), (-5.0, 5.0, -3.0, 3.0), ((0.0, 0.0),)),
    "saddle": Surface2D("saddle", saddle, saddle_grad, saddle_hess, (2.0, 1e-3), (-2.5, 2.5, -1.6, 1.6), ((0.0, 1.0), (0.0, -1.0))),
    "Rosenbrock": Surface2D("Rosenbrock", rosenbrock, rosenbrock_grad, rosenbrock_hess, (-1.2, 1.0), (-2.0, 2.0, -1.0, 3.0), ((1.0, 1.0),)),
}
