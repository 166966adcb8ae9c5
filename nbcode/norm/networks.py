"""Small torch experiments with BatchNorm: curvature, largest stable learning rate, noisy statistics.

All models are float64 MLPs on the digits data; the functions are deterministic given ``seed``.
"""

from __future__ import annotations

import copy
import math
from typing import NamedTuple, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from nbcode.hessian import HessianOperator, lanczos_topk


def bn_mlp(sizes: Sequence[int], *, bn: bool, seed: int = 0) -> nn.Sequential:
    """``Linear -> [BatchNorm1d] -> ReLU`` blocks, then a final ``Linear`` (float64).

    Examples
    --------
    >>> [type(m).__name__ for m in bn_mlp([4, 3, 2], bn=True)]
    ['Linear', 'BatchNorm1d', 'ReLU', 'Linear']
    """
    if len(sizes) < 2:
        raise ValueError(f"Invalid sizes: {list(sizes)} (need at least input and output)")
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-2], sizes[1:-1]):
        layers.append(nn.Linear(a, b, dtype=torch.float64))  # initialized in float64, not converted
        if bn:
            layers.append(nn.BatchNorm1d(b, dtype=torch.float64))
        layers.append(nn.ReLU())
    layers.append(nn.Linear(sizes[-2], sizes[-1], dtype=torch.float64))
    return nn.Sequential(*layers)


def _stateless(model: nn.Module) -> nn.Module:
    """A copy whose BatchNorm layers use batch statistics and keep no running estimates."""
    m = copy.deepcopy(model).train()
    for mod in m.modules():
        if isinstance(mod, nn.modules.batchnorm._BatchNorm):
            mod.track_running_stats = False
            mod.running_mean = None
            mod.running_var = None
    return m


def top_hessian_eigenvalue(model: nn.Module, X: torch.Tensor, y: torch.Tensor, *, seed: int = 0) -> float:
    """:math:`\\lambda_{\\max}` of the cross-entropy Hessian (BatchNorm in training mode), by Lanczos."""
    op = HessianOperator(_stateless(model), F.cross_entropy, X, y)
    return float(lanczos_topk(op, 1, tol=1e-4, seed=seed).eigenvalues[0])


class LRScan(NamedTuple):
    """Per learning rate: final full-batch loss, :math:`\\lambda_{\\max}` at the end (``nan`` if it
    diverged) and the growth factor of the hidden ``Linear`` weights' norm; the largest η that trained."""

    lrs: np.ndarray
    final_loss: np.ndarray
    lam_final: np.ndarray
    weight_growth: np.ndarray
    initial_loss: float
    lr_max: float


def _hidden_weight_norm(model: nn.Module) -> float:
    lins = [m for m in model.modules() if isinstance(m, nn.Linear)][:-1]
    return math.sqrt(sum(float((m.weight.detach() ** 2).sum()) for m in lins))


def gd_train(model: nn.Module, X: torch.Tensor, y: torch.Tensor, lr: float, steps: int) -> list[float]:
    """Full-batch gradient descent; the loss before each step and after the last (``nan`` once diverged)."""
    if not (lr > 0 and math.isfinite(lr)):
        raise ValueError(f"Invalid learning rate: {lr}")
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    out = []
    for _ in range(steps + 1):
        loss = F.cross_entropy(model(X), y)
        out.append(loss.item())
        if not math.isfinite(out[-1]) or out[-1] > 1e6:
            return out + [math.nan] * (steps + 1 - len(out))
        opt.zero_grad()
        loss.backward()
        opt.step()
    out.pop()
    model.eval()
    with torch.no_grad():
        out.append(float(F.cross_entropy(_stateless(model)(X), y)))
    return out


def lr_scan(sizes: Sequence[int], X: torch.Tensor, y: torch.Tensor, lrs: Sequence[float], *, bn: bool, steps: int = 50,
            seed: int = 0) -> LRScan:
    """Train a fresh :func:`bn_mlp` with each ``lr``; it *trains* if the final loss is below half the initial one."""
    finals, lams, growth, init = [], [], [], math.nan
    for lr in lrs:
        model = bn_mlp(sizes, bn=bn, seed=seed)
        n0 = _hidden_weight_norm(model)
        hist = gd_train(model, X, y, float(lr), steps)
        init = hist[0]
        finals.append(hist[-1])
        lams.append(top_hessian_eigenvalue(model, X, y) if math.isfinite(hist[-1]) else math.nan)
        growth.append(_hidden_weight_norm(model) / n0)
    f = np.array(finals)
    ok_all = np.isfinite(f) & (f < 0.5 * init)
    lr_max = float(np.asarray(lrs)[ok_all].max()) if ok_all.any() else math.nan
    return LRScan(np.asarray(lrs, dtype=np.float64), f, np.array(lams), np.array(growth), init, lr_max)


