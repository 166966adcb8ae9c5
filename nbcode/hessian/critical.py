"""Critical points of tiny networks, found by driving the gradient to zero, and their index."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch

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
    Xt = torch.as_tensor(np.asarray(X, dtype=np.float64))
    yt = torch.as_tensor(np.asarray(y, dtype=np.float64)).reshape(-1)
    if Xt.ndim != 2 or yt.shape[0] != Xt.shape[0]:
        raise ValueError(f"Invalid data: X of shape {tuple(Xt.shape)} and y of length {yt.shape[0]}")
    if not isinstance(hidden, int) or hidden < 1:
        raise ValueError(f"Invalid number of hidden units: {hidden}")
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


def _batched_grad(ffn: Callable[[torch.Tensor], torch.Tensor], W: torch.Tensor) -> torch.Tensor:
    """Row ``r`` is the gradient of ``f`` at ``W[r]`` (the runs are independent: one backward pass)."""
    Wr = W.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(ffn(Wr).sum(), Wr)
    return g


def _batched_hessian(ffn: Callable[[torch.Tensor], torch.Tensor], W: torch.Tensor) -> torch.Tensor:
    """``H[r]`` is the Hessian of ``f`` at ``W[r]``: ``d`` double-backprop passes for all runs at once."""
    Wr = W.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(ffn(Wr).sum(), Wr, create_graph=True)
    rows = [torch.autograd.grad(g[:, j].sum(), Wr, retain_graph=True)[0] for j in range(W.shape[1])]
    H = torch.stack(rows, dim=1)
    return 0.5 * (H + H.transpose(1, 2))


@dataclass
class CriticalPoint:
    """A point where the gradient (nearly) vanishes: its loss, gradient norm and Hessian spectrum."""

    w: np.ndarray
    loss: float
    grad_norm: float
    eigenvalues: np.ndarray

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
    f: Callable[[torch.Tensor], torch.Tensor],
    d: int,
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
    """Critical points of ``f`` near points of gradient-descent runs, all runs batched.

    From each of ``n_inits`` random initializations (:math:`N(0, \\text{init\\_scale}^2)`),
    gradient descent with step ``lr`` is stopped after each of ``gd_steps`` steps; from each of
    these starts, ``iters`` Levenberg–Marquardt steps minimize :math:`\\|g(w)\\|^2`:

    .. math:: w \\leftarrow w - (H^2 + \\mu I)^{-1} H g

    (see :func:`nbcode.surfaces.newton_critical_point`), which converges to critical points of
    any index. Returns the points whose :math:`\\|g\\| \\le` ``grad_tol``, with the exact Hessian
    spectrum of each (:cite:`dauphin2014`'s index-versus-loss study in miniature).
    """
    if not isinstance(n_inits, int) or n_inits < 1:
        raise ValueError(f"Invalid number of initializations: {n_inits}")
    if not gd_steps or any(int(s) != s or s < 0 for s in gd_steps):
        raise ValueError(f"Invalid gd_steps: {list(gd_steps)}")
    if not (lr > 0 and np.isfinite(lr)):
        raise ValueError(f"Invalid learning rate: {lr}")
    gen = torch.Generator().manual_seed(seed)
    w = init_scale * torch.randn(n_inits, d, generator=gen, dtype=torch.float64)
    ffn = f
    starts, done = [], 0
    for s in sorted(int(s) for s in gd_steps):
        for _ in range(s - done):
            w = w - lr * _batched_grad(ffn, w)
        done = s
        starts.append(w.clone())
    W = torch.cat(starts)
    R = W.shape[0]
    eye = torch.eye(d, dtype=torch.float64)
    mu = torch.full((R,), damping, dtype=torch.float64)
    g = _batched_grad(ffn, W)
    gn = (g * g).sum(1)
    for _ in range(iters):
        H = _batched_hessian(ffn, W)
        rhs = torch.einsum("rij,rj->ri", H, g)
        step = torch.linalg.solve(H @ H + mu[:, None, None] * eye, rhs)
        W_new = W - step
        g_new = _batched_grad(ffn, W_new)
        gn_new = (g_new * g_new).sum(1)
        ok = torch.isfinite(gn_new) & (gn_new < gn)
        W = torch.where(ok[:, None], W_new, W)
        g = torch.where(ok[:, None], g_new, g)
        gn = torch.where(ok, gn_new, gn)
        mu = torch.where(ok, (mu / 3).clamp(min=1e-15), mu * 4)
    H = _batched_hessian(ffn, W)
    lam = torch.linalg.eigvalsh(H)
    loss = ffn(W)
    out = []
    for r in range(R):
        if float(gn[r].sqrt()) <= grad_tol:
            out.append(CriticalPoint(W[r].numpy().copy(), float(loss[r]), float(gn[r].sqrt()), lam[r].numpy().copy()))
    return out
