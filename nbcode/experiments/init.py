"""The training experiments of the chapter "Initialization and how variance propagates through
depth" (``book/initialization.ipynb``): deep MLPs initialized by each scheme and trained by
:func:`nbcode.train.fit`, and the symmetry of a layer initialized with equal weights."""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
from torch import nn

from nbcode import _validate as v
from nbcode.init import init_model_, unit_spread
from nbcode.train import History, fit, mlp

__all__ = ["ACTIVATIONS", "train_with_init", "symmetry_run"]

#: The activations of the experiments, by name.
ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU, "sigmoid": nn.Sigmoid, "linear": nn.Identity}


def train_with_init(
    data: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
    scheme: str,
    *,
    act: str = "relu",
    depth: int = 15,
    width: int = 64,
    epochs: int = 5,
    lr: float = 0.05,
    momentum: float = 0.9,
    batch_size: int = 64,
    seed: int = 0,
) -> History:
    """Train the MLP ``64 -> width -> ... -> 10`` with ``depth`` weight layers (float64),
    initialized with ``scheme``, by SGD with momentum on ``data = (X_train, y_train, X_val,
    y_val)``; returns the :class:`~nbcode.train.History`."""
    X, y, Xv, yv = data
    v.choice(act, "activation", list(ACTIVATIONS))
    depth = v.count(depth, "depth", low=2)
    torch.manual_seed(seed)
    model = mlp([X.shape[1]] + [width] * (depth - 1) + [10], ACTIVATIONS[act])
    init_model_(model, scheme, rng=np.random.default_rng(seed), nonlinearity=act)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    return fit(model, opt, X, y, epochs=epochs, batch_size=batch_size, val=(Xv, yv), seed=seed, progress=False)


def symmetry_run(
    data: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
    scheme: str,
    *,
    act: str = "tanh",
    hidden: int = 32,
    epochs: int = 10,
    lr: float = 0.1,
    seed: int = 0,
) -> tuple[History, float]:
    """Train ``64 -> hidden -> 10`` initialized with ``scheme`` (biases 0); returns the history and
    :func:`unit_spread` of the hidden layer after training."""
    X, y, Xv, yv = data
    v.choice(act, "activation", list(ACTIVATIONS))
    model = mlp([X.shape[1], hidden, 10], ACTIVATIONS[act])
    init_model_(model, scheme, rng=np.random.default_rng(seed), nonlinearity=act)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    hist = fit(model, opt, X, y, epochs=epochs, batch_size=32, val=(Xv, yv), seed=seed, progress=False)
    first = model[0]
    assert isinstance(first, nn.Linear)
    spread = unit_spread(first)
    return hist, spread if math.isfinite(spread) else math.nan
