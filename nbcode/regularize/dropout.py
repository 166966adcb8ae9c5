"""Dropout and DropConnect in NumPy, seeded, with PyTorch's conventions.

Two conventions for the same idea :cite:`srivastava2014`:

* the notes' (and the paper's): keep each unit with probability :math:`\\alpha` (the *keep*
  probability), do not rescale at training time, and multiply the outgoing weights by
  :math:`\\alpha` at test time (:math:`W_{\\text{test}} = \\alpha W`);
* PyTorch's ``nn.Dropout(p)``: drop each unit with probability :math:`p = 1 - \\alpha` (the *drop*
  probability) and divide the kept ones by :math:`1 - p` at training time ("inverted dropout"),
  so nothing changes at test time.

Both give the same expected pre-activation in the next layer.

Like torch, every call draws a *fresh* mask: ``seed=None`` (the default) takes a new generator
seeded by the operating system. Pass an integer ``seed`` for a reproducible mask, or a
``numpy.random.Generator`` to draw a stream of masks from one seeded generator.
"""

from __future__ import annotations

import itertools
from typing import Any, Callable

import numpy as np

from nbcode import _validate

__all__ = ["dropout_mask", "dropout", "dropout_keep", "dropconnect", "mask_average", "weight_scaling_gap"]


Seed = int | np.random.Generator | None


def _p(p: float) -> float:
    # torch.nn.Dropout's check and message: 0 <= p <= 1 (p = 1 drops everything: zeros)
    v = _validate.real(p, "dropout probability")
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    return v


