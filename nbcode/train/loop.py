"""One training loop for every chapter: seeded, with a progress bar, history returned as data.

:func:`fit` trains any torch model with a ``torch.optim`` optimizer or with one of the book's
own optimizers (:mod:`nbcode.optim`, through :class:`~nbcode.train.NumpyOptimizer`), by
mini-batches or full-batch gradient descent; :func:`mlp` builds the book's networks.
"""

from __future__ import annotations

import math
import os
import random
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from nbcode import _validate as v
from nbcode._torch import check_fit, fixed_rng, one_row_error, stateless
from nbcode.optim import Optimizer
from nbcode.train.adapter import NumpyOptimizer, needs_closure

__all__ = ["History", "fit", "evaluate", "accuracy", "mlp", "seed_everything"]


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; returns a torch generator seeded with ``seed``."""
    seed = v.count(seed, "seed")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def mlp(
    sizes: Sequence[int],
    activation: Callable[[], nn.Module] = nn.ReLU,
    *,
    bias: bool = True,
    batch_norm: bool = False,
    dropout: float | None = None,
    dtype: torch.dtype = torch.float64,
    seed: int | None = None,
) -> nn.Sequential:
    """A multilayer perceptron ``sizes[0] -> ... -> sizes[-1]``: the book's one network builder.

    Each hidden layer is ``Linear -> [BatchNorm1d] -> activation -> [Dropout(dropout)]``; the
    last layer is a plain ``Linear``.

    The layers are created, and initialized, in ``dtype``: float64 by default. The book's
    networks are small, and in float64 the round-off that differs between CPUs (float32 random
    initialization alone differs in the last bit between torch's kernels) stays far below any
    digit the book prints.

    Parameters
    ----------
    sizes : sequence of int
        Widths, input first (two or more).
    activation : callable
        Makes the activation module (``nn.ReLU``, ``nn.Tanh``, ...).
    bias : bool
        Biases in the ``Linear`` layers.
    batch_norm : bool
        ``nn.BatchNorm1d`` after each hidden ``Linear`` (before the activation).
    dropout : float, optional
        ``nn.Dropout(dropout)`` after each hidden activation (none when None).
    dtype : torch.dtype
    seed : int, optional
        Calls ``torch.manual_seed(seed)`` first (the initialization is then reproducible; the
        global generator stays seeded, as ``torch.manual_seed`` leaves it).

    Examples
    --------
    >>> net = mlp([64, 32, 10])
    >>> [type(m).__name__ for m in net]
    ['Linear', 'ReLU', 'Linear']
    >>> [type(m).__name__ for m in mlp([4, 3, 2], nn.Tanh, batch_norm=True, dropout=0.5)]
    ['Linear', 'BatchNorm1d', 'Tanh', 'Dropout', 'Linear']
    """
    if isinstance(sizes, np.ndarray) and sizes.ndim == 1 and sizes.dtype.kind in "iu":
        sizes = [int(s) for s in sizes]
    if not isinstance(sizes, (list, tuple)) or len(sizes) < 2 or any(
        isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in sizes
    ):
        raise ValueError(f"Invalid layer sizes: {v.show(sizes)} (need two or more positive integers)")
    v.function(activation, "activation")
    bias = v.flag(bias, "bias")
    batch_norm = v.flag(batch_norm, "batch_norm")
    p = None if dropout is None else v.probability(dropout, "dropout", allow_one=False)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"Invalid dtype: {v.show(dtype)} (need a floating torch.dtype)")
    if seed is not None:
        torch.manual_seed(v.count(seed, "seed"))
    layers: list[nn.Module] = []
    for i, (m, n) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(int(m), int(n), bias=bias, dtype=dtype))
        if i < len(sizes) - 2:
            if batch_norm:
                layers.append(nn.BatchNorm1d(int(n), dtype=dtype))
            layers.append(activation())
            if p is not None:
                layers.append(nn.Dropout(p))
    return nn.Sequential(*layers)


@dataclass
class History:
    """Per-epoch metrics of a run: ``history["train_loss"]`` is a list with one value per epoch
    (index 0 is before training). ``steps`` counts optimizer steps; ``batch_loss`` has the loss of
    every mini-batch, taken before its update (and, for a diverged run, the loss that stopped
    it); ``diverged`` is True when a loss became non-finite or exceeded ``max_loss`` (the run
    stops there instead of crashing)."""

    metrics: dict[str, list[float]] = field(default_factory=dict)
    steps: int = 0
    diverged: bool = False
    batch_loss: list[float] = field(default_factory=list)

    def __getitem__(self, key: str) -> list[float]:
        return self.metrics[key]

    def log(self, **values: float) -> None:
        for k, value in values.items():
            self.metrics.setdefault(k, []).append(float(value))

    def last(self, key: str) -> float:
        """The latest value of the metric ``key`` (one of those logged)."""
        if not isinstance(key, str) or key not in self.metrics:
            v.choice(v.text(key, "key"), "key", list(self.metrics))
        return self.metrics[key][-1]


def _check_data(X: Any, y: Any, names: tuple[str, str] = ("X", "y")) -> None:
    """Inputs and targets: tensors with at least one row, finite entries, one target per row."""
    v.tensor(X, names[0], nonempty=True, finite=True)
    v.tensor(y, names[1], nonempty=True, finite=True)
    if X.ndim == 0 or y.ndim == 0 or y.shape[0] != X.shape[0]:
        raise ValueError(f"Invalid {names[1]}: shape {tuple(y.shape)} for {names[0]} of shape {tuple(X.shape)} "
                         f"(need one target per row of {names[0]})")


def _check_fit(model: nn.Module, X: torch.Tensor, y: torch.Tensor | None, loss_fn: Callable[..., Any] | None,
               names: tuple[str, str] = ("X", "y")) -> None:
    """Data that does not fit the model (or a loss that is not a scalar) refused by name, before
    anything is computed; nothing changes (modes restored, the random state untouched)."""
    with fixed_rng():
        check_fit(model, X, y, loss_fn, x_name=names[0], y_name=names[1])


def _check_owner(optimizer: Any, model: nn.Module) -> None:
    """Refuse an optimizer none of whose parameters belong to ``model`` (training would change nothing)."""
    groups = getattr(optimizer, "param_groups", None)
    if not isinstance(groups, list):
        return
    mine = {id(p) for p in model.parameters()}
    if not any(id(p) in mine for g in groups if isinstance(g, dict) for p in g.get("params", [])):
        raise ValueError("Invalid optimizer: none of its parameters belong to the model (build it from "
                         "model.parameters())")


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of rows whose arg-max equals the label.

    ``logits`` is ``(n, K)`` (finite) and ``y`` holds ``n`` labels.

    Examples
    --------
    >>> accuracy(torch.tensor([[2.0, 1.0], [0.0, 3.0]]), torch.tensor([0, 0]))
    0.5
    """
    v.tensor(logits, "logits", ndim=2, nonempty=True, finite=True)
    v.tensor(y, "y", ndim=1)
    if y.shape[0] != logits.shape[0]:
        raise ValueError(f"Invalid y: {y.shape[0]} labels for {logits.shape[0]} rows of logits (need one per row)")
    return _accuracy(logits, y)


def _labels(out: torch.Tensor, y: torch.Tensor) -> bool:
    """Accuracy means something: class scores ``(n, K)``, ``K > 1``, against ``n`` integer labels."""
    return (out.ndim == 2 and out.shape[1] > 1 and y.ndim == 1 and y.shape[0] == out.shape[0]
            and not y.is_floating_point() and not y.is_complex() and y.dtype != torch.bool)


def _accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    return float((logits.argmax(dim=1) == y).double().mean())


@torch.no_grad()
def evaluate(model: nn.Module, X: torch.Tensor, y: torch.Tensor, loss_fn: Callable[..., torch.Tensor]) -> tuple[float, float]:
    """``(loss, accuracy)`` of ``model`` on ``(X, y)`` in eval mode (every module's mode restored).

    The accuracy is that of the arg-max against integer labels ``y`` (one per row) for a model with
    two or more outputs; NaN otherwise (regression targets, one output)."""
    v.module(model)
    _check_data(X, y)
    v.function(loss_fn, "loss_fn")
    _check_fit(model, X, y, loss_fn)
    return _evaluate(model, X, y, loss_fn)


@torch.no_grad()
def _evaluate(model: nn.Module, X: torch.Tensor, y: torch.Tensor, loss_fn: Callable[..., torch.Tensor]) -> tuple[float, float]:
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        out = model(X)
        loss = float(loss_fn(out, y))
        acc = _accuracy(out, y) if _labels(out, y) else math.nan
    finally:
        for m, training in modes:
            m.training = training
    return loss, acc


def _lr_of(optimizer: Any) -> float:
    groups = getattr(optimizer, "param_groups", None)
    return float(groups[0]["lr"]) if groups else math.nan


def fit(
    model: nn.Module,
    optimizer: torch.optim.Optimizer | NumpyOptimizer | Optimizer,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    epochs: int,
    batch_size: int | None = None,
    loss_fn: Callable[..., torch.Tensor] | None = None,
    val: tuple[torch.Tensor, torch.Tensor] | None = None,
    scheduler: Any = None,
    seed: int = 0,
    shuffle: bool = True,
    drop_last: bool = False,
    max_loss: float = math.inf,
    progress: bool | None = None,
    callback: Callable[[int, History], bool | None] | None = None,
    step_callback: Callable[[int, float], bool | None] | None = None,
) -> History:
    """Train ``model`` on ``(X, y)`` with mini-batches reshuffled every epoch.

    Parameters
    ----------
    model : torch.nn.Module
    optimizer : torch.optim.Optimizer, NumpyOptimizer or nbcode.optim.Optimizer
        A torch optimizer over the model's parameters, or one of the book's optimizers (an
        :class:`nbcode.optim.Optimizer` is wrapped in a :class:`NumpyOptimizer` over
        ``model.parameters()``).
    X, y : tensors with the training inputs and targets.
    epochs : int
        Passes over the data (``>= 0``).
    batch_size : int, optional
        Mini-batch size (default: the whole set, i.e. full-batch gradient descent).
    loss_fn : callable, optional
        Default: cross-entropy for integer targets, mean squared error otherwise. A penalty
        belongs here too (``lambda out, t: ce(out, t) + alpha * (w**2).sum()``).
    val : (X_val, y_val), optional
        Also record validation loss and accuracy each epoch.
    scheduler : optional
        A ``torch.optim.lr_scheduler`` stepped once per epoch (for a schedule per step, give
        the optimizer's ``lr`` as an :mod:`nbcode.schedules` function, or step a torch
        scheduler in ``step_callback``).
    seed : int
        Seeds the shuffling (the model's initialization is the caller's business).
    shuffle : bool
        Draw each epoch's mini-batches from a new permutation (as ``DataLoader(shuffle=True)``);
        False keeps the rows in order.
    drop_last : bool
        Skip the last, smaller mini-batch of an epoch (as ``DataLoader(drop_last=True)``).
    max_loss : float
        A mini-batch loss above this (or not finite) ends the run as diverged, before the update.
    progress : bool, optional
        Show a tqdm bar over epochs (default: on; the environment variable ``TQDM_DISABLE=1``
        turns every bar off, as the book build and the tests do).
    callback : callable, optional
        ``callback(epoch, history)`` after each epoch; returning True stops training (e.g. early
        stopping).
    step_callback : callable, optional
        ``step_callback(step, loss)`` after each update, with the count of updates so far and
        the mini-batch loss before the update; returning True stops training.

    Returns
    -------
    History
        ``train_loss`` and ``train_acc`` (and ``val_loss``, ``val_acc``) per epoch, entry 0 before
        training (accuracy NaN unless ``y`` holds integer labels for a model with several outputs), and ``lr`` per epoch; ``batch_loss`` per update.
    """
    v.module(model)
    if isinstance(optimizer, Optimizer):
        optimizer = NumpyOptimizer(model.parameters(), optimizer)
    if not hasattr(optimizer, "step") or not hasattr(optimizer, "zero_grad"):
        raise TypeError(f"Invalid optimizer: {v.show(optimizer)} (need a torch.optim.Optimizer or an nbcode optimizer)")
    _check_owner(optimizer, model)
    if needs_closure(optimizer):
        raise TypeError(f"Invalid optimizer: {type(optimizer).__name__}, whose step needs a closure (fit calls step() after "
                        "backward(); use a loop that calls optimizer.step(closure), or nbcode.optim.lbfgs through NumpyOptimizer)")
    epochs = v.count(epochs, "number of epochs")
    _check_data(X, y)
    n = X.shape[0]
    if val is not None:
        if not isinstance(val, (tuple, list)) or len(val) != 2:
            raise TypeError(f"Invalid val: {v.show(val)} (need a pair (X_val, y_val) of tensors)")
        _check_data(val[0], val[1], ("val[0]", "val[1]"))
    if scheduler is not None and not callable(getattr(scheduler, "step", None)):
        raise TypeError(f"Invalid scheduler: {v.show(scheduler)} (need an object with a step() method, "
                        "e.g. a torch.optim.lr_scheduler)")
    if scheduler is not None and isinstance(optimizer, NumpyOptimizer) and getattr(scheduler, "optimizer", None) is optimizer:
        raise TypeError("Invalid scheduler: it drives a NumpyOptimizer, whose rate is its nbcode optimizer's schedule "
                        "(give that optimizer lr=<a schedule from nbcode.schedules> instead)")
    progress = v.optional(v.flag, progress, "progress")
    bs = n if batch_size is None else batch_size
    bs = v.count(bs, "batch size", low=1, high=n)
    shuffle = v.flag(shuffle, "shuffle")
    drop_last = v.flag(drop_last, "drop_last")
    max_loss = v.real(max_loss, "max_loss", finite=False)
    if loss_fn is None:
        loss_fn = nn.functional.cross_entropy if not torch.is_floating_point(y) else nn.functional.mse_loss
    v.function(loss_fn, "loss_fn")
    _check_fit(model, X, y, loss_fn)
    if val is not None:
        _check_fit(model, val[0], val[1], loss_fn, ("val[0]", "val[1]"))
    if (bs == 1 or (not drop_last and n % bs == 1)) and one_row_error(model, X) is not None:
        if bs == 1:
            raise ValueError("Invalid batch size: 1 gives mini-batches of one row, which BatchNorm cannot normalize "
                             "in training mode (use a batch_size of 2 or more)")
        raise ValueError(f"Invalid batch size: {bs} leaves a last mini-batch of one row, which BatchNorm cannot "
                         "normalize in training mode (use drop_last=True or another batch_size)")
    for name, f in (("callback", callback), ("step_callback", step_callback)):
        if f is not None:
            v.function(f, name)
    gen = torch.Generator()
    gen.manual_seed(v.count(seed, "seed"))
    hist = History()
    stop = len(range(0, n - bs + 1, bs)) * bs if drop_last else n

    def record() -> None:
        tl, ta = _evaluate(model, X, y, loss_fn)
        hist.log(train_loss=tl, train_acc=ta, lr=_lr_of(optimizer))
        if val is not None:
            vl, va = _evaluate(model, val[0], val[1], loss_fn)
            hist.log(val_loss=vl, val_acc=va)

    record()
    if progress is None:  # tqdm's notebook bar ignores TQDM_DISABLE, so read it here
        progress = os.environ.get("TQDM_DISABLE", "").strip().lower() not in ("1", "true", "yes")
    bar = tqdm(range(epochs), desc="epochs", leave=False, disable=not progress)
    stopped = False
    for epoch in bar:
        model.train()
        order = torch.randperm(n, generator=gen) if shuffle else torch.arange(n)
        for start in range(0, stop, bs):
            idx = order[start : start + bs]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(X[idx]), y[idx])
            value = float(loss.detach())
            hist.batch_loss.append(value)
            if not math.isfinite(value) or value > max_loss:
                hist.diverged = True
                break
            loss.backward()
            optimizer.step()
            hist.steps += 1
            if step_callback is not None and step_callback(hist.steps, value):
                stopped = True
                break
        if scheduler is not None and not hist.diverged:
            scheduler.step()
        record()
        if hist.diverged or not math.isfinite(hist.last("train_loss")):
            hist.diverged = True
            break
        bar.set_postfix(loss=f"{hist.last('train_loss'):.4f}")
        if stopped or (callback is not None and callback(epoch + 1, hist)):
            break
    bar.close()
    return hist
