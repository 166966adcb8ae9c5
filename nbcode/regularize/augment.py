"""Data augmentation and input noise: shifted digit images, and noise as a ridge penalty."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from nbcode.regularize.penalties import _alpha
from nbcode import _validate

__all__ = ["shift_images", "augment_shifts", "noisy_least_squares"]


def shift_images(X: Any, dx: int, dy: int, *, side: int = 8, fill: float = 0.0) -> np.ndarray:
    """Shift flattened ``side × side`` images by ``dx`` columns (right) and ``dy`` rows (down),
    filling the uncovered pixels with ``fill``.

    Examples
    --------
    >>> shift_images(np.arange(4.0)[None, :], 1, 0, side=2).tolist()
    [[0.0, 0.0, 0.0, 2.0]]
    """
    X = np.atleast_2d(_validate.array(X, "X"))
    if X.shape[1] != side * side:
        raise ValueError(f"Invalid image size: {X.shape[1]} features, expected {side}x{side} = {side * side}")
    if abs(dx) >= side or abs(dy) >= side:
        raise ValueError(f"Invalid shift: ({dx}, {dy}) (need |dx|, |dy| < {side})")
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
    X = _validate.array(X, "X")
    y = _validate.array(y, "y")
    sigma = _alpha(sigma)
    copies = _validate.count(copies, "number of copies", low=1)
    rng = np.random.default_rng(seed)
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
    X = np.atleast_2d(_validate.array(X, "X"))
    y = np.asarray(y)
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"X and y have different numbers of rows: {X.shape[0]} and {y.shape[0]}")
    blocks = [X] + [shift_images(X, dx, dy, side=side, fill=fill) for dx, dy in shifts]
    return np.concatenate(blocks), np.tile(y, len(blocks))
