"""Quadratics in many dimensions: gradient descent through the eigenbasis of the Hessian.

For :math:`L(\\mathbf w) = \\tfrac12 \\mathbf w^\\top H \\mathbf w + \\mathbf b^\\top \\mathbf w + c` with
:math:`H = Q \\Lambda Q^\\top` symmetric positive definite, the error
:math:`\\mathbf e_k = \\mathbf w_k - \\mathbf w^*` obeys :math:`\\mathbf e_{k+1} = (I - \\eta H)\\,\\mathbf e_k`;
in the coordinates :math:`\\mathbf z = Q^\\top \\mathbf e` every eigen-direction is a 1-D
quadratic with its own contraction factor :math:`r_i = 1 - \\eta \\lambda_i`.

References
----------
Nocedal & Wright (2006), *Numerical Optimization*, 2nd ed., §3.3 (rate of steepest descent).
LeCun, Bottou, Orr & Müller (1998), Efficient BackProp, §5 (eigenvalues and learning rates).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from nbcode import _validate as v
from nbcode.optim import gd_path
from nbcode.quadratic.one_d import EDGE, _check_lr

__all__ = [
    "QuadraticND",
    "quadratic_from_eigs",
    "quadratic_2d",
    "eigen_contractions",
    "eigen_regimes",
    "rate",
    "max_stable_lr",
    "best_fixed_lr",
    "optimal_rate",
    "preconditioned_path",
    "iterations_to_tolerance",
    "predicted_iterations",
    "measured_iterations",
]


def _check_eigs(eigvals: Sequence[float] | np.ndarray) -> np.ndarray:
    lam = v.array(eigvals, "eigenvalues")
    if lam.ndim > 1:
        raise ValueError(f"Invalid shape of eigenvalues: {lam.shape} (need a vector)")
    lam = lam.reshape(-1)
    if np.any(lam <= 0):
        raise ValueError(f"Invalid eigenvalues: {lam.tolist()} (need finite positive values)")
    return lam


def _check_kappa(kappa: float) -> float:
    return v.real(kappa, "condition number", low=1, symbol="kappa")


def _check_tol(tol: float) -> float:
    return v.real(tol, "tolerance", low=0, high=1, low_open=True, high_open=True, symbol="tol")


@dataclass(frozen=True)
class QuadraticND:
    """:math:`L(\\mathbf w) = \\tfrac12 \\mathbf w^\\top H \\mathbf w + \\mathbf b^\\top \\mathbf w + c`, ``H`` SPD.

    Examples
    --------
    >>> q = QuadraticND(np.diag([1.0, 4.0]), np.array([-1.0, -4.0]))
    >>> q.w_star.tolist(), q.kappa
    ([1.0, 1.0], 4.0)
    """

    H: np.ndarray
    b: np.ndarray
    c: float = 0.0
    eigvals: np.ndarray = field(init=False, repr=False)
    eigvecs: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # copies: editing the caller's array later changes nothing here
        H = v.array(self.H, "Hessian H", finite=False)
        b = v.array(self.b, "b")
        if H.ndim != 2 or H.shape[0] != H.shape[1] or b.ndim != 1 or H.shape[0] != b.size:
            raise ValueError(f"Invalid shapes: H {H.shape}, b {b.shape} (need H (d, d) and b (d,))")
        c = v.real(self.c, "c")
        if not np.all(np.isfinite(H)) or not np.allclose(H, H.T, rtol=1e-12, atol=1e-12):
            raise ValueError("Invalid Hessian: H must be finite and symmetric")
        lam, Q = np.linalg.eigh(H)
        if lam[0] <= 0:
            raise ValueError(f"Invalid Hessian: smallest eigenvalue {lam[0]:.3g} (need H positive definite)")
        H.flags.writeable = False
        b.flags.writeable = False
        object.__setattr__(self, "H", H)
        object.__setattr__(self, "b", b)
        object.__setattr__(self, "c", c)
        object.__setattr__(self, "eigvals", lam)
        object.__setattr__(self, "eigvecs", Q)

    @property
    def dim(self) -> int:
        return int(self.b.size)

    @property
    def w_star(self) -> np.ndarray:
        """The minimizer :math:`-H^{-1}\\mathbf b`."""
        return np.asarray(-np.linalg.solve(self.H, self.b))

    @property
    def kappa(self) -> float:
        """The condition number :math:`\\lambda_{\\max}/\\lambda_{\\min}`."""
        return float(self.eigvals[-1] / self.eigvals[0])

    def _point(self, w: np.ndarray) -> np.ndarray:
        w = v.array(w, "w")
        if w.ndim == 0 or w.shape[-1] != self.b.size:
            raise ValueError(f"Invalid shape of w: {w.shape} (need (..., {self.b.size}))")
        return w

    def __call__(self, w: np.ndarray) -> np.ndarray:
        """Loss at ``w`` of shape ``(..., d)``."""
        w = self._point(w)
        return np.asarray(0.5 * np.einsum("...i,ij,...j->...", w, self.H, w) + w @ self.b + self.c)

    def grad(self, w: np.ndarray) -> np.ndarray:
        """:math:`\\nabla L = H\\mathbf w + \\mathbf b` (for ``w`` of shape ``(..., d)``)."""
        w = self._point(w)
        return np.asarray((self.H @ w if w.ndim == 1 else w @ self.H) + self.b)


def quadratic_from_eigs(
    eigvals: Sequence[float] | np.ndarray, Q: np.ndarray | None = None, w_star: np.ndarray | None = None
) -> QuadraticND:
    """The quadratic with Hessian :math:`Q\\,\\mathrm{diag}(\\lambda)\\,Q^\\top`, minimum ``w_star`` (default 0), ``L(w*) = 0``.

    Examples
    --------
    >>> q = quadratic_from_eigs([1.0, 10.0], w_star=np.array([1.0, 2.0]))
    >>> q.kappa, q.w_star.round(12).tolist(), float(q(q.w_star))
    (10.0, [1.0, 2.0], 0.0)
    """
    lam = _check_eigs(eigvals)
    d = lam.size
    Qm = np.eye(d) if Q is None else v.array(Q, "Q")
    if Qm.shape != (d, d) or not np.allclose(Qm.T @ Qm, np.eye(d), atol=1e-10):
        raise ValueError(f"Invalid rotation: Q must be an orthogonal ({d}, {d}) matrix")
    H = (Qm * lam) @ Qm.T
    H = 0.5 * (H + H.T)
    ws = np.zeros(d) if w_star is None else v.array(w_star, "w_star")
    if ws.ndim > 1 or ws.size != d:
        raise ValueError(f"Invalid shape of w_star: {ws.shape} (need ({d},))")
    ws = ws.reshape(-1)
    b = -H @ ws
    return QuadraticND(H, b, float(0.5 * ws @ H @ ws))


def quadratic_2d(kappa: float, angle: float = 0.0, *, lam_max: float = 1.0, w_star: Sequence[float] = (0.0, 0.0)) -> QuadraticND:
    """A 2-D quadratic with eigenvalues ``lam_max / kappa`` and ``lam_max``, axes rotated by ``angle`` (radians).

    ``angle = 0`` is the decoupled (axis-aligned) case; any other angle couples ``w1`` and ``w2``.

    Examples
    --------
    >>> q = quadratic_2d(10.0, np.pi / 4)
    >>> q.eigvals.round(12).tolist(), round(float(q.H[0, 1]), 12)
    ([0.1, 1.0], -0.45)
    """
    kappa = _check_kappa(kappa)
    angle = v.real(angle, "angle")
    lam_max = v.real(lam_max, "lam_max", low=0, low_open=True)
    ws = v.vector(w_star, "w_star", size=2)
    c, s = math.cos(angle), math.sin(angle)
    Q = np.array([[c, -s], [s, c]])
    return quadratic_from_eigs([lam_max / kappa, lam_max], Q, ws)


def eigen_contractions(lr: float, eigvals: Sequence[float] | np.ndarray) -> np.ndarray:
    """Per-eigendirection contraction factors :math:`r_i = 1 - \\eta\\lambda_i`.

    Examples
    --------
    >>> eigen_contractions(0.5, [1.0, 3.0]).tolist()
    [0.5, -0.5]
    """
    return np.asarray(1.0 - _check_lr(lr) * _check_eigs(eigvals))


def eigen_regimes(lr: float, eigvals: Sequence[float] | np.ndarray) -> list[str]:
    """The 1-D regime (:func:`nbcode.quadratic.regime`) of each eigen-direction, in the order of ``eigvals``.

    Examples
    --------
    >>> eigen_regimes(1.5, [0.1, 1.0, 1.5])
    ['monotone', 'oscillating', 'divergent']
    """
    from nbcode.quadratic.one_d import regime

    return [regime(_check_lr(lr), float(lam)) for lam in _check_eigs(eigvals)]


def rate(lr: float, eigvals: Sequence[float] | np.ndarray) -> float:
    """The worst contraction :math:`\\rho(\\eta) = \\max_i |1 - \\eta\\lambda_i|`: :math:`\\lVert\\mathbf e_k\\rVert \\le \\rho^k\\lVert\\mathbf e_0\\rVert`.

    Examples
    --------
    >>> round(rate(2 / 11, [1.0, 10.0]), 12) == round((10 - 1) / (10 + 1), 12)
    True
    """
    return float(np.max(np.abs(eigen_contractions(lr, eigvals))))


def max_stable_lr(eigvals: Sequence[float] | np.ndarray) -> float:
    """:math:`2/\\lambda_{\\max} = 2\\min_i \\eta_{i,opt}`; gradient descent diverges for larger steps.

    Examples
    --------
    >>> max_stable_lr([0.5, 4.0])
    0.5
    """
    return float(2.0 / np.max(_check_eigs(eigvals)))


def best_fixed_lr(eigvals: Sequence[float] | np.ndarray) -> float:
    """:math:`\\eta^\\star = 2/(\\lambda_{\\min} + \\lambda_{\\max})`, which minimizes :math:`\\rho(\\eta)`.

    At this step the slowest and the fastest direction contract equally,
    :math:`1 - \\eta^\\star\\lambda_{\\min} = -(1 - \\eta^\\star\\lambda_{\\max}) = (\\kappa - 1)/(\\kappa + 1)`.

    Examples
    --------
    >>> round(best_fixed_lr([1.0, 10.0]), 6)
    0.181818
    """
    lam = _check_eigs(eigvals)
    return float(2.0 / (lam.min() + lam.max()))


def optimal_rate(kappa: float) -> float:
    """:math:`(\\kappa - 1)/(\\kappa + 1)`, the contraction at the best fixed step.

    Examples
    --------
    >>> optimal_rate(1.0), optimal_rate(3.0)
    (0.0, 0.5)
    """
    kappa = _check_kappa(kappa)
    return (kappa - 1.0) / (kappa + 1.0)


def preconditioned_path(
    q: QuadraticND, w0: Sequence[float] | np.ndarray, lr: float, steps: int, P: np.ndarray | None = None
) -> np.ndarray:
    """Preconditioned gradient descent :math:`\\mathbf w_{k+1} = \\mathbf w_k - \\eta P\\nabla L(\\mathbf w_k)`.

    ``P = None`` is plain gradient descent (:func:`nbcode.optim.gd_path`); :math:`P = H^{-1}` with
    :math:`\\eta = 1` is Newton's method (one step to the minimum of a quadratic);
    :math:`P = \\mathrm{diag}(H)^{-1}` is Jacobi (diagonal) preconditioning. The iteration matrix is
    :math:`I - \\eta P H`. ``P`` must be symmetric positive definite. Divergence is handled by
    :func:`~nbcode.optim.gd_path`'s rule.

    Examples
    --------
    >>> q = quadratic_2d(100.0, 0.3)
    >>> path = preconditioned_path(q, [1.0, 1.0], 1.0, 1, np.linalg.inv(q.H))
    >>> np.allclose(path[1], q.w_star)
    True
    """
    if not isinstance(q, QuadraticND):
        raise TypeError(f"Invalid q: {v.show(q)} (need a QuadraticND)")
    w = v.vector(w0, "starting point", size=q.dim)
    if P is None:
        return gd_path(q, w, lr, steps)
    Pm = v.array(P, "preconditioner", shape=(q.dim, q.dim))
    # P must be symmetric positive definite (a singular P never moves along its null space, a
    # non-symmetric one is not a preconditioner of a gradient); symmetric up to round-off, as inv(H) is
    if not np.allclose(Pm, Pm.T, rtol=1e-10, atol=1e-12 * float(np.abs(Pm).max(initial=0.0))):
        raise ValueError("Invalid preconditioner: not symmetric (need a symmetric positive definite P)")
    lam_min = float(np.linalg.eigvalsh((Pm + Pm.T) / 2.0)[0])
    if not lam_min > 0.0:
        raise ValueError(f"Invalid preconditioner: smallest eigenvalue {lam_min:.3g} (need a symmetric positive definite P)")
    return gd_path(lambda x: Pm @ q.grad(x), w, lr, steps)


def iterations_to_tolerance(lr: float, eigvals: Sequence[float] | np.ndarray, tol: float) -> float:
    """Smallest ``k`` with :math:`\\rho(\\eta)^k \\le` ``tol``: a guarantee :math:`\\lVert\\mathbf e_k\\rVert \\le tol\\,\\lVert\\mathbf e_0\\rVert`.

    Returns ``inf`` when :math:`\\rho \\ge 1` and ``1`` when :math:`\\rho = 0` (within
    :data:`~nbcode.quadratic.one_d.EDGE`: round-off in computed eigenvalues does not count).

    Examples
    --------
    >>> iterations_to_tolerance(2 / 4, [1.0, 3.0], 1e-3)  # rho = 0.5
    10
    """
    r = rate(lr, eigvals)
    tol = _check_tol(tol)
    if r <= EDGE:
        return 1
    if r >= 1.0 - EDGE:
        return math.inf
    return math.ceil(math.log(tol) / math.log(r) - 1e-12)


def predicted_iterations(kappa: float, tol: float) -> float:
    """Iterations at the best fixed step: :math:`\\lceil \\ln(1/\\epsilon) / \\ln\\frac{\\kappa+1}{\\kappa-1} \\rceil \\approx \\tfrac{\\kappa}{2}\\ln(1/\\epsilon)`.

    Examples
    --------
    >>> predicted_iterations(3.0, 1e-3), predicted_iterations(1.0, 1e-3)
    (10, 1)
    """
    return iterations_to_tolerance(best_fixed_lr([1.0, _check_kappa(kappa)]), [1.0, kappa], tol)


def measured_iterations(path: np.ndarray, w_star: np.ndarray, tol: float) -> float:
    """First ``k`` with :math:`\\lVert\\mathbf w_k - \\mathbf w^*\\rVert \\le tol\\,\\lVert\\mathbf w_0 - \\mathbf w^*\\rVert`
    (``inf`` if the path never gets there).

    ``path`` has one row per iterate, shape ``(steps + 1, d)``; rows of NaN (the padding of a
    diverged run, see :func:`nbcode.optim.gd_path`) never count as arrived. Its first row must be finite.

    Examples
    --------
    >>> measured_iterations(np.array([[1.0], [0.5], [0.25], [0.125]]), np.zeros(1), 0.3)
    2
    """
    tol = _check_tol(tol)
    p = v.array(path, "path", ndim=2, finite=False)
    if not np.all(np.isfinite(p[0])):
        raise ValueError(f"Invalid path: its first point {p[0].tolist()} is not finite")
    err = np.linalg.norm(p - v.vector(w_star, "w_star", size=p.shape[1]), axis=-1)
    with np.errstate(invalid="ignore"):
        ok = np.flatnonzero(err <= tol * err[0])
    return int(ok[0]) if ok.size else math.inf
