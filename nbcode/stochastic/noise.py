"""Gradient noise of mini-batches and the noise floor of constant-step SGD on least squares.

With per-example gradients :math:`g_i(w)` and their mean :math:`g(w)`, the mini-batch gradient
:math:`g_B = \\frac1B\\sum_{i\\in\\mathcal B} g_i` is unbiased and

.. math:: \\mathbb E\\,\\lVert g_B - g\\rVert^2 = \\frac{\\sigma^2}{B}\\times
          \\begin{cases} 1 & \\text{with replacement} \\\\ \\frac{n - B}{n - 1} & \\text{without} \\end{cases}
          \\qquad \\sigma^2 = \\frac1n\\sum_i \\lVert g_i - g\\rVert^2 .

The second factor is the finite-population correction: a batch of all ``n`` rows has no noise.

References
----------
Bottou, Curtis & Nocedal (2018), Optimization methods for large-scale machine learning. SIAM Review.
"""

from __future__ import annotations

import numpy as np

from nbcode.stochastic.sgd import LeastSquares, _check_batch_size, _check_problem
from nbcode import _validate

__all__ = [
    "per_example_gradients",
    "gradient_noise_variance",
    "predicted_minibatch_variance",
    "minibatch_gradient_variance",
    "stationary_excess_loss",
    "noise_floor_small_lr",
]


def per_example_gradients(problem: LeastSquares, w: np.ndarray) -> np.ndarray:
    """Rows :math:`g_i = x_i (x_i^\\top w - y_i)`, shape ``(n, d)``; their mean is :math:`\\nabla L(w)`.

    Examples
    --------
    >>> from nbcode.data import conditioned_regression
    >>> p = conditioned_regression(50, 3, kappa=5.0)
    >>> w = np.ones(3)
    >>> np.allclose(per_example_gradients(p, w).mean(axis=0), p.grad(w))
    True
    """
    X, y, _ = _check_problem(problem)
    w = _validate.array(w, "w", shape=(X.shape[1],), copy=False)
    return np.asarray(X * (X @ w - y)[:, None])


def gradient_noise_variance(problem: LeastSquares, w: np.ndarray) -> float:
    """:math:`\\sigma^2 = \\frac1n\\sum_i\\lVert g_i - g\\rVert^2`, the variance (trace of the covariance) of one example's gradient.

    Examples
    --------
    >>> from nbcode.data import conditioned_regression
    >>> p = conditioned_regression(100, 3, noise=0.0)
    >>> gradient_noise_variance(p, p.w_star) < 1e-20  # noiseless data: every example is fitted at w*
    True
    """
    G = per_example_gradients(problem, w)
    return float(np.mean(np.sum((G - G.mean(axis=0)) ** 2, axis=1)))


def predicted_minibatch_variance(problem: LeastSquares, w: np.ndarray, batch_size: int, *, replace: bool = False) -> float:
    """:math:`\\mathbb E\\lVert g_B - g\\rVert^2`: :math:`\\sigma^2/B`, times :math:`(n-B)/(n-1)` without replacement.

    Examples
    --------
    >>> from nbcode.data import conditioned_regression
    >>> p = conditioned_regression(100, 3)
    >>> predicted_minibatch_variance(p, np.zeros(3), 100)  # the full batch: no noise
    0.0
    """
    n = _check_problem(problem)[0].shape[0]
    B = _check_batch_size(batch_size, n)
    replace = _validate.flag(replace, "replace")
    s2 = gradient_noise_variance(problem, w)
    if replace:
        return s2 / B
    if B == n:  # the full batch: no noise (also when n = 1)
        return 0.0
    return s2 / B * (n - B) / (n - 1)


def minibatch_gradient_variance(
    problem: LeastSquares, w: np.ndarray, batch_size: int, *, replace: bool = False, draws: int = 2000, seed: int = 0
) -> float:
    """Measured :math:`\\mathbb E\\lVert g_B - g\\rVert^2` over ``draws`` random batches.

    Examples
    --------
    >>> from nbcode.data import conditioned_regression
    >>> p = conditioned_regression(200, 3, noise=0.5)
    >>> m = minibatch_gradient_variance(p, np.zeros(3), 10, replace=True, draws=4000)
    >>> bool(abs(m / predicted_minibatch_variance(p, np.zeros(3), 10, replace=True) - 1) < 0.1)
    True
    """
    G = per_example_gradients(problem, w)
    n = G.shape[0]
    B = _check_batch_size(batch_size, n)
    replace = _validate.flag(replace, "replace")
    draws = _validate.count(draws, "number of draws", low=2)
    rng = np.random.default_rng(_validate.count(seed, "seed"))
    if replace:
        idx = rng.integers(0, n, size=(draws, B))
    else:
        idx = np.argsort(rng.random((draws, n)), axis=1)[:, :B]
    # Each batch is summed in index order, and the full mean by the same reduction, so a batch of
    # all n examples gives exactly the full gradient (zero noise, not round-off that differs
    # between machines).
    gB = G[np.sort(idx, axis=1)].mean(axis=1)
    g = G[None].mean(axis=1)
    return float(np.mean(np.sum((gB - g) ** 2, axis=1)))


