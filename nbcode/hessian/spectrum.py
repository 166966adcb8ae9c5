"""Eigenvalues of a Hessian from products Hv: power iteration, Lanczos, Hutchinson, SLQ."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nbcode import _validate
from nbcode.hessian.operator import HessianOperator, MatrixOperator, as_operator

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
    r"""Eigenvalue estimates and how they were reached.

    ``eigenvalues`` (largest first; by magnitude for :func:`power_iteration` and ``which='LM'``)
    and ``eigenvectors`` (columns), ``n_matvec`` the number of Hessian-vector products used,
    ``history[j]`` the estimate of the top eigenvalue after ``j + 1`` products, and ``converged``
    whether every returned pair :math:`(\lambda, v)` passed the residual test
    :math:`\|Hv - \lambda v\| \le \text{tol}\,|\lambda|` (for a symmetric matrix an eigenvalue
    then lies within that distance of :math:`\lambda`).
    """

    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    n_matvec: int
    history: list[float] = field(default_factory=list)
    converged: bool = True


#: Relative size (to the largest :math:`\|Hq\|` seen) below which a Lanczos residual counts as
#: zero: the Krylov space is invariant, or a Ritz pair is exact to working precision.
_EXACT = 1e-12


class _Checked:
    """A user's operator (anything with ``matvec`` and ``dim``) whose first product is checked: a
    finite NumPy array of shape ``(dim,)``, else a clear error instead of NumPy's from deep inside
    (or eigenvalues of NaN)."""

    def __init__(self, op: Any) -> None:
        self.op, self.dim, self.checked = op, op.dim, False

    def matvec(self, v: np.ndarray) -> np.ndarray:
        out = self.op.matvec(v)
        if not self.checked:
            need = f"need a finite NumPy array of shape ({self.dim},)"
            if not isinstance(out, np.ndarray):
                what = "None" if out is None else f"a {type(out).__module__.split('.')[0]}.{type(out).__name__}".replace("builtins.", "")
                raise TypeError(f"Invalid operator: its matvec returned {what} ({need})")
            if out.dtype.kind not in "fiu":
                raise TypeError(f"Invalid operator: its matvec returned an array of dtype {out.dtype} ({need})")
            if out.shape != (self.dim,):
                raise ValueError(f"Invalid operator: its matvec returned an array of shape {out.shape} ({need})")
            if not np.all(np.isfinite(out)):
                raise ValueError(f"Invalid operator: its matvec returned non-finite entries (nan or inf) ({need})")
            self.checked = True
        return out


def _operator(op: Any) -> Any:
    """:func:`as_operator`, with a user's operator wrapped in :class:`_Checked`."""
    A = as_operator(op)
    return A if isinstance(A, (HessianOperator, MatrixOperator, _Checked)) else _Checked(A)


def _start_vector(dim: int, seed: Any) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(dim)
    return np.asarray(v / np.linalg.norm(v))


def _check_seed(seed: Any) -> int:
    return _validate.count(seed, "seed")


def _two_cycle(v0: np.ndarray, w0: np.ndarray, v1: np.ndarray, w1: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray] | None:
    r"""Rayleigh-Ritz on span{v0, v1} (with :math:`Hv_0 = w_0`, :math:`Hv_1 = w_1`): the two Ritz
    pairs if both pass the residual test and have opposite signs (power iteration alternating
    between the eigenvectors of :math:`\pm\lambda`), else None."""
    V = np.stack([v0, v1], axis=1)
    Qb, R = np.linalg.qr(V)
    if abs(R[1, 1]) <= 1e-8 * abs(R[0, 0]):
        return None  # v1 = ±v0: no second direction
    HQ = np.linalg.solve(R.T, np.stack([w0, w1])).T  # H Qb = [w0 w1] R^{-1}
    T = Qb.T @ HQ
    theta, S = np.linalg.eigh(0.5 * (T + T.T))
    if theta[0] * theta[1] >= 0:
        return None
    X, HX = Qb @ S, HQ @ S
    resid = np.linalg.norm(HX - X * theta, axis=0)
    if np.all(resid <= tol * np.abs(theta)):
        # largest magnitude first; +λ first when the magnitudes agree within the residuals
        tie = abs(abs(theta[0]) - abs(theta[1])) <= resid.sum()
        order = [1, 0] if tie or abs(theta[1]) > abs(theta[0]) else [0, 1]
        return theta[order], X[:, order]
    return None


