"""Critical points of tiny networks, found by driving the gradient to zero, and their index."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch
from nbcode import _validate

__all__ = ["tiny_mlp_loss", "CriticalPoint", "find_critical_points"]


def tiny_mlp_loss(X: Any, y: Any, hidden: int) -> tuple[Callable[[torch.Tensor], torch.Tensor], int]:
    """``(f, d)``: the mean squared error of a one-hidden-layer tanh network as a function of flat vectors.

    .. math:: f(w) = \\frac1n \\sum_i \\big(v^\\top \\tanh(W x_i + b) + c - y_i\\big)^2

    with :math:`w = (W, b, v, c)` flattened, ``d`` entries. ``f`` also takes a batch ``(R, d)``
    of parameter vectors and returns the ``R`` losses (independent networks, one pass).

    Examples
    --------
    >>> f, d = tiny_mlp_loss(np.zeros((3, 2)), np.ones(3), hidden=4)
    >>> d, float(f(torch.zeros(d, dtype=torch.float64))), tuple(f(torch.zeros(5, d, dtype=torch.float64)).shape)
    (17, 1.0, (5,))
    """
    Xa, ya = _check_data(X, y)
    Xt, yt = torch.as_tensor(Xa), torch.as_tensor(ya)
    hidden = _validate.count(hidden, "number of hidden units", low=1)
    n_in = Xt.shape[1]
    sizes = [hidden * n_in, hidden, hidden, 1]
    d = sum(sizes)

    def f(w: torch.Tensor) -> torch.Tensor:
        Wb = w.reshape(-1, d)
        A, b, v, c = torch.split(Wb, sizes, dim=1)
        h = torch.tanh(torch.einsum("ni,rhi->rnh", Xt, A.reshape(-1, hidden, n_in)) + b[:, None, :])
        loss = ((torch.einsum("rnh,rh->rn", h, v) + c - yt) ** 2).mean(1)
        return loss[0] if w.ndim == 1 else loss

    return f, d


def _check_data(X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """``X`` as an ``(n, p)`` float64 array and ``y`` as a vector of ``n`` targets, both finite."""
    Xa = _validate.array(X, "X", ndim=2)
    return Xa, _validate.vector(y, "y", size=Xa.shape[0])


def tiny_mlp_derivatives(
    X: Any, y: Any, hidden: int, W: Any, *, with_hessian: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Losses, gradients and Hessians of :func:`tiny_mlp_loss` at a batch ``W`` of shape ``(R, d)``, in closed form.

    With :math:`o_i = v^\\top a_i + c`, :math:`a_i = \\tanh(z_i)`, :math:`z_i = W u_i` (where
    :math:`u_i = (x_i, 1)` carries the bias), residuals :math:`r_i = o_i - y_i` and the Jacobian
    :math:`J_{i\\cdot} = \\partial o_i / \\partial w`:

    .. math:: g = \\tfrac2n J^\\top r, \\qquad
              H = \\tfrac2n \\Big(J^\\top J + \\sum_i r_i \\nabla^2 o_i\\Big)

    where, per hidden unit :math:`j` (with :math:`s = 1 - a^2`, :math:`s' = -2 a s`), the only
    non-zero second derivatives are :math:`\\partial^2 o / \\partial W_j \\partial W_j^\\top
    = v_j s'_j u u^\\top` and :math:`\\partial^2 o / \\partial W_j \\partial v_j = s_j u`.
    Checked against ``torch.func.hessian`` in the tests. Returns ``(L, g, H)`` of shapes
    ``(R,)``, ``(R, d)``, ``(R, d, d)`` (``H`` is None when ``with_hessian`` is False).
    """
    Xa = np.asarray(X, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64).reshape(-1)
    n, p = Xa.shape
    h = hidden
    Wa = np.atleast_2d(np.asarray(W, dtype=np.float64))
    d = h * p + 2 * h + 1
    if Wa.shape[1] != d:
        raise ValueError(f"Invalid parameter vectors: expected {d} columns, got shape {Wa.shape}")
    R = Wa.shape[0]
    A = Wa[:, : h * p].reshape(R, h, p)
    bias = Wa[:, h * p : h * p + h]
    v = Wa[:, h * p + h : h * p + 2 * h]
    c = Wa[:, -1]
    a = np.tanh(np.einsum("np,rhp->rnh", Xa, A) + bias[:, None, :])
    s = 1.0 - a * a
    r = np.einsum("rnh,rh->rn", a, v) + c[:, None] - ya
    L = np.mean(r * r, axis=1)
    vs = v[:, None, :] * s  # d o / d z, (R, n, h)
    J = np.concatenate(
        [np.einsum("rnh,np->rnhp", vs, Xa).reshape(R, n, h * p), vs, a, np.ones((R, n, 1))], axis=2
    )
    g = 2.0 / n * np.einsum("rnd,rn->rd", J, r)
    if not with_hessian:
        return L, g, None
    H = np.einsum("rni,rnj->rij", J, J)
    # second-derivative terms, unit by unit; u = (x, 1) indexes (A_j, b_j)
    U = np.concatenate([Xa, np.ones((n, 1))], axis=1)
    c2 = r[:, :, None] * v[:, None, :] * (-2.0 * a * s)  # r_i v_j s'_ij, (R, n, h)
    c1 = r[:, :, None] * s  # r_i s_ij
    blk = np.einsum("rnh,np,nq->rhpq", c2, U, U)  # (R, h, p+1, p+1)
    col = np.einsum("rnh,np->rhp", c1, U)  # (R, h, p+1)
    for j in range(h):
        idx = np.r_[j * p : (j + 1) * p, h * p + j]
        H[:, idx[:, None], idx[None, :]] += blk[:, j]
        vj = h * p + h + j
        H[:, idx, vj] += col[:, j]
        H[:, vj, idx] += col[:, j]
    H *= 2.0 / n
    return L, g, H


