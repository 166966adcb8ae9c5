"""Optimizers on a real network: a race on digits, the batch-size study, and sharpness.

Sharpness is the largest eigenvalue of the Hessian of the training loss at the solution,
found by power iteration on Hessian-vector products (double back-propagation), so the
:math:`d \\times d` Hessian is never formed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from nbcode.data import load_digits
from nbcode.train import History, fit, mlp, seed_everything

__all__ = ["top_hessian_eigenvalue", "digits_race", "BatchRun", "batch_size_study", "DIGITS_RACE_OPTIMIZERS", "update_timings"]


def _digits64() -> dict[str, torch.Tensor]:
    """The digits split as float64 inputs and integer labels."""
    t = load_digits().as_tensors()
    return {k: (v.double() if torch.is_floating_point(v) else v) for k, v in t.items() if isinstance(v, torch.Tensor)}


def top_hessian_eigenvalue(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    loss_fn: Callable[..., torch.Tensor] = nn.functional.cross_entropy,
    *,
    iters: int = 300,
    tol: float = 1e-7,
    seed: int = 0,
) -> float:
    r"""The eigenvalue of largest magnitude of :math:`\nabla^2 L(w)` by power iteration on HVPs.

    .. math:: v \leftarrow Hv / \|Hv\|,\qquad \lambda \approx v^\top H v

    Stops when :math:`\lambda` changes by less than ``tol`` relatively. At a minimum the
    Hessian is positive semi-definite, so this is :math:`\lambda_{\max}`, the "sharpness".

    Examples
    --------
    >>> net = nn.Linear(2, 1, bias=False).double()
    >>> X = torch.tensor([[1.0, 0.0], [0.0, 2.0]], dtype=torch.float64); y = torch.zeros(2, 1, dtype=torch.float64)
    >>> round(top_hessian_eigenvalue(net, X, y, nn.functional.mse_loss), 6)   # H = X^T X * 2/2 = diag(1, 4)
    4.0
    """
    params = [p for p in model.parameters() if p.requires_grad]
    loss = loss_fn(model(X), y)
    grads = torch.autograd.grad(loss, params, create_graph=True)
    g = torch.cat([t.reshape(-1) for t in grads])
    gen = torch.Generator().manual_seed(seed)
    v = torch.randn(g.numel(), generator=gen, dtype=g.dtype)
    v /= v.norm()
    lam = 0.0
    for _ in range(iters):
        hv = torch.cat([t.reshape(-1) for t in torch.autograd.grad(g, params, v, retain_graph=True)])
        lam_new = float(v @ hv)
        norm = float(hv.norm())
        if norm == 0.0:
            return 0.0
        v = hv / norm
        if abs(lam_new - lam) <= tol * abs(lam_new):
            return lam_new
        lam = lam_new
    return lam


#: The optimizers of the race on digits, with the learning rates each is usually started at.
DIGITS_RACE_OPTIMIZERS: dict[str, Callable[[list[nn.Parameter]], torch.optim.Optimizer]] = {
    "SGD": lambda p: torch.optim.SGD(p, lr=0.1),
    "momentum": lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9),
    "Nesterov": lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9, nesterov=True),
    "AdaGrad": lambda p: torch.optim.Adagrad(p, lr=0.01),
    "RMSprop": lambda p: torch.optim.RMSprop(p, lr=1e-3),
    "Adam": lambda p: torch.optim.Adam(p, lr=1e-3),
    "AdamW": lambda p: torch.optim.AdamW(p, lr=1e-3, weight_decay=1e-2),
    "NAdam": lambda p: torch.optim.NAdam(p, lr=1e-3),
    "Rprop": lambda p: torch.optim.Rprop(p, lr=1e-3),
}


def digits_race(epochs: int = 8, batch_size: int = 64, hidden: int = 32, seed: int = 0) -> dict[str, History]:
    """Train the same MLP ``64 -> hidden -> 10`` (same initial weights, same mini-batches) with
    each optimizer of :data:`DIGITS_RACE_OPTIMIZERS` on digits, for ``epochs`` epochs.

    Rprop runs on the same mini-batches as the others although it was designed for full-batch
    gradients: the signs of noisy mini-batch gradients flip at random, which is the point.

    Examples
    --------
    >>> h = digits_race(epochs=1)
    >>> sorted(h) == sorted(DIGITS_RACE_OPTIMIZERS), len(h["Adam"]["val_acc"])
    (True, 2)
    """
    t = _digits64()
    X, y = t["X_train"], t["y_train"]
    val = (t["X_val"], t["y_val"])
    out: dict[str, History] = {}
    for name, make in DIGITS_RACE_OPTIMIZERS.items():
        seed_everything(seed)
        net = mlp([64, hidden, 10], nn.Tanh).double()
        opt = make(list(net.parameters()))
        h = fit(net, opt, X, y, epochs=epochs, batch_size=batch_size, val=val, seed=seed, progress=False)
        out[name] = h
    return out


@dataclass
class BatchRun:
    """One run of the batch-size study."""

    batch_size: int
    history: History
    epochs: int
    steps: int
    train_acc: float
    test_acc: float
    sharpness: float


def batch_size_study(
    batch_sizes: tuple[int, ...] = (16, 64, 256, 1257),
    *,
    lr: float = 0.2,
    target_loss: float = 0.02,
    max_epochs: int = 1000,
    hidden: int = 64,
    seed: int = 0,
) -> list[BatchRun]:
    """Train the same MLP with plain SGD (same ``lr``) at each batch size until the training loss
    falls below ``target_loss``; record accuracies and the sharpness at the solution.

    Stopping at the same training loss (rather than after the same number of epochs) compares
    solutions of equal quality, as Keskar et al. did by training every model to near 100%.

    Examples
    --------
    >>> runs = batch_size_study((1257,), target_loss=1.5, max_epochs=50)
    >>> runs[0].history["train_loss"][-1] < 1.5 < runs[0].history["train_loss"][0], runs[0].sharpness > 0
    (True, True)
    """
    t = _digits64()
    X, y = t["X_train"], t["y_train"]
    Xt, yt = t["X_test"], t["y_test"]
    runs = []
    for B in batch_sizes:
        seed_everything(seed)
        net = mlp([64, hidden, 10], nn.ReLU).double()
        opt = torch.optim.SGD(net.parameters(), lr=lr)
        h = fit(net, opt, X, y, epochs=max_epochs, batch_size=B, val=(Xt, yt), seed=seed, progress=False,
                callback=lambda e, hist: hist.last("train_loss") < target_loss)
        runs.append(BatchRun(B, h, len(h["train_loss"]) - 1, h.steps, h.last("train_acc"), h.last("val_acc"),
                             top_hessian_eigenvalue(net, X, y)))
    return runs


def update_timings(batch_sizes: tuple[int, ...] = (16, 64, 256, 1257), *, repeats: int = 30, hidden: int = 64) -> dict[int, tuple[float, float]]:
    """Wall-clock seconds ``(per update, per epoch)`` of SGD on the digits MLP, for each batch size.

    For benchmarks only (timings depend on the machine; the book prints none). Per epoch is
    per update times :math:`\\lceil n/B \\rceil`. The median of ``repeats`` updates is used.

    Examples
    --------
    >>> t = update_timings((16, 1257), repeats=3)
    >>> sorted(t) == [16, 1257] and all(u > 0 and e >= u for u, e in t.values())
    True
    """
    import math
    import time

    t = _digits64()
    X, y = t["X_train"], t["y_train"]
    n = X.shape[0]
    out: dict[int, tuple[float, float]] = {}
    for B in batch_sizes:
        seed_everything(0)
        net = mlp([64, hidden, 10], nn.ReLU).double()
        opt = torch.optim.SGD(net.parameters(), lr=0.01)
        times = []
        for i in range(repeats + 2):
            idx = torch.arange(i * B, (i + 1) * B) % n
            start = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            nn.functional.cross_entropy(net(X[idx]), y[idx]).backward()
            opt.step()
            times.append(time.perf_counter() - start)
        per_update = sorted(times[2:])[len(times[2:]) // 2]
        out[B] = (per_update, per_update * math.ceil(n / B))
    return out