def power_iteration(op: Any, *, max_iter: int = 1000, tol: float = 1e-6, seed: int = 0) -> EigResult:
    """The eigenvalue of largest *magnitude* by power iteration.

    .. math:: v_{j+1} = \\frac{H v_j}{\\|H v_j\\|}, \\qquad \\lambda \\approx v_j^\\top H v_j

    It finds :math:`\\max_i |\\lambda_i|`, which is :math:`\\lambda_{\\max}` only when no negative
    eigenvalue is larger in magnitude (for a Hessian near a minimum; not at a saddle). Stops when
    the residual of the Rayleigh quotient is small,
    :math:`\\|Hv - \\lambda v\\| \\le` ``tol`` :math:`|\\lambda|`: then an eigenvalue lies within
    ``tol`` :math:`|\\lambda|` of :math:`\\lambda` (:math:`\\lambda` itself is typically far closer,
    the error being quadratic in the residual), and ``converged`` is True. The residual shrinks like
    :math:`|\\lambda_2/\\lambda_1|^j` and the Rayleigh quotient's error like
    :math:`|\\lambda_2/\\lambda_1|^{2j}`: slow when the top two are close in magnitude.

    If the two eigenvalues of largest magnitude are :math:`\\pm\\lambda` (a saddle with curvatures of
    equal size and opposite signs), the iterates alternate between two directions and the Rayleigh
    quotient settles at a value that is *not* an eigenvalue. A Rayleigh-Ritz step on the last two
    iterates (no extra product) detects this and returns both eigenvalues, largest magnitude first
    (:math:`+\\lambda` first on a tie). Without convergence the last Rayleigh quotient is returned
    with ``converged=False``.

    Examples
    --------
    >>> r = power_iteration(np.diag([1.0, 2.0, 5.0]), tol=1e-12)
    >>> round(float(r.eigenvalues[0]), 8), r.converged, r.n_matvec < 60
    (5.0, True, True)
    >>> r = power_iteration(np.diag([3.0, -3.0, 1.0]))   # the saddle: ±3
    >>> np.round(r.eigenvalues, 8).tolist(), r.converged
    ([3.0, -3.0], True)
    """
    A = _operator(op)
    max_iter = _validate.count(max_iter, "max_iter", low=1)
    tol = _validate.real(tol, "tolerance", low=0)
    v = _start_vector(A.dim, _check_seed(seed))
    lam, hist, n = math.nan, [], 0
    prev: tuple[np.ndarray, np.ndarray] | None = None
    for _ in range(max_iter):
        Hv = A.matvec(v)
        n += 1
        lam = float(v @ Hv)
        hist.append(lam)
        if float(np.linalg.norm(Hv - lam * v)) <= tol * abs(lam):  # H v = 0 included: λ = 0
            return EigResult(np.array([lam]), v[:, None], n, hist, True)
        if prev is not None:
            pair = _two_cycle(prev[0], prev[1], v, Hv, tol)
            if pair is not None:
                return EigResult(pair[0], pair[1], n, hist, True)
        prev = (v, Hv)
        v = Hv / np.linalg.norm(Hv)
    return EigResult(np.array([lam]), prev[0][:, None] if prev is not None else v[:, None], n, hist, False)


