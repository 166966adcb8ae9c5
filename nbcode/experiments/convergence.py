"""The experiments of the chapter "Convergence of gradient descent" (``book/convergence.ipynb``).

* :func:`full_batch_run` — full-batch gradient descent on a small tanh MLP (digits, squared error
  to one-hot targets), recording the loss and :math:`\\|g\\|^2` at every step and the sharpness
  :math:`\\lambda_{\\max}` by Lanczos at checkpoints: the measurement behind the non-convex
  :math:`O(1/k)` gradient rate (small :math:`\\eta`) and the edge of stability (large
  :math:`\\eta`, :cite:`cohen2021`);
* :func:`edge_summary` — what holds in the late phase of such a run whatever its last digits:
  the fraction of checkpoints with :math:`\\lambda_{\\max}` within a band around :math:`2/\\eta`;
* :func:`logistic_run` — gradient descent at :math:`\\eta = 1/M` on ridge logistic regression on
  the digits, with the exact minimum, for the convex and strongly convex rates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from nbcode import _validate as v
from nbcode.data import load_digits
from nbcode.hessian import HessianOperator, lanczos_topk
from nbcode.optim import gd_path
from nbcode.surfaces import LogisticRegression
from nbcode.train import mlp

__all__ = ["half_mse", "FullBatchRun", "full_batch_run", "EdgeSummary", "edge_summary", "LogisticRun", "logistic_run"]


def half_mse(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """:math:`\\frac1n\\sum_i \\tfrac12\\|f(x_i) - y_i\\|^2`: the squared error summed over the outputs,
    averaged over the examples (its Hessian in the outputs is :math:`I/n`).

    ``out`` and ``target`` are floating-point tensors of the same shape ``(n, k)``, ``n >= 1`` (types and shapes
    are checked, not the values: a diverged network gives NaN, as torch's ``mse_loss`` does).

    Examples
    --------
    >>> half_mse(torch.zeros(2, 3), torch.ones(2, 3)).item()
    1.5
    >>> half_mse(torch.zeros(2, 3), torch.ones(3, 2))
    Traceback (most recent call last):
        ...
    ValueError: Invalid target: a tensor of shape (3, 2) (need the shape of out, (2, 3))
    """
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"Invalid out: {v.show(out)} (need a torch.Tensor)")
    if not isinstance(target, torch.Tensor):
        raise TypeError(f"Invalid target: {v.show(target)} (need a torch.Tensor)")
    for name, t in (("out", out), ("target", target)):
        if not t.is_floating_point():
            raise TypeError(f"Invalid {name}: a tensor of dtype {t.dtype} (need a floating-point tensor, e.g. {name}.double())")
    if out.dim() != 2 or out.shape[0] == 0:
        raise ValueError(f"Invalid out: a tensor of shape {tuple(out.shape)} (need (n, k) with n >= 1)")
    if target.shape != out.shape:
        raise ValueError(f"Invalid target: a tensor of shape {tuple(target.shape)} (need the shape of out, {tuple(out.shape)})")
    return 0.5 * ((out - target) ** 2).sum(dim=1).mean()


@dataclass(frozen=True)
class FullBatchRun:
    """A full-batch gradient-descent run: ``losses[k]`` and ``grad_sq[k]`` (:math:`\\|g_k\\|^2`) at
    every iterate ``k = 0 .. steps``, and the sharpness ``sharpness[j]`` at step ``checkpoints[j]``
    with the Hessian-vector products it took (``n_hvp``)."""

    lr: float
    losses: np.ndarray
    grad_sq: np.ndarray
    checkpoints: np.ndarray
    sharpness: np.ndarray
    n_hvp: int

    @property
    def edge(self) -> float:
        """:math:`2/\\eta`, the stability limit of gradient descent on a quadratic."""
        return 2.0 / self.lr


def _data(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    d = load_digits()
    X = torch.as_tensor(d.X_train[:n])
    Y = nn.functional.one_hot(torch.as_tensor(d.y_train[:n]), 10).to(X.dtype)
    return X, Y


def full_batch_run(
    lr: float, steps: int, *, n: int = 256, width: int = 32, seed: int = 0, every: int = 20, early: int = 0,
    tol: float = 1e-4,
) -> FullBatchRun:
    """Full-batch gradient descent with rate ``lr`` on a 64-``width``-10 tanh MLP (float64,
    :func:`nbcode.train.mlp` with ``seed``) fitting the first ``n`` training digits by
    :func:`half_mse` to one-hot targets.

    The sharpness :math:`\\lambda_{\\max}(\\nabla^2 L)` is computed by
    :func:`~nbcode.hessian.lanczos_topk` (relative residual ``tol``) every ``every`` steps, and at
    every step for the first ``early`` steps. Each estimate starts from the previous top
    eigenvector plus a random vector of the same norm (warm start; the random part keeps every
    direction visible).

    Examples
    --------
    >>> r = full_batch_run(0.1, 4, n=32, width=4, every=2)
    >>> r.losses.shape, r.checkpoints.tolist(), bool(r.losses[-1] < r.losses[0])
    ((5,), [0, 2, 4], True)
    """
    eta = v.real(lr, "learning rate", low=0, low_open=True, symbol="lr")
    steps = v.count(steps, "steps", low=1)
    n = v.count(n, "n", low=1, high=1257)
    width = v.count(width, "width", low=1)
    every = v.count(every, "every", low=1)
    early = v.count(early, "early", low=0)
    tol = v.real(tol, "tol", low=0, low_open=True)
    X, Y = _data(n)
    net = mlp([64, width, 10], nn.Tanh, seed=v.count(seed, "seed"))
    params = list(net.parameters())
    rng = np.random.default_rng(seed)
    losses, grad_sq = np.empty(steps + 1), np.empty(steps + 1)
    checks, sharp, n_hvp, vec = [], [], 0, None
    for k in range(steps + 1):
        if k < early or k % every == 0:
            op = HessianOperator(net, half_mse, X, Y)
            start = None
            if vec is not None:
                noise = rng.standard_normal(vec.size)
                start = vec + noise / np.linalg.norm(noise)
            res = lanczos_topk(op, 1, tol=tol, seed=seed, v0=start)
            vec = res.eigenvectors[:, 0]
            checks.append(k)
            sharp.append(float(res.eigenvalues[0]))
            n_hvp += res.n_matvec
        loss = half_mse(net(X), Y)
        grads = torch.autograd.grad(loss, params)
        losses[k] = float(loss.detach())
        grad_sq[k] = float(sum((g * g).sum() for g in grads))
        if k < steps:
            with torch.no_grad():
                for p, g in zip(params, grads):
                    p.sub_(eta * g)
    return FullBatchRun(eta, losses, grad_sq, np.array(checks), np.array(sharp), n_hvp)


@dataclass(frozen=True)
class EdgeSummary:
    """The late phase of a run (checkpoints at or after ``start``): how many sharpness estimates
    lie within ``band`` (relative) of :math:`2/\\eta` (``inside`` of ``total``), the extreme ratios
    :math:`\\lambda_{\\max}\\eta/2`, and the fraction of steps at which the loss went *up*."""

    start: int
    band: float
    inside: int
    total: int
    lowest: float
    highest: float
    rises: float


def edge_summary(run: FullBatchRun, start: int, band: float = 0.1) -> EdgeSummary:
    """Summarize the late phase (from step ``start`` on) of ``run`` against :math:`2/\\eta`.

    Examples
    --------
    >>> r = FullBatchRun(1.0, np.array([3.0, 2.0, 2.5, 1.0]), np.ones(4), np.array([0, 2, 3]), np.array([1.0, 2.1, 1.95]), 9)
    >>> s = edge_summary(r, 1)
    >>> (s.inside, s.total, s.lowest, s.highest, round(s.rises, 3))
    (2, 2, 0.975, 1.05, 0.5)
    """
    if not isinstance(run, FullBatchRun):
        raise TypeError(f"Invalid run: {v.show(run)} (need a FullBatchRun)")
    n_ck, n_sh = np.shape(run.checkpoints), np.shape(run.sharpness)
    if len(n_ck) != 1 or n_ck != n_sh or n_ck[0] == 0:
        raise ValueError(f"Invalid run: checkpoints of shape {n_ck} and sharpness of shape {n_sh} (need the same length, >= 1)")
    start = v.count(start, "start", low=0, high=int(run.checkpoints.max()))
    band = v.real(band, "band", low=0, low_open=True)
    ratio = run.sharpness[run.checkpoints >= start] / run.edge
    inside = int(np.sum(np.abs(ratio - 1.0) <= band))
    late = np.diff(run.losses[start:])
    return EdgeSummary(start, band, inside, int(ratio.size), float(ratio.min()), float(ratio.max()),
                       float(np.mean(late > 0)) if late.size else 0.0)


@dataclass(frozen=True)
class LogisticRun:
    """Gradient descent at :math:`\\eta = 1/M` on :class:`~nbcode.surfaces.LogisticRegression`:
    the loss gaps :math:`L(w_k) - L^*` for ``k = 0 .. steps``, the distance :math:`\\|w_0 - w^*\\|`,
    :math:`M`, :math:`\\mu = \\alpha`, and ``lam_min_excited``: the smallest eigenvalue of
    :math:`\\nabla^2 L(w^*)` on the directions gradient descent can reach from :math:`w_0 = 0`
    (all but the ones that add one vector to every class and the weights of features that are zero
    in every example, whose curvature is exactly :math:`\\alpha`)."""

    alpha: float
    gaps: np.ndarray
    dist0: float
    M: float
    mu: float
    lam_min_excited: float


def logistic_run(alpha: float, steps: int) -> LogisticRun:
    """Gradient descent from :math:`w_0 = 0` with :math:`\\eta = 1/M` on ridge logistic regression
    (strength ``alpha``) of the training digits, against the exact minimum (Newton's method).

    Examples
    --------
    >>> r = logistic_run(0.1, 3)
    >>> bool(np.all(np.diff(r.gaps) < 0)), r.mu
    (True, 0.1)
    """
    alpha = v.real(alpha, "alpha", low=0, low_open=True)
    steps = v.count(steps, "steps", low=1)
    d = load_digits()
    f = LogisticRegression(d.X_train, d.y_train, alpha=alpha)
    w_star = f.minimizer()
    L_star = f(w_star)
    M = f.smoothness
    losses: list[float] = []

    def grad(w: np.ndarray) -> np.ndarray:  # f.grad(w), recording f(w) on the way
        value, g = f.value_and_grad(w)
        losses.append(value)
        return g

    path = gd_path(grad, np.zeros(f.dim), 1.0 / M, steps)
    gaps = np.array(losses + [f(path[-1])]) - L_star
    # directions gradient descent from 0 never moves along (their gradient component stays
    # alpha * 0 = 0): adding one vector u to every class's column, W -> W + u 1^T (the softmax does
    # not see it), and changing the weights of a feature that is zero in every example (a pixel
    # that is always blank); the curvature along both is exactly alpha
    K, p1 = f.K, f.p1
    s_x, V_x = np.linalg.svd(f.X, full_matrices=True)[1:]
    dead = V_x[int(np.sum(s_x > 1e-10 * s_x[0])):]                       # (m, p1): null space of X
    frozen = np.concatenate([np.kron(np.eye(p1), np.ones((1, K))), np.kron(dead, np.eye(K))])
    u_f, s_f, vt_f = np.linalg.svd(frozen, full_matrices=True)
    basis = vt_f[int(np.sum(s_f > 1e-10)):].T                            # orthonormal complement
    lam = np.linalg.eigvalsh(basis.T @ f.hess(w_star) @ basis)
    return LogisticRun(alpha, gaps, float(np.linalg.norm(w_star)), M, f.strong_convexity, float(lam[0]))
