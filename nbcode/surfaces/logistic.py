"""Multinomial logistic regression with a ridge penalty: a smooth convex loss that is not a quadratic.

For inputs :math:`x_i \\in \\mathbb R^p` (a column of ones appended for the bias, so
:math:`\\tilde x_i \\in \\mathbb R^{p+1}`), labels :math:`y_i \\in \\{0, \\dots, K-1\\}` and weights
:math:`W \\in \\mathbb R^{(p+1) \\times K}` (flattened row-major into :math:`w`),

.. math:: L(w) = \\frac1n \\sum_{i=1}^n \\Big( \\log \\sum_c e^{\\tilde x_i^\\top W_{:c}} - \\tilde x_i^\\top W_{:y_i} \\Big)
   + \\frac{\\alpha}{2}\\|w\\|^2 .

Its Hessian is :math:`\\frac1n \\sum_i \\tilde x_i \\tilde x_i^\\top \\otimes (\\operatorname{diag}(p_i) - p_i p_i^\\top) + \\alpha I`,
with :math:`p_i` the softmax probabilities. Because :math:`\\operatorname{diag}(p) - pp^\\top \\preceq
\\tfrac12 I` (Böhning's bound), the loss is :math:`M`-smooth with

.. math:: M = \\tfrac12 \\lambda_{\\max}\\big(\\tfrac1n \\tilde X^\\top \\tilde X\\big) + \\alpha ,

and :math:`\\alpha`-strongly convex (exactly :math:`\\alpha` along the direction that adds the same
vector to every class's weights: the softmax does not see it). With :math:`\\alpha = 0` it is
convex but not strongly convex, and on separable data it has no minimizer at all.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nbcode import _validate as v

__all__ = ["LogisticRegression"]


class LogisticRegression:
    """The ridge-penalized multinomial logistic loss :math:`L(w)` (see the module), with exact
    gradient, Hessian and Hessian-vector product, its smoothness :math:`M` and strong convexity
    :math:`\\mu = \\alpha`, and its minimizer by Newton's method.

    Parameters
    ----------
    X : array (n, p)
        Inputs; a column of ones is appended for the bias.
    y : int array (n,)
        Labels in ``0 .. n_classes - 1``.
    alpha : float
        Ridge strength :math:`\\alpha \\ge 0` (on every weight, the bias included).
    n_classes : int, optional
        ``K``; default ``max(y) + 1``.

    Examples
    --------
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array([0, 0, 1, 1])
    >>> f = LogisticRegression(X, y, alpha=0.1)
    >>> f.dim, round(f(np.zeros(f.dim)), 12) == round(float(np.log(2)), 12)
    (4, True)
    >>> w = f.minimizer()
    >>> bool(np.linalg.norm(f.grad(w)) < 1e-12)
    True
    """

    def __init__(self, X: Any, y: Any, alpha: float = 0.0, n_classes: int | None = None) -> None:
        Xa = v.array(X, "X", ndim=2)
        labels = np.asarray(y)
        if labels.shape != (Xa.shape[0],) or labels.dtype.kind not in "iu":
            raise ValueError(f"Invalid y: {v.show(y)} (need {Xa.shape[0]} integer labels)")
        K = int(labels.max()) + 1 if n_classes is None else v.count(n_classes, "n_classes", low=2)
        if labels.min() < 0 or labels.max() >= K or K < 2:
            raise ValueError(f"Invalid y: labels must lie in 0 .. {K - 1}, with K >= 2 classes")
        self.alpha = v.real(alpha, "alpha", low=0)
        self.X = np.concatenate([Xa, np.ones((Xa.shape[0], 1))], axis=1)
        self.y = labels.astype(np.int64)
        self.n, self.p1 = self.X.shape
        self.K = K
        self.dim = self.p1 * K
        self._Y = np.zeros((self.n, K))
        self._Y[np.arange(self.n), self.y] = 1.0

    def _W(self, w: Any) -> np.ndarray:
        return v.vector(w, "w", size=self.dim).reshape(self.p1, self.K)

    def _probs(self, W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        Z = self.X @ W
        M = Z.max(axis=1, keepdims=True)
        if np.isfinite(M).all():  # n comparisons: the logits themselves are not scanned
            Z = Z - M
        else:  # the logits overflow (a huge w): shift them in units of max|w|, where they are finite
            s = float(np.abs(W).max())
            Zs = self.X @ (W / s)
            with np.errstate(over="ignore"):
                Z = s * (Zs - Zs.max(axis=1, keepdims=True))   # <= 0, -inf where a class is infinitely unlikely
        E = np.exp(Z)
        S = E.sum(axis=1, keepdims=True)
        return E / S, Z - np.log(S)

    def _value(self, W: np.ndarray, logp: np.ndarray) -> float:
        ridge = 0.5 * self.alpha * np.sum(W * W) if self.alpha else 0.0  # no 0 * inf for a huge w without ridge
        return float(-np.mean(logp[np.arange(self.n), self.y]) + ridge)

    def _grad(self, W: np.ndarray, P: np.ndarray) -> np.ndarray:
        return np.asarray((self.X.T @ (P - self._Y) / self.n + self.alpha * W).reshape(-1))

    def __call__(self, w: Any) -> float:
        """:math:`L(w)`."""
        W = self._W(w)
        _, logp = self._probs(W)
        return self._value(W, logp)

    def grad(self, w: Any) -> np.ndarray:
        """:math:`\\nabla L = \\frac1n \\tilde X^\\top (P - Y) + \\alpha w`, flattened like ``w``."""
        W = self._W(w)
        P, _ = self._probs(W)
        return self._grad(W, P)

    def value_and_grad(self, w: Any) -> tuple[float, np.ndarray]:
        """:math:`L(w)` and :math:`\\nabla L(w)` from one softmax (the same numbers as ``self(w)``
        and ``self.grad(w)``, for half the cost)."""
        W = self._W(w)
        P, logp = self._probs(W)
        return self._value(W, logp), self._grad(W, P)

    def hessp(self, w: Any, u: Any) -> np.ndarray:
        """:math:`H(w)\\,u` without forming :math:`H`."""
        W = self._W(w)
        U = v.vector(u, "u", size=self.dim).reshape(self.p1, self.K)
        P, _ = self._probs(W)
        A = self.X @ U                                   # (n, K): the change of the logits
        B = P * A - P * np.sum(P * A, axis=1, keepdims=True)   # (diag(p) - p p^T) a, row by row
        return np.asarray((self.X.T @ B / self.n + self.alpha * U).reshape(-1))

    def hess(self, w: Any) -> np.ndarray:
        """The dense :math:`(p+1)K \\times (p+1)K` Hessian (small problems)."""
        W = self._W(w)
        P, _ = self._probs(W)
        H = np.zeros((self.dim, self.dim))
        for c in range(self.K):
            for e in range(self.K):
                s = P[:, c] * ((c == e) - P[:, e])
                H[c :: self.K, e :: self.K] = (self.X * s[:, None]).T @ self.X / self.n
        H += self.alpha * np.eye(self.dim)
        return np.asarray(0.5 * (H + H.T))

    @property
    def smoothness(self) -> float:
        """:math:`M = \\tfrac12\\lambda_{\\max}(\\tilde X^\\top\\tilde X/n) + \\alpha \\ge \\lambda_{\\max}(H(w))` for every ``w``."""
        return float(0.5 * np.linalg.eigvalsh(self.X.T @ self.X / self.n)[-1] + self.alpha)

    @property
    def strong_convexity(self) -> float:
        """:math:`\\mu = \\alpha`, the smallest possible eigenvalue of :math:`H(w)` (attained along the
        direction that adds one vector to every class)."""
        return self.alpha

    def minimizer(self, w0: Any = None, *, tol: float = 1e-12, max_iter: int = 100) -> np.ndarray:
        """:math:`w^*` by Newton's method with a backtracking line search (needs ``alpha > 0``),
        to :math:`\\|\\nabla L\\| \\le` ``tol``."""
        if self.alpha <= 0:
            raise ValueError("Invalid alpha: 0 (the minimizer exists and is unique only for alpha > 0)")
        tol = v.real(tol, "tol", low=0, low_open=True)
        max_iter = v.count(max_iter, "max_iter", low=1)
        w = np.zeros(self.dim) if w0 is None else v.vector(w0, "w0", size=self.dim)
        for _ in range(max_iter):
            g = self.grad(w)
            if np.linalg.norm(g) <= tol:
                return w
            step = np.linalg.solve(self.hess(w), g)
            t, f0 = 1.0, self(w)
            while self(w - t * step) > f0 - 0.25 * t * float(g @ step) and t > 1e-10:
                t *= 0.5
            w = w - t * step
        if np.linalg.norm(self.grad(w)) > max(tol, 1e-9):
            raise RuntimeError(f"Newton's method did not reach |grad| <= {tol} in {max_iter} iterations")
        return w
