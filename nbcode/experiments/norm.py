"""The experiments of the chapter "Normalization" (``book/normalization.ipynb``): BatchNorm in
small torch MLPs — curvature, the largest stable learning rate, noisy batch statistics.

All models are float64 MLPs (:func:`nbcode.train.mlp` with ``batch_norm``) on the digits data,
trained by :func:`nbcode.train.fit`; their sharpness is :func:`nbcode.hessian.sharpness`. The
functions are deterministic given ``seed``.
"""

from __future__ import annotations

import copy
import math
from typing import NamedTuple, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from nbcode import _validate as v
from nbcode._torch import fixed_rng
from nbcode.experiments._checks import class_labels, counts, inputs_targets, model_fit, reals, sized_fit
from nbcode.hessian import sharpness
from nbcode.train import fit, mlp

__all__ = ["LRScan", "gd_train", "lr_scan", "class_skewed_batches", "batch_stat_accuracy", "train_sgd", "BNComparison",
           "compare_bn", "scale_invariance", "he_init_", "rescaled_sharpness", "NORMS", "norm_mlp", "train_norms"]

#: A full-batch loss above this counts as diverged (the run stops there).
DIVERGED = 1e6

#: The tolerance of the sharpness measurements (relative, :func:`nbcode.hessian.sharpness`).
SHARPNESS_TOL = 1e-4