class _Krylov:
    """Lanczos with full reorthogonalization, one step at a time, in the orthogonal complement of
    the columns of ``locked`` (eigenvectors already found): the engine of :func:`lanczos` and
    :func:`lanczos_topk`."""

    def __init__(self, A: Any, q: np.ndarray, locked: np.ndarray, capacity: int) -> None:
        self.A, self.locked = A, locked
        self.Q = np.zeros((A.dim, min(capacity, 32)))  # grows by doubling
        self.capacity = capacity
        self.alpha: list[float] = []
        self.beta: list[float] = []
        self.q = q
        self.b = math.nan  # norm of the last residual vector
        self.scale = 0.0  # largest ||H q_j||: the operator's size as seen so far
        self.w = q

    @property
    def size(self) -> int:
        return len(self.alpha)

    def step(self) -> None:
        """Add q as the next basis vector and compute the next residual (one product)."""
        j = self.size
        if j == self.Q.shape[1]:
            self.Q = np.concatenate([self.Q, np.zeros((self.A.dim, min(j, self.capacity - j)))], axis=1)
        self.Q[:, j] = self.q
        w = self.A.matvec(self.q)
        self.scale = max(self.scale, float(np.linalg.norm(w)))
        self.alpha.append(float(self.q @ w))
        Qj = self.Q[:, : j + 1]
        for _ in range(2):  # full reorthogonalization, twice is enough
            if self.locked.shape[1]:
                w = w - self.locked @ (self.locked.T @ w)
            w = w - Qj @ (Qj.T @ w)
        self.w, self.b = w, float(np.linalg.norm(w))

    def invariant(self) -> bool:
        """The Krylov space is invariant (to working precision, relative to the operator's size)."""
        return self.b <= _EXACT * self.scale

    def advance(self) -> None:
        """Accept the last residual as the next direction."""
        self.beta.append(self.b)
        self.q = self.w / self.b

    def ritz(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Ritz values, their vectors in the small space, and the residual norms
        :math:`\\beta_j |s_{j,i}|` (exactly :math:`\\|H x_i - \\theta_i x_i\\|` for :math:`x_i = Q s_i`)."""
        theta, S = np.linalg.eigh(_tridiag(np.array(self.alpha), np.array(self.beta)))
        return theta, S, self.b * np.abs(S[-1])

    def vectors(self, S: np.ndarray) -> np.ndarray:
        return np.asarray(self.Q[:, : self.size] @ S)


def lanczos(op: Any, m: int, *, seed: int = 0, v0: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``m`` steps of Lanczos with full reorthogonalization: ``(alpha, beta, Q)``.

    Builds an orthonormal basis :math:`Q = [q_1, \\dots, q_m]` of the Krylov space
    :math:`\\{v, Hv, \\dots, H^{m-1}v\\}` in which :math:`Q^\\top H Q = T` is tridiagonal with
    diagonal ``alpha`` and off-diagonal ``beta`` (:cite:`lanczos1950`). Each new vector is
    orthogonalized against *all* previous ones (twice), which keeps :math:`Q` orthonormal in
    floating point and prevents the spurious copies ("ghosts") of converged eigenvalues that
    plain Lanczos produces. Stops early, with fewer columns, if the Krylov space is invariant:
    when the new residual is below :math:`10^{-12}` times the largest :math:`\\|Hq_j\\|` (a rule
    relative to the size of :math:`H`, so the same for :math:`H` and :math:`10^{-13} H`).

    Examples
    --------
    >>> a, b, Q = lanczos(np.diag([1.0, 2.0, 3.0]), 3)
    >>> T = np.diag(a) + np.diag(b, 1) + np.diag(b, -1)
    >>> np.round(np.linalg.eigvalsh(T), 8).tolist()
    [1.0, 2.0, 3.0]
    """
    A = _operator(op)
    m = _validate.count(m, "number of Lanczos steps", low=1, high=A.dim)
    if v0 is None:
        q = _start_vector(A.dim, _check_seed(seed))
    else:
        va = _validate.vector(v0, "v0", size=A.dim)
        if not np.any(va):
            raise ValueError("Invalid v0: it is the zero vector")
        q = va / np.linalg.norm(va)
    K = _Krylov(A, q, np.zeros((A.dim, 0)), m)
    for j in range(m):
        K.step()
        if j == m - 1 or K.invariant():
            break
        K.advance()
    return np.array(K.alpha), np.array(K.beta), K.Q[:, : K.size].copy()


def _tridiag(alpha: np.ndarray, beta: np.ndarray) -> np.ndarray:
    return np.diag(alpha) + np.diag(beta, 1) + np.diag(beta, -1)


def _end_settled(top: float, r_top: float, bottom: float, r_bottom: float, ok_top: bool, kth: float, tol: float,
                 steps: int, dim: int) -> bool:
    r"""Whether the upper end of a restart's spectrum is known to lie below ``kth``.

    Either its largest Ritz value has converged (residual test) at or below ``kth``, or an
    eigenvalue :math:`\lambda \ge` ``kth`` would already have pulled it up: by the
    Kaniel-Paige-Saad bound, after :math:`m` steps the largest Ritz value is within
    :math:`(\lambda - \lambda_{\min}) (\tan\phi / T_{m-1}(1 + 2\gamma))^2` of :math:`\lambda`,
    :math:`\gamma = (\lambda - \lambda_2)/(\lambda_2 - \lambda_{\min})`, with :math:`T` a Chebyshev
    polynomial and :math:`\phi` the angle between the start vector and the eigenvector. For a random
    start, :math:`\tan\phi \le \sqrt{d}/\text{tol}` except with probability about ``tol``;
    :math:`\lambda_2` and :math:`\lambda_{\min}` are estimated by the extreme Ritz values widened by
    their residuals. After one step nothing is known (:math:`T_0 = 1`).
    """
    if ok_top and top <= kth + tol * abs(kth):
        return True
    hi, lo = top + r_top, bottom - r_bottom
    if steps < 2 or not hi < kth or not hi > lo:
        return False
    x = (steps - 1) * math.acosh(1.0 + 2.0 * (kth - hi) / (hi - lo))
    log_T = x + math.log1p(math.exp(-2.0 * x)) - math.log(2.0)  # log cosh x, without overflow
    log_slack = math.log(kth - lo) + math.log(dim) - 2.0 * math.log(tol) - 2.0 * log_T
    return log_slack < math.log(kth - top)


def _below(theta: np.ndarray, resid: np.ndarray, ok: np.ndarray, kth: float, tol: float, which: str, steps: int, dim: int) -> bool:
    """Whether a restart can bring nothing above the ``k``-th value found: its upper end (for
    ``'LM'`` both ends, the lower one mirrored) is settled below it (see :func:`_end_settled`)."""
    i, j = int(np.argmax(theta)), int(np.argmin(theta))
    if not _end_settled(theta[i], resid[i], theta[j], resid[j], bool(ok[i]), kth, tol, steps, dim):
        return False
    return which == "LA" or _end_settled(-theta[j], resid[j], -theta[i], resid[i], bool(ok[j]), kth, tol, steps, dim)


def lanczos_topk(
    op: Any, k: int = 1, *, tol: float = 1e-6, max_iter: int | None = None, seed: int = 0, which: str = "LA",
    v0: Any = None,
) -> EigResult:
    """The ``k`` largest (``which='LA'``) or largest-magnitude (``'LM'``) eigenvalues by Lanczos,
    multiplicities included.

    Adds one Krylov vector at a time (one Hessian-vector product) until each of the top-``k``
    Ritz pairs :math:`(\\theta_i, x_i = Q s_i)` has a small residual,
    :math:`\\|Hx_i - \\theta_i x_i\\| = \\beta_j |s_{j,i}| \\le` ``tol`` :math:`|\\theta_i|` (or below
    :math:`10^{-12}` of the operator's size: exact to working precision); for a symmetric matrix an
    eigenvalue lies within that distance of :math:`\\theta_i`. Every rule is relative, so the
    result scales with :math:`H`.

    A Krylov space :math:`\\{v, Hv, H^2v, \\dots\\}` holds only one direction of each eigenspace,
    so one run sees a repeated eigenvalue once. The converged pairs are therefore *locked* and
    Lanczos is restarted from a new random vector in their orthogonal complement (explicit
    deflation): each restart finds the largest eigenvalue left, so the other copies of a repeated
    one, one per restart. Restarts continue
    until one brings nothing above the current ``k``-th value: its largest Ritz value has converged
    (same test) at or below it, or has stayed far enough below it for long enough that a larger
    eigenvalue would have shown (a Chebyshev bound, wrong with probability about ``tol``). For
    ``k = 1`` none is needed: a multiplicity does not change the top value. ``max_iter`` bounds the total number of products over all runs
    (default :math:`(k + 1) \\min(300, d)`); ``converged`` is False if it ran out first.

    ``v0`` starts the first run from a given vector instead of a random one (the restarts stay
    random). A start close to the top eigenvector converges in a few products: to follow
    :math:`\\lambda_{\\max}` along a training run, start each estimate from the previous
    eigenvector (as :func:`nbcode.experiments.convergence.full_batch_run` does). A start orthogonal to the
    top eigenvector cannot see it in exact arithmetic; a random start sees every eigenvector.

    Examples
    --------
    >>> r = lanczos_topk(np.diag(np.arange(1.0, 51.0)), k=3, tol=1e-10)
    >>> np.round(r.eigenvalues, 6).tolist()
    [50.0, 49.0, 48.0]
    >>> np.round(lanczos_topk(np.diag([5.0, 5.0, 1.0, 0.5]), k=2).eigenvalues, 6).tolist()
    [5.0, 5.0]
    """
    A = _operator(op)
    k = _validate.count(k, "k", low=1, high=A.dim)
    which = _validate.choice(which, "which", ["LA", "LM"])
    tol = _validate.real(tol, "tolerance", low=0, low_open=True)
    budget = (k + 1) * min(300, A.dim) if max_iter is None else _validate.count(max_iter, "max_iter", low=1)
    seed = _check_seed(seed)
    start = None
    if v0 is not None:
        start = _validate.vector(v0, "v0", size=A.dim)
        if not np.any(start):
            raise ValueError("Invalid v0: it is the zero vector")

    def key(values: np.ndarray) -> np.ndarray:
        return np.asarray(values if which == "LA" else np.abs(values))

    vals, vecs = np.zeros(0), np.zeros((A.dim, 0))  # locked pairs, over all runs
    rest_vals, rest_vecs = np.zeros(0), np.zeros((A.dim, 0))  # unconverged pairs if the budget runs out
    hist: list[float] = []
    n, run, finished = 0, 0, False
    while n < budget and vecs.shape[1] < A.dim and not finished:
        # the k-th value found so far: a restart must beat it to change the answer
        kth = np.sort(key(vals))[::-1][k - 1] if vals.size >= k else -math.inf
        q = start / np.linalg.norm(start) if run == 0 and start is not None else _start_vector(A.dim, seed if run == 0 else [seed, run])
        for _ in range(2):
            q = q - vecs @ (vecs.T @ q)
        K = _Krylov(A, q / np.linalg.norm(q), vecs, min(budget - n, A.dim - vecs.shape[1]))
        # the first run looks for the top k; a restart for the top of what is left, one at a time
        want = k if run == 0 else max(1, k - vals.size)
        while True:
            K.step()
            n += 1
            theta, S, resid = K.ritz()
            ok = (resid <= np.maximum(tol * np.abs(theta), _EXACT * K.scale)) | K.invariant()
            order = np.argsort(-key(theta), kind="stable")
            best = int(order[0])
            if vals.size and key(vals).max() >= key(theta[best : best + 1])[0]:
                hist.append(float(vals[np.argmax(key(vals))]))
            else:
                hist.append(float(theta[best]))
            if run > 0 and kth > -math.inf and _below(theta, resid, ok, kth, tol, which, K.size, A.dim - vecs.shape[1]):
                finished = True  # the rest of the spectrum has nothing above the k-th value found
                break
            top = order[:want]
            exhausted = K.invariant() or K.size == A.dim - vecs.shape[1]
            found = top.size == want and bool(np.all(ok[top]))
            if run > 0 and found and kth > -math.inf:
                found = bool(np.all(key(theta[top]) > kth + tol * abs(kth)))  # a tie changes nothing: go on
            if exhausted or found:
                vals = np.concatenate([vals, theta[ok]])
                vecs = np.concatenate([vecs, K.vectors(S[:, ok])], axis=1)
                finished = k == 1  # one run finds the top value, repeated or not
                break
            if n >= budget:
                vals = np.concatenate([vals, theta[ok]])
                vecs = np.concatenate([vecs, K.vectors(S[:, ok])], axis=1)
                rest_vals, rest_vecs = theta[~ok], K.vectors(S[:, ~ok])
                break
            K.advance()
        run += 1
    cand_vals = np.concatenate([vals, rest_vals])
    cand_vecs = np.concatenate([vecs, rest_vecs], axis=1)
    order = np.argsort(-key(cand_vals), kind="stable")[:k]
    converged = (finished or vecs.shape[1] == A.dim) and order.size == k and bool(np.all(order < vals.size))
    return EigResult(cand_vals[order], cand_vecs[:, order], n, hist, converged)


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
    A = _operator(op)
    n = _validate.count(n_samples, "number of samples", low=2)
    rng = np.random.default_rng(_check_seed(seed))
    vals = np.empty(n)
    for i in range(n):
        z = rng.choice([-1.0, 1.0], size=A.dim)
        vals[i] = z @ A.matvec(z)
    return float(vals.mean()), float(vals.std(ddof=1) / math.sqrt(n))


def hutchinson_variance(H: Any) -> float:
    """The variance of one Rademacher probe :math:`z^\\top H z`: :math:`2 \\sum_{i \\ne j} H_{ij}^2`,
    for a symmetric ``H`` (refused otherwise, as by :class:`~nbcode.hessian.MatrixOperator`: for a
    non-symmetric matrix :math:`z^\\top H z = z^\\top S z` with :math:`S = (H + H^\\top)/2`, so pass
    :math:`S`).

    Examples
    --------
    >>> hutchinson_variance([[1.0, 2.0], [2.0, 3.0]])
    16.0
    """
    M = _validate.square_matrix(H, "H", symmetric=True)
    return float(2.0 * (np.sum(M * M) - np.sum(np.diag(M) ** 2)))


def slq(op: Any, m: int | None = None, n_probes: int = 4, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Stochastic Lanczos quadrature: nodes and weights of the spectral density.

    For each Rademacher probe :math:`v` (normalized), ``m`` Lanczos steps (default
    :math:`\\min(30, d)`; an explicit ``m`` must not exceed :math:`d`) give the tridiagonal
    :math:`T = S \\Theta S^\\top`; the nodes are the Ritz values :math:`\\theta_j` and the
    weights :math:`\\tau_j = S_{1j}^2 / n_{\\text{probes}}`, so that for any smooth :math:`f`

    .. math:: \\frac1d \\operatorname{tr} f(H) \\approx \\sum_j \\tau_j f(\\theta_j)

    (Gauss quadrature of the probe's spectral measure, :cite:`ghorbani2019`). Returns
    ``(nodes, weights)`` of length ``n_probes * m`` (less if a probe's Krylov space is invariant
    before ``m`` steps: its quadrature is then exact); the weights sum to 1.

    Examples
    --------
    >>> nodes, w = slq(np.diag([1.0, 2.0, 3.0, 4.0]), m=4, n_probes=2)
    >>> round(float(w.sum()), 12), round(float(w @ nodes), 12)  # mean eigenvalue: tr/d = 2.5
    (1.0, 2.5)
    """
    A = _operator(op)
    m = min(30, A.dim) if m is None else _validate.count(m, "number of Lanczos steps", low=1, high=A.dim)
    n_probes = _validate.count(n_probes, "number of probes", low=1)
    rng = np.random.default_rng(_check_seed(seed))
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
    sigma = _validate.real(sigma, "smoothing width sigma", low=0, low_open=True, symbol="sigma")
    t = _validate.vector(grid, "grid")[:, None]
    th = _validate.vector(nodes, "nodes")[None, :]
    w = _validate.vector(weights, "weights", size=th.shape[1])
    g = np.exp(-0.5 * ((t - th) / sigma) ** 2) / (sigma * math.sqrt(2.0 * math.pi))
    return np.asarray(g @ w)


def slq_density(op: Any, grid: Any, *, m: int | None = None, n_probes: int = 4, sigma: float = 0.1, seed: int = 0) -> np.ndarray:
    """The spectral density of ``op`` on ``grid``, smoothed with a Gaussian of width ``sigma``, by SLQ
    (:func:`slq`, ``m`` Lanczos steps a probe: default :math:`\\min(30, d)`).

    Examples
    --------
    >>> t = np.linspace(0.0, 5.0, 6)
    >>> exact = gaussian_density(t, [1.0, 2.0, 3.0, 4.0], np.full(4, 0.25), 0.5)
    >>> bool(np.allclose(slq_density(np.diag([1.0, 2.0, 3.0, 4.0]), t, m=4, sigma=0.5), exact))
    True
    """
    nodes, weights = slq(op, m, n_probes, seed=seed)
    return gaussian_density(grid, nodes, weights, sigma)