def class_skewed_batches(y: np.ndarray, batch_size: int, skew: float, n_batches: int, seed: int = 0) -> list[np.ndarray]:
    """Index batches in which a fraction ``skew`` of each batch comes from one class (cycling over classes).

    ``skew = 0`` gives ordinary random batches; ``skew = 1`` gives single-class batches, whose
    statistics differ from batch to batch (and from the whole data set).

    Examples
    --------
    >>> b = class_skewed_batches(np.array([0, 0, 1, 1, 0, 1]), 2, 1.0, 2)
    >>> [sorted(set(np.array([0, 0, 1, 1, 0, 1])[i].tolist())) for i in b]
    [[0], [1]]
    """
    if not (isinstance(batch_size, int) and batch_size >= 1):
        raise ValueError(f"Invalid batch size: {batch_size}")
    if not 0.0 <= skew <= 1.0:
        raise ValueError(f"Invalid skew: {skew} (must be in [0, 1])")
    rng = np.random.default_rng(seed)
    classes = np.unique(y)
    out = []
    for j in range(n_batches):
        k = int(round(skew * batch_size))
        pool = np.flatnonzero(y == classes[j % len(classes)])
        same = rng.choice(pool, size=k, replace=k > len(pool))
        rest = rng.choice(len(y), size=batch_size - k, replace=False)
        out.append(np.concatenate([same, rest]))
    return out


def batch_stat_accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor, batch_size: int, skew: float = 0.0, *,
                        n_batches: int = 40, seed: int = 0) -> tuple[float, float]:
    """``(accuracy, noise)`` of a trained model run in *training mode* (batch statistics) on given batches.

    ``noise`` is the root-mean-square over batches and channels of :math:`(\\mu_B - \\hat\\mu)/\\hat\\sigma`
    in the first BatchNorm layer: how far the batch mean strays from the running mean, in units
    of the running standard deviation. Running statistics are not changed.
    """
    m = copy.deepcopy(model).train()
    bns = [mod for mod in m.modules() if isinstance(mod, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        raise ValueError("Invalid model: it has no BatchNorm layer")
    for mod in bns:
        mod.momentum = 0.0
    first = bns[0]
    seen: list[torch.Tensor] = []
    h = first.register_forward_hook(lambda mod, inp, out: seen.append(inp[0].mean(0)))
    correct = total = 0
    with torch.no_grad():
        for idx in class_skewed_batches(y.numpy(), batch_size, skew, n_batches, seed):
            ii = torch.as_tensor(idx)
            correct += int((m(X[ii]).argmax(1) == y[ii]).sum())
            total += len(idx)
    h.remove()
    assert first.running_mean is not None and first.running_var is not None
    z = (torch.stack(seen) - first.running_mean) / torch.sqrt(first.running_var + first.eps)
    return correct / total, float(torch.sqrt((z**2).mean()))


def train_sgd(model: nn.Module, X: torch.Tensor, y: torch.Tensor, *, batch_size: int, epochs: int, lr: float,
              seed: int = 0) -> nn.Module:
    """Plain mini-batch SGD with shuffling (keeps BatchNorm's running statistics up to date)."""
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(X), generator=g)
        for i in range(0, len(X) - batch_size + 1, batch_size):
            idx = perm[i : i + batch_size]
            opt.zero_grad()
            F.cross_entropy(model(X[idx]), y[idx]).backward()
            opt.step()
    return model.eval()


class BNComparison(NamedTuple):
    """One row of :func:`compare_bn`: curvature at initialization and the η scan."""

    bn: bool
    lam_init: float
    scan: LRScan


def compare_bn(sizes: Sequence[int], X: torch.Tensor, y: torch.Tensor, lrs: Sequence[float], *, steps: int = 50,
               seed: int = 0) -> list[BNComparison]:
    """The same MLP without and with BatchNorm: :math:`\\lambda_{\\max}` at initialization and the :func:`lr_scan`."""
    out = []
    for bn in (False, True):
        lam0 = top_hessian_eigenvalue(bn_mlp(sizes, bn=bn, seed=seed), X, y)
        out.append(BNComparison(bn, lam0, lr_scan(sizes, X, y, lrs, bn=bn, steps=steps, seed=seed)))
    return out


def scale_invariance(model: nn.Module, X: torch.Tensor, y: torch.Tensor, a: float) -> tuple[float, float]:
    """Multiply the first ``Linear`` weight by ``a``: ``(max |change of output|, ‖grad‖ ratio new/old)``.

    With a BatchNorm right after that layer the output does not change and the gradient is
    divided by ``a``: :math:`\\nabla_{aW} L = \\nabla_W L / a`.
    """
    m = copy.deepcopy(model).train()
    first = next(mod for mod in m.modules() if isinstance(mod, nn.Linear))

    def run() -> tuple[torch.Tensor, float]:
        m.zero_grad()
        out = m(X)
        F.cross_entropy(out, y).backward()
        assert first.weight.grad is not None
        return out.detach(), float(first.weight.grad.norm())

    out0, g0 = run()
    with torch.no_grad():
        first.weight.mul_(a)
    out1, g1 = run()
    return float((out1 - out0).abs().max()), g1 / g0