def _batch_stat_loss(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    """The cross-entropy in training mode (batch statistics) on a copy: nothing of ``model`` moves."""
    with torch.no_grad():
        return float(F.cross_entropy(copy.deepcopy(model).train()(X), y))


class LRScan(NamedTuple):
    """Per learning rate: final full-batch loss, :math:`\\lambda_{\\max}` at the end (``nan`` if the
    run did not train) and the growth factor of the hidden ``Linear`` weights' norm; the largest η that trained."""

    lrs: np.ndarray
    final_loss: np.ndarray
    lam_final: np.ndarray
    weight_growth: np.ndarray
    initial_loss: float
    lr_max: float


def _has_dropout(model: nn.Module) -> bool:
    return any(isinstance(m, (nn.modules.dropout._DropoutNd, nn.AlphaDropout, nn.FeatureAlphaDropout))
               for m in model.modules())


def _hidden_weight_norm(model: nn.Module) -> float:
    lins = [m for m in model.modules() if isinstance(m, nn.Linear)][:-1]
    return math.sqrt(sum(float((m.weight.detach() ** 2).sum()) for m in lins))


def gd_train(model: nn.Module, X: torch.Tensor, y: torch.Tensor, lr: float, steps: int) -> list[float]:
    """``steps`` steps of full-batch gradient descent (:func:`~nbcode.train.fit`, rows in order).

    Returns the ``steps + 1`` full-batch losses in training mode: before each step, and after
    the last. A loss that is not finite or exceeds :data:`DIVERGED` ends the run: it is the last
    value, followed by ``nan``. The model is left in eval mode.
    """
    v.module(model)
    model_fit(model, X, y)
    lr = v.real(lr, "learning rate", low=0, low_open=True, symbol="lr")
    steps = v.count(steps, "steps")
    h = fit(model, torch.optim.SGD(model.parameters(), lr=lr), X, y, epochs=steps, shuffle=False, max_loss=DIVERGED,
            loss_fn=F.cross_entropy, progress=False)
    out = list(h.batch_loss)
    if h.diverged:
        return out + [math.nan] * (steps + 1 - len(out))
    model.eval()
    return out + [_batch_stat_loss(model, X, y)]


def he_init_(model: nn.Module) -> nn.Module:
    """He's rule in place (torch's generator, as it stands): every ``Linear`` but the last gets
    ``kaiming_normal_`` with the ReLU gain, the last one the linear gain (Var = 1/fan_in); biases 0.

    Examples
    --------
    >>> net = he_init_(mlp([64, 32, 10], seed=0))
    >>> bool(1.8 < float(net[0].weight.var() * 64) < 2.2), float(net[2].bias.abs().max())
    (True, 0.0)
    """
    v.module(model)
    lins = [m for m in model.modules() if isinstance(m, nn.Linear)]
    with torch.no_grad():
        for i, lin in enumerate(lins):
            nn.init.kaiming_normal_(lin.weight, nonlinearity="relu" if i < len(lins) - 1 else "linear")
            if lin.bias is not None:
                nn.init.zeros_(lin.bias)
    return model


def _build(sizes: Sequence[int], bn: bool, init: str, seed: int) -> nn.Module:
    model = mlp(sizes, batch_norm=bn, seed=seed)
    return he_init_(model) if init == "he" else model


def lr_scan(sizes: Sequence[int], X: torch.Tensor, y: torch.Tensor, lrs: Sequence[float], *, bn: bool, steps: int = 50,
            seed: int = 0, init: str = "default") -> LRScan:
    """Train a fresh MLP (``mlp(sizes, batch_norm=bn, seed=seed)``, PyTorch's default initialization,
    or He's rule with ``init='he'``, :func:`he_init_`) with each ``lr``; it *trains* if the final
    loss is below half the initial one."""
    lrs, steps, seed = _scan_args(sizes, X, y, lrs, bn, steps, seed, init)
    finals, lams, growth, init_loss = [], [], [], math.nan
    for lr in lrs:
        model = _build(sizes, bn, init, seed)
        n0 = _hidden_weight_norm(model)
        hist = gd_train(model, X, y, lr, steps)
        init_loss = hist[0]
        finals.append(hist[-1])
        trained = math.isfinite(hist[-1]) and hist[-1] < 0.5 * init_loss
        lams.append(sharpness(model, X, y, tol=SHARPNESS_TOL) if trained else math.nan)
        growth.append(_hidden_weight_norm(model) / n0)
    f = np.array(finals)
    ok_all = np.isfinite(f) & (f < 0.5 * init_loss)
    lr_max = float(np.asarray(lrs)[ok_all].max()) if ok_all.any() else math.nan
    return LRScan(np.asarray(lrs, dtype=np.float64), f, np.array(lams), np.array(growth), init_loss, lr_max)


def _scan_args(sizes: Sequence[int], X: torch.Tensor, y: torch.Tensor, lrs: Sequence[float], bn: bool, steps: int,
               seed: int, init: str) -> tuple[list[float], int, int]:
    """The checks of :func:`lr_scan` (and :func:`compare_bn`): the learning rates as floats, steps, seed."""
    sizes = v.sizes(sizes, "sizes", min_len=2)
    sized_fit(sizes, X, y)
    out = reals(lrs, "lrs", what="learning rate in lrs", low=0, low_open=True, symbol="lr")
    v.flag(bn, "bn")
    v.choice(init, "init", ("default", "he"))
    return out, v.count(steps, "steps", low=1), v.count(seed, "seed")


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
    y = class_labels(y)
    batch_size = v.count(batch_size, "batch size", low=1, high=len(y))
    skew = v.probability(skew, "skew")
    n_batches = v.count(n_batches, "n_batches")
    rng = np.random.default_rng(v.count(seed, "seed"))
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
    of the running standard deviation. Running statistics are not changed. Dropout layers are
    active too (training mode), their masks drawn from ``torch.manual_seed(seed)``; the global
    random state is left as it was.
    """
    v.module(model)
    model_fit(model, X, y)
    batch_size = v.count(batch_size, "batch size", low=1, high=X.shape[0])
    skew = v.probability(skew, "skew")
    n_batches = v.count(n_batches, "n_batches", low=1)
    seed = v.count(seed, "seed")
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
    with torch.no_grad(), fixed_rng():
        if _has_dropout(m):
            torch.manual_seed(seed)
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
    """Plain mini-batch SGD with shuffling and the last partial batch dropped
    (:func:`~nbcode.train.fit`; BatchNorm's running statistics follow); returns the model in eval mode."""
    v.module(model)
    model_fit(model, X, y)
    lr = v.real(lr, "learning rate", low=0, low_open=True, symbol="lr")
    batch_size = v.count(batch_size, "batch size", low=1, high=X.shape[0])
    fit(model, torch.optim.SGD(model.parameters(), lr=lr), X, y, epochs=epochs, batch_size=batch_size, seed=seed,
        drop_last=True, loss_fn=F.cross_entropy, progress=False)
    return model.eval()


class BNComparison(NamedTuple):
    """One row of :func:`compare_bn`: curvature at initialization and the η scan."""

    bn: bool
    lam_init: float
    scan: LRScan
    init: str = "default"


def compare_bn(sizes: Sequence[int], X: torch.Tensor, y: torch.Tensor, lrs: Sequence[float], *, steps: int = 50,
               seed: int = 0, he_baseline: bool = False) -> list[BNComparison]:
    """The same MLP without and with BatchNorm (PyTorch's default initialization), and with
    ``he_baseline`` a third row, the plain MLP with He's rule (:func:`he_init_`):
    :math:`\\lambda_{\\max}` at initialization and the :func:`lr_scan` of each."""
    lrs, steps, seed = _scan_args(sizes, X, y, lrs, False, steps, seed, "default")
    rows = [(False, "default"), (True, "default")] + ([(False, "he")] if v.flag(he_baseline, "he_baseline") else [])
    out = []
    for bn, init in rows:
        lam0 = sharpness(_build(sizes, bn, init, seed), X, y, tol=SHARPNESS_TOL)
        out.append(BNComparison(bn, lam0, lr_scan(sizes, X, y, lrs, bn=bn, steps=steps, seed=seed, init=init), init))
    return out


def rescaled_sharpness(model: nn.Module, X: torch.Tensor, y: torch.Tensor, a: float) -> tuple[float, float]:
    """Multiply every ``Linear`` weight that feeds a BatchNorm by ``a`` (a copy; ``model`` is not
    changed): ``(max |change of the training-mode output|, sharpness of the copy)``.

    The function computed does not change (up to :math:`\\epsilon`), but the curvature along
    those weights scales as :math:`1/a^2`: :math:`\\lambda_{\\max}` of a BatchNorm network
    says as much about the arbitrary norm of its weights as about the function.
    Dropout layers draw the same masks in both passes and in the sharpness (from the current
    random state, which is left as it was).
    """
    v.module(model)
    model_fit(model, X, y)
    a = v.real(a, "a", low=0, low_open=True)
    m = copy.deepcopy(model).train()
    mods = list(m.modules())
    fed: list[nn.Linear] = [mod for mod, nxt in zip(mods[:-1], mods[1:])
                            if isinstance(mod, nn.Linear) and isinstance(nxt, nn.modules.batchnorm._BatchNorm)]
    if not fed:
        raise ValueError("Invalid model: no Linear layer feeds a BatchNorm")
    if not _has_dropout(m):
        with torch.no_grad():
            out0 = m(X)
            for lin in fed:
                lin.weight.mul_(a)
            out1 = m(X)
        return float((out1 - out0).abs().max()), sharpness(m, X, y, tol=SHARPNESS_TOL)
    state = torch.get_rng_state()
    with fixed_rng(state):      # dropout: the same masks in every pass; the caller's random state restored
        with torch.no_grad():
            out0 = m(X)
            torch.set_rng_state(state)
            for lin in fed:
                lin.weight.mul_(a)
            out1 = m(X)
        torch.set_rng_state(state)
        return float((out1 - out0).abs().max()), sharpness(m, X, y, tol=SHARPNESS_TOL)


#: The normalizations of :func:`norm_mlp`.
NORMS = ("none", "batch", "layer", "group", "rms")


def norm_mlp(sizes: Sequence[int], norm: str, *, groups: int = 4, seed: int = 0) -> nn.Sequential:
    """A float64 ReLU MLP like :func:`~nbcode.train.mlp` with a normalization after each hidden
    ``Linear`` (before the ReLU): ``'none'``, ``'batch'`` (``BatchNorm1d``), ``'layer'``
    (``LayerNorm``), ``'group'`` (``GroupNorm`` with ``groups`` groups) or ``'rms'`` (``RMSNorm``).
    PyTorch's default initialization, after ``torch.manual_seed(seed)``.

    Examples
    --------
    >>> [type(m).__name__ for m in norm_mlp([4, 8, 2], "group", groups=2)]
    ['Linear', 'GroupNorm', 'ReLU', 'Linear']
    """
    sizes = v.sizes(sizes, "sizes", min_len=2)
    v.choice(norm, "norm", NORMS)
    groups = v.count(groups, "groups", low=1)
    if norm == "group" and any(b % groups for b in sizes[1:-1]):
        raise ValueError(f"Invalid groups: {groups} (need a divisor of every hidden width, got {list(sizes[1:-1])})")
    torch.manual_seed(v.count(seed, "seed"))
    layers: list[nn.Module] = []
    dt = torch.float64
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b, dtype=dt))
        if i == len(sizes) - 2:
            break
        if norm == "batch":
            layers.append(nn.BatchNorm1d(b, dtype=dt))
        elif norm == "layer":
            layers.append(nn.LayerNorm(b, dtype=dt))
        elif norm == "group":
            layers.append(nn.GroupNorm(groups, b, dtype=dt))
        elif norm == "rms":
            layers.append(nn.RMSNorm(b, dtype=dt))
        layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def train_norms(sizes: Sequence[int], X: torch.Tensor, y: torch.Tensor, Xv: torch.Tensor, yv: torch.Tensor, *,
                norms: Sequence[str], batch_sizes: Sequence[int], epochs: int, lr_per_example: float,
                seed: int = 0) -> dict[tuple[str, int], float]:
    """Validation accuracy (evaluation mode) of :func:`norm_mlp` for every ``(norm, B)``, each
    trained by :func:`train_sgd` for ``epochs`` epochs with :math:`\\eta = ` ``lr_per_example`` :math:`\\cdot B`
    (the same η per example for every batch size) from the same initialization."""
    sizes = v.sizes(sizes, "sizes", min_len=2)
    sized_fit(sizes, X, y)
    sized_fit(sizes, Xv, yv, "Xv", "yv")
    if not isinstance(norms, (Sequence, np.ndarray)) or isinstance(norms, str) or not len(norms):
        raise TypeError(f"Invalid norms: {v.show(norms)} (need a non-empty sequence of names from {list(NORMS)})")
    for name in norms:
        v.choice(name, "norms", NORMS)
    batch_sizes = counts(batch_sizes, "batch_sizes", high=X.shape[0])
    epochs = v.count(epochs, "number of epochs")
    lr_per_example = v.real(lr_per_example, "lr_per_example", low=0, low_open=True)
    seed = v.count(seed, "seed")
    out = {}
    for norm in norms:
        for B in batch_sizes:
            m = train_sgd(norm_mlp(sizes, norm, seed=seed), X, y, batch_size=B, epochs=epochs, lr=lr_per_example * B, seed=seed)
            with torch.no_grad():
                out[norm, int(B)] = float((m(Xv).argmax(1) == yv).double().mean())
    return out


