"""Eigenvalues of a Hessian from products Hv: power iteration, Lanczos, Hutchinson, SLQ."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nbcode.hessian.operator import as_operator

__all__ = [
    "EigResult",
    "power_iteration",
    "lanczos",
    "lanczos_topk",
    "hutchinson_trace",
    "hutchinson_variance",
    "slq",
    "slq_density",
    "gaussian_density",
]


@dataclass
class EigResult:
    """Eigenvalue estimates and how they were reached.

    ``eigenvalues`` (largest first) and ``eigenvectors`` (columns), ``n_matvec`` the number of
    Hessian-vector products used, ``history[j]`` the estimate of the top eigenvalue after
    ``j + 1`` products.
    """

    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    n_matvec: int
    history: list[float] = field(default_factory=list)


def _check_int(name: str, value: Any, low: int = 1) -> int:
    if not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"Invalid {name}: {value} (need an integer >= {low})")
    return int(value)


def _start_vector(dim: int, seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(dim)
    return v / np.linalg.norm(v)


def power_iteration(op: Any, *, max_iter: int = 1000, tol: float = 1e-6, seed: int = 0) -> EigResult:
    """The eigenvalue of largest magnitude by power iteration.

    .. math:: v_{j+1} = \\frac{H v_j}{\\|H v_j\\|}, \\qquad \\lambda \\approx v_j^\\top H v_j

    Stops when the Rayleigh quotient changes by less than ``tol`` (relative) between steps. The
    error shrinks like :math:`(\\lambda_2/\\lambda_1)^{2j}`: slow when the top two are close.

    Examples
    --------
    >>> r = power_iteration(np.diag([1.0, 2.0, 5.0]), tol=1e-12)
    >>> round(float(r.eigenvalues[0]), 8), r.n_matvec < 40
    (5.0, True)
    """
    A = as_operator(op)
    max_iter = _check_int("max_iter", max_iter)
    if not (tol >= 0 and math.isfinite(tol)):
        raise ValueError(f"Invalid tolerance: {tol}")
    v = _start_vector(A.dim, seed)
    lam, hist, n = math.nan, [], 0
    for _ in range(max_iter):
        Hv = A.matvec(v)
        n += 1
        new = float(v @ Hv)
        hist.append(new)
        nrm = float(np.linalg.norm(Hv))
        if nrm == 0.0:
            lam = 0.0
            break
        v = Hv / nrm
        if math.isfinite(lam) and abs(new - lam) <= tol * abs(new):
            lam = new
            break
        lam = new
    return EigResult(np.array([lam]), v[:, None], n, hist)


def lanczos(op: Any, m: int, *, seed: int = 0, v0: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``m`` steps of Lanczos with full reorthogonalization: ``(alpha, beta, Q)``.

    Builds an orthonormal basis :math:`Q = [q_1, \\dots, q_m]` of the Krylov space
    :math:`\\{v, Hv, \\dots, H^{m-1}v\\}` in which :math:`Q^\\top H Q = T` is tridiagonal with
    diagonal ``alpha`` and off-diagonal ``beta`` (:cite:`lanczos1950`). Each new vector is
    orthogonalized against *all* previous ones (twice), which keeps :math:`Q` orthonormal in
    floating point and prevents the spurious copies ("ghosts") of converged eigenvalues that
    plain Lanczos produces. Stops early, with fewer columns, if the Krylov space is invariant.

    Examples
    --------
    >>> a, b, Q = lanczos(np.diag([1.0, 2.0, 3.0]), 3)
    >>> T = np.diag(a) + np.diag(b, 1) + np.diag(b, -1)
    >>> np.round(np.linalg.eigvalsh(T), 8).tolist()
    [1.0, 2.0, 3.0]
    """
    A = as_operator(op)
    m = _check_int("number of Lanczos steps", m)
    if m > A.dim:
        raise ValueError(f"Invalid number of Lanczos steps: {m} (larger than the dimension {A.dim})")
    q = _start_vector(A.dim, seed) if v0 is None else np.asarray(v0, dtype=np.float64) / np.linalg.norm(v0)
    Q = np.zeros((A.dim, m))
    alpha, beta = [], []
    for j in range(m):
        Q[:, j] = q
        w = A.matvec(q)
        a = float(q @ w)
        alpha.append(a)
        for _ in range(2):  # full reorthogonalization, twice is enough
            w = w - Q[:, : j + 1] @ (Q[:, : j + 1].T @ w)
        b = float(np.linalg.norm(w))
        if j == m - 1:
            break
        if b <= 1e-10 * max(1.0, abs(a)):
            Q = Q[:, : j + 1]
            break
        beta.append(b)
        q = w / b
    return np.array(alpha), np.array(beta), Q


