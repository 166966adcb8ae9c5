"""Input normalization as preconditioning, on linear least squares.

For :math:`L(w) = \\frac{1}{2n}\\|Xw - y\\|^2` the Hessian is :math:`H = X^\\top X / n`, so the
scale and the mean of each feature set its eigenvalues. Standardizing every feature (mean 0,
variance 1) with an intercept column turns H into :math:`\\mathrm{diag}(1, R)` with R the
correlation matrix of the features; for two features with correlation :math:`\\rho` its eigenvalues
are 1, 1 + |ρ|, 1 − |ρ| and

.. math:: \\kappa = \\frac{1 + |\\rho|}{1 - |\\rho|}.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import numpy as np

from nbcode import _validate
from nbcode.optim import iterate, sgd


class Regression2D(NamedTuple):
    """Two features ``X`` (n, 2), targets ``y``, and the features' sample correlation ``rho``."""

    X: np.ndarray
    y: np.ndarray
    rho: float


def two_feature_regression(n: int = 200, *, scale: float = 1.0, mean: tuple[float, float] = (0.0, 0.0), rho: float = 0.5,
                           noise: float = 0.1, seed: int | np.random.Generator | None = 0) -> Regression2D:
    """Features with correlation ``rho``, the second multiplied by ``scale``; then shifted by ``mean``.

    ``n`` >= 3 examples, ``scale`` > 0, ``-1 < rho < 1``, a ``noise`` standard deviation >= 0 on
    the targets, ``seed`` as in :func:`nbcode._validate.generator` (an integer, a generator, or
    None for fresh randomness).

    Examples
    --------
    >>> d = two_feature_regression(50, scale=10.0, seed=1)
    >>> d.X.shape, round(float(d.X[:, 1].std() / d.X[:, 0].std()), 0) > 5
    ((50, 2), True)
    """
    n = _validate.count(n, "number of examples", low=3)
    scale = _validate.real(scale, "scale", low=0, low_open=True)
    shift = _validate.array(mean, "mean", shape=(2,))
    rho = _check_rho(rho)
    noise = _validate.real(noise, "noise", low=0)
    rng = _validate.generator(seed)
    z = rng.standard_normal((n, 2))
    z[:, 1] = rho * z[:, 0] + math.sqrt(1 - rho**2) * z[:, 1]
    X = z * np.array([1.0, scale]) + shift
    y = z @ np.array([1.0, -1.0]) + noise * rng.standard_normal(n)
    return Regression2D(X, y, float(np.corrcoef(X.T)[0, 1]))


def _check_rho(rho: float) -> float:
    return _validate.real(rho, "correlation", low=-1, high=1, low_open=True, high_open=True, symbol="rho")


def _matrix(X: object, name: str) -> np.ndarray:
    """A 2-D design matrix (n, d), non-empty, finite, as a float64 copy."""
    return _validate.array(X, name, ndim=2)


def standardize(X: np.ndarray) -> np.ndarray:
    """Each column of ``X`` (n, d) shifted to mean 0 and scaled to (population) standard deviation 1."""
    X = _matrix(X, "X")
    sd = X.std(axis=0)
    if np.any(sd == 0):
        raise ValueError("Invalid X: a column is constant and cannot be standardized")
    return (X - X.mean(axis=0)) / sd


def design(X: np.ndarray, intercept: bool = True) -> np.ndarray:
    """``X`` (n, d) with a leading column of ones when ``intercept`` (a float64 copy)."""
    X = _matrix(X, "X")
    intercept = _validate.flag(intercept, "intercept")
    return np.column_stack([np.ones(len(X)), X]) if intercept else X


def ls_hessian(A: np.ndarray) -> np.ndarray:
    """:math:`H = A^\\top A / n` for :math:`L(w) = \\frac1{2n}\\|Aw - y\\|^2`.

    Examples
    --------
    >>> ls_hessian(np.array([[1.0, 0.0], [0.0, 2.0]])).tolist()
    [[0.5, 0.0], [0.0, 2.0]]
    """
    A = _matrix(A, "A")
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


def predicted_kappa_standardized(rho: float) -> float:
    """κ of ``diag(1, [[1, ρ], [ρ, 1]])`` for a correlation ``rho`` = ρ: :math:`(1+|\\rho|)/(1-|\\rho|)`.

    Examples
    --------
    >>> predicted_kappa_standardized(0.5)
    3.0
    """
    rho = _check_rho(rho)
    return (1 + abs(rho)) / (1 - abs(rho))


def ls_gradient(A: np.ndarray, y: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """The gradient :math:`w \\mapsto A^\\top(Aw - y)/n` of :math:`L(w) = \\frac1{2n}\\|Aw - y\\|^2`, for
    :func:`nbcode.optim.gd_path` (``gd_path(ls_gradient(A, y), np.zeros(d), lr, steps)``)."""
    A = _matrix(A, "A")
    y = _validate.array(y, "y", shape=(len(A),))
    d = A.shape[1]

    def grad(w: np.ndarray) -> np.ndarray:
        if getattr(w, "shape", None) != (d,):   # per step: only this cheap test on the usual (d,) array
            w = _validate.array(w, "w", shape=(d,), finite=False)
        return A.T @ (A @ w - y) / len(A)

    return grad


def steps_to_converge(A: np.ndarray, y: np.ndarray, lr: float, tol: float = 1e-6, max_steps: int = 100_000) -> int:
    """First k with :math:`\\|w_k - w^*\\| \\le` ``tol`` :math:`\\|w_0 - w^*\\|` from :math:`w_0 = 0` (``max_steps`` if never).

    The iterates are :func:`nbcode.optim.iterate`'s gradient descent on :math:`H w - A^\\top y / n`.
    """
    A = _matrix(A, "A")
    y = _validate.array(y, "y", shape=(len(A),))
    lr = _validate.real(lr, "learning rate", low=0, low_open=True)
    tol = _validate.real(tol, "tolerance", low=0, low_open=True, symbol="tol")
    max_steps = _validate.count(max_steps, "max_steps")
    w_star = np.linalg.lstsq(A, y, rcond=None)[0]
    H, b = ls_hessian(A), A.T @ y / len(A)
    d0 = np.linalg.norm(np.zeros(A.shape[1]) - w_star)
    for k, w in zip(range(max_steps), iterate(sgd(lr=lr), lambda w: H @ w - b, np.zeros(A.shape[1]), max_norm=math.inf)):
        if np.linalg.norm(w - w_star) <= tol * d0:
            return k
    return max_steps