def scale_invariance(model: nn.Module, X: torch.Tensor, y: torch.Tensor, a: float) -> tuple[float, float]:
    """Multiply the first ``Linear`` weight by ``a``: ``(max |change of output|, ‖grad‖ ratio new/old)``.

    With a BatchNorm right after that layer the output does not change and the gradient is
    divided by ``a``: :math:`\\nabla_{aW} L = \\nabla_W L / a`. ``model`` itself is not changed.
    Dropout layers draw the same masks in both passes (from the current random state, which is
    left as it was).
    """
    v.module(model)
    if not any(isinstance(mod, nn.Linear) for mod in model.modules()):
        raise ValueError("Invalid model: it has no Linear layer")
    model_fit(model, X, y)
    a = v.real(a, "a", low=0, low_open=True)
    m = copy.deepcopy(model).train()
    first = next((mod for mod in m.modules() if isinstance(mod, nn.Linear)), None)
    if first is None:
        raise ValueError("Invalid model: it has no Linear layer")

    def run() -> tuple[torch.Tensor, float]:
        m.zero_grad()
        out = m(X)
        F.cross_entropy(out, y).backward()
        assert first.weight.grad is not None
        return out.detach(), float(first.weight.grad.norm())

    if not _has_dropout(m):
        out0, g0 = run()
        with torch.no_grad():
            first.weight.mul_(a)
        out1, g1 = run()
        return float((out1 - out0).abs().max()), g1 / g0
    state = torch.get_rng_state()
    with fixed_rng(state):      # dropout: the same masks in both passes; the caller's random state restored
        out0, g0 = run()
        with torch.no_grad():
            first.weight.mul_(a)
        torch.set_rng_state(state)
        out1, g1 = run()
    return float((out1 - out0).abs().max()), g1 / g0
