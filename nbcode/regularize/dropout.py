"""Dropout and DropConnect in NumPy, seeded, with PyTorch's conventions.

Two conventions for the same idea :cite:`srivastava2014`:

* the notes' (and the paper's): keep each unit with probability :math:`\\alpha` (the *keep*
  probability), do not rescale at training time, and multiply the outgoing weights by
  :math:`\\alpha` at test time (:math:`W_{\\text{test}} = \\alpha W`);
* PyTorch's ``nn.Dropout(p)``: drop each unit with probability :math:`p = 1 - \\alpha` (the *drop*
  probability) and divide the kept ones by :math:`1 - p` at training time ("inverted dropout"),
  so nothing changes at test time.

Both give the same expected pre-activation in the next layer.
"""

from __future__ import annotations

import itertools
from typing import Any, Callable

import numpy as np

__all__ = ["dropout_mask", "dropout", "dropout_keep", "dropconnect", "mask_average", "weight_scaling_gap"]


def _p(p: float) -> float:
    # torch.nn.Dropout's message, but torch accepts p = 1 (all zeros); we refuse it (1/(1-p))
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    return float(p)


def _rng(seed: int | np.random.Generator) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def dropout_mask(shape: tuple[int, ...], p: float, seed: int | np.random.Generator = 0) -> np.ndarray:
    """A 0/1 float mask: each entry is 0 with probability ``p`` (the drop probability).

    Examples
    --------
    >>> dropout_mask((2, 3), 0.0).tolist()
    [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    """
    p = _p(p)
    return (_rng(seed).random(shape) >= p).astype(np.float64)


def dropout(x: Any, p: float = 0.5, *, training: bool = True, seed: int | np.random.Generator = 0) -> np.ndarray:
    """Inverted dropout, as ``torch.nn.functional.dropout``: one independent mask entry per
    example and per unit, fresh on every call.

    .. math:: \\text{train: } y = \\frac{m \\odot x}{1 - p},\\ m_j \\sim \\text{Bernoulli}(1 - p); \\qquad \\text{eval: } y = x

    Examples
    --------
    >>> dropout([1.0, 2.0], 0.5, training=False).tolist()
    [1.0, 2.0]
    >>> sorted(set(dropout(np.ones(100), 0.5, seed=1).tolist()))
    [0.0, 2.0]
    """
    p = _p(p)
    x = np.asarray(x, dtype=np.float64)
    if not training or p == 0.0:
        return x.copy()
    return x * dropout_mask(x.shape, p, seed) / (1.0 - p)


def dropout_keep(x: Any, keep: float, *, training: bool = True, seed: int | np.random.Generator = 0) -> np.ndarray:
    """The notes' convention: keep with probability ``keep`` (:math:`\\alpha`), no rescaling at
    training time, multiply by :math:`\\alpha` at test time (equivalently :math:`W_{\\text{test}} = \\alpha W`).

    Examples
    --------
    >>> dropout_keep([1.0, 2.0], 0.8, training=False).tolist()
    [0.8, 1.6]
    """
    if not 0.0 < keep <= 1.0:
        raise ValueError(f"Invalid keep probability: {keep} (need 0 < keep <= 1)")
    x = np.asarray(x, dtype=np.float64)
    if not training:
        return keep * x
    return x * dropout_mask(x.shape, 1.0 - keep, seed)


def dropconnect(x: Any, W: Any, b: Any = None, p: float = 0.5, *, training: bool = True, seed: int | np.random.Generator = 0) -> np.ndarray:
    """A linear layer with DropConnect :cite:`wan2013`: each *weight* is dropped with probability
    ``p``, with a fresh mask per example; kept weights are divided by :math:`1 - p`.

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
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    W = np.asarray(W, dtype=np.float64)
    bias = np.zeros(W.shape[0]) if b is None else np.asarray(b, dtype=np.float64)
    if not training or p == 0.0:
        return x @ W.T + bias
    M = dropout_mask((x.shape[0],) + W.shape, p, seed)
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
    x = np.asarray(x, dtype=np.float64)
    d = x.shape[-1]
    if d > 16:
        raise ValueError(f"Too many units to enumerate: {d} (at most 16)")
    if not 0.0 < keep <= 1.0:
        raise ValueError(f"Invalid keep probability: {keep} (need 0 < keep <= 1)")
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
    x = np.asarray(x, dtype=np.float64)
    ens = mask_average(f, x, keep)
    scaled = f(keep * x)
    return float(np.linalg.norm(ens - scaled) / np.linalg.norm(ens))
