r"""The heavy ball on a quadratic: its 2×2 iteration matrix, its rate, and the best :math:`(\eta, \beta)`.

Along an eigenvector of :math:`H` with eigenvalue :math:`\lambda`, momentum in PyTorch's
convention (:math:`v \leftarrow \beta v + g,\ w \leftarrow w - \eta v`) is the two-term recursion

.. math::

    w_{k+1} = w_k - \eta\lambda w_k + \beta (w_k - w_{k-1}),\qquad
    \begin{pmatrix} w_{k+1} \\ w_k \end{pmatrix} =
    \underbrace{\begin{pmatrix} 1 + \beta - \eta\lambda & -\beta \\ 1 & 0 \end{pmatrix}}_{T(\lambda)}
    \begin{pmatrix} w_k \\ w_{k-1} \end{pmatrix}

(measured from :math:`w^*`). The rate is the largest spectral radius of :math:`T(\lambda)` over
the eigenvalues. Polyak's choice :math:`\eta = 4/(\sqrt{\lambda_{\max}} + \sqrt{\lambda_{\min}})^2`,
:math:`\beta = \big((\sqrt\kappa - 1)/(\sqrt\kappa + 1)\big)^2` gives complex eigenvalues of modulus
:math:`\sqrt\beta` for every :math:`\lambda` in :math:`[\lambda_{\min}, \lambda_{\max}]`, so the rate is
:math:`(\sqrt\kappa - 1)/(\sqrt\kappa + 1)`, against :math:`(\kappa - 1)/(\kappa + 1)` for the best
plain gradient descent (:func:`nbcode.quadratic.optimal_rate`).

The runs use the optimizer itself: :func:`heavy_ball_path` and :func:`measured_rate` are
:func:`~nbcode.optim.sgd` with momentum on the diagonal quadratic.
"""

from __future__ import annotations

import cmath
import math
from typing import Any

import numpy as np

from nbcode import _validate as v
from nbcode.optim.paths import run
from nbcode.optim.sgd import sgd

__all__ = [
    "iteration_matrix",
    "heavy_ball_rate",
    "nesterov_rate",
    "optimal_heavy_ball",
    "optimal_nesterov",
    "heavy_ball_path",
    "measured_rate",
    "converges",
    "rate_grid",
]


def _eigenvalues(lams: Any) -> np.ndarray:
    """The eigenvalues of a diagonal quadratic: a non-empty 1-D float64 array (a number is one)."""
    lam = v.array(lams, "lams")
    if lam.ndim > 1:
        raise ValueError(f"Invalid shape of lams: {lam.shape} (need a vector of eigenvalues)")
    return lam.reshape(-1)


def iteration_matrix(lr: float, momentum: float, lam: float) -> np.ndarray:
    """:math:`T(\\lambda)` of the heavy ball (PyTorch convention) for one eigenvalue.

    Examples
    --------
    >>> iteration_matrix(0.1, 0.5, 2.0).tolist()
    [[1.3, -0.5], [1.0, 0.0]]
    """
    lr, momentum, lam = v.real(lr, "learning rate", symbol="lr"), v.real(momentum, "momentum"), v.real(lam, "lam")
    return np.array([[1.0 + momentum - lr * lam, -momentum], [1.0, 0.0]])


def heavy_ball_rate(lr: float, momentum: float, lams: Any) -> float:
    """The largest spectral radius of :math:`T(\\lambda)` over the eigenvalues ``lams``.

    Examples
    --------
    >>> round(heavy_ball_rate(0.5, 0.0, [1.0]), 6)          # plain GD: |1 - lr * lam|
    0.5
    """
    lr, momentum = v.real(lr, "learning rate", symbol="lr"), v.real(momentum, "momentum")
    lams = _eigenvalues(lams)
    return max(float(np.max(np.abs(np.linalg.eigvals(iteration_matrix(lr, momentum, float(lam)))))) for lam in np.ravel(lams))