@dataclass
class CriticalPoint:
    """A point where the gradient (nearly) vanishes: its loss, gradient norm and Hessian spectrum,
    and (when known) the point the search for it started from."""

    w: np.ndarray
    loss: float
    grad_norm: float
    eigenvalues: np.ndarray
    start: np.ndarray | None = None

    @property
    def index(self) -> float:
        """Fraction of negative eigenvalues (below ``-1e-6`` times the largest magnitude)."""
        t = 1e-6 * float(np.abs(self.eigenvalues).max())
        return float(np.mean(self.eigenvalues < -t))

    @property
    def minimum_ratio(self) -> float:
        """Fraction of positive eigenvalues (the seeds' "minimum ratio")."""
        t = 1e-6 * float(np.abs(self.eigenvalues).max())
        return float(np.mean(self.eigenvalues > t))


def find_critical_points(
    X: Any,
    y: Any,
    hidden: int,
    *,
    gd_steps: Sequence[int] = (0, 30, 100, 300, 1000),
    n_inits: int = 8,
    lr: float = 0.1,
    init_scale: float = 1.0,
    iters: int = 150,
    damping: float = 1e-3,
    seed: int = 0,
    grad_tol: float = 1e-7,
) -> list[CriticalPoint]:
    """Critical points of the tiny network :func:`tiny_mlp_loss` near points of gradient-descent runs.

    All runs are batched, with the closed-form derivatives of :func:`tiny_mlp_derivatives`.

    From each of ``n_inits`` random initializations (:math:`N(0, \\text{init\\_scale}^2)`),
    gradient descent with step ``lr`` is stopped after each of ``gd_steps`` steps; from each of
    these starts, ``iters`` Levenberg–Marquardt steps minimize :math:`\\|g(w)\\|^2`:

    .. math:: w \\leftarrow w - (H^2 + \\mu I)^{-1} H g

    (see :func:`nbcode.surfaces.newton_critical_point`), which converges to critical points of
    any index. Returns the points whose :math:`\\|g\\| \\le` ``grad_tol``, with the exact Hessian
    spectrum of each (:cite:`dauphin2014`'s index-versus-loss study in miniature).
    """
    X, y = _check_data(X, y)
    hidden = _validate.count(hidden, "number of hidden units", low=1)
    n_inits = _validate.count(n_inits, "number of initializations", low=1)
    seed = _validate.count(seed, "seed")
    gd_steps = _validate.sizes(gd_steps, "gd_steps", low=0)
    lr = _validate.real(lr, "learning rate", low=0, low_open=True)
    init_scale = _validate.real(init_scale, "init_scale", low=0, low_open=True)
    iters = _validate.count(iters, "iters")
    damping = _validate.real(damping, "damping", low=0, low_open=True)
    grad_tol = _validate.real(grad_tol, "grad_tol", low=0, finite=False)  # inf: every end point
    d = hidden * X.shape[1] + 2 * hidden + 1

    def derivatives(W: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        L, g, H = tiny_mlp_derivatives(X, y, hidden, W)
        assert H is not None
        return L, g, H

    def gradient(W: np.ndarray) -> np.ndarray:
        return tiny_mlp_derivatives(X, y, hidden, W, with_hessian=False)[1]

    gen = torch.Generator().manual_seed(seed)
    w = init_scale * torch.randn(n_inits, d, generator=gen, dtype=torch.float64).numpy()
    starts, done = [], 0
    for s in sorted(int(s) for s in gd_steps):
        for _ in range(s - done):
            w = w - lr * gradient(w)
        done = s
        starts.append(w.copy())
    W = np.concatenate(starts)
    W0 = W.copy()
    R = W.shape[0]
    eye = np.eye(d)
    mu = np.full(R, damping)
    loss, g, H = derivatives(W)
    gn = np.sum(g * g, axis=1)
    for _ in range(iters):
        rhs = np.einsum("rij,rj->ri", H, g)
        step = np.linalg.solve(H @ H + mu[:, None, None] * eye, rhs[:, :, None])[:, :, 0]
        W_new = W - step
        loss_new, g_new, H_new = derivatives(W_new)
        gn_new = np.sum(g_new * g_new, axis=1)
        ok = np.isfinite(gn_new) & (gn_new < gn)
        W = np.where(ok[:, None], W_new, W)
        g = np.where(ok[:, None], g_new, g)
        H = np.where(ok[:, None, None], H_new, H)
        loss = np.where(ok, loss_new, loss)
        gn = np.where(ok, gn_new, gn)
        mu = np.where(ok, np.maximum(mu / 3.0, 1e-10), mu * 4.0)
    lam = np.linalg.eigvalsh(H)
    out = []
    for r in range(R):
        if float(np.sqrt(gn[r])) <= grad_tol:
            out.append(CriticalPoint(W[r].copy(), float(loss[r]), float(np.sqrt(gn[r])), lam[r].copy(), W0[r].copy()))
    return out
