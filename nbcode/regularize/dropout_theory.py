"""What dropout does: an adaptive ridge penalty for linear models, and what its test-time rule computes.

* **Dropout as a penalty** :cite:`wager2013`. Inverted dropout on the inputs of a generalized
  linear model, :math:`\\tilde x_{ij} = x_{ij} m_{ij}/(1-p)` with :math:`m_{ij} \\sim
  \\text{Bernoulli}(1-p)`, leaves :math:`\\tilde x_i^\\top w` unbiased with variance
  :math:`\\frac{p}{1-p}\\sum_j x_{ij}^2 w_j^2`. For a per-example loss :math:`A(z) - yz` (squared
  error: :math:`A(z) = z^2/2`; logistic: :math:`A(z) = \\log(1+e^z)`), a second-order expansion of
  :math:`A` gives the expected loss :math:`L(w) + R(w)` with

  .. math:: R(w) = \\frac12\\,\\frac{p}{1-p}\\sum_j w_j^2\\;\\frac1n\\sum_i A''(x_i^\\top w)\\,x_{ij}^2 ,

  a ridge penalty whose weight on :math:`w_j` is the :math:`j`-th diagonal entry of the Fisher
  information (:func:`dropout_penalty`). For least squares the expansion is exact
  (:func:`dropout_ridge` is the minimizer in closed form); :func:`dropout_sgd` trains with
  fresh masks (Monte-Carlo dropout training), to check both.
* **The test-time rule.** Scaling the weights by the keep probability gives, for softmax
  regression, exactly the renormalized geometric mean of the predictions of all :math:`2^d`
  thinned models, weighted by their probabilities :cite:`goodfellow2016` (§7.12)
  (:func:`mask_geometric_mean`); Monte-Carlo averaging estimates their arithmetic mean
  (:func:`mc_average`, against the exact :func:`nbcode.regularize.mask_average`).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from nbcode import _validate
from nbcode.optim import minimize_lbfgs
from nbcode.regularize.dropout import mask_average

__all__ = ["dropout_penalty", "dropout_ridge", "dropout_logistic", "dropout_sgd", "mask_geometric_mean", "mc_average"]

_MODELS = ("linear", "logistic")


def _p(p: Any) -> float:
    return _validate.probability(p, "dropout probability", allow_one=False)


def _xy(X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    Xa = _validate.array(X, "X", ndim=2)
    ya = _validate.vector(y, "y", size=Xa.shape[0])
    return Xa, ya


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * z)))  # no overflow for large |z|


def _curvature(X: np.ndarray, w: np.ndarray, model: str) -> np.ndarray:
    """:math:`A''(x_i^\\top w)` for each row."""
    if model == "linear":
        return np.ones(X.shape[0])
    s = _sigmoid(X @ w)
    return s * (1.0 - s)


def dropout_penalty(X: Any, w: Any, p: float, *, model: str = "linear") -> float:
    """Wager et al.'s dropout penalty :math:`R(w)` (see the module), for inverted dropout with
    drop probability ``p`` on the inputs of a linear (``'linear'``, squared error) or logistic
    (``'logistic'``) model.

    For ``'linear'`` it is exact: :math:`\\mathbb E_m[L_{\\text{dropout}}(w)] = L(w) + R(w)` with
    :math:`L(w) = \\frac1{2n}\\|y - Xw\\|^2` and :math:`R(w) = \\frac12\\frac{p}{1-p}\\sum_j H_{jj}w_j^2`,
    :math:`H = X^\\top X/n`. For ``'logistic'`` it is the second-order approximation; what it
    leaves out comes from the third and higher cumulants of the Bernoulli noise, which are of the
    same order in :math:`p` as its variance, so its relative error does not vanish as
    :math:`p \\to 0` (a few percent for moderate :math:`x^\\top w`).

    Examples
    --------
    >>> dropout_penalty([[1.0, 0.0], [1.0, 2.0]], [1.0, 1.0], 0.5)   # H_11 = 1, H_22 = 2
    1.5
    """
    Xa = _validate.array(X, "X", ndim=2)
    wa = _validate.vector(w, "w", size=Xa.shape[1])
    p = _p(p)
    _validate.choice(model, "model", _MODELS)
    a = _curvature(Xa, wa, model)
    fisher = (a[:, None] * Xa * Xa).mean(axis=0)
    return float(0.5 * p / (1.0 - p) * np.sum(fisher * wa * wa))


def dropout_ridge(X: Any, y: Any, p: float) -> np.ndarray:
    """The minimizer of the expected dropout loss of least squares, in closed form:

    .. math:: \\Big(H + \\frac{p}{1-p}\\,\\mathrm{diag}(H)\\Big)\\, w = X^\\top y / n,\\qquad H = X^\\top X/n .

    A ridge regression whose penalty on :math:`w_j` is proportional to the feature's scale
    :math:`H_{jj}`: rescaling a feature does not change how much dropout shrinks its
    contribution (unlike :func:`nbcode.regularize.ridge`).

    Examples
    --------
    >>> dropout_ridge([[1.0, 0.0], [0.0, 1.0]], [2.0, 2.0], 0.5).tolist()   # H = I/2: w = 2 * (1/2) / 1
    [1.0, 1.0]
    """
    Xa, ya = _xy(X, y)
    p = _p(p)
    n = Xa.shape[0]
    H = Xa.T @ Xa / n
    try:
        return np.asarray(np.linalg.solve(H + p / (1.0 - p) * np.diag(np.diag(H)), Xa.T @ ya / n))
    except np.linalg.LinAlgError:
        raise ValueError("Invalid X: XᵀX + p/(1-p) diag(XᵀX) is singular (need p > 0 and no all-zero column, "
                         "or X of full column rank)") from None


def dropout_logistic(X: Any, y: Any, p: float, *, tol: float = 1e-10) -> np.ndarray:
    """Logistic regression (labels 0/1, no intercept) with Wager et al.'s dropout penalty:
    the minimizer of :math:`\\frac1n\\sum_i \\big(A(x_i^\\top w) - y_i x_i^\\top w\\big) + R(w)`,
    :math:`A(z) = \\log(1 + e^z)`, by :func:`nbcode.optim.minimize_lbfgs`. ``p = 0`` is the
    maximum-likelihood fit (which must exist: the classes must not be separable).

    Examples
    --------
    >>> X = np.array([[1.0], [1.0], [1.0], [1.0]]); y = np.array([1.0, 1.0, 1.0, 0.0])
    >>> round(float(dropout_logistic(X, y, 0.0)[0]), 6)   # log(3/1)
    1.098612
    """
    Xa, ya = _xy(X, y)
    if not np.all((ya == 0) | (ya == 1)):
        raise ValueError("Invalid y: the labels must be 0 or 1")
    p = _p(p)
    tol = _validate.real(tol, "tol", low=0, low_open=True)
    n = Xa.shape[0]
    c = p / (1.0 - p)
    X2 = Xa * Xa

    def fun(w: np.ndarray) -> float:
        z = Xa @ w
        a = _sigmoid(z) * (1.0 - _sigmoid(z))
        return float(np.mean(np.logaddexp(0.0, z) - ya * z) + 0.5 * c * np.sum((a @ X2) / n * w * w))

    def grad(w: np.ndarray) -> np.ndarray:
        z = Xa @ w
        s = _sigmoid(z)
        a = s * (1.0 - s)
        fisher = (a @ X2) / n
        # d a_i / d w = a_i (1 - 2 s_i) x_i
        da = a * (1.0 - 2.0 * s)
        pen = c * fisher * w + 0.5 * c * Xa.T @ (da * (X2 @ (w * w))) / n
        return np.asarray(Xa.T @ (s - ya) / n + pen)

    return np.asarray(minimize_lbfgs(fun, grad, np.zeros(Xa.shape[1]), max_iter=2000, tolerance_grad=tol).x)


def dropout_sgd(
    X: Any,
    y: Any,
    p: float,
    *,
    model: str = "linear",
    lr: float,
    steps: int = 20_000,
    average_from: int | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Monte-Carlo dropout training: gradient descent on the full batch, with a fresh inverted
    dropout mask on every input at every step, and the average of the iterates from step
    ``average_from`` on (Polyak–Ruppert averaging, :cite:`polyak1992`; default: the second half).

    The mask makes each gradient a random, unbiased estimate of the gradient of the expected
    dropout loss, so the averaged iterate converges to its minimizer: :func:`dropout_ridge` for
    ``'linear'`` (least squares), close to :func:`dropout_logistic` for ``'logistic'``.

    Examples
    --------
    >>> X = np.eye(2); w = dropout_sgd(X, [2.0, 2.0], 0.5, lr=0.5, steps=4000, seed=1)
    >>> bool(np.allclose(w, dropout_ridge(X, [2.0, 2.0], 0.5), atol=0.05))
    True
    """
    Xa, ya = _xy(X, y)
    p = _p(p)
    _validate.choice(model, "model", _MODELS)
    lr = _validate.real(lr, "learning rate", low=0, low_open=True, symbol="lr")
    steps = _validate.count(steps, "steps", low=1)
    start = steps // 2 if average_from is None else _validate.count(average_from, "average_from", high=steps - 1)
    rng = _validate.generator(_validate.count(seed, "seed"))
    n, d = Xa.shape
    w = np.zeros(d)
    total = np.zeros(d)
    for k in range(steps):
        Xm = Xa * (rng.random((n, d)) >= p) / (1.0 - p)
        z = Xm @ w
        r = z - ya if model == "linear" else _sigmoid(z) - ya
        w = w - lr * (Xm.T @ r) / n
        if k >= start:
            total += w
    return np.asarray(total / (steps - start))