def nesterov_rate(lr: float, momentum: float, lams: Any) -> float:
    """The rate of Nesterov's method with constant :math:`(\\eta, \\beta)` on a quadratic with
    eigenvalues ``lams``: along :math:`\\lambda` the look-ahead form is the recursion
    :math:`w_{k+1} = (1+\\beta)(1-\\eta\\lambda)\\,w_k - \\beta(1-\\eta\\lambda)\\,w_{k-1}`, and the rate
    is the largest modulus of the roots of :math:`z^2 - (1+\\beta)(1-\\eta\\lambda)z + \\beta(1-\\eta\\lambda)`
    over the eigenvalues (computed by the quadratic formula, in plain arithmetic).

    With :math:`\\eta = 1/\\lambda_{\\max}` and :math:`\\beta = (\\sqrt\\kappa-1)/(\\sqrt\\kappa+1)` the rate is
    :math:`1 - 1/\\sqrt\\kappa`, reached at :math:`\\lambda_{\\min}`.

    Examples
    --------
    >>> round(nesterov_rate(0.5, 0.0, [1.0]), 6)            # plain GD: |1 - lr * lam|
    0.5
    >>> round(nesterov_rate(1.0, 9 / 11, [0.01, 1.0]), 6)   # kappa = 100: 1 - 1/10
    0.9
    """
    lr = v.real(lr, "learning rate", low=0, low_open=True, symbol="lr")
    beta = v.real(momentum, "momentum", low=0, high=1, high_open=True)
    rates = []
    for lam in _eigenvalues(lams):
        c = 1.0 - lr * float(lam)
        a, b = (1.0 + beta) * c, beta * c
        root = cmath.sqrt(complex(a * a - 4.0 * b))
        rates.append(max(abs((a + root) / 2.0), abs((a - root) / 2.0)))
    return float(max(rates))


def rate_grid(lrs: Any, betas: Any, lams: Any) -> np.ndarray:
    """``R[i, j]`` = :func:`heavy_ball_rate` ``(lrs[j], betas[i], lams)``, vectorized (for phase diagrams).

    The eigenvalues of :math:`T(\\lambda)` are the roots of :math:`z^2 - (1+\\beta-\\eta\\lambda) z + \\beta`.

    Examples
    --------
    >>> R = rate_grid([0.5, 1.0], [0.0, 0.5], [1.0, 2.0])
    >>> bool(np.isclose(R[1, 0], heavy_ball_rate(0.5, 0.5, [1.0, 2.0])))
    True
    """
    lrs, betas, lams = v.vector(lrs, "lrs"), v.vector(betas, "betas"), _eigenvalues(lams)
    E, B = np.meshgrid(lrs, betas)
    R = np.zeros_like(E)
    for lam in np.ravel(lams):
        t = (1.0 + B - E * lam).astype(complex)
        disc = np.sqrt(t * t - 4.0 * B)
        R = np.maximum(R, np.maximum(np.abs((t + disc) / 2), np.abs((t - disc) / 2)))
    return R


def converges(lr: float, momentum: float, lam: float) -> bool:
    """True iff the heavy ball converges along ``lam``: :math:`0 \\le \\beta < 1` and :math:`0 < \\eta\\lambda < 2(1+\\beta)`.

    Examples
    --------
    >>> converges(3.5, 0.9, 1.0), converges(3.9, 0.9, 1.0)
    (True, False)
    """
    lr, momentum, lam = v.real(lr, "learning rate", symbol="lr"), v.real(momentum, "momentum"), v.real(lam, "lam")
    return 0.0 <= momentum < 1.0 and 0.0 < lr * lam < 2.0 * (1.0 + momentum)


def optimal_heavy_ball(lam_min: float, lam_max: float) -> tuple[float, float, float]:
    """Polyak's best ``(lr, momentum, rate)`` for eigenvalues in ``[lam_min, lam_max]``.

    Examples
    --------
    >>> lr, beta, r = optimal_heavy_ball(1.0, 100.0)
    >>> round(lr, 6), round(beta, 6), round(r, 6)      # r = (10 - 1) / (10 + 1)
    (0.033058, 0.669421, 0.818182)
    """
    lam_min, lam_max = v.real(lam_min, "lam_min"), v.real(lam_max, "lam_max")
    if not 0 < lam_min <= lam_max:
        raise ValueError(f"Invalid eigenvalues: lam_min={lam_min}, lam_max={lam_max} (need 0 < lam_min <= lam_max)")
    sq = math.sqrt(lam_max / lam_min)
    r = (sq - 1) / (sq + 1)
    lr = 4.0 / (math.sqrt(lam_max) + math.sqrt(lam_min)) ** 2
    return lr, r * r, r


