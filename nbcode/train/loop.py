"""One training loop for every chapter: seeded, with a progress bar, history returned as data."""

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

__all__ = ["History", "fit", "evaluate", "accuracy", "mlp", "seed_everything"]


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; returns a torch generator seeded with ``seed``."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def mlp(
    sizes: Sequence[int], activation: Callable[[], nn.Module] = nn.ReLU, *, bias: bool = True, dtype: torch.dtype = torch.float64
) -> nn.Sequential:
    """A multilayer perceptron ``sizes[0] -> ... -> sizes[-1]`` with ``activation`` between layers.

    The layers are created, and initialized, in ``dtype``: float64 by default. The book's
    networks are small, and in float64 the round-off that differs between CPUs (float32 random
    initialization alone differs in the last bit between torch's kernels) stays far below any
    digit the book prints.

    Examples
    --------
    >>> net = mlp([64, 32, 10])
    >>> [type(m).__name__ for m in net]
    ['Linear', 'ReLU', 'Linear']
    """
    if len(sizes) < 2 or any(int(s) != s or s < 1 for s in sizes):
        raise ValueError(f"Invalid layer sizes: {list(sizes)} (need two or more positive integers)")
    layers: list[nn.Module] = []
    for i, (m, n) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(int(m), int(n), bias=bias, dtype=dtype))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


@dataclass
class History:
    """Per-epoch metrics of a run: ``history["train_loss"]`` is a list with one value per epoch
    (index 0 is before training). ``steps`` counts optimizer steps; ``diverged`` is True when
    the loss became non-finite (the run stops there instead of crashing)."""

    metrics: dict[str, list[float]] = field(default_factory=dict)
    steps: int = 0
    diverged: bool = False

    def __getitem__(self, key: str) -> list[float]:
        return self.metrics[key]

    def log(self, **values: float) -> None:
        for k, v in values.items():
            self.metrics.setdefault(k, []).append(float(v))

    def last(self, key: str) -> float:
        return self.metrics[key][-1]


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of rows whose arg-max equals the label."""
    return float((logits.argmax(dim=1) == y).double().mean())


@torch.no_grad()
def evaluate(model: nn.Module, X: torch.Tensor, y: torch.Tensor, loss_fn: Callable[..., torch.Tensor]) -> tuple[float, float]:
    """``(loss, accuracy)`` of ``model`` on ``(X, y)`` in eval mode (training mode restored)."""
    was_training = model.training
    model.eval()
    try:
        out = model(X)
        loss = float(loss_fn(out, y))
        acc = accuracy(out, y) if out.ndim == 2 and out.shape[1] > 1 else math.nan
    finally:
        model.train(was_training)
    return loss, acc


def fit(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    epochs: int,
    batch_size: int | None = None,
    loss_fn: Callable[..., torch.Tensor] | None = None,
    val: tuple[torch.Tensor, torch.Tensor] | None = None,
    scheduler: Any = None,
    seed: int = 0,
    progress: bool | None = None,
    callback: Callable[[int, History], bool | None] | None = None,
) -> History:
    """Train ``model`` on ``(X, y)`` with mini-batches reshuffled every epoch.

    Parameters
    ----------
    model, optimizer : the torch model and an optimizer over its parameters.
    X, y : tensors with the training inputs and targets.
    epochs : int
        Passes over the data (``>= 0``).
    batch_size : int, optional
        Mini-batch size (default: the whole set, i.e. full-batch gradient descent).
    loss_fn : callable, optional
        Default: cross-entropy for integer targets, mean squared error otherwise.
    val : (X_val, y_val), optional
        Also record validation loss and accuracy each epoch.
    scheduler : optional
        A ``torch.optim.lr_scheduler`` stepped once per epoch.
    seed : int
        Seeds the shuffling (the model's initialization is the caller's business).
    progress : bool, optional
        Show a tqdm bar over epochs (default: on; the environment variable ``TQDM_DISABLE=1``
        turns every bar off, as the book build and the tests do).
    callback : callable, optional
        ``callback(epoch, history)`` after each epoch; returning True stops training (e.g. early
        stopping).

    Returns
    -------
    History
        ``train_loss`` and ``train_acc`` (and ``val_loss``, ``val_acc``) per epoch, entry 0 before
        training, and ``lr`` per epoch.
    """
    if not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"Invalid number of epochs: {epochs}")
    n = X.shape[0]
    if y.shape[0] != n:
        raise ValueError(f"X and y have different numbers of rows: {n} and {y.shape[0]}")
    bs = n if batch_size is None else batch_size
    if not isinstance(bs, int) or not 1 <= bs <= n:
        raise ValueError(f"Invalid batch size: {batch_size} (need 1 <= batch_size <= {n})")
    if loss_fn is None:
        loss_fn = nn.functional.cross_entropy if not torch.is_floating_point(y) else nn.functional.mse_loss
    gen = torch.Generator()
    gen.manual_seed(seed)
    hist = History()

    def record() -> None:
        tl, ta = evaluate(model, X, y, loss_fn)
        hist.log(train_loss=tl, train_acc=ta, lr=optimizer.param_groups[0]["lr"])
        if val is not None:
            vl, va = evaluate(model, val[0], val[1], loss_fn)
            hist.log(val_loss=vl, val_acc=va)

    record()
    if progress is None:  # tqdm's notebook bar ignores TQDM_DISABLE, so read it here
        progress = os.environ.get("TQDM_DISABLE", "").strip().lower() not in ("1", "true", "yes")
    bar = tqdm(range(epochs), desc="epochs", leave=False, disable=not progress)
    for epoch in bar:
        model.train()
        perm = torch.randperm(n, generator=gen)
        for start in range(0, n, bs):
            idx = perm[start : start + bs]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(X[idx]), y[idx])
            if not torch.isfinite(loss):
                hist.diverged = True
                break
            loss.backward()
            optimizer.step()
            hist.steps += 1
        if scheduler is not None and not hist.diverged:
            scheduler.step()
        record()
        if hist.diverged or not math.isfinite(hist.last("train_loss")):
            hist.diverged = True
            break
        bar.set_postfix(loss=f"{hist.last('train_loss'):.4f}")
        if callback is not None and callback(epoch + 1, hist):
            break
    bar.close()
    return hist
