"""Two-dimensional (and d-dimensional) test surfaces with exact gradients, Hessians and HVPs.

Each surface is a :class:`Surface`: ``s(w)`` is the loss, ``s.grad(w)``, ``s.hess(w)`` and
``s.hessp(w, v)`` the gradient, Hessian and Hessian-vector product, written by hand (the
pattern of ``scipy.optimize.rosen``, ``rosen_der``, ``rosen_hess``, ``rosen_hess_prod``). The
value is written with arithmetic only, so it also runs on a ``torch.Tensor``: the tests check
the hand-written derivatives against ``torch.func.hessian`` of the same expression.

:data:`SURFACES` is the book's one registry of named surfaces, each with a plotting window, a
start point and its known critical points (so its minima).
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math
from typing import Any, Callable, Sequence

import numpy as np

from nbcode import _validate
from nbcode import _validate as v

__all__ = [
    "Surface",
    "SURFACES",
    "get_surface",
    "quadratic_bowl",
    "narrow_valley",
    "rosenbrock",
    "beale",
    "saddle",
    "double_well",
    "long_valley",
    "monkey_saddle",
    "himmelblau",
    "two_weight_net",
    "pl_nonconvex",
]

Array = np.ndarray


def check_point(w: Any, dim: int | None = None) -> Array:
    """``w`` as a finite float64 vector (of length ``dim`` if given), or a ``ValueError``."""
    a = v.array(w, "point", finite=False)
    if a.ndim != 1:
        raise ValueError(f"Invalid point: expected a 1-D vector, got shape {a.shape}")
    if dim is not None and a.shape[0] != dim:
        raise ValueError(f"Invalid point: expected {dim} coordinates, got {a.shape[0]}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"Invalid point: {a} (need finite coordinates)")
    return a


@dataclass(frozen=True)
class Surface:
    """A loss surface :math:`L(w)` with its exact gradient, Hessian and Hessian-vector product.

    Parameters
    ----------
    name : str
    dim : int
        Number of coordinates of ``w``.
    value : callable
        ``value(w)`` with arithmetic only (works on NumPy arrays and torch tensors).
    grad, hess : callable
        Hand-written :math:`\\nabla L(w)` and :math:`\\nabla^2 L(w)`.
    box : (xmin, xmax, ymin, ymax)
        A window for contour plots (2-D surfaces).
    critical_points : list of (point, kind)
        Known critical points and their type (from the Hessian test), for the tests and plots.
    hessp_fn : callable, optional
        A Hessian-vector product that does not form the Hessian (default ``hess(w) @ v``).
    w0 : tuple of float, optional
        A start point for optimizers (e.g. Rosenbrock's classic :math:`(-1.2, 1)`).

    Examples
    --------
    >>> s = get_surface("saddle")
    >>> float(s([1.0, 2.0])), s.grad([1.0, 2.0]).tolist(), s.hess([0.0, 0.0]).tolist()
    (-3.0, [2.0, -4.0], [[2.0, 0.0], [0.0, -2.0]])
    """

    name: str
    dim: int
    value: Callable[[Any], Any]
    grad_fn: Callable[[Array], Array]
    hess_fn: Callable[[Array], Array]
    box: tuple[float, float, float, float] = (-2.0, 2.0, -2.0, 2.0)
    critical_points: Sequence[tuple[tuple[float, ...], str]] = field(default_factory=list)
    hessp_fn: Callable[[Array, Array], Array] | None = None
    w0: tuple[float, ...] | None = None

    @property
    def minima(self) -> tuple[tuple[float, ...], ...]:
        """The known critical points that are minima."""
        return tuple(tuple(p) for p, kind in self.critical_points if kind == "minimum")

    def __call__(self, w: Any) -> float:
        """The loss :math:`L(w)` at one point."""
        return float(self.value(check_point(w, self.dim)))

    def grad(self, w: Any) -> Array:
        """The gradient :math:`g = \\nabla L(w)`."""
        return np.asarray(self.grad_fn(check_point(w, self.dim)), dtype=np.float64)

    def hess(self, w: Any) -> Array:
        """The Hessian :math:`H_{ij} = \\partial^2 L / \\partial w_i \\partial w_j`."""
        return np.asarray(self.hess_fn(check_point(w, self.dim)), dtype=np.float64)

    def hessp(self, w: Any, v: Any) -> Array:
        """The Hessian-vector product :math:`H(w)\\,v`."""
        wa = check_point(w, self.dim)
        va = _validate.array(v, "vector")
        if va.shape != (self.dim,):
            raise ValueError(f"Invalid vector: expected shape ({self.dim},), got {va.shape}")
        if self.hessp_fn is not None:
            return np.asarray(self.hessp_fn(wa, va), dtype=np.float64)
        return self.hess_fn(wa) @ va

    def grid(self, num: int = 101) -> tuple[Array, Array, Array]:
        """``x, y, Z`` with ``Z[i, j] = L(x[j], y[i])`` over :attr:`box` (2-D surfaces), for contour plots."""
        if self.dim != 2:
            raise ValueError(f"Invalid surface for a grid: {self.name} has dim {self.dim}, need 2")
        num = v.count(num, "num", low=2)
        x = np.linspace(self.box[0], self.box[1], num)
        y = np.linspace(self.box[2], self.box[3], num)
        X, Y = np.meshgrid(x, y)
        Z = np.asarray(self.value(np.stack([X, Y])), dtype=np.float64)
        return x, y, Z


def quadratic_bowl(eigenvalues: Any = (1.0, 10.0), angle: float = 0.0) -> Surface:
    """:math:`L(w) = \\tfrac12 w^\\top H w` with ``H = Q diag(eigenvalues) Q^T``.

    In two dimensions ``Q`` is the rotation by ``angle``; in more dimensions ``Q = I``.

    Examples
    --------
    >>> s = quadratic_bowl((1.0, 4.0))
    >>> np.linalg.eigvalsh(s.hess([0.0, 0.0])).tolist()
    [1.0, 4.0]
    """
    lam = _validate.array(eigenvalues, "eigenvalues", finite=False)
    if lam.ndim > 1:
        raise ValueError(f"Invalid shape of eigenvalues: {lam.shape} (need a vector)")
    lam = lam.reshape(-1)
    if lam.size < 1 or not np.all(np.isfinite(lam)):
        raise ValueError(f"Invalid eigenvalues: {eigenvalues}")
    angle = v.real(angle, "angle")
    d = lam.size
    if d == 2:
        c, s = float(np.cos(angle)), float(np.sin(angle))
        Q = [[c, -s], [s, c]]
    else:
        Q = [[float(i == j) for j in range(d)] for i in range(d)]
    # H = Q diag(lam) Q^T and H w in plain arithmetic, in a fixed order: no BLAS kernel (whose
    # summation order and fused multiply-adds depend on the CPU) touches these numbers, so a
    # trajectory that amplifies round-off is the same on every machine.
    rows = [[sum(Q[i][k] * float(lam[k]) * Q[j][k] for k in range(d)) for j in range(d)] for i in range(d)]
    rows = [[0.5 * (rows[i][j] + rows[j][i]) for j in range(d)] for i in range(d)]
    H = np.array(rows)

    def value(w: Any) -> Any:
        # sum_ij w_i H_ij w_j with arithmetic only (also works on stacked grids and tensors)
        return 0.5 * sum(rows[i][j] * w[i] * w[j] for i in range(d) for j in range(d))

    def grad(w: Array) -> Array:
        return np.array([sum(rows[i][j] * w[j] for j in range(d)) for i in range(d)])

    kind = "minimum" if lam.min() > 0 else ("maximum" if lam.max() < 0 else "saddle")
    return Surface(
        f"quadratic bowl {tuple(lam.tolist())}",
        d,
        value,
        grad,
        lambda w: H.copy(),
        critical_points=[((0.0,) * d, kind)],
    )


def narrow_valley(a: float = 0.05, b: float = 5.0) -> Surface:
    """A long narrow valley :math:`L = \\tfrac12 (a x^2 + b y^2)` (condition number ``b/a``)."""
    a = v.real(a, "valley curvature a", low=0, low_open=True, symbol="a")
    b = v.real(b, "valley curvature b", low=0, low_open=True, symbol="b")
    s = quadratic_bowl((a, b))
    return Surface("narrow valley", 2, s.value, s.grad_fn, s.hess_fn, (-4.0, 4.0, -1.5, 1.5), [((0.0, 0.0), "minimum")],
                   w0=(-3.5, 1.0))


def long_valley() -> Surface:
    """A long valley at an angle: :func:`quadratic_bowl` with eigenvalues 0.1 and 10
    (:math:`\\kappa = 100`) along axes rotated by 30°, minimum 0 at the origin.

    Examples
    --------
    >>> s = long_valley()
    >>> np.round(np.linalg.eigvalsh(s.hess([0.0, 0.0])), 12).tolist(), s.w0
    ([0.1, 10.0], (-4.0, 0.5))
    """
    s = quadratic_bowl((0.1, 10.0), math.radians(30.0))
    return Surface("long valley", 2, s.value, s.grad_fn, s.hess_fn, (-5.0, 5.0, -3.0, 3.0), [((0.0, 0.0), "minimum")],
                   w0=(-4.0, 0.5))


def aligned_valley() -> Surface:
    """:func:`long_valley` turned back onto the axes: eigenvalues 0.1 along :math:`w_1` and 10
    along :math:`w_2`, with the start point turned by the same −30°, so that a method that does
    not care about the axes (gradient descent, momentum, Newton) takes the same steps on both.

    Examples
    --------
    >>> s, r = aligned_valley(), long_valley()
    >>> s.hess([0.0, 0.0]).tolist(), round(s(s.w0), 9) == round(r(r.w0), 9)
    ([[0.1, 0.0], [0.0, 10.0]], True)
    """
    s = quadratic_bowl((0.1, 10.0))
    c, sn = math.cos(math.radians(30.0)), math.sin(math.radians(30.0))
    return Surface("aligned valley", 2, s.value, s.grad_fn, s.hess_fn, (-5.0, 5.0, -3.0, 3.0), [((0.0, 0.0), "minimum")],
                   w0=(c * -4.0 + sn * 0.5, -sn * -4.0 + c * 0.5))


def _rosen_value(w: Any) -> Any:
    return (100.0 * (w[1:] - w[:-1] ** 2) ** 2 + (1.0 - w[:-1]) ** 2).sum(0)


def _rosen_grad(w: Array) -> Array:
    g = np.zeros_like(w)
    t = w[1:] - w[:-1] ** 2
    g[:-1] += -400.0 * w[:-1] * t - 2.0 * (1.0 - w[:-1])
    g[1:] += 200.0 * t
    return g


def _rosen_hess(w: Array) -> Array:
    d = w.size
    H = np.zeros((d, d))
    i = np.arange(d - 1)
    H[i, i] += 1200.0 * w[:-1] ** 2 - 400.0 * w[1:] + 2.0
    H[i + 1, i + 1] += 200.0
    H[i, i + 1] = H[i + 1, i] = -400.0 * w[:-1]
    return H


def _rosen_hessp(w: Array, v: Array) -> Array:
    out = np.zeros_like(w)
    out[:-1] += (1200.0 * w[:-1] ** 2 - 400.0 * w[1:] + 2.0) * v[:-1] - 400.0 * w[:-1] * v[1:]
    out[1:] += 200.0 * v[1:] - 400.0 * w[:-1] * v[:-1]
    return out


def rosenbrock(dim: int = 2) -> Surface:
    """Rosenbrock's banana :math:`\\sum_i 100 (w_{i+1} - w_i^2)^2 + (1 - w_i)^2`, minimum at ones.

    The Hessian-vector product does not form the Hessian (like ``scipy.optimize.rosen_hess_prod``).

    Examples
    --------
    >>> s = rosenbrock()
    >>> s([1.0, 1.0]), s.hess([1.0, 1.0]).tolist()
    (0.0, [[802.0, -400.0], [-400.0, 200.0]])
    """
    dim = v.count(dim, "dim", low=2)
    return Surface("Rosenbrock", dim, _rosen_value, _rosen_grad, _rosen_hess, (-2.0, 2.0, -1.0, 3.0), [((1.0,) * dim, "minimum")],
                   _rosen_hessp, w0=(-1.2, 1.0) + (1.0,) * (dim - 2))


# Beale: L = sum_i (c_i - x + x y^i)^2, i = 1, 2, 3
_BEALE_C = (1.5, 2.25, 2.625)


def _beale_value(w: Any) -> Any:
    x, y = w[0], w[1]
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2


def _beale_grad(w: Array) -> Array:
    x, y = w
    gx = gy = 0.0
    for i, c in enumerate(_BEALE_C, start=1):
        r = c - x + x * y**i
        gx += 2.0 * r * (y**i - 1.0)
        gy += 2.0 * r * i * x * y ** (i - 1)
    return np.array([gx, gy])


def _beale_hess(w: Array) -> Array:
    x, y = w
    hxx = hxy = hyy = 0.0
    for i, c in enumerate(_BEALE_C, start=1):
        r = c - x + x * y**i
        rx, ry = y**i - 1.0, i * x * y ** (i - 1)
        ryy = i * (i - 1) * x * y ** (i - 2) if i >= 2 else 0.0
        rxy = i * y ** (i - 1)
        hxx += 2.0 * rx * rx
        hxy += 2.0 * (rx * ry + r * rxy)
        hyy += 2.0 * (ry * ry + r * ryy)
    return np.array([[hxx, hxy], [hxy, hyy]])


def beale() -> Surface:
    """Beale's function, minimum 0 at (3, 0.5); flat plateaus and steep walls.

    Examples
    --------
    >>> beale()([3.0, 0.5])
    0.0
    """
    return Surface("Beale", 2, _beale_value, _beale_grad, _beale_hess, (-0.5, 4.5, -1.0, 1.5), [((3.0, 0.5), "minimum")],
                   w0=(1.0, 1.5))


def saddle() -> Surface:
    """The saddle :math:`L = x^2 - y^2`: :math:`\\lambda = \\pm 2` at the origin, and no minimum.

    See :func:`double_well` for a saddle between two minima.
    """
    return Surface(
        "saddle x² − y²",
        2,
        lambda w: w[0] ** 2 - w[1] ** 2,
        lambda w: np.array([2.0 * w[0], -2.0 * w[1]]),
        lambda w: np.array([[2.0, 0.0], [0.0, -2.0]]),
        (-1.5, 1.5, -1.5, 1.5),
        [((0.0, 0.0), "saddle")],
        w0=(1.0, 0.01),
    )


def _double_well_value(w: Any) -> Any:
    x, y = w[0], w[1]
    return 0.5 * x * x - 0.5 * y * y + 0.25 * y**4


def _double_well_grad(w: Array) -> Array:
    x, y = float(w[0]), float(w[1])
    return np.array([x, -y + y**3])


def _double_well_hess(w: Array) -> Array:
    y = float(w[1])
    return np.array([[1.0, 0.0], [0.0, -1.0 + 3 * y * y]])


def double_well() -> Surface:
    """A saddle between two minima, :math:`L = \\tfrac12 x^2 - \\tfrac12 y^2 + \\tfrac14 y^4`.

    The origin is a saddle (Hessian diag(1, −1)); the minima are :math:`(0, \\pm 1)`, value
    −1/4. The start :math:`(2, 10^{-3})` lies almost on the saddle's stable direction: gradient
    descent first slides to the saddle, then leaves it along :math:`y`.

    Examples
    --------
    >>> s = double_well()
    >>> s([0.0, 1.0]), s.minima
    (-0.25, ((0.0, 1.0), (0.0, -1.0)))
    """
    return Surface(
        "double-well saddle",
        2,
        _double_well_value,
        _double_well_grad,
        _double_well_hess,
        (-2.5, 2.5, -1.6, 1.6),
        [((0.0, 0.0), "saddle"), ((0.0, 1.0), "minimum"), ((0.0, -1.0), "minimum")],
        w0=(2.0, 1e-3),
    )


def monkey_saddle() -> Surface:
    """The monkey saddle :math:`L = x^3 - 3 x y^2`: the Hessian vanishes at the origin.

    The second-order test cannot decide (``'degenerate'``), although the origin is no minimum:
    :math:`L` falls along three directions and rises along three.
    """
    return Surface(
        "monkey saddle",
        2,
        lambda w: w[0] ** 3 - 3.0 * w[0] * w[1] ** 2,
        lambda w: np.array([3.0 * w[0] ** 2 - 3.0 * w[1] ** 2, -6.0 * w[0] * w[1]]),
        lambda w: np.array([[6.0 * w[0], -6.0 * w[1]], [-6.0 * w[1], -6.0 * w[0]]]),
        (-1.5, 1.5, -1.5, 1.5),
        [((0.0, 0.0), "degenerate")],
        w0=(1.0, 0.5),
    )


def _himmelblau_hess(w: Array) -> Array:
    x, y = w
    hxx = 12.0 * x**2 + 4.0 * y - 42.0
    hxy = 4.0 * (x + y)
    hyy = 4.0 * x + 12.0 * y**2 - 26.0
    return np.array([[hxx, hxy], [hxy, hyy]])


def himmelblau() -> Surface:
    """Himmelblau's function :math:`(x^2 + y - 11)^2 + (x + y^2 - 7)^2`: four minima of value 0,
    one maximum and four saddles between them (nine critical points, coordinates to 6 decimals).

    Examples
    --------
    >>> himmelblau()([3.0, 2.0])
    0.0
    """
    mins = [(3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186), (3.584428, -1.848127)]
    saddles = [(0.086678, 2.884255), (-3.073026, -0.081353), (3.385154, 0.073852), (-0.127961, -1.953715)]
    return Surface(
        "Himmelblau",
        2,
        lambda w: (w[0] ** 2 + w[1] - 11.0) ** 2 + (w[0] + w[1] ** 2 - 7.0) ** 2,
        lambda w: np.array(
            [4.0 * w[0] * (w[0] ** 2 + w[1] - 11.0) + 2.0 * (w[0] + w[1] ** 2 - 7.0),
             2.0 * (w[0] ** 2 + w[1] - 11.0) + 4.0 * w[1] * (w[0] + w[1] ** 2 - 7.0)]
        ),
        _himmelblau_hess,
        (-5.0, 5.0, -5.0, 5.0),
        [(p, "minimum") for p in mins] + [((-0.270845, -0.923039), "maximum")] + [(p, "saddle") for p in saddles],
        w0=(0.0, 0.0),
    )


def two_weight_net() -> Surface:
    """The seed's network :math:`\\hat y = w_1 w_2 x` on one example (x = 1, y = 1).

    .. math:: L(w) = (1 - w_1 w_2)^2, \\qquad
       H(w) = \\begin{bmatrix} 2 w_2^2 & 4 w_1 w_2 - 2 \\\\ 4 w_1 w_2 - 2 & 2 w_1^2 \\end{bmatrix}

    At the origin :math:`H = [[0, -2], [-2, 0]]`, eigenvalues :math:`\\pm 2`: a saddle that
    falls along :math:`(1, 1)` (:math:`\\lambda = -2`). Every point of the hyperbola
    :math:`w_1 w_2 = 1` is a minimum with one zero eigenvalue, along the valley.

    Examples
    --------
    >>> s = two_weight_net()
    >>> s.hess([0.0, 0.0]).tolist()
    [[0.0, -2.0], [-2.0, 0.0]]
    """
    return Surface(
        "(1 − w₁w₂)²",
        2,
        lambda w: (1.0 - w[0] * w[1]) ** 2,
        lambda w: np.array([-2.0 * w[1] * (1.0 - w[0] * w[1]), -2.0 * w[0] * (1.0 - w[0] * w[1])]),
        lambda w: np.array(
            [[2.0 * w[1] ** 2, 4.0 * w[0] * w[1] - 2.0], [4.0 * w[0] * w[1] - 2.0, 2.0 * w[0] ** 2]]
        ),
        (-2.0, 2.0, -2.0, 2.0),
        [((0.0, 0.0), "saddle"), ((1.0, 1.0), "degenerate"), ((-1.0, -1.0), "degenerate")],
        w0=(0.5, -0.3),
    )


def _sin(x: Any) -> Any:
    return x.sin() if hasattr(x, "sin") else np.sin(x)


def pl_nonconvex() -> Surface:
    """:math:`L(x) = x^2 + 3\\sin^2 x`: not convex, but Polyak-Łojasiewicz (one dimension).

    :math:`L'' = 2 + 6\\cos 2x` lies in :math:`[-4, 8]`, so :math:`L` is 8-smooth and concave where
    :math:`\\cos 2x < -1/3` (e.g. on :math:`0.96 < |x| < 2.18`); yet its only critical point is the
    global minimum :math:`x = 0`, and :math:`L'(x)^2 \\ge 2\\mu L(x)` with :math:`\\mu = 1/32`
    (:cite:`karimi2016`; about 0.17 is the best constant). Gradient descent therefore converges
    linearly from anywhere. Not in :data:`SURFACES` (which are two-dimensional).

    Examples
    --------
    >>> s = pl_nonconvex()
    >>> s([0.0]), s.hess([np.pi / 2]).tolist()
    (0.0, [[-4.0]])
    """
    return Surface(
        "x² + 3 sin² x",
        1,
        lambda w: w[0] ** 2 + 3.0 * _sin(w[0]) ** 2,
        lambda w: np.array([2.0 * w[0] + 3.0 * np.sin(2.0 * w[0])]),
        lambda w: np.array([[2.0 + 6.0 * np.cos(2.0 * w[0])]]),
        (-4.0, 4.0, -1.0, 1.0),
        [((0.0,), "minimum")],
        w0=(2.0,),
    )


def _bowl() -> Surface:
    s = quadratic_bowl((1.0, 4.0), angle=np.pi / 6)
    return Surface(s.name, 2, s.value, s.grad_fn, s.hess_fn, s.box, s.critical_points, w0=(-1.5, 1.0))


SURFACES: dict[str, Callable[[], Surface]] = {
    "bowl": _bowl,
    "valley": narrow_valley,
    "rosenbrock": rosenbrock,
    "beale": beale,
    "saddle": saddle,
    "monkey": monkey_saddle,
    "himmelblau": himmelblau,
    "two-weight net": two_weight_net,
    "long valley": long_valley,
    "aligned valley": aligned_valley,
    "double well": double_well,
}
"""The book's named 2-D surfaces (a factory each): every one has a window (``box``), a start
point (``w0``) and its known critical points (``critical_points``, ``minima``)."""


def get_surface(name: str) -> Surface:
    """One of :data:`SURFACES` by name.

    Examples
    --------
    >>> get_surface("beale").name
    'Beale'
    """
    v.text(name, "surface name")
    if name not in SURFACES:
        raise ValueError(f"Invalid surface name: {name!r} (use one of {sorted(SURFACES)})")
    return SURFACES[name]()