def _tridiag(alpha: np.ndarray, beta: np.ndarray) -> np.ndarray:
    return np.diag(alpha) + np.diag(beta, 1) + np.diag(beta, -1)


def lanczos_topk(
    op: Any, k: int = 1, *, tol: float = 1e-6, max_iter: int | None = None, seed: int = 0, which: str = "LA"
) -> EigResult:
    """The ``k`` largest (``which='LA'``) or largest-magnitude (``'LM'``) eigenvalues by Lanczos.

    Adds one Krylov vector at a time (one Hessian-vector product) and stops when the residual
    bound :math:`\\beta_j |s_{j,i}|` of each of the top-``k`` Ritz pairs :math:`(\\theta_i, Q s_i)`
    is at most ``tol`` :math:`|\\theta_i|`, or after ``max_iter`` products (default
    :math:`\\min(300, d)`): the residual :math:`\\|H x - \\theta x\\|` of a Ritz
    pair equals that bound, and for a symmetric matrix an eigenvalue lies within it.

    Examples
    --------
    >>> r = lanczos_topk(np.diag(np.arange(1.0, 51.0)), k=3, tol=1e-10)
    >>> np.round(r.eigenvalues, 6).tolist()
    [50.0, 49.0, 48.0]
    """
    A = as_operator(op)
    k = _check_int("k", k)
    if k > A.dim:
        raise ValueError(f"Invalid k: {k} (larger than the dimension {A.dim})")
    if which not in ("LA", "LM"):
        raise ValueError(f"Invalid which: {which!r} (use 'LA' or 'LM')")
    if not (tol > 0 and math.isfinite(tol)):
        raise ValueError(f"Invalid tolerance: {tol}")
    m_max = min(300, A.dim) if max_iter is None else min(_check_int("max_iter", max_iter), A.dim)
    q = _start_vector(A.dim, seed)
    Q = np.zeros((A.dim, min(m_max, 32)))  # grows by doubling
    alpha: list[float] = []
    beta: list[float] = []
    hist: list[float] = []
    theta, S, order = np.zeros(0), np.zeros((0, 0)), np.zeros(0, dtype=int)
    n = 0
    for j in range(m_max):
        if j == Q.shape[1]:
            Q = np.concatenate([Q, np.zeros((A.dim, min(j, m_max - j)))], axis=1)
        Q[:, j] = q
        w = A.matvec(q)
        n += 1
        alpha.append(float(q @ w))
        for _ in range(2):
            w = w - Q[:, : j + 1] @ (Q[:, : j + 1].T @ w)
        b = float(np.linalg.norm(w))
        theta, S = np.linalg.eigh(_tridiag(np.array(alpha), np.array(beta)))
        order = np.argsort(-theta if which == "LA" else -np.abs(theta))
        hist.append(float(theta[order[0]]))
        if j + 1 >= k:
            top = order[:k]
            resid = b * np.abs(S[-1, top])
            if np.all(resid <= tol * np.maximum(np.abs(theta[top]), 1e-300)):
                break
        if b <= 1e-12 * max(1.0, float(np.abs(theta).max())):
            break  # invariant subspace: the Ritz values are exact
        beta.append(b)
        q = w / b
    top = order[:k]
    vecs = Q[:, : len(alpha)] @ S[:, top]
    return EigResult(theta[top], vecs, n, hist)


def hutchinson_trace(op: Any, n_samples: int = 100, *, seed: int = 0) -> tuple[float, float]:
    """Hutchinson's estimate of :math:`\\operatorname{tr} H` and its standard error.

    .. math:: \\operatorname{tr} H = \\mathbb E[z^\\top H z], \\quad z_i = \\pm 1 \\text{ (Rademacher)}

    averaged over ``n_samples`` probes (:cite:`hutchinson1989`). The standard error is the
    sample standard deviation of :math:`z^\\top H z` over :math:`\\sqrt{n}`; its exact value is
    :func:`hutchinson_variance` over ``n_samples``, square-rooted.

    Examples
    --------
    >>> est, se = hutchinson_trace(np.diag([1.0, 2.0, 3.0]), 10)
    >>> est, se
    (6.0, 0.0)
    """
    A = as_operator(op)
    n = _check_int("number of samples", n_samples, low=2)
    rng = np.random.default_rng(seed)
    vals = np.empty(n)
    for i in range(n):
        z = rng.choice([-1.0, 1.0], size=A.dim)
        vals[i] = z @ A.matvec(z)
    return float(vals.mean()), float(vals.std(ddof=1) / math.sqrt(n))


