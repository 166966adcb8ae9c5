"""Least-squares problems whose Hessian has a chosen spectrum."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nbcode import _validate

__all__ = ["Regression", "conditioned_regression"]


@dataclass(frozen=True)
class Regression:
    """Linear least squares :math:`L(w) = \\frac{1}{2n}\\lVert Xw - y\\rVert^2`.

    Its Hessian is :math:`H = X^\\top X / n` (constant) and its minimizer ``w_star``.
    """

    X: np.ndarray
    y: np.ndarray
    w_star: np.ndarray
    noise: float

    def __post_init__(self) -> None:
        """Float64 copies of the arrays (the caller's stay theirs), with consistent shapes."""
        X = _validate.array(self.X, "X", ndim=2)
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "y", _validate.array(self.y, "y", shape=(X.shape[0],)))
        object.__setattr__(self, "w_star", _validate.array(self.w_star, "w_star", shape=(X.shape[1],)))
        object.__setattr__(self, "noise", _validate.real(self.noise, "noise", low=0))

    @property
    def hessian(self) -> np.ndarray:
        return self.X.T @ self.X / self.X.shape[0]

    def loss(self, w: np.ndarray) -> float:
        """:math:`L(w)` at a point ``w`` of shape ``(d,)``."""
        w = _validate.vector(w, "w", size=self.X.shape[1])
        r = self.X @ w - self.y
        return float(0.5 * np.mean(r * r))

    def grad(self, w: np.ndarray) -> np.ndarray:
        """:math:`\\nabla L(w) = X^\\top (Xw - y) / n` at a point ``w`` of shape ``(d,)``."""
        w = _validate.vector(w, "w", size=self.X.shape[1])
        return self.X.T @ (self.X @ w - self.y) / self.X.shape[0]


def conditioned_regression(
    n: int = 500, d: int = 10, *, kappa: float = 100.0, lam_max: float = 1.0, noise: float = 0.1, seed: int = 0
) -> Regression:
    """A regression problem whose Hessian :math:`X^\\top X/n` has eigenvalues log-spaced from
    ``lam_max / kappa`` to ``lam_max`` exactly (condition number ``kappa``).

    The design is :math:`X = \\sqrt{n}\\,U \\operatorname{diag}(\\sqrt{\\lambda}) V^\\top` with ``U``
    (n × d) and ``V`` (d × d) random orthonormal; targets are :math:`y = X w_{true} + \\varepsilon`.

    Examples
    --------
    >>> r = conditioned_regression(200, 5, kappa=50.0)
    >>> ev = np.linalg.eigvalsh(r.hessian)
    >>> round(float(ev[-1] / ev[0]), 6)
    50.0
    """
    n = _validate.count(n, "n", low=1)
    d = _validate.count(d, "d", low=1)
    if n < d:
        raise ValueError(f"Invalid n: {n} with d={d} (need n >= d)")
    kappa = _validate.real(kappa, "condition number", low=1, symbol="kappa")
    lam_max = _validate.real(lam_max, "lam_max", low=0, low_open=True)
    noise = _validate.real(noise, "noise", low=0)
    seed = _validate.count(seed, "seed")
    rng = np.random.default_rng(seed)
    lam = np.geomspace(lam_max / kappa, lam_max, d) if d > 1 else np.array([lam_max])
    U, _ = np.linalg.qr(rng.standard_normal((n, d)))
    V, _ = np.linalg.qr(rng.standard_normal((d, d)))
    X = np.sqrt(n) * (U * np.sqrt(lam)) @ V.T
    w_true = rng.standard_normal(d)
    y = X @ w_true + noise * rng.standard_normal(n)
    w_star = np.linalg.lstsq(X, y, rcond=None)[0]
    return Regression(X, y, w_star, noise)
