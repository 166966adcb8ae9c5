"""Penalised least squares: ridge in closed form, the L2 optimum in the Hessian's eigenbasis,
the L1 optimum for a diagonal Hessian, and proximal (ISTA) and subgradient descent.

The data term is :math:`L(w) = \\frac{1}{2n}\\|y - Xw\\|^2` throughout (no intercept), so that
the Hessian is :math:`H = X^\\top X / n`. With this scaling the elastic-net objective
:math:`L(w) + \\alpha\\bigl(\\rho\\|w\\|_1 + \\tfrac{1-\\rho}{2}\\|w\\|^2\\bigr)` is exactly the one
minimised by :class:`sklearn.linear_model.ElasticNet` (``alpha``, ``l1_ratio``) and, with
:math:`\\rho = 1`, :class:`sklearn.linear_model.Lasso`. :class:`sklearn.linear_model.Ridge`
minimises :math:`\\|y - Xw\\|^2 + \\alpha_{\\text{sk}}\\|w\\|^2`, which is :math:`2n` times our
:math:`L(w) + \\tfrac{\\alpha}{2}\\|w\\|^2` when :math:`\\alpha_{\\text{sk}} = n\\alpha`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nbcode import _validate
from nbcode.regularize.penalties import _alpha, _ratio

__all__ = ["ridge", "l2_optimum", "l1_optimum_diagonal", "ista", "subgradient_descent", "lipschitz"]


def _xy(X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    X = _validate.array(X, "X")
    y = _validate.array(y, "y")
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise ValueError(f"Invalid shapes: X {X.shape} and y {y.shape} (need (n, d) and (n,))")
    return X, y


def ridge(X: Any, y: Any, alpha: float) -> np.ndarray:
    """Minimiser of :math:`\\frac{1}{2n}\\|y - Xw\\|^2 + \\frac{\\alpha}{2}\\|w\\|^2`.

    .. math:: w_\\alpha = (X^\\top X/n + \\alpha I)^{-1} X^\\top y / n

    Equals ``sklearn.linear_model.Ridge(alpha=n * alpha, fit_intercept=False)``.

    Examples
    --------
    >>> ridge([[1.0], [1.0]], [2.0, 2.0], 1.0).tolist()
    [1.0]
    """
    X, y = _xy(X, y)
    n, d = X.shape
    try:
        return np.linalg.solve(X.T @ X / n + _alpha(alpha) * np.eye(d), X.T @ y / n)
    except np.linalg.LinAlgError:
        raise ValueError("Invalid X: XᵀX is singular (need alpha > 0 or X of full column rank)") from None


def l2_optimum(H: Any, w_star: Any, alpha: float) -> np.ndarray:
    """The L2-penalised optimum of a quadratic with Hessian ``H`` and minimiser ``w_star``.

    .. math:: \\tilde w = Q(\\Lambda + \\alpha I)^{-1}\\Lambda Q^\\top w^*, \\qquad H = Q\\Lambda Q^\\top

    Each component of :math:`w^*` along an eigenvector is multiplied by
    :math:`\\lambda_i/(\\lambda_i + \\alpha)`: kept where the curvature is large, shrunk towards 0
    where it is small :cite:`goodfellow2016`. ``H`` must be positive semi-definite (eigenvalues
    below :math:`-10^{-10}\\max|\\lambda|` are refused); with ``alpha = 0`` a direction of zero
    curvature gets the factor 0 (the limit :math:`\\alpha \\to 0^+`).

    Examples
    --------
    >>> l2_optimum([[3.0, 0.0], [0.0, 1.0]], [1.0, 1.0], 1.0).tolist()
    [0.75, 0.5]
    """
    H = _validate.square_matrix(H, "H", symmetric=True)
    w_star = _validate.vector(w_star, "w_star", size=H.shape[0])
    alpha = _alpha(alpha)
    lam, Q = np.linalg.eigh(H)
    scale = float(np.abs(lam).max()) if lam.size else 0.0
    if lam.size and lam.min() < -1e-10 * scale:
        raise ValueError(f"Invalid H: an eigenvalue {lam.min():.6g} < 0 (need H positive semi-definite: the Hessian "
                         "at a minimum)")
    return np.asarray(Q @ (_shrink(lam, alpha) * (Q.T @ w_star)))


def _shrink(lam: np.ndarray, alpha: float) -> np.ndarray:
    """:math:`\\lambda/(\\lambda + \\alpha)`, and 0 where :math:`\\lambda + \\alpha \\le 0` (:math:`\\lambda = \\alpha = 0`:
    the limit :math:`\\alpha \\to 0^+`; a direction of no curvature keeps nothing of :math:`w^*`)."""
    den = lam + alpha
    ok = den > 0
    if ok.all():
        return np.asarray(lam / den)
    return np.where(ok, lam / np.where(ok, den, 1.0), 0.0)


def l1_optimum_diagonal(lams: Any, w_star: Any, alpha: float) -> np.ndarray:
    """The L1-penalised optimum when the Hessian is diagonal, :math:`H = \\mathrm{diag}(\\lambda_i)`:

    .. math:: \\tilde w_i = \\mathrm{sign}(w^*_i)\\max\\bigl(|w^*_i| - \\alpha/\\lambda_i,\\ 0\\bigr)

    Examples
    --------
    >>> l1_optimum_diagonal([1.0, 2.0], [0.5, -2.0], 1.0).tolist()
    [0.0, -1.5]
    """
    lams = _validate.vector(lams, "lams")
    if np.any(lams <= 0):
        raise ValueError(f"Invalid lams: {_validate.show(lams.tolist())} (need eigenvalues > 0)")
    w_star = _validate.vector(w_star, "w_star", size=lams.size)
    return np.sign(w_star) * np.maximum(np.abs(w_star) - _alpha(alpha) / lams, 0.0)


def lipschitz(X: Any) -> float:
    """:math:`\\lambda_{\\max}(X^\\top X/n)`, the Lipschitz constant of :math:`\\nabla L`."""
    X = _validate.array(X, "X", ndim=2)
    return float(np.linalg.eigvalsh(X.T @ X / X.shape[0])[-1])


def ista(
    X: Any, y: Any, alpha: float, *, l1_ratio: float = 1.0, lr: float | None = None, steps: int = 500, w0: Any = None
) -> np.ndarray:
    """Proximal gradient descent (ISTA) on the elastic-net objective; returns all iterates.

    .. math:: w_{k+1} = \\operatorname{prox}_{\\eta\\alpha\\Omega}\\bigl(w_k - \\eta\\nabla L(w_k)\\bigr)

    A gradient step on the smooth part, then a soft-threshold: weights land on exactly zero.
    The default step is :math:`\\eta = 1/\\lambda_{\\max}(X^\\top X/n)`.

    Returns
    -------
    (steps + 1, d) array of iterates.

    Examples
    --------
    >>> path = ista([[1.0], [1.0]], [2.0, 2.0], 0.5, steps=3)
    >>> path[-1].tolist()
    [1.5]
    """
    X, y = _xy(X, y)
    rho = _ratio(l1_ratio)
    a = _alpha(alpha)
    n, d = X.shape
    steps = _validate.count(steps, "steps")
    if lr is None:
        lip = lipschitz(X)
        if not lip > 0:  # X = 0: no default step
            raise ValueError("Invalid X: X^T X / n is zero (no default lr = 1 / lipschitz(X); pass lr)")
        eta = 1.0 / lip
    else:
        eta = _validate.real(lr, "learning rate", low=0, low_open=True, symbol="lr")
    w = np.zeros(d) if w0 is None else _validate.array(w0, "w0", shape=(d,))
    # the gradient X^T (Xw - y) / n as G w - c with the d x d Gram matrix: d^2 work per step, not nd
    G, c = X.T @ X / n, X.T @ y / n
    t, shrink = eta * a * rho, 1.0 + eta * a * (1.0 - rho)
    path = np.empty((steps + 1, d))
    path[0] = w
    for k in range(steps):
        z = w - eta * (G @ w - c)
        w = np.sign(z) * np.maximum(np.abs(z) - t, 0.0) / shrink  # prox_elastic_net, inline
        path[k + 1] = w
    return path


def subgradient_descent(X: Any, y: Any, alpha: float, *, lr: float, steps: int = 500, w0: Any = None) -> np.ndarray:
    """Subgradient descent on the lasso objective, :math:`w \\leftarrow w - \\eta(\\nabla L + \\alpha\\,\\mathrm{sign}(w))`.

    Unlike :func:`ista`, the iterates oscillate around zero instead of landing on it.

    Examples
    --------
    >>> subgradient_descent([[1.0], [1.0]], [2.0, 2.0], 0.5, lr=0.5, steps=30)[-1].round(6).tolist()
    [1.5]
    """
    X, y = _xy(X, y)
    a = _alpha(alpha)
    lr = _validate.real(lr, "learning rate", low=0, low_open=True, symbol="lr")
    steps = _validate.count(steps, "steps")
    n, d = X.shape
    w = np.zeros(d) if w0 is None else _validate.array(w0, "w0", shape=(d,))
    path = [w.copy()]
    for _ in range(steps):
        w = w - lr * (X.T @ (X @ w - y) / n + a * np.sign(w))
        path.append(w.copy())
    return np.array(path)


