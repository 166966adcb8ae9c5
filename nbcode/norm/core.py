"""Normalizing over a set of axes, and its backward pass (shared by every layer here).

Every normalization layer in this package computes, for the entries :math:`x_i` of one
*normalization set* (the axes it averages over) of size :math:`m`,

.. math::

    \\mu = \\frac1m \\sum_i x_i, \\qquad \\sigma^2 = \\frac1m \\sum_i (x_i - \\mu)^2, \\qquad
    \\hat x_i = \\frac{x_i - \\mu}{\\sqrt{\\sigma^2 + \\epsilon}},

with the *biased* variance (divide by :math:`m`), and the layers differ only in the axes. The
backward pass, from :math:`\\partial L/\\partial \\hat x_i`, is (see :func:`normalize_backward`)

.. math::

    \\frac{\\partial L}{\\partial x_i} = \\frac{1}{m\\sqrt{\\sigma^2+\\epsilon}}
    \\Big( m \\frac{\\partial L}{\\partial \\hat x_i} - \\sum_j \\frac{\\partial L}{\\partial \\hat x_j}
    - \\hat x_i \\sum_j \\frac{\\partial L}{\\partial \\hat x_j} \\hat x_j \\Big).
"""

from __future__ import annotations

import numbers
from typing import Any, NamedTuple

import numpy as np

from nbcode import _validate
from nbcode.norm._check import as_float_array, check_cache, check_grad


class NormCache(NamedTuple):
    """What the backward pass needs: ``x_hat``, ``inv_std`` = 1/√(σ²+ε) (broadcastable) and the axes."""

    x_hat: np.ndarray
    inv_std: np.ndarray
    axes: tuple[int, ...]


def _axes(axes: Any, ndim: int) -> tuple[int, ...]:
    """``axes`` (an int or a sequence of ints) as a tuple, each in ``[-ndim, ndim - 1]`` and distinct."""
    items = [axes] if isinstance(axes, (numbers.Integral, np.integer)) and not isinstance(axes, (bool, np.bool_)) else axes
    if isinstance(items, (str, bytes)) or not isinstance(items, (tuple, list)):
        raise TypeError(f"Invalid axes: {_validate.show(axes)} (need an int or a tuple of ints)")
    out = tuple(_validate.count(a, "axes entry", low=-ndim, high=ndim - 1) for a in items)
    if not out or len({a % ndim for a in out}) != len(out):
        raise ValueError(f"Invalid axes: {_validate.show(axes)} (need distinct axes of a {ndim}-D input, at least one)")
    return out


def normalize(x: Any, axes: int | tuple[int, ...], eps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, NormCache]:
    """``(x_hat, mean, biased_var, cache)``: ``x`` standardized over ``axes`` (keepdims statistics).

    ``eps`` >= 0 (with ``eps = 0`` a constant set divides by zero).

    Examples
    --------
    >>> x_hat, mu, var, _ = normalize(np.array([[1.0, 3.0]]), (1,), eps=0.0)
    >>> x_hat.tolist(), mu.tolist(), var.tolist()
    ([[-1.0, 1.0]], [[2.0]], [[1.0]])
    """
    xa = as_float_array(x)
    ax = _axes(axes, xa.ndim)
    return _normalize(xa, ax, _validate.real(eps, "eps", low=0))


def _normalize(x: np.ndarray, axes: tuple[int, ...], eps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, NormCache]:
    """:func:`normalize` without the checks (for the layers, which check their own arguments)."""
    mu = x.mean(axis=axes, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=axes, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = (x - mu) * inv_std
    return x_hat, mu, var, NormCache(x_hat, inv_std, axes)


def normalize_backward(d_xhat: Any, cache: NormCache) -> np.ndarray:
    """:math:`\\partial L/\\partial x` from :math:`\\partial L/\\partial \\hat x` (the compact formula above).

    Examples
    --------
    >>> _, _, _, c = normalize(np.array([[1.0, 3.0]]), (1,), eps=0.0)
    >>> normalize_backward(np.array([[1.0, 1.0]]), c).tolist()  # a constant shift changes nothing
    [[0.0, 0.0]]
    """
    c = check_cache(cache, NormCache, "normalize")
    return _normalize_backward(check_grad(d_xhat, c.x_hat.shape, "d_xhat"), c)


def _normalize_backward(d_xhat: np.ndarray, cache: NormCache) -> np.ndarray:
    """:func:`normalize_backward` without the checks."""
    x_hat, inv_std, axes = cache
    m = int(np.prod([x_hat.shape[a] for a in axes]))
    s1 = d_xhat.sum(axis=axes, keepdims=True)
    s2 = (d_xhat * x_hat).sum(axis=axes, keepdims=True)
    return inv_std / m * (m * d_xhat - s1 - x_hat * s2)