def optimal_nesterov(lam_min: float, lam_max: float) -> tuple[float, float, float]:
    r"""The best constant ``(lr, momentum, rate)`` of Nesterov's method on a quadratic with
    eigenvalues in ``[lam_min, lam_max]`` (Lessard et al., 2016):

    .. math::

        \eta = \frac{4}{3\lambda_{\max} + \lambda_{\min}},\qquad
        \beta = \frac{\sqrt{3\kappa+1} - 2}{\sqrt{3\kappa+1} + 2},\qquad
        r = 1 - \frac{2}{\sqrt{3\kappa+1}}.

    Its rate lies between the heavy ball's best, :math:`(\sqrt\kappa-1)/(\sqrt\kappa+1)`
    (:func:`optimal_heavy_ball`), and the rate :math:`1 - 1/\sqrt\kappa` of the usual parameters
    :math:`\eta = 1/\lambda_{\max}`, :math:`\beta = (\sqrt\kappa-1)/(\sqrt\kappa+1)`; see
    :func:`nesterov_rate`.

    Examples
    --------
    >>> lr, beta, r = optimal_nesterov(0.01, 1.0)                 # kappa = 100
    >>> round(lr, 4), round(beta, 4), round(r, 4), round(nesterov_rate(lr, beta, [0.01, 1.0]), 4)
    (1.3289, 0.7933, 0.8847, 0.8847)
    """
    lam_min, lam_max = v.real(lam_min, "lam_min"), v.real(lam_max, "lam_max")
    if not 0 < lam_min <= lam_max:
        raise ValueError(f"Invalid eigenvalues: lam_min={lam_min}, lam_max={lam_max} (need 0 < lam_min <= lam_max)")
    q = math.sqrt(3.0 * lam_max / lam_min + 1.0)
    return 4.0 / (3.0 * lam_max + lam_min), (q - 2.0) / (q + 2.0), 1.0 - 2.0 / q


def heavy_ball_path(lr: float, momentum: float, lams: Any, w0: Any, steps: int) -> np.ndarray:
    """Iterates of the heavy ball on :math:`L(w) = \\tfrac12 \\sum_i \\lambda_i w_i^2` (diagonal :math:`H`), shape ``(steps + 1, d)``.

    :func:`~nbcode.optim.run` of :func:`~nbcode.optim.sgd` with momentum, without a bound on
    :math:`\\|w\\|` (a diverging run grows until it overflows; then NaN).

    Examples
    --------
    >>> heavy_ball_path(0.5, 0.0, [1.0], [1.0], 3)[:, 0].tolist()
    [1.0, 0.5, 0.25, 0.125]
    """
    lam = v.vector(lams, "lams")
    w = v.array(w0, "w0")
    if w.ndim != 0 and w.shape != lam.shape:
        raise ValueError(f"Invalid shape of w0: {w.shape} (need a number, or one entry per eigenvalue: {lam.shape})")
    w = w * np.ones_like(lam)
    return run(sgd(lr=lr, momentum=momentum), lambda x: lam * x, w, steps, max_norm=math.inf)


def measured_rate(lr: float, momentum: float, lams: Any, *, steps: int | None = None) -> float:
    """The rate read off a run: :math:`(\\|w_K\\| / \\|w_{K/2}\\|)^{2/K}` from :math:`w_0 = (1, \\dots, 1)`.

    The iterates (and the momentum buffer) are rescaled as they go (the recursion is linear),
    so long runs neither underflow nor overflow; :math:`K` = ``steps`` (default: at least 3000
    and :math:`10/(1-r)`) is long because at Polyak's parameters the
    extreme eigenvalues give a Jordan block, whose error decays like :math:`k\\,r^k`: the
    measured rate exceeds :math:`r` by a factor :math:`2^{2/K}`.

    Examples
    --------
    >>> lr, beta, r = optimal_heavy_ball(1.0, 100.0)
    >>> abs(measured_rate(lr, beta, [1.0, 10.0, 100.0]) - r) < 0.001 * r
    True
    """
    lam = v.vector(lams, "lams")
    opt = sgd(lr=lr, momentum=momentum)
    if steps is None:  # long enough for the transients of the other eigenvalues to die out
        r = heavy_ball_rate(lr, momentum, lam)
        steps = 3000 if not 0 < r < 1 else int(min(100_000, max(3000, 10.0 / (1.0 - r))))
    steps = v.count(steps, "steps", low=2)
    w = np.ones_like(lam)
    state = opt.init(w)
    log_scale, half = 0.0, steps // 2
    log_half = 0.0
    for k in range(1, steps + 1):
        u, state = opt.update(lam * w, state, w)
        w = w + u
        n = float(np.linalg.norm(w))
        if not np.isfinite(n) or n == 0.0:
            return math.inf if not np.isfinite(n) else 0.0
        if n > 1e100 or n < 1e-100:
            buf = state.momentum_buffer
            w, log_scale = w / n, log_scale + math.log(n)
            state = state._replace(momentum_buffer=None if buf is None else buf / n)
        if k == half:
            log_half = log_scale + math.log(float(np.linalg.norm(w)))
    log_end = log_scale + math.log(float(np.linalg.norm(w)))
    return math.exp((log_end - log_half) / (steps - half))
