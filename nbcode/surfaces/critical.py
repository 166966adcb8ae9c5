"""Critical points: the second-order test, the index, and Newton's method for g(w) = 0."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from nbcode import _validate

__all__ = ["classify", "hessian_index", "newton_critical_point"]


def _check_hessian(H: Any) -> np.ndarray:
    A = _validate.array(H, "Hessian", finite=False, nonempty=False)
    if A.ndim != 2 or A.shape[0] != A.shape[1] or A.shape[0] == 0:
        raise ValueError(f"Invalid Hessian: expected a square matrix, got shape {A.shape}")
    if not np.all(np.isfinite(A)):
        raise ValueError("Invalid Hessian: it has non-finite entries")
    return A


def classify(H: Any, tol: float = 1e-8) -> str:
    """Classify a critical point by the eigenvalues :math:`\\lambda_i` of its Hessian ``H``.

    With the second-order Taylor model :math:`L(w^* + v) \\approx L(w^*) + \\tfrac12 v^\\top H v`:

    * ``'minimum'``: every :math:`\\lambda_i > \\text{tol}` (``H`` positive definite);
    * ``'maximum'``: every :math:`\\lambda_i < -\\text{tol}`;
    * ``'saddle'``: some :math:`\\lambda_i > \\text{tol}` and some :math:`\\lambda_i < -\\text{tol}`
      (a saddle whatever the zero eigenvalues do: :math:`L` rises along one eigenvector and
      falls along another);
    * ``'degenerate'``: otherwise, i.e. some :math:`|\\lambda_i| \\le \\text{tol}` and the others
      of one sign. The second-order test cannot decide; higher-order terms do (the valley of
      :math:`(1 - w_1 w_2)^2` is made of minima, the monkey saddle's origin is not one).

    ``tol`` is relative to the largest :math:`|\\lambda_i|` when that exceeds 1, absolute otherwise.

    Examples
    --------
    >>> classify([[0.0, -2.0], [-2.0, 0.0]]), classify([[2.0, 2.0], [2.0, 2.0]]), classify(np.zeros((2, 2)))
    ('saddle', 'degenerate', 'degenerate')
    >>> classify(np.diag([1.0, 3.0])), classify(-np.eye(2))
    ('minimum', 'maximum')
    """
    A = _check_hessian(H)
    tol = _validate.real(tol, "tolerance", low=0, symbol="tol")
    lam = np.linalg.eigvalsh(0.5 * (A + A.T))
    t = tol * max(1.0, float(np.abs(lam).max()))
    pos, neg = bool(np.any(lam > t)), bool(np.any(lam < -t))
    if pos and neg:
        return "saddle"
    if np.all(lam > t):
        return "minimum"
    if np.all(lam < -t):
        return "maximum"
    return "degenerate"


def hessian_index(H: Any, tol: float = 0.0) -> float:
    """The index: the fraction of eigenvalues of ``H`` below ``-tol`` (0 at a minimum).

    The seeds' "minimum ratio" (fraction of positive eigenvalues) is one minus the index when no
    eigenvalue is zero.

    Examples
    --------
    >>> hessian_index(np.diag([1.0, -1.0, 2.0, -3.0]))
    0.5
    """
    A = _check_hessian(H)
    tol = _validate.real(tol, "tolerance", low=0, symbol="tol")
    lam = np.linalg.eigvalsh(0.5 * (A + A.T))
    return float(np.mean(lam < -tol))


def newton_critical_point(
    grad: Callable[[np.ndarray], np.ndarray],
    hess: Callable[[np.ndarray], np.ndarray],
    w0: Any,
    *,
    damping: float = 1e-6,
    tol: float = 1e-10,
    max_iter: int = 100,
) -> tuple[np.ndarray, int]:
    """Solve :math:`g(w) = 0` by Levenberg–Marquardt steps on :math:`\\tfrac12\\|g\\|^2`.

    .. math:: w \\leftarrow w - (H^2 + \\mu I)^{-1} H g

    The Gauss–Newton model of :math:`\\tfrac12\\|g(w)\\|^2` has gradient :math:`H g` and curvature
    :math:`H^2`, which is positive semi-definite at saddles as well as at minima, so this
    converges to critical points of any index (as Newton's method does). ``damping`` is the
    initial :math:`\\mu`, raised when a step fails to reduce :math:`\\|g\\|` and lowered when it
    succeeds. Returns ``(w, iterations)``.

    Examples
    --------
    >>> from nbcode.surfaces import two_weight_net
    >>> s = two_weight_net()
    >>> w, _ = newton_critical_point(s.grad, s.hess, [0.1, -0.05])
    >>> np.abs(w).max() < 1e-8
    np.True_
    """
    grad = _validate.function(grad, "grad")
    hess = _validate.function(hess, "hess")
    w = _validate.array(w0, "starting point", finite=False)
    if w.ndim != 1 or not np.all(np.isfinite(w)):
        raise ValueError(f"Invalid starting point: {w0}")
    mu = _validate.real(damping, "damping", low=0, low_open=True)
    tol = _validate.real(tol, "tolerance", low=0, symbol="tol")
    max_iter = _validate.count(max_iter, "max_iter")
    g = grad(w)
    if np.shape(g) != w.shape:
        raise ValueError(f"Invalid grad: it returned {_validate.show(g)} at a point of shape {w.shape} (need the same shape)")
    gn = float(g @ g)
    it = 0
    for it in range(1, max_iter + 1):
        if gn <= tol**2:
            return w, it - 1
        H = hess(w)
        if np.shape(H) != (w.size, w.size):
            raise ValueError(f"Invalid hess: it returned {_validate.show(H)} at a point of shape {w.shape} "
                             f"(need shape ({w.size}, {w.size}))")
        step = np.linalg.solve(H @ H + mu * np.eye(w.size), H @ g)
        w_new = w - step
        g_new = grad(w_new)
        gn_new = float(g_new @ g_new)
        if np.isfinite(gn_new) and gn_new < gn:
            w, g, gn, mu = w_new, g_new, gn_new, max(mu / 3.0, 1e-15)
        else:
            mu *= 4.0
    return w, it
