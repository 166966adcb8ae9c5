"""The learning-rate range test (Smith 2017): one short run with a rate growing geometrically per step.

The training loss is recorded at every mini-batch while :math:`\\eta_k = \\eta_{\\min}(\\eta_{\\max}/\\eta_{\\min})^{k/(K-1)}`.
It stays flat while :math:`\\eta` is too small to matter, falls where :math:`\\eta` is useful, and
blows up past the stability limit; a good constant rate lies where the smoothed loss falls fastest,
somewhat below the rate of its minimum.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn
from nbcode import _validate
from nbcode.train.adapter import NumpyOptimizer, needs_closure
from nbcode._torch import one_row_error
from nbcode.train.loop import _check_data, _check_fit, _check_owner

__all__ = ["RangeTest", "lr_range_test"]


@dataclass(frozen=True)
class RangeTest:
    """Rates tried, the mini-batch loss at each, and its exponential moving average (bias-corrected)."""

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray

    @property
    def lr_min_loss(self) -> float:
        """The rate at which the smoothed loss is smallest."""
        return float(self.lrs[int(np.nanargmin(self.smoothed))])

    @property
    def lr_steepest(self) -> float:
        """The rate at which the smoothed loss falls fastest per unit of :math:`\\ln\\eta` (before its
        minimum; the first tenth of the run, where the moving average is still settling, is skipped)."""
        stop = int(np.nanargmin(self.smoothed)) + 1
        start = len(self.lrs) // 10
        if stop - start < 3:
            return float(self.lrs[start])
        slope = np.gradient(self.smoothed[start:stop], np.log(self.lrs[start:stop]))
        return float(self.lrs[start + int(np.argmin(slope))])


def lr_range_test(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    lr_min: float = 1e-4,
    lr_max: float = 10.0,
    num_steps: int = 100,
    batch_size: int = 32,
    loss_fn: Callable[..., torch.Tensor] | None = None,
    beta: float = 0.9,
    stop_factor: float = 4.0,
    seed: int = 0,
) -> RangeTest:
    """Train ``model`` for ``num_steps`` mini-batches with a geometrically growing rate.

    The run stops early once the smoothed loss exceeds ``stop_factor`` times its best value or
    becomes non-finite (the arrays are then shorter). For a loss that can be negative the rule is
    read as a rise above the best of more than ``(stop_factor - 1) |best|`` (the same rule for a
    positive best; the literal ``s > stop_factor * best``, which fastai's and torch-lr-finder's
    finders use, would stop at the first step once the best is negative). ``model`` and ``optimizer`` are modified:
    pass fresh ones.

    Parameters
    ----------
    model, optimizer : a torch model and an optimizer over its parameters (its ``lr`` is overwritten).
    X, y : training tensors; mini-batches are drawn from a permutation reshuffled every epoch.
    lr_min, lr_max : float
        The first and last rate, ``0 < lr_min < lr_max``.
    num_steps : int
        Number of mini-batches (at least 2).
    batch_size : int
        ``1 <= batch_size <= len(X)``.
    loss_fn : callable, optional
        Default: cross-entropy.
    beta : float
        Smoothing of the moving average.
    stop_factor : float
        Divergence threshold, ``> 1`` (``inf``: never stop early).
    seed : int
        Seeds the order of the examples.

    References
    ----------
    Smith (2017), Cyclical learning rates for training neural networks. WACV.
    """
    _validate.module(model)
    if not isinstance(getattr(optimizer, "param_groups", None), list) or not callable(getattr(optimizer, "step", None)):
        raise TypeError(f"Invalid optimizer: {_validate.show(optimizer)} (need a torch.optim.Optimizer over the "
                        "model's parameters)")
    _check_owner(optimizer, model)
    if needs_closure(optimizer):
        raise TypeError(f"Invalid optimizer: {type(optimizer).__name__}, whose step needs a closure (the range test takes "
                        "one step() per mini-batch; use a torch.optim optimizer such as SGD or Adam)")
    if isinstance(optimizer, NumpyOptimizer):
        raise TypeError("Invalid optimizer: a NumpyOptimizer (its rate is its nbcode optimizer's schedule and cannot be "
                        "overwritten step by step; use a torch.optim optimizer, e.g. torch.optim.SGD(model.parameters(), lr=1.0))")
    lr_min = _validate.real(lr_min, "lr_min", low=0, low_open=True)
    lr_max = _validate.real(lr_max, "lr_max", low=0, low_open=True)
    if not lr_min < lr_max:
        raise ValueError(f"Invalid learning rate range: lr_min={lr_min}, lr_max={lr_max} (need 0 < lr_min < lr_max)")
    num_steps = _validate.count(num_steps, "num_steps", low=2)
    seed = _validate.count(seed, "seed")
    _check_data(X, y)
    n = X.shape[0]
    batch_size = _validate.count(batch_size, "batch size", low=1, high=n)
    beta = _validate.real(beta, "beta", low=0, high=1, high_open=True)
    stop_factor = _validate.real(stop_factor, "stop_factor", low=1, low_open=True, finite=False)
    loss_fn = nn.functional.cross_entropy if loss_fn is None else _validate.function(loss_fn, "loss_fn")
    _check_fit(model, X, y, loss_fn)
    if batch_size == 1 and one_row_error(model, X) is not None:
        raise ValueError("Invalid batch size: 1 gives mini-batches of one row, which BatchNorm cannot normalize in "
                         "training mode (use a batch_size of 2 or more)")
    lrs = np.geomspace(lr_min, lr_max, num_steps)
    gen = torch.Generator()
    gen.manual_seed(seed)
    perm = torch.randperm(n, generator=gen)
    pos = 0
    losses: list[float] = []
    smoothed: list[float] = []
    avg, best = 0.0, math.inf
    model.train()
    for k, lr in enumerate(lrs):
        if pos + batch_size > n:
            perm, pos = torch.randperm(n, generator=gen), 0
        idx = perm[pos : pos + batch_size]
        pos += batch_size
        for group in optimizer.param_groups:
            group["lr"] = float(lr)
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(X[idx]), y[idx])
        value = float(loss.detach())
        if not math.isfinite(value):
            break
        avg = beta * avg + (1 - beta) * value
        s = avg / (1 - beta ** (k + 1))
        losses.append(value)
        smoothed.append(s)
        best = min(best, s)
        if s > (stop_factor * best if best > 0 else best + (stop_factor - 1) * abs(best)):
            break
        loss.backward()
        optimizer.step()
    m = len(losses)
    return RangeTest(lrs[:m], np.array(losses), np.array(smoothed))
