"""Batch normalization in NumPy: training and inference forward passes, two backward passes.

Shapes follow ``torch.nn.BatchNorm1d/2d``: ``x`` is ``(N, C)``, ``(N, C, L)`` or
``(N, C, H, W)``, and each channel ``c`` is normalized over every axis except the channel axis,
a set of :math:`m = N \\cdot L` or :math:`N H W` numbers.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from nbcode import _validate
from nbcode.norm._check import as_float_array, check_cache, check_eps, check_grad, check_momentum, check_param
from nbcode.norm.core import NormCache, _normalize, _normalize_backward


class BatchNormCache(NamedTuple):
    """Saved for :func:`batch_norm_backward`."""

    norm: NormCache
    weight: np.ndarray
    training: bool


class BatchNormResult(NamedTuple):
    """Output of :func:`batch_norm`: ``out``, the updated running statistics, and the cache."""

    out: np.ndarray
    running_mean: np.ndarray
    running_var: np.ndarray
    cache: BatchNormCache


def _channel_axes(x: np.ndarray) -> tuple[tuple[int, ...], tuple[int, ...]]:
    if x.ndim not in (2, 3, 4):
        raise ValueError(f"Expected 2D, 3D or 4D input (got {x.ndim}D input)")
    axes = (0, *range(2, x.ndim))
    bshape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    return axes, bshape


def batch_norm(
    x: Any,
    weight: Any,
    bias: Any,
    running_mean: Any,
    running_var: Any,
    *,
    training: bool,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> BatchNormResult:
    """Batch normalization, as ``torch.nn.functional.batch_norm``.

    Training (batch statistics, biased variance for normalizing):

    .. math::

        y = \\gamma \\frac{x - \\mu_B}{\\sqrt{\\sigma_B^2 + \\epsilon}} + \\beta, \\qquad
        \\hat\\mu \\leftarrow (1 - m)\\,\\hat\\mu + m\\,\\mu_B, \\qquad
        \\hat\\sigma^2 \\leftarrow (1 - m)\\,\\hat\\sigma^2 + m\\,\\frac{B}{B-1}\\sigma_B^2,

    with ``momentum`` :math:`m` (PyTorch's convention: the weight of the *new* batch) and
    :math:`B` the number of values per channel. Inference uses the running estimates
    :math:`\\hat\\mu, \\hat\\sigma^2` in place of :math:`\\mu_B, \\sigma_B^2` and leaves them unchanged.

    Parameters
    ----------
    x : array, shape (N, C), (N, C, L) or (N, C, H, W)
    weight, bias : arrays of shape (C,)
        :math:`\\gamma` and :math:`\\beta`.
    running_mean, running_var : arrays of shape (C,)
        Not modified; the updated values are returned. Variances are >= 0.
    training : bool
    momentum : float in [0, 1]
    eps : float > 0
        Added to the variance *inside* the square root (not to σ).

    Notes
    -----
    Some notes write :math:`(x-\\mu)/(\\sigma+\\epsilon)`; both PyTorch and the original paper
    divide by :math:`\\sqrt{\\sigma^2+\\epsilon}`.

    References
    ----------
    Ioffe, S. and Szegedy, C. (2015). Batch normalization. ICML.

    Examples
    --------
    >>> r = batch_norm(np.array([[0.0], [2.0]]), np.ones(1), np.zeros(1), np.zeros(1), np.ones(1),
    ...                training=True, eps=1e-12)
    >>> np.round(r.out.ravel(), 6).tolist(), r.running_mean.tolist(), np.round(r.running_var, 6).tolist()
    ([-1.0, 1.0], [0.1], [1.1])
    """
    xa = as_float_array(x)
    training = _validate.flag(training, "training")
    axes, bshape = _channel_axes(xa)
    C = xa.shape[1]
    eps, momentum = check_eps(eps), check_momentum(momentum)
    w = check_param(weight, (C,), "weight")
    b = check_param(bias, (C,), "bias")
    rm = check_param(running_mean, (C,), "running_mean")
    rv = check_param(running_var, (C,), "running_var")
    if np.any(rv < 0):
        raise ValueError(f"Invalid running_var: smallest entry {float(rv.min()):g} (need variances >= 0)")
    if training:
        m = xa.size // C
        if m <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size {xa.shape}")
        x_hat, mu, var, cache = _normalize(xa, axes, eps)
        rm = (1 - momentum) * rm + momentum * mu.ravel()
        rv = (1 - momentum) * rv + momentum * var.ravel() * m / (m - 1)
    else:
        inv_std = 1.0 / np.sqrt(rv.reshape(bshape) + eps)
        x_hat = (xa - rm.reshape(bshape)) * inv_std
        cache = NormCache(x_hat, inv_std, axes)
    out = w.reshape(bshape) * x_hat + b.reshape(bshape)
    return BatchNormResult(out, rm.copy(), rv.copy(), BatchNormCache(cache, w, bool(training)))


def batch_norm_backward(dout: Any, cache: BatchNormCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(dx, dweight, dbias)`` in compact form.

    .. math::

        \\frac{\\partial L}{\\partial \\beta} = \\sum_i \\frac{\\partial L}{\\partial y_i}, \\quad
        \\frac{\\partial L}{\\partial \\gamma} = \\sum_i \\frac{\\partial L}{\\partial y_i}\\hat x_i, \\quad
        \\frac{\\partial L}{\\partial x_i} = \\frac{\\gamma}{B\\sqrt{\\sigma_B^2+\\epsilon}}
        \\Big(B\\,\\frac{\\partial L}{\\partial y_i} - \\frac{\\partial L}{\\partial \\beta}
        - \\hat x_i \\frac{\\partial L}{\\partial \\gamma}\\Big)

    in training; in inference the statistics are constants and
    :math:`\\partial L/\\partial x_i = \\gamma\\,(\\partial L/\\partial y_i)/\\sqrt{\\hat\\sigma^2+\\epsilon}`.

    See Also
    --------
    batch_norm_backward_stepwise : the same gradient through µ and σ² one at a time.
    """
    norm, w, training = check_cache(cache, BatchNormCache, "batch_norm")
    dy = check_grad(dout, norm.x_hat.shape)
    axes = norm.axes
    bshape = norm.inv_std.shape
    dbias = dy.sum(axis=axes)
    dweight = (dy * norm.x_hat).sum(axis=axes)
    d_xhat = dy * w.reshape(bshape)
    dx = _normalize_backward(d_xhat, norm) if training else d_xhat * norm.inv_std
    return dx, dweight, dbias


def batch_norm_backward_stepwise(dout: Any, x: Any, weight: Any, eps: float = 1e-5) -> np.ndarray:
    """``dx`` of training-mode batch norm for ``(N, C)`` input, through µ and σ² step by step.

    .. math::

        \\frac{\\partial L}{\\partial \\sigma^2} = -\\tfrac12 (\\sigma^2+\\epsilon)^{-3/2}
            \\sum_i \\frac{\\partial L}{\\partial \\hat x_i}(x_i-\\mu), \\qquad
        \\frac{\\partial L}{\\partial \\mu} = -\\frac{1}{\\sqrt{\\sigma^2+\\epsilon}}
            \\sum_i \\frac{\\partial L}{\\partial \\hat x_i}
            - \\frac{\\partial L}{\\partial \\sigma^2}\\,\\frac{2}{B}\\sum_i (x_i-\\mu),

    .. math::

        \\frac{\\partial L}{\\partial x_i} = \\frac{\\partial L}{\\partial \\hat x_i}
            \\frac{1}{\\sqrt{\\sigma^2+\\epsilon}}
            + \\frac{\\partial L}{\\partial \\sigma^2}\\frac{2(x_i-\\mu)}{B}
            + \\frac{\\partial L}{\\partial \\mu}\\frac1B,

    with :math:`\\partial L/\\partial \\hat x_i = \\gamma\\, \\partial L/\\partial y_i` (the second
    term of :math:`\\partial L/\\partial\\mu` is zero, since :math:`\\sum_i (x_i-\\mu) = 0`). A plain
    loop over channels: the readable ground truth for :func:`batch_norm_backward`.
    """
    xa = as_float_array(x)
    if xa.ndim != 2:
        raise ValueError(f"Expected 2D input (got {xa.ndim}D input)")
    dy = check_grad(dout, xa.shape)
    w = check_param(weight, (xa.shape[1],), "weight")
    eps = check_eps(eps)
    B = xa.shape[0]
    if B < 2:   # as batch_norm (and torch) in training mode
        raise ValueError(f"Expected more than 1 value per channel when training, got input size {xa.shape}")
    dx = np.empty_like(xa)
    for c in range(xa.shape[1]):
        xc, dxhat = xa[:, c], dy[:, c] * w[c]
        mu = xc.sum() / B
        var = ((xc - mu) ** 2).sum() / B
        dvar = (dxhat * (xc - mu)).sum() * -0.5 * (var + eps) ** -1.5
        dmu = -dxhat.sum() / np.sqrt(var + eps) + dvar * (-2.0 * (xc - mu)).sum() / B
        dx[:, c] = dxhat / np.sqrt(var + eps) + dvar * 2.0 * (xc - mu) / B + dmu / B
    return dx


class BatchNorm:
    """A stateful batch-norm layer for notebooks (NumPy; mirrors ``torch.nn.BatchNorm1d/2d``).

    Examples
    --------
    >>> bn = BatchNorm(2)
    >>> y = bn(np.array([[0.0, 1.0], [2.0, 5.0]]))
    >>> np.round(bn.running_mean, 6).tolist(), bn.num_batches_tracked
    ([0.1, 0.3], 1)
    """

    def __init__(self, num_features: int, *, eps: float = 1e-5, momentum: float = 0.1) -> None:
        num_features = _validate.count(num_features, "num_features", low=1)
        self.eps, self.momentum = check_eps(eps), check_momentum(momentum)
        self.weight = np.ones(num_features)
        self.bias = np.zeros(num_features)
        self.running_mean = np.zeros(num_features)
        self.running_var = np.ones(num_features)
        self.num_batches_tracked = 0
        self.training = True
        self._cache: BatchNormCache | None = None

    def __call__(self, x: Any) -> np.ndarray:
        xa = as_float_array(x)
        if xa.ndim in (2, 3, 4) and xa.shape[1] != self.weight.shape[0]:
            raise ValueError(f"Invalid input: expected {self.weight.shape[0]} channels (num_features), "
                             f"got input of size {xa.shape}")
        r = batch_norm(xa, self.weight, self.bias, self.running_mean, self.running_var,
                       training=self.training, momentum=self.momentum, eps=self.eps)
        if self.training:
            self.running_mean, self.running_var = r.running_mean, r.running_var
            self.num_batches_tracked += 1
        self._cache = r.cache
        return r.out

    def backward(self, dout: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(dx, dweight, dbias)`` for the last call."""
        if self._cache is None:
            raise ValueError("Invalid call: backward before forward")
        return batch_norm_backward(dout, self._cache)