def _shape(shape: Any) -> tuple[int, ...]:
    """An int, or a sequence (tuple, list, NumPy integer array) of ints >= 0, as NumPy takes shapes."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, (bool, np.bool_)):
        return (_validate.count(shape, "shape"),)
    return _validate.sizes(shape, "shape", low=0, min_len=0)


def dropout_mask(shape: tuple[int, ...], p: float, seed: Seed = None) -> np.ndarray:
    """A 0/1 float mask: each entry is 0 with probability ``p`` (the drop probability), fresh on
    every call unless ``seed`` is given. ``shape`` is what NumPy takes: an int, or a tuple, list
    or integer array of ints >= 0 (``()`` gives a single entry).

    Examples
    --------
    >>> dropout_mask((2, 3), 0.0).tolist()
    [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    >>> bool(np.array_equal(dropout_mask((100,), 0.5, seed=1), dropout_mask((100,), 0.5, seed=1)))
    True
    """
    p = _p(p)
    dims = _shape(shape)
    return (_validate.generator(seed).random(dims) >= p).astype(np.float64)


def dropout(x: Any, p: float = 0.5, *, training: bool = True, seed: Seed = None) -> np.ndarray:
    """Inverted dropout, as ``torch.nn.functional.dropout``: one independent mask entry per
    example and per unit, fresh on every call (reproducible with an integer ``seed``).

    .. math:: \\text{train: } y = \\frac{m \\odot x}{1 - p},\\ m_j \\sim \\text{Bernoulli}(1 - p); \\qquad \\text{eval: } y = x

    With ``p = 1`` every unit is dropped: :math:`y = 0 \\cdot x` (as torch).

    Examples
    --------
    >>> dropout([1.0, 2.0], 0.5, training=False).tolist()
    [1.0, 2.0]
    >>> sorted(set(dropout(np.ones(100), 0.5, seed=1).tolist()))
    [0.0, 2.0]
    """
    p = _p(p)
    x = _validate.array(x, "input", nonempty=False, finite=False)
    if not _validate.flag(training, "training") or p == 0.0:
        return x
    if p == 1.0:
        _validate.generator(seed)
        with np.errstate(invalid="ignore"):   # inf * 0 = nan, as torch
            return x * 0.0
    return x * dropout_mask(x.shape, p, seed) / (1.0 - p)


def dropout_keep(x: Any, keep: float, *, training: bool = True, seed: Seed = None) -> np.ndarray:
    """The notes' convention: keep with probability ``keep`` (:math:`\\alpha`), no rescaling at
    training time, multiply by :math:`\\alpha` at test time (equivalently :math:`W_{\\text{test}} = \\alpha W`).
    A fresh mask on every call unless ``seed`` is given; ``keep = 0`` drops everything (zeros).

    Examples
    --------
    >>> dropout_keep([1.0, 2.0], 0.8, training=False).tolist()
    [0.8, 1.6]
    """
    keep = _validate.probability(keep, "keep probability")
    x = _validate.array(x, "input", nonempty=False, finite=False)
    if not _validate.flag(training, "training"):
        return keep * x
    return x * dropout_mask(x.shape, 1.0 - keep, seed)


def dropconnect(x: Any, W: Any, b: Any = None, p: float = 0.5, *, training: bool = True, seed: Seed = None) -> np.ndarray:
    """A linear layer with DropConnect :cite:`wan2013`: each *weight* is dropped with probability
    ``p``, with a fresh mask per example (and per call, unless ``seed`` is given); kept weights
    are divided by :math:`1 - p` (``p = 1``: every weight dropped, the output is ``b``).

    .. math:: y_i = \\frac{(M_i \\odot W)\\,x_i}{1 - p} + b, \\qquad M_{i,jk} \\sim \\text{Bernoulli}(1 - p)

    At test time (``training=False``) the layer is :math:`Wx + b` (the mean of the train-time
    output; Wan et al. instead sample a Gaussian approximation of it).

    Parameters
    ----------
    x : (n, d_in) inputs; W : (d_out, d_in); b : (d_out,), optional

    Examples
    --------
    >>> dropconnect([[1.0, 1.0]], [[1.0, 2.0]], training=False).tolist()
    [[3.0]]
    """
    p = _p(p)
    W = _validate.array(W, "W", ndim=2)
    x = np.atleast_2d(_validate.array(x, "x"))
    if x.ndim != 2 or x.shape[1] != W.shape[1]:
        raise ValueError(f"Invalid shape of x: {x.shape} (need (n, {W.shape[1]}) for W of shape {W.shape})")
    bias = np.zeros(W.shape[0]) if b is None else _validate.vector(b, "b", size=W.shape[0])
    if not _validate.flag(training, "training") or p == 0.0:
        return x @ W.T + bias
    M = dropout_mask((x.shape[0],) + W.shape, p, seed)
    if p == 1.0:     # every weight dropped: the bias alone
        return np.asarray(np.einsum("njk,nk->nj", M * W, x) + bias)
    return np.asarray(np.einsum("njk,nk->nj", M * W, x) / (1.0 - p) + bias)


def mask_average(f: Callable[[np.ndarray], np.ndarray], x: Any, keep: float) -> np.ndarray:
    """The exact average of ``f(m * x)`` over all :math:`2^d` keep-masks ``m`` of the last axis of
    ``x`` (each unit kept with probability ``keep``): the output of the full dropout ensemble.

    Only for small ``d`` (at most 16).

    Examples
    --------
    >>> mask_average(lambda z: z.sum(axis=-1), [[1.0, 2.0]], 0.5).tolist()
    [1.5]
    """
    _validate.function(f, "f")
    x = _validate.array(x, "x")
    d = x.shape[-1]
    if d > 16:
        raise ValueError(f"Invalid shape of x: {x.shape} (need at most 16 units on the last axis: 2**d masks are enumerated)")
    keep = _validate.probability(keep, "keep probability", allow_zero=False)
    total = None
    for bits in itertools.product((0.0, 1.0), repeat=d):
        m = np.array(bits)
        k = m.sum()
        weight = keep**k * (1.0 - keep) ** (d - k)
        if weight == 0.0:
            continue
        out = weight * f(m * x)
        total = out if total is None else total + out
    assert total is not None
    return np.asarray(total)


def weight_scaling_gap(f: Callable[[np.ndarray], np.ndarray], x: Any, keep: float) -> float:
    """Relative gap between the ensemble average :func:`mask_average` and the weight-scaling rule
    ``f(keep * x)``: :math:`\\|\\bar y - y_{\\text{scaled}}\\| / \\|\\bar y\\|`. It is zero when ``f`` is
    affine (a linear layer) and small but not zero after a nonlinearity.

    Examples
    --------
    >>> weight_scaling_gap(lambda z: z @ np.array([1.0, -2.0, 3.0]), np.ones((4, 3)), 0.5) < 1e-12
    True
    """
    x = _validate.array(x, "x")
    ens = mask_average(f, x, keep)
    scaled = f(keep * x)
    return float(np.linalg.norm(ens - scaled) / np.linalg.norm(ens))