def mask_geometric_mean(logits: Callable[[np.ndarray], np.ndarray], x: Any, keep: float) -> np.ndarray:
    """The renormalized geometric mean, over all :math:`2^d` keep-masks :math:`m` of the last axis
    of ``x`` weighted by their probabilities :math:`P(m)`, of the softmax of ``logits(m * x)``:

    .. math:: \\tilde p(y \\mid x) \\propto \\prod_m p(y \\mid m \\odot x)^{P(m)}
              = \\operatorname{softmax}\\Big(\\sum_m P(m)\\, z(m \\odot x)\\Big)_y .

    When the logits are affine in the input (softmax regression),
    :math:`\\sum_m P(m) z(m\\odot x) = z(\\text{keep}\\cdot x)`: the weight-scaling rule gives this
    geometric mean exactly. Only for small ``d`` (at most 16).

    Examples
    --------
    >>> W = np.array([[1.0, -1.0], [0.5, 2.0]])
    >>> gm = mask_geometric_mean(lambda z: z @ W.T, [[1.0, 1.0]], 0.5)
    >>> scaled = np.exp(0.5 * np.array([[1.0, 1.0]]) @ W.T); scaled /= scaled.sum()
    >>> bool(np.allclose(gm, scaled))
    True
    """
    _validate.function(logits, "logits")

    def log_softmax(xm: np.ndarray) -> np.ndarray:
        z = np.asarray(logits(xm), dtype=np.float64)
        logp = z - z.max(axis=-1, keepdims=True)
        return np.asarray(logp - np.log(np.exp(logp).sum(axis=-1, keepdims=True)))

    total = mask_average(log_softmax, x, keep)  # sum_m P(m) log p(. | m x)
    out = np.exp(total - total.max(axis=-1, keepdims=True))
    return np.asarray(out / out.sum(axis=-1, keepdims=True))


def mc_average(f: Callable[[np.ndarray], np.ndarray], x: Any, keep: float, samples: int, *, seed: int = 0) -> np.ndarray:
    """The average of ``f(m * x)`` over ``samples`` random keep-masks ``m`` of the last axis of ``x``
    (each unit kept with probability ``keep``, a fresh mask per row and per sample): a Monte-Carlo
    estimate of :func:`nbcode.regularize.mask_average`, the arithmetic mean over all masks, with an
    error that shrinks like :math:`1/\\sqrt{\\text{samples}}`.

    Examples
    --------
    >>> float(mc_average(lambda z: z.sum(axis=-1), [[1.0, 1.0]], 1.0, 3)[0])
    2.0
    """
    _validate.function(f, "f")
    xa = _validate.array(x, "x")
    keep = _validate.probability(keep, "keep probability", allow_zero=False)
    samples = _validate.count(samples, "samples", low=1)
    rng = _validate.generator(_validate.count(seed, "seed"))
    total = None
    for _ in range(samples):
        out = np.asarray(f((rng.random(xa.shape) < keep) * xa), dtype=np.float64)
        total = out if total is None else total + out
    assert total is not None
    return np.asarray(total / samples)