def stationary_excess_loss(problem: LeastSquares, lr: float, batch_size: int) -> float:
    """Long-run mean of :math:`L(w_k) - L(w^*)` for constant-step SGD with batches drawn with replacement.

    The error :math:`e = w - w^*` obeys :math:`e_{k+1} = (I - \\eta\\hat H_k)e_k - \\eta\\,\\xi_k` with
    :math:`\\hat H_k = \\frac1B\\sum_{i\\in\\mathcal B_k} x_ix_i^\\top` and :math:`\\xi_k` the batch mean of
    :math:`x_i r_i` (:math:`r_i` the residuals at :math:`w^*`). Its second moment :math:`C` settles where

    .. math:: C = (I-\\eta H)C(I-\\eta H) + \\frac{\\eta^2}{B}\\Big(\\frac1n\\sum_i x_ix_i^\\top C\\,x_ix_i^\\top - HCH\\Big) + \\frac{\\eta^2}{B}S,

    :math:`S = \\frac1n\\sum_i r_i^2 x_ix_i^\\top`, a linear system in :math:`C` (exact, no small-step
    approximation); the excess loss is :math:`\\tfrac12\\operatorname{tr}(HC)`. Returns ``inf`` when the
    second moment does not settle (the step is too large for mean-square stability). ``lr > 0``
    (with no step, nothing settles).

    See Also
    --------
    noise_floor_small_lr : the first-order approximation :math:`\\eta\\operatorname{tr}(S)/(4B)`.

    Examples
    --------
    >>> from nbcode.data import conditioned_regression
    >>> p = conditioned_regression(200, 3, noise=0.5)
    >>> f1, f2 = stationary_excess_loss(p, 1e-3, 1), stationary_excess_loss(p, 1e-3, 4)
    >>> round(f1 / f2, 2)  # four times the batch, a quarter of the floor
    4.0
    """
    X, y, w_star = _check_problem(problem, minimizer=True)
    n, d = X.shape
    B = _check_batch_size(batch_size, n)
    lr = _check_lr(lr, positive=True)
    H = X.T @ X / n
    r = X @ w_star - y
    S = (X * (r * r)[:, None]).T @ X / n
    A = np.eye(d) - lr * H
    K = np.einsum("ni,nj->nij", X, X).reshape(n, d * d)
    M = np.kron(A, A) + lr**2 / B * (K.T @ K / n - np.kron(H, H))
    if np.max(np.abs(np.linalg.eigvals(M))) >= 1.0:
        return float("inf")
    C = np.linalg.solve(np.eye(d * d) - M, lr**2 / B * S.reshape(-1)).reshape(d, d)
    return float(0.5 * np.trace(H @ C))


def noise_floor_small_lr(problem: LeastSquares, lr: float, batch_size: int) -> float:
    """:math:`\\eta\\operatorname{tr}(S)/(4B)`, the stationary excess loss to first order in :math:`\\eta`.

    (Take the trace of :math:`HC + CH = \\eta S/B + O(\\eta^2)`: :math:`\\operatorname{tr}(HC) \\approx \\eta\\operatorname{tr}(S)/(2B)`.)

    Examples
    --------
    >>> from nbcode.data import conditioned_regression
    >>> p = conditioned_regression(200, 3, noise=0.5)
    >>> round(noise_floor_small_lr(p, 1e-4, 1) / stationary_excess_loss(p, 1e-4, 1), 3)
    1.0
    """
    X, y, w_star = _check_problem(problem, minimizer=True)
    B = _check_batch_size(batch_size, X.shape[0])
    r = X @ w_star - y
    return float(_check_lr(lr) * np.mean(r * r * np.sum(X * X, axis=1)) / (4 * B))


def _check_lr(lr: float, *, positive: bool = False) -> float:
    return _validate.real(lr, "learning rate", low=0, low_open=positive, symbol="lr")
