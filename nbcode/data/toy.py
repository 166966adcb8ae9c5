"""2-D toy classification sets for playground-style demos (after TensorFlow Playground)."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import make_blobs, make_circles, make_moons

from nbcode import _validate

__all__ = ["toy2d", "TOY_SETS"]

TOY_SETS = ("moons", "circles", "spiral", "xor", "blobs")


def _spiral(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    half = n // 2
    t = np.sqrt(rng.uniform(0.0, 1.0, size=n)) * 3.0 * np.pi  # denser near the centre
    y = np.r_[np.zeros(half, dtype=np.int64), np.ones(n - half, dtype=np.int64)]
    phase = np.where(y == 0, 0.0, np.pi)
    r = t / (3.0 * np.pi)
    X = np.c_[r * np.cos(t + phase), r * np.sin(t + phase)]
    return X + noise * rng.standard_normal(X.shape), y


def _xor(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    X = rng.uniform(-1.0, 1.0, size=(n, 2))
    y = ((X[:, 0] > 0) ^ (X[:, 1] > 0)).astype(np.int64)
    return X + noise * rng.standard_normal(X.shape), y


def toy2d(name: str, n: int = 200, *, noise: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points of a 2-D binary (``blobs``: 3-class) data set, features of order 1.

    Parameters
    ----------
    name : {'moons', 'circles', 'spiral', 'xor', 'blobs'}
    n : int
        Number of points (at least 4).
    noise : float
        Standard deviation of Gaussian noise added to the points (``>= 0``).
    seed : int
        Between 0 and 2**32 - 1 (scikit-learn's range).

    Returns
    -------
    X : (n, 2) float64 array
    y : (n,) int64 array of labels

    Examples
    --------
    >>> X, y = toy2d("xor", 100, noise=0.0)
    >>> X.shape, sorted(set(y.tolist()))
    ((100, 2), [0, 1])
    """
    name = _validate.choice(name, "name", TOY_SETS)
    n = _validate.count(n, "number of points", low=4)
    noise = _validate.real(noise, "noise", low=0)
    seed = _validate.count(seed, "seed", high=2**32 - 1)
    rng = np.random.default_rng(seed)
    if name == "moons":
        X, y = make_moons(n, noise=noise, random_state=seed)
        X = (X - np.array([0.5, 0.25])) / np.array([1.0, 0.5])
    elif name == "circles":
        X, y = make_circles(n, noise=noise, factor=0.5, random_state=seed)
    elif name == "spiral":
        X, y = _spiral(n, noise, rng)
    elif name == "xor":
        X, y = _xor(n, noise, rng)
    else:
        X, y = make_blobs(n, centers=[(-1.0, -1.0), (1.0, -1.0), (0.0, 1.0)], cluster_std=0.35 + noise, random_state=seed)
    return np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.int64)