def hutchinson_variance(H: Any) -> float:
    """The variance of one Rademacher probe :math:`z^\\top H z`: :math:`2 \\sum_{i \\ne j} H_{ij}^2`.

    Examples
    --------
    >>> hutchinson_variance([[1.0, 2.0], [2.0, 3.0]])
    16.0
    """
    M = np.asarray(H, dtype=np.float64)
    return float(2.0 * (np.sum(M * M) - np.sum(np.diag(M) ** 2)))


def slq(op: Any, m: int = 30, n_probes: int = 4, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Stochastic Lanczos quadrature: nodes and weights of the spectral density.

    For each Rademacher probe :math:`v` (normalized), ``m`` Lanczos steps give the tridiagonal
    :math:`T = S \\Theta S^\\top`; the nodes are the Ritz values :math:`\\theta_j` and the
    weights :math:`\\tau_j = S_{1j}^2 / n_{\\text{probes}}`, so that for any smooth :math:`f`

    .. math:: \\frac1d \\operatorname{tr} f(H) \\approx \\sum_j \\tau_j f(\\theta_j)

    (Gauss quadrature of the probe's spectral measure, :cite:`ghorbani2019`). Returns
    ``(nodes, weights)`` of length ``n_probes * m``; the weights sum to 1.

    Examples
    --------
    >>> nodes, w = slq(np.diag([1.0, 2.0, 3.0, 4.0]), m=4, n_probes=2)
    >>> round(float(w.sum()), 12), round(float(w @ nodes), 12)  # mean eigenvalue: tr/d = 2.5
    (1.0, 2.5)
    """
    A = as_operator(op)
    m = _check_int("number of Lanczos steps", m)
    if m > A.dim:
        raise ValueError(f"Invalid number of Lanczos steps: {m} (larger than the dimension {A.dim})")
    n_probes = _check_int("number of probes", n_probes)
    rng = np.random.default_rng(seed)
    nodes, weights = [], []
    for _ in range(n_probes):
        z = rng.choice([-1.0, 1.0], size=A.dim)
        alpha, beta, _ = lanczos(A, m, v0=z)
        theta, S = np.linalg.eigh(_tridiag(alpha, beta))
        nodes.append(theta)
        weights.append(S[0] ** 2 / n_probes)
    return np.concatenate(nodes), np.concatenate(weights)


def gaussian_density(grid: Any, nodes: Any, weights: Any, sigma: float) -> np.ndarray:
    """:math:`\\phi(t) = \\sum_j w_j\\, \\mathcal N(t; \\theta_j, \\sigma^2)` on ``grid``.

    With the exact eigenvalues and weights :math:`1/d` this is the smoothed exact density.

    Examples
    --------
    >>> t = np.linspace(-10, 10, 2001)
    >>> round(float(np.trapezoid(gaussian_density(t, [0.0, 1.0], [0.5, 0.5], 0.3), t)), 6)
    1.0
    """
    if not (sigma > 0 and math.isfinite(sigma)):
        raise ValueError(f"Invalid smoothing width: {sigma}")
    t = np.asarray(grid, dtype=np.float64)[:, None]
    th = np.asarray(nodes, dtype=np.float64)[None, :]
    w = np.asarray(weights, dtype=np.float64)
    g = np.exp(-0.5 * ((t - th) / sigma) ** 2) / (sigma * math.sqrt(2.0 * math.pi))
    return np.asarray(g @ w)


def slq_density(op: Any, grid: Any, *, m: int = 30, n_probes: int = 4, sigma: float = 0.1, seed: int = 0) -> np.ndarray:
    """The spectral density of ``op`` on ``grid``, smoothed with a Gaussian of width ``sigma``, by SLQ.

    Examples
    --------
    >>> t = np.linspace(0.0, 5.0, 6)
    >>> exact = gaussian_density(t, [1.0, 2.0, 3.0, 4.0], np.full(4, 0.25), 0.5)
    >>> bool(np.allclose(slq_density(np.diag([1.0, 2.0, 3.0, 4.0]), t, m=4, sigma=0.5), exact))
    True
    """
    nodes, weights = slq(op, m, n_probes, seed=seed)
    return gaussian_density(grid, nodes, weights, sigma)
