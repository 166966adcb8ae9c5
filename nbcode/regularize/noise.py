"""Noise on the outputs and on the weights: label smoothing, and training with noisy weights.

* **Label smoothing** :cite:`szegedy2016` replaces the one-hot target of an example of class
  :math:`y` by :math:`q = (1-\\varepsilon_{\\text{ls}})\\,e_y + \\varepsilon_{\\text{ls}}/K` (``torch``'s
  ``cross_entropy(..., label_smoothing=...)``). The cross-entropy :math:`-\\sum_k q_k\\log p_k` is
  smallest at :math:`p = q`, where the logit of the true class exceeds each other logit by
  :math:`\\log\\big(1 + K(1-\\varepsilon_{\\text{ls}})/\\varepsilon_{\\text{ls}}\\big)` (:func:`smoothed_logit_gap`):
  a finite target, where the plain cross-entropy keeps pushing the logits apart.
* **Weight noise** :cite:`goodfellow2016` (§7.5): gradient descent on :math:`L(w + \\sigma\\xi)`
  with a fresh :math:`\\xi \\sim N(0, I)` at every step (:func:`weight_noise_descent`) descends,
  on average, the smoothed loss :math:`\\mathbb E_\\xi L(w + \\sigma\\xi) \\approx L(w) +
  \\tfrac{\\sigma^2}{2}\\operatorname{tr} H(w)`, which prefers flat minima.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from nbcode import _validate

__all__ = ["smoothed_targets", "label_smoothing_cross_entropy", "smoothed_logit_gap", "weight_noise_descent"]


def _smoothing(value: Any) -> float:
    return _validate.probability(value, "label smoothing")


def _labels(y: Any, n: int | None, classes: int) -> np.ndarray:
    """Integer class labels in ``[0, classes)``, a non-empty 1-D array (of length ``n`` if given)."""
    try:
        ya = np.asarray(y)
    except ValueError:  # a ragged list
        ya = np.asarray(None)
    if ya.dtype.kind not in "iu":
        raise TypeError(f"Invalid y: {_validate.show(y)} (need integer class labels, as torch's cross_entropy targets)")
    if ya.ndim != 1 or ya.size == 0 or (n is not None and ya.shape[0] != n):
        need = "a non-empty 1-D array" if n is None else f"shape ({n},), one label per row of logits"
        raise ValueError(f"Invalid shape of y: {ya.shape} (need {need})")
    if ya.min() < 0 or ya.max() >= classes:
        raise ValueError(f"Invalid y: labels from {ya.min()} to {ya.max()} (need 0 <= label < {classes})")
    return ya.astype(np.int64)


def smoothed_targets(y: Any, n_classes: int, smoothing: float) -> np.ndarray:
    """The smoothed targets :math:`(1-\\varepsilon_{\\text{ls}})e_y + \\varepsilon_{\\text{ls}}/K`, one row per label.

    Examples
    --------
    >>> smoothed_targets(np.array([1]), 4, 0.2).round(12).tolist()
    [[0.05, 0.85, 0.05, 0.05]]
    """
    K = _validate.count(n_classes, "n_classes", low=2)
    eps = _smoothing(smoothing)
    ya = _labels(y, None, K)
    q = np.full((ya.shape[0], K), eps / K)
    q[np.arange(ya.shape[0]), ya] += 1.0 - eps
    return q


def label_smoothing_cross_entropy(logits: Any, y: Any, smoothing: float = 0.0) -> float:
    """The mean cross-entropy of ``logits`` ``(n, K)`` against the smoothed targets of ``y``, as
    ``torch.nn.functional.cross_entropy(logits, y, label_smoothing=smoothing)``.

    .. math:: \\frac1n\\sum_i\\Big(-(1-\\varepsilon_{\\text{ls}})\\log p_{i,y_i} - \\frac{\\varepsilon_{\\text{ls}}}{K}\\sum_k \\log p_{ik}\\Big)

    Examples
    --------
    >>> round(label_smoothing_cross_entropy([[0.0, 0.0]], np.array([0]), 0.1), 6)   # log 2 whatever the smoothing
    0.693147
    """
    Z = _validate.array(logits, "logits", ndim=2)
    if Z.shape[1] < 2:
        raise ValueError(f"Invalid shape of logits: {Z.shape} (need (n, K) with K >= 2)")
    ya = _labels(y, Z.shape[0], Z.shape[1])
    q = smoothed_targets(ya, Z.shape[1], smoothing)
    shifted = Z - Z.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-(q * logp).sum(axis=1).mean())


def smoothed_logit_gap(n_classes: int, smoothing: float) -> float:
    """:math:`\\log\\big(1 + K(1-\\varepsilon_{\\text{ls}})/\\varepsilon_{\\text{ls}}\\big)`: at the minimum of the
    smoothed cross-entropy, the logit of the true class minus each other logit (infinite without
    smoothing).

    Examples
    --------
    >>> round(smoothed_logit_gap(10, 0.1), 4)
    4.5109
    """
    K = _validate.count(n_classes, "n_classes", low=2)
    eps = _smoothing(smoothing)
    if eps == 0.0:
        return float("inf")
    return float(np.log1p(K * (1.0 - eps) / eps))


def weight_noise_descent(
    grad: Callable[[np.ndarray], Any], w0: Any, lr: float, steps: int, sigma: float, *, seed: int = 0
) -> np.ndarray:
    """Gradient descent with noisy weights: :math:`w_{k+1} = w_k - \\eta\\,\\nabla L(w_k + \\sigma\\xi_k)`,
    :math:`\\xi_k \\sim N(0, I)` fresh at every step; returns the ``steps + 1`` iterates.

    The noise is only in the point where the gradient is taken: the weights themselves move by
    the gradient step alone. On average the step descends :math:`\\mathbb E_\\xi L(w + \\sigma\\xi)`.

    Examples
    --------
    >>> weight_noise_descent(lambda w: 2 * w, [1.0], 0.25, 2, 0.0).tolist()   # sigma = 0: plain descent
    [[1.0], [0.5], [0.25]]
    """
    _validate.function(grad, "grad")
    w = _validate.vector(w0, "w0")
    lr = _validate.real(lr, "learning rate", low=0, low_open=True, symbol="lr")
    steps = _validate.count(steps, "steps")
    sigma = _validate.real(sigma, "sigma", low=0)
    rng = _validate.generator(_validate.count(seed, "seed"))
    path = np.empty((steps + 1, w.size))
    path[0] = w
    for k in range(steps):
        g = np.asarray(grad(w + sigma * rng.standard_normal(w.size)), dtype=np.float64)
        if g.shape != w.shape:
            raise ValueError(f"Invalid grad: it returned shape {g.shape} at a point of shape {w.shape} (need the same shape)")
        w = w - lr * g
        path[k + 1] = w
    return path
