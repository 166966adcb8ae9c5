"""Input normalization as preconditioning, on linear least squares.

For :math:`L(w) = \\frac{1}{2n}\\|Xw - y\\|^2` the Hessian is :math:`H = X^\\top X / n`, so the
scale and the mean of each feature set its eigenvalues. Standardizing every feature (mean 0,
variance 1) with an intercept column turns H into :math:`\\mathrm{diag}(1, R)` with R the
correlation matrix of the features; for two features with correlation r its eigenvalues are
1, 1 + |r|, 1 − |r| and

.. math:: \\kappa = \\frac{1 + |r|}{1 - |r|}.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np


class Regression2D(NamedTuple):
    """Two features ``X`` (n, 2), targets ``y``, and the features' sample correlation ``r``."""

    X: np.ndarray
    y: np.ndarray
    r: float


def two_feature_regression(n: int = 200, *, scale: float = 1.0, mean: tuple[float, float] = (0.0, 0.0), rho: float = 0.5,
                           noise: float = 0.1, seed: int = 0) -> Regression2D:
    """Features with correlation ``rho``, the second multiplied by ``scale``; then shifted by ``mean``.

    Examples
    --------
    >>> d = two_feature_regression(50, scale=10.0, seed=1)
    >>> d.X.shape, round(float(d.X[:, 1].std() / d.X[:, 0].std()), 0) > 5
    ((50, 2), True)
    """
    if not (isinstance(n, int) and n >= 3):
        raise ValueError(f"Invalid number of examples: {n}")
    if not (scale > 0 and math.isfinite(scale)):
        raise ValueError(f"Invalid scale: {scale}")
    if not -1 < rho < 1:
        raise ValueError(f"Invalid correlation: {rho}")
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, 2))
    z[:, 1] = rho * z[:, 0] + math.sqrt(1 - rho**2) * z[:, 1]
    X = z * np.array([1.0, scale]) + np.asarray(mean, dtype=np.float64)
    y = z @ np.array([1.0, -1.0]) + noise * rng.standard_normal(n)
    r = float(np.corrcoef(X.T)[0, 1])
    return Regression2D(X, y, r)


def standardize(X: np.ndarray) -> np.ndarray:
    """Each column shifted to mean 0 and scaled to (population) standard deviation 1."""
    X = np.asarray(X, dtype=np.float64)
    sd = X.std(axis=0)
    if np.any(sd == 0):
        raise ValueError("Invalid features: a column is constant and cannot be standardized")
    return (X - X.mean(axis=0)) / sd


def design(X: np.ndarray, intercept: bool = True) -> np.ndarray:
    """``X`` with a leading column of ones when ``intercept``."""
    X = np.asarray(X, dtype=np.float64)
    return np.column_stack([np.ones(len(X)), X]) if intercept else X


def ls_hessian(A: np.ndarray) -> np.ndarray:
    """:math:`H = A^\\top A / n` for :math:`L(w) = \\frac1{2n}\\|Aw - y\\|^2`.

    Examples
    --------
    >>> ls_hessian(np.array([[1.0, 0.0], [0.0, 2.0]])).tolist()
    [[0.5, 0.0], [0.0, 2.0]]
    """
    A = np.asarray(A, dtype=np.float64)
    return A.T @ A / len(A)


def condition_number(H: np.ndarray) -> float:
    """:math:`\\kappa = \\lambda_{\\max}/\\lambda_{\\min}` of a symmetric positive definite ``H``.

    A matrix that is not symmetric is refused (``eigvalsh`` would read only one triangle of it).

    Examples
    --------
    >>> condition_number([[2.0, 1.0], [1.0, 2.0]])
    3.0
    """
    from nbcode import _validate

    lam = np.linalg.eigvalsh(_validate.square_matrix(H, "Hessian", symmetric=True))
    if lam[0] <= 0:
        raise ValueError(f"Invalid Hessian: smallest eigenvalue {lam[0]} is not positive")
    return float(lam[-1] / lam[0])


def predicted_kappa_standardized(r: float) -> float:
    """κ of ``diag(1, [[1, r], [r, 1]])``: :math:`(1+|r|)/(1-|r|)`.

    Examples
    --------
    >>> predicted_kappa_standardized(0.5)
    3.0
    """
    return (1 + abs(r)) / (1 - abs(r))


def gd_path(A: np.ndarray, y: np.ndarray, lr: float, steps: int, w0: np.ndarray | None = None) -> np.ndarray:
    """``steps + 1`` gradient-descent iterates :math:`w_{k+1} = w_k - \\eta A^\\top(Aw_k - y)/n`."""
    if not (lr > 0 and math.isfinite(lr)):
        raise ValueError(f"Invalid learning rate: {lr}")
    A = np.asarray(A, dtype=np.float64)
    w = np.zeros(A.shape[1]) if w0 is None else np.asarray(w0, dtype=np.float64).copy()
    out = [w.copy()]
    for _ in range(steps):
        w = w - lr * A.T @ (A @ w - y) / len(A)
        out.append(w.copy())
    return np.array(out)


def steps_to_converge(A: np.ndarray, y: np.ndarray, lr: float, tol: float = 1e-6, max_steps: int = 100_000) -> int:
    """First k with :math:`\\|w_k - w^*\\| \\le` ``tol`` :math:`\\|w_0 - w^*\\|` from :math:`w_0 = 0` (``max_steps`` if never)."""
    if not (lr > 0 and math.isfinite(lr)):
        raise ValueError(f"Invalid learning rate: {lr}")
    A = np.asarray(A, dtype=np.float64)
    w_star = np.linalg.lstsq(A, y, rcond=None)[0]
    H, b = ls_hessian(A), A.T @ y / len(A)
    w = np.zeros(A.shape[1])
    d0 = np.linalg.norm(w - w_star)
    for k in range(max_steps):
        if np.linalg.norm(w - w_star) <= tol * d0:
            return k
        w = w - lr * (H @ w - b)
    return max_steps


def predicted_steps(kappa: float, tol: float = 1e-6) -> int:
    """Steps for GD with :math:`\\eta = 2/(\\lambda_{\\max}+\\lambda_{\\min})`: :math:`r^k \\le` tol, :math:`r = (\\kappa-1)/(\\kappa+1)`.

    An upper bound on :func:`steps_to_converge` at that rate (the bound is reached when
    :math:`w_0 - w^*` has components along both extreme eigenvectors).

    Examples
    --------
    >>> predicted_steps(1.0), predicted_steps(3.0, 1e-3)
    (1, 10)
    """
    if kappa <= 1.0:
        return 1
    r = (kappa - 1) / (kappa + 1)
    return math.ceil(math.log(tol) / math.log(r))
