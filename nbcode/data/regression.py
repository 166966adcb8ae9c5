"""Least-squares problems whose Hessian has a chosen spectrum."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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

    @property
    def hessian(self) -> np.ndarray:
        return self.X.T @ self.X / self.X.shape[0]

    def loss(self, w: np.ndarray) -> float:
        r = self.X @ w - self.y
        return float(0.5 * np.mean(r * r))

    def grad(self, w: np.ndarray) -> np.ndarray:
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
    if not np.isfinite(kappa) or kappa < 1:
        raise ValueError(f"Invalid condition number: {kappa} (need kappa >= 1)")
    if d < 1 or n < d:
        raise ValueError(f"Invalid shape: n={n}, d={d} (need n >= d >= 1)")
    if lam_max <= 0 or noise < 0:
        raise ValueError(f"Invalid lam_max={lam_max} or noise={noise}")
    rng = np.random.default_rng(seed)
    lam = np.geomspace(lam_max / kappa, lam_max, d) if d > 1 else np.array([lam_max])
    U, _ = np.linalg.qr(rng.standard_normal((n, d)))
    V, _ = np.linalg.qr(rng.standard_normal((d, d)))
    X = np.sqrt(n) * (U * np.sqrt(lam)) @ V.T
    w_true = rng.standard_normal(d)
    y = X @ w_true + noise * rng.standard_normal(n)
    w_star = np.linalg.lstsq(X, y, rcond=None)[0]
    return Regression(X, y, w_star, noise)
