"""Weight initializers in NumPy with the names, arguments and formulas of ``torch.nn.init``.

Each takes a shape ``(out, in, *kernel)`` and a seeded ``numpy.random.Generator`` and returns
a new float64 array. The variance rules come from keeping the second moment of the signal
constant through a layer, forward (fan-in) or backward (fan-out); see
:mod:`nbcode.init.propagation` and the chapter "Initialization" of the book.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from nbcode.init.fans import calculate_correct_fan, calculate_fan_in_and_fan_out, calculate_gain, check_mode, check_shape
from nbcode import _validate

__all__ = [
    "lecun_normal",
    "lecun_uniform",
    "xavier_normal",
    "xavier_uniform",
    "kaiming_normal",
    "kaiming_uniform",
    "orthogonal",
    "sparse",
    "init_std",
]


def _check_gain(gain: float) -> float:
    return _validate.real(gain, "gain", low=0)


def _check_rng(rng: np.random.Generator) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"Invalid rng: {_validate.show(rng)} (need a numpy.random.Generator)")
    return rng


def _matrix_shape(shape: Sequence[int], ndim: str, ok: bool) -> None:
    if not ok:
        raise ValueError(f"Invalid shape: {tuple(shape)} (need {ndim} dimensions)")


def _normal(shape: tuple[int, ...], std: float, rng: np.random.Generator) -> np.ndarray:
    return rng.normal(0.0, 1.0, size=shape) * std


def _uniform(shape: tuple[int, ...], bound: float, rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(-bound, bound, size=shape)


def init_std(shape: Sequence[int], scheme: str, *, gain: float = 1.0, mode: str = "fan_in") -> float:
    r"""The standard deviation of a weight of ``shape`` under ``scheme``.

    ``'lecun'``: :math:`g/\sqrt{n_{\text{in}}}`; ``'xavier'``:
    :math:`g\sqrt{2/(n_{\text{in}} + n_{\text{out}})}`; ``'kaiming'``: :math:`g/\sqrt{\text{fan}}` with
    the fan picked by ``mode`` (pass the nonlinearity's gain as ``gain``).

    Examples
    --------
    >>> round(init_std((100, 300), "xavier"), 6)
    0.070711
    """
    dims = check_shape(shape)
    gain = _check_gain(gain)
    _validate.choice(scheme, "scheme", ("lecun", "xavier", "kaiming"))
    mode = check_mode(mode)
    fan_in, fan_out = calculate_fan_in_and_fan_out(dims)
    if scheme == "lecun":
        return gain / math.sqrt(fan_in)
    if scheme == "xavier":
        return gain * math.sqrt(2.0 / (fan_in + fan_out))
    return gain / math.sqrt(calculate_correct_fan(dims, mode))


def lecun_normal(shape: Sequence[int], gain: float = 1.0, *, rng: np.random.Generator) -> np.ndarray:
    r"""LeCun's rule :math:`W \sim \mathcal N(0, g^2/n_{\text{in}})` (LeCun et al. 1998).

    Keeps :math:`\operatorname{Var}(z^l) = \operatorname{Var}(z^{l-1})` through a linear layer.
    Same as ``torch.nn.init.kaiming_normal_(w, nonlinearity='linear')`` times ``gain``.

    Examples
    --------
    >>> w = lecun_normal((200, 400), rng=np.random.default_rng(0))
    >>> round(float(w.var() * 400), 1)
    1.0
    """
    dims, rng = check_shape(shape), _check_rng(rng)
    gain = _check_gain(gain)
    if 0 in dims:
        return np.zeros(dims)
    return _normal(dims, init_std(dims, "lecun", gain=gain), rng)


def lecun_uniform(shape: Sequence[int], gain: float = 1.0, *, rng: np.random.Generator) -> np.ndarray:
    r"""LeCun's rule with a uniform law: :math:`W \sim U(-b, b)`, :math:`b = g\sqrt{3/n_{\text{in}}}`.

    Examples
    --------
    >>> w = lecun_uniform((10, 12), rng=np.random.default_rng(0))
    >>> bool(np.abs(w).max() <= 0.5)
    True
    """
    dims, rng = check_shape(shape), _check_rng(rng)
    gain = _check_gain(gain)
    if 0 in dims:
        return np.zeros(dims)
    return _uniform(dims, math.sqrt(3.0) * init_std(dims, "lecun", gain=gain), rng)


def xavier_normal(shape: Sequence[int], gain: float = 1.0, *, rng: np.random.Generator) -> np.ndarray:
    r"""Glorot & Bengio's (2010) normal rule, as ``torch.nn.init.xavier_normal_``.

    .. math:: W \sim \mathcal N\!\left(0,\ g^2\,\frac{2}{n_{\text{in}} + n_{\text{out}}}\right)

    the harmonic mean of the forward condition :math:`1/n_{\text{in}}` and the backward
    condition :math:`1/n_{\text{out}}`.

    Examples
    --------
    >>> w = xavier_normal((300, 100), rng=np.random.default_rng(0))
    >>> round(float(w.std()), 2)   # sqrt(2 / 400)
    0.07
    """
    dims, rng = check_shape(shape), _check_rng(rng)
    gain = _check_gain(gain)
    if 0 in dims:
        return np.zeros(dims)
    return _normal(dims, init_std(dims, "xavier", gain=gain), rng)


def xavier_uniform(shape: Sequence[int], gain: float = 1.0, *, rng: np.random.Generator) -> np.ndarray:
    r"""Glorot & Bengio's "normalized initialization", as ``torch.nn.init.xavier_uniform_``.

    .. math:: W \sim U(-b, b),\qquad b = g\,\sqrt{\frac{6}{n_{\text{in}} + n_{\text{out}}}}

    (a uniform law on :math:`[-b, b]` has variance :math:`b^2/3 = 2g^2/(n_{\text{in}} + n_{\text{out}})`).
    Some notes print the bound as :math:`6/\sqrt{m+n}`; the square root covers the 6.

    Examples
    --------
    >>> w = xavier_uniform((3, 3), rng=np.random.default_rng(0))
    >>> bool(np.abs(w).max() <= 1.0)
    True
    """
    dims, rng = check_shape(shape), _check_rng(rng)
    gain = _check_gain(gain)
    if 0 in dims:
        return np.zeros(dims)
    return _uniform(dims, math.sqrt(3.0) * init_std(dims, "xavier", gain=gain), rng)


def kaiming_normal(
    shape: Sequence[int], a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", *, rng: np.random.Generator
) -> np.ndarray:
    r"""He et al.'s (2015) normal rule, as ``torch.nn.init.kaiming_normal_``.

    .. math:: W \sim \mathcal N\!\left(0,\ \frac{g^2}{\text{fan}}\right),\qquad
              g = \texttt{calculate\_gain}(\text{nonlinearity}, a)

    For ReLU :math:`g^2 = 2`: a ReLU keeps half of the second moment of a symmetric input, and the
    factor 2 gives it back. ``mode='fan_in'`` preserves the forward signal, ``'fan_out'`` the
    backward one.

    Examples
    --------
    >>> w = kaiming_normal((256, 512), nonlinearity="relu", rng=np.random.default_rng(0))
    >>> round(float(w.var() * 512), 1)
    2.0
    """
    dims, rng, a = check_shape(shape), _check_rng(rng), _validate.real(a, "a")
    gain, mode = calculate_gain(nonlinearity, a), check_mode(mode)
    if 0 in dims:
        return np.zeros(dims)
    fan = calculate_correct_fan(dims, mode)
    return _normal(dims, gain / math.sqrt(fan), rng)


def kaiming_uniform(
    shape: Sequence[int], a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", *, rng: np.random.Generator
) -> np.ndarray:
    r"""He et al.'s rule with a uniform law, as ``torch.nn.init.kaiming_uniform_``:
    :math:`U(-b, b)` with :math:`b = g\sqrt{3/\text{fan}}`.

    Examples
    --------
    >>> w = kaiming_uniform((4, 6), nonlinearity="relu", rng=np.random.default_rng(0))
    >>> bool(np.abs(w).max() <= 1.0)
    True
    """
    dims, rng, a = check_shape(shape), _check_rng(rng), _validate.real(a, "a")
    gain, mode = calculate_gain(nonlinearity, a), check_mode(mode)
    if 0 in dims:
        return np.zeros(dims)
    fan = calculate_correct_fan(dims, mode)
    return _uniform(dims, math.sqrt(3.0) * gain / math.sqrt(fan), rng)


def orthogonal(shape: Sequence[int], gain: float = 1.0, *, rng: np.random.Generator) -> np.ndarray:
    r"""A (semi-)orthogonal matrix times ``gain``, as ``torch.nn.init.orthogonal_`` (Saxe et al. 2014).

    The weight is flattened to ``(rows, cols)`` with ``rows = shape[0]``; a Gaussian matrix is
    QR-factorised and :math:`Q` multiplied by the signs of :math:`\operatorname{diag} R`, which
    makes it Haar-distributed (Mezzadri 2007). Rows are orthonormal when ``rows <= cols``,
    columns otherwise: :math:`W W^\top = g^2 I` or :math:`W^\top W = g^2 I`.

    Examples
    --------
    >>> q = orthogonal((3, 5), rng=np.random.default_rng(0))
    >>> bool(np.allclose(q @ q.T, np.eye(3)))
    True
    """
    dims, rng = check_shape(shape), _check_rng(rng)
    gain = _check_gain(gain)
    _matrix_shape(dims, "2 or more", len(dims) >= 2)
    if 0 in dims:
        return np.zeros(dims)
    rows = dims[0]
    cols = math.prod(dims) // rows
    flat = rng.normal(size=(rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return gain * q.reshape(dims)


def sparse(shape: Sequence[int], sparsity: float, std: float = 0.01, *, rng: np.random.Generator) -> np.ndarray:
    r"""Martens's (2010) sparse initialization, as ``torch.nn.init.sparse_``.

    Entries are :math:`\mathcal N(0, \texttt{std}^2)`, then in every column
    :math:`\lceil \texttt{sparsity}\cdot\text{rows}\rceil` entries, chosen at random, are set to zero.

    Examples
    --------
    >>> w = sparse((10, 4), sparsity=0.3, rng=np.random.default_rng(0))
    >>> (w == 0).sum(axis=0).tolist()
    [3, 3, 3, 3]
    """
    dims, rng = check_shape(shape), _check_rng(rng)
    _matrix_shape(dims, "2", len(dims) == 2)
    sparsity = _validate.probability(sparsity, "sparsity")
    std = _validate.real(std, "std", low=0)
    rows, cols = dims
    w = _normal(dims, std, rng)
    num_zeros = math.ceil(sparsity * rows)
    for j in range(cols):
        w[rng.permutation(rows)[:num_zeros], j] = 0.0
    return w
