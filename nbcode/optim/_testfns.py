"""The four 2-D test functions of the optimizer race, with start points and plotting boxes.

Private to :mod:`nbcode.optim`. Beale, Rosenbrock and the rotated valley come from
:mod:`nbcode.surfaces` (value, gradient and Hessian in closed form); the double-well saddle is
the race's own. Each is checked against ``torch.func`` in the tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from nbcode import surfaces
from nbcode.surfaces import Surface

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


def _from(surface: Surface) -> tuple[Callable[[Array], float], Callable[[Array], Array], Callable[[Array], Array]]:
    """Value, gradient and Hessian of a :mod:`nbcode.surfaces` surface, without its point checks:
    a diverging racer must get NaN back, not an error."""
    return (lambda w: float(surface.value(np.asarray(w, dtype=float))), surface.grad_fn, surface.hess_fn)


# Beale's function (minimum 0 at (3, 0.5)), Rosenbrock's (minimum 0 at (1, 1)) and a long, narrow
# valley: a quadratic with eigenvalues 0.1 and 10 (kappa = 100) along axes rotated by 30 degrees.
beale, beale_grad, beale_hess = _from(surfaces.beale())
rosenbrock, rosenbrock_grad, rosenbrock_hess = _from(surfaces.rosenbrock(2))
_VALLEY = surfaces.quadratic_bowl((0.1, 10.0), math.radians(30.0))
valley, valley_grad, valley_hess = _from(_VALLEY)
_A = _VALLEY.hess([0.0, 0.0])


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


SURFACES: dict[str, Surface2D] = {
    "Beale": Surface2D("Beale", beale, beale_grad, beale_hess, (1.0, 1.5), (-1.0, 4.5, -1.5, 2.5), ((3.0, 0.5),)),
    "long valley": Surface2D("long valley", valley, valley_grad, valley_hess, (-4.0, 0.5), (-5.0, 5.0, -3.0, 3.0), ((0.0, 0.0),)),
    "saddle": Surface2D("saddle", saddle, saddle_grad, saddle_hess, (2.0, 1e-3), (-2.5, 2.5, -1.6, 1.6), ((0.0, 1.0), (0.0, -1.0))),
    "Rosenbrock": Surface2D("Rosenbrock", rosenbrock, rosenbrock_grad, rosenbrock_hess, (-1.2, 1.0), (-2.0, 2.0, -1.0, 3.0), ((1.0, 1.0),)),
}
