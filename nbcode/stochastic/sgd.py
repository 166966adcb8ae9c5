"""Mini-batch SGD on least squares, written as the plain loop (the ground truth).

The problem is :math:`L(w) = \\frac1{2n}\\sum_i (x_i^\\top w - y_i)^2`; a step uses the gradient of the
mean loss over a mini-batch :math:`\\mathcal B_k` of ``batch_size`` rows,

.. math:: w_{k+1} = w_k - \\eta_k\\,\\frac1B\\sum_{i\\in\\mathcal B_k} x_i\\,(x_i^\\top w_k - y_i),

with the batches drawn in one of four orders: ``'reshuffle'`` (a new random permutation every
epoch, random reshuffling), ``'fixed'`` (one random permutation, reused every epoch), ``'given'``
(the rows in their stored order, every epoch) or ``'replacement'`` (every batch drawn
independently, uniformly with replacement).

References
----------
Bottou, Curtis & Nocedal (2018), Optimization methods for large-scale machine learning. SIAM Review.
Mishchenko, Khaled & Richtárik (2020), Random reshuffling: simple analysis with vast improvements. NeurIPS.
Polyak & Juditsky (1992), Acceleration of stochastic approximation by averaging. SIAM J. Control Optim.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np

from nbcode import _validate as v
from nbcode.optim import learning_rate

__all__ = ["LeastSquares", "SGDRun", "batch_indices", "minibatch_sgd", "ORDERS"]

ORDERS = ("reshuffle", "fixed", "given", "replacement")


class LeastSquares(Protocol):
    """Anything with a design ``X`` (n, d), targets ``y`` (n,) and the minimizer ``w_star`` (e.g.
    :class:`nbcode.data.Regression`).

    This is a type for annotations (a ``typing.Protocol``), not a class to instantiate: to pose a
    problem from your own ``X`` and ``y``, use
    ``nbcode.data.Regression(X, y, np.linalg.lstsq(X, y, rcond=None)[0], noise)`` or any object
    with these three attributes. ``w_star`` must be the least-squares solution (the functions that
    use it check that the gradient :math:`X^\top(Xw^* - y)` vanishes up to round-off).
    """

    X: np.ndarray
    y: np.ndarray
    w_star: np.ndarray


def _check_batch_size(batch_size: int, n: int) -> int:
    B = v.count(batch_size, "batch size", low=1)
    if B > n:
        raise ValueError(f"Invalid batch size: {B} (need 1 <= batch_size <= {n}, the number of examples)")
    return B


def _check_problem(problem: object, *, minimizer: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(X, y, w_star)`` of a least-squares problem, checked (float64 arrays are not copied: they
    are only read). With ``minimizer``, also that ``w_star`` solves the problem: the gradient
    :math:`X^\top(Xw^* - y)` vanishes up to round-off, relative to the sizes of its terms (one
    pass over ``X``, as one full gradient)."""
    parts = [getattr(problem, name, None) for name in ("X", "y", "w_star")]
    if any(p is None for p in parts):
        raise TypeError(f"Invalid problem: {v.show(problem)} (need a least-squares problem with X, y and w_star, "
                        "e.g. nbcode.data.conditioned_regression(...))")
    X = v.array(parts[0], "problem.X", ndim=2, copy=False)
    y = v.array(parts[1], "problem.y", shape=(X.shape[0],), copy=False)
    w_star = v.array(parts[2], "problem.w_star", shape=(X.shape[1],), copy=False)
    if minimizer:
        g = X.T @ (X @ w_star - y)
        absX = np.abs(X)  # the round-off of each entry of g is below ~(d + 2) eps times these sums
        scale = float(np.max(absX.T @ (absX @ np.abs(w_star) + np.abs(y)), initial=0.0))
        if float(np.max(np.abs(g), initial=0.0)) > 1e-8 * scale:
            raise ValueError(f"Invalid problem.w_star: {np.array2string(w_star, precision=4, threshold=6)} is not the "
                             f"least-squares solution (the gradient X^T (X w_star - y) is {float(np.max(np.abs(g))):.3g}, "
                             f"need ~0; e.g. w_star = np.linalg.lstsq(X, y, rcond=None)[0])")
    return X, y, w_star


