"""Data augmentation and input noise: shifted digit images, and noise as a ridge penalty."""

from __future__ import annotations

import numbers
from typing import Any, Sequence

import numpy as np

from nbcode.regularize.penalties import _alpha
from nbcode import _validate

__all__ = ["shift_images", "augment_shifts", "noisy_least_squares"]


def _images(X: Any, side: Any) -> tuple[np.ndarray, int]:
    """Flattened ``side x side`` images as an ``(n, side * side)`` float64 array (one image may be 1-D)."""
    side = _validate.count(side, "side", low=1)
    Xa = _validate.array(X, "X")
    if Xa.ndim == 1:
        Xa = Xa[None, :]
    if Xa.ndim != 2 or Xa.shape[1] != side * side:
        raise ValueError(f"Invalid shape of X: {Xa.shape} (need (n, {side * side}): flattened {side}x{side} images)")
    return Xa, side


def _shift(value: Any, name: str, side: int) -> int:
    return _validate.count(value, name, low=-(side - 1), high=side - 1)


def shift_images(X: Any, dx: int, dy: int, *, side: int = 8, fill: float = 0.0) -> np.ndarray:
    """Shift flattened ``side × side`` images by ``dx`` columns (right) and ``dy`` rows (down),
    filling the uncovered pixels with ``fill``.

    Examples
    --------
    >>> shift_images(np.arange(4.0)[None, :], 1, 0, side=2).tolist()
    [[0.0, 0.0, 0.0, 2.0]]
    """
    X, side = _images(X, side)
    dx, dy = _shift(dx, "dx", side), _shift(dy, "dy", side)
    fill = _validate.real(fill, "fill")
    imgs = X.reshape(-1, side, side)
    out = np.full_like(imgs, fill)
    src_r = slice(max(0, -dy), side - max(0, dy))
    dst_r = slice(max(0, dy), side - max(0, -dy))
    src_c = slice(max(0, -dx), side - max(0, dx))
    dst_c = slice(max(0, dx), side - max(0, -dx))
    out[:, dst_r, dst_c] = imgs[:, src_r, src_c]
    return out.reshape(X.shape[0], side * side)


def noisy_least_squares(X: Any, y: Any, sigma: float, *, copies: int = 100, seed: int = 0) -> np.ndarray:
    """Least squares on ``copies`` noisy copies of the inputs, :math:`X + \\varepsilon`,
    :math:`\\varepsilon_{ij} \\sim \\mathcal N(0, \\sigma^2)`.

    In expectation over the noise, :math:`\\frac{1}{2n}\\|y - (X+\\varepsilon)w\\|^2` equals
    :math:`\\frac{1}{2n}\\|y - Xw\\|^2 + \\frac{\\sigma^2}{2}\\|w\\|^2` (the cross term has mean zero,
    and :math:`\\mathbb E\\|\\varepsilon w\\|^2 = n\\sigma^2\\|w\\|^2`), so as ``copies`` grows the result
    approaches :func:`nbcode.regularize.ridge` with :math:`\\alpha = \\sigma^2` :cite:`bishop1995`.

    Examples
    --------
    >>> X = np.eye(2)
    >>> noisy_least_squares(X, [1.0, 1.0], 0.0, copies=1).round(6).tolist()
    [1.0, 1.0]
    """
    X = _validate.array(X, "X", ndim=2)
    y = _validate.vector(y, "y", size=X.shape[0])
    sigma = _alpha(sigma, "sigma")
    copies = _validate.count(copies, "number of copies", low=1)
    rng = np.random.default_rng(_validate.count(seed, "seed"))
    Xa = np.concatenate([X + sigma * rng.standard_normal(X.shape) for _ in range(copies)])
    ya = np.tile(y, copies)
    return np.asarray(np.linalg.lstsq(Xa, ya, rcond=None)[0])


def augment_shifts(
    X: Any, y: Any, shifts: Sequence[tuple[int, int]] = ((1, 0), (-1, 0), (0, 1), (0, -1)), *, side: int = 8, fill: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """The images ``X`` followed by one shifted copy per ``(dx, dy)`` in ``shifts``, with the
    labels repeated: a training set ``len(shifts) + 1`` times larger.

    Examples
    --------
    >>> Xa, ya = augment_shifts(np.ones((2, 64)), np.array([3, 5]))
    >>> Xa.shape, ya.tolist()
    ((10, 64), [3, 5, 3, 5, 3, 5, 3, 5, 3, 5])
    """
    X, side = _images(X, side)
    _validate.array(y, "y", shape=(X.shape[0],))  # checked; the labels keep their dtype
    pairs = _shift_pairs(shifts, side)
    fill = _validate.real(fill, "fill")
    blocks = [X] + [shift_images(X, dx, dy, side=side, fill=fill) for dx, dy in pairs]
    return np.concatenate(blocks), np.tile(np.asarray(y), len(blocks))


def _shift_pairs(shifts: Any, side: int) -> list[tuple[int, int]]:
    need = f"need a sequence of (dx, dy) pairs of integers with |dx|, |dy| < {side}"
    if isinstance(shifts, (str, bytes)) or not isinstance(shifts, (Sequence, np.ndarray)):
        raise TypeError(f"Invalid shifts: {_validate.show(shifts)} ({need})")
    pairs = []
    for s in shifts:
        if isinstance(s, (str, bytes)) or not isinstance(s, (Sequence, np.ndarray)) or len(s) != 2:
            raise ValueError(f"Invalid shifts: {_validate.show(shifts)} ({need})")
        if not all(isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in s):
            raise TypeError(f"Invalid shifts: {_validate.show(shifts)} ({need})")
        if any(abs(int(v)) >= side for v in s):
            raise ValueError(f"Invalid shifts: {_validate.show(shifts)} ({need})")
        pairs.append((int(s[0]), int(s[1])))
    return pairs