def batch_indices(n: int, batch_size: int, steps: int, order: str = "reshuffle", seed: int = 0) -> np.ndarray:
    """The rows used at each of ``steps`` updates, an int array of shape ``(steps, batch_size)``.

    For ``'reshuffle'``, ``'fixed'`` and ``'given'`` an epoch is ``n // batch_size`` batches (the last partial
    batch is dropped), so every example is used at most once per epoch.

    Examples
    --------
    >>> batch_indices(4, 2, 4, "fixed", seed=0).tolist()
    [[2, 0], [1, 3], [2, 0], [1, 3]]
    """
    n = v.count(n, "number of examples", low=1)
    B = _check_batch_size(batch_size, n)
    steps = v.count(steps, "number of steps")
    if order not in ORDERS:
        raise ValueError(f"Invalid order: {v.show(order)} (use one of {ORDERS})")
    rng = np.random.default_rng(v.count(seed, "seed"))
    if order == "replacement":
        return rng.integers(0, n, size=(int(steps), B))
    per_epoch = n // B
    epochs = -(-int(steps) // per_epoch)
    fixed = np.arange(n) if order == "given" else rng.permutation(n)
    rows = [(rng.permutation(n) if order == "reshuffle" else fixed)[: per_epoch * B].reshape(per_epoch, B) for _ in range(epochs)]
    return np.concatenate(rows)[: int(steps)] if rows else np.zeros((0, B), dtype=int)


@dataclass(frozen=True)
class SGDRun:
    """Iterates ``path`` (steps + 1, d), rates ``lrs`` (steps,), and the excess loss
    :math:`L(w_k) - L(w^*)` of every iterate (``excess``) and of the running average (``avg_excess``,
    ``nan`` before averaging starts)."""

    path: np.ndarray
    lrs: np.ndarray
    excess: np.ndarray
    avg_excess: np.ndarray
    w_avg: np.ndarray | None

    @property
    def w(self) -> np.ndarray:
        return np.asarray(self.path[-1])


def minibatch_sgd(
    problem: LeastSquares,
    w0: np.ndarray,
    lr: float | Callable[[int], float],
    *,
    batch_size: int,
    steps: int,
    order: str = "reshuffle",
    seed: int = 0,
    average_from: int | None = None,
) -> SGDRun:
    """Run mini-batch SGD on the least-squares ``problem``.

    Parameters
    ----------
    problem : LeastSquares
        E.g. ``nbcode.data.conditioned_regression(...)``.
    w0 : array (d,)
        Starting point.
    lr : float or callable
        A constant rate or a schedule ``k -> lr`` (e.g. from :mod:`nbcode.schedules`).
    batch_size : int
        ``1 <= batch_size <= n``.
    steps : int
        Number of updates.
    order : {'reshuffle', 'fixed', 'given', 'replacement'}
        How batches are drawn (see :func:`batch_indices`).
    seed : int
        Seeds the batch order.
    average_from : int, optional
        Also keep the running (Polyak–Ruppert) average :math:`\\bar w_k` of the iterates
        :math:`w_j`, ``average_from <= j <= k`` (``0 <= average_from <= steps``). Without it,
        ``w_avg`` is None.

    Returns
    -------
    SGDRun

    Examples
    --------
    >>> from nbcode.data import conditioned_regression
    >>> prob = conditioned_regression(200, 3, kappa=4.0, noise=0.0)
    >>> run = minibatch_sgd(prob, np.zeros(3), 0.5, batch_size=20, steps=200)
    >>> bool(run.excess[-1] < 1e-12 * run.excess[0])  # noiseless data: SGD converges exactly
    True
    """
    X, y, w_star = _check_problem(problem, minimizer=True)
    n, d = X.shape
    w = v.vector(w0, "starting point", size=d)
    schedule = learning_rate(lr)
    average_from = v.optional(v.count, average_from, "average_from")
    steps = v.count(steps, "number of steps")
    if average_from is not None and average_from > steps:
        raise ValueError(f"Invalid average_from: {average_from} (need average_from <= steps = {steps}: "
                         "no iterate would be averaged)")
    batches = batch_indices(n, batch_size, steps, order, seed)
    H = X.T @ X / n
    if not np.isfinite(_excess(w[None], w_star, H)[0]):
        raise ValueError(f"Invalid starting point: {np.array2string(w, precision=4, threshold=6)} (the excess loss "
                         "L(w0) - L(w*) overflows; need a starting point where the loss is finite)")
    path = np.empty((int(steps) + 1, d))
    path[0] = w
    lrs = np.empty(int(steps))
    w_sum, count = np.zeros(d), 0
    avg_path = np.full((int(steps) + 1, d), np.nan)
    if average_from == 0:
        w_sum, count = w.copy(), 1
        avg_path[0] = w
    with np.errstate(over="ignore", invalid="ignore"):
        for k, idx in enumerate(batches):
            lrs[k] = schedule(k)
            Xb = X[idx]
            g = Xb.T @ (Xb @ w - y[idx]) / len(idx)
            w = w - lrs[k] * g
            path[k + 1] = w
            if average_from is not None and k + 1 >= average_from:
                w_sum += w
                count += 1
                avg_path[k + 1] = w_sum / count
    return SGDRun(
        path=path,
        lrs=lrs,
        excess=_excess(path, w_star, H),
        avg_excess=_excess(avg_path, w_star, H),
        w_avg=(w_sum / count) if count else None,
    )


def _excess(path: np.ndarray, w_star: np.ndarray, H: np.ndarray) -> np.ndarray:
    """:math:`L(w) - L(w^*) = \\tfrac12 (w - w^*)^\\top H (w - w^*)`, exact for least squares."""
    e = path - np.asarray(w_star, dtype=float)
    with np.errstate(over="ignore", invalid="ignore"):
        return np.asarray(0.5 * np.einsum("ki,ij,kj->k", e, H, e))
