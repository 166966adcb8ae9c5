"""The training experiments of the chapter "Initialization and how variance propagates through
depth" (``book/initialization.ipynb``): deep MLPs initialized by each scheme and trained by
:func:`nbcode.train.fit`, the symmetry of a layer initialized with equal weights, deep residual
MLPs with scaled or zero-initialized branches, and how long an LSTM's cell state remembers."""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import numpy as np
import torch
from torch import nn

from nbcode import _validate as v
from nbcode.experiments._checks import sized_fit, split4
from nbcode.init import init_model_, lstm_forget_bias_, residual_mlp, unit_spread
from nbcode.train import History, fit, mlp

__all__ = ["ACTIVATIONS", "train_with_init", "symmetry_run", "train_residual", "LSTMMemory", "lstm_memory"]

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
    X, y, Xv, yv = split4(data)
    sized_fit([X.shape[1], 10], X, y, "data X_train", "data y_train")
    sized_fit([X.shape[1], 10], Xv, yv, "data X_val", "data y_val")
    v.choice(act, "activation", list(ACTIVATIONS))
    depth = v.count(depth, "depth", low=2)
    width = v.count(width, "width", low=1)
    epochs = v.count(epochs, "number of epochs")
    lr = v.real(lr, "learning rate", low=0, low_open=True, symbol="lr")
    momentum = v.real(momentum, "momentum", low=0)
    batch_size = v.count(batch_size, "batch size", low=1, high=X.shape[0])
    seed = v.count(seed, "seed")
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
    X, y, Xv, yv = split4(data)
    sized_fit([X.shape[1], 10], X, y, "data X_train", "data y_train")
    sized_fit([X.shape[1], 10], Xv, yv, "data X_val", "data y_val")
    v.choice(act, "activation", list(ACTIVATIONS))
    hidden = v.count(hidden, "hidden", low=1)
    epochs = v.count(epochs, "number of epochs")
    lr = v.real(lr, "learning rate", low=0, low_open=True, symbol="lr")
    seed = v.count(seed, "seed")
    model = mlp([X.shape[1], hidden, 10], ACTIVATIONS[act])
    init_model_(model, scheme, rng=np.random.default_rng(seed), nonlinearity=act)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    hist = fit(model, opt, X, y, epochs=epochs, batch_size=32, val=(Xv, yv), seed=seed, progress=False)
    first = model[0]
    assert isinstance(first, nn.Linear)
    spread = unit_spread(first)
    return hist, spread if math.isfinite(spread) else math.nan


def train_residual(
    data: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
    *,
    depth: int,
    width: int = 32,
    alpha: float = 1.0,
    zero_init: bool = False,
    norm: str | None = None,
    placement: str = "pre",
    optimizer: str = "sgd",
    lr: float = 0.01,
    momentum: float = 0.9,
    epochs: int = 2,
    batch_size: int = 64,
    warmup: int = 0,
    seed: int = 0,
) -> History:
    """Train :func:`~nbcode.init.residual_mlp` ``(64, width, 10)`` with ``depth`` blocks on ``data``
    (``(X_train, y_train, X_val, y_val)``) by SGD with momentum (``optimizer='sgd'``) or Adam
    (``'adam'``, betas (0.9, 0.999)), with a linear warm-up of the learning rate over the first
    ``warmup`` steps (0: none). A run whose loss stops being finite is stopped and marked
    ``diverged`` (:func:`~nbcode.train.fit`)."""
    X, y, Xv, yv = split4(data)
    sized_fit([X.shape[1], 10], X, y, "data X_train", "data y_train")
    sized_fit([X.shape[1], 10], Xv, yv, "data X_val", "data y_val")
    v.choice(optimizer, "optimizer", ("sgd", "adam"))
    lr = v.real(lr, "learning rate", low=0, low_open=True, symbol="lr")
    momentum = v.real(momentum, "momentum", low=0, high=1)
    width = v.count(width, "width", low=1)
    zero_init = v.flag(zero_init, "zero_init")
    warmup = v.count(warmup, "warmup")
    epochs = v.count(epochs, "number of epochs")
    batch_size = v.count(batch_size, "batch size", low=1, high=X.shape[0])
    seed = v.count(seed, "seed")
    model = residual_mlp((X.shape[1], width, 10), depth, alpha=alpha, zero_init=zero_init, norm=norm, placement=placement,
                         seed=seed)
    opt: torch.optim.Optimizer
    if optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=lr)
    step_callback = None
    if warmup:
        def step_callback(step: int, loss: float) -> None:
            for group in opt.param_groups:
                group["lr"] = lr * min(1.0, (step + 1) / warmup)
        for group in opt.param_groups:
            group["lr"] = lr / warmup
    return fit(model, opt, X, y, epochs=epochs, batch_size=batch_size, val=(Xv, yv), seed=seed, progress=False,
               step_callback=step_callback)


class LSTMMemory(NamedTuple):
    r"""What :func:`lstm_memory` measures at steps :math:`t = 1, \dots, T`: the norm of
    :math:`\partial\langle r, c_t\rangle/\partial c_0` (root mean square over the batch), the
    mean forget-gate activation :math:`\bar f_t`, and the norm of the cell-state path alone,
    :math:`\lVert r \odot f_t \odot \dots \odot f_1\rVert` (root mean square over the batch)."""

    grad: np.ndarray
    forget: np.ndarray
    cell_path: np.ndarray


def lstm_memory(hidden: int, steps: int, *, forget_bias: float | None = None, batch: int = 32, seed: int = 0) -> LSTMMemory:
    r"""How fast a one-layer LSTM (input size = ``hidden``, float64, PyTorch's default
    initialization) forgets its initial cell state, on standard normal input sequences.

    ``forget_bias`` sets the forget-gate bias with :func:`~nbcode.init.lstm_forget_bias_` (None:
    PyTorch's default, a uniform draw around 0). For each :math:`t` the gradient of
    :math:`\langle r, c_t\rangle` (``r`` a fixed random unit vector) with respect to :math:`c_0` is
    taken by back-propagation. Along the cell state it is multiplied by :math:`f_t` at every step
    (``cell_path``); other paths (:math:`c_{t-1}` reaches :math:`h_{t-1}`, which feeds every gate
    and the candidate at step :math:`t`) add to it, so the forget gate sets the decay without
    fixing it exactly.
    """
    hidden = v.count(hidden, "hidden", low=1)
    steps = v.count(steps, "steps", low=1)
    batch = v.count(batch, "batch size", low=1)
    forget_bias = v.optional(v.real, forget_bias, "forget_bias")
    seed = v.count(seed, "seed")
    torch.manual_seed(seed)
    cell = nn.LSTMCell(hidden, hidden, dtype=torch.float64)
    if forget_bias is not None:
        lstm_forget_bias_(cell, forget_bias)
    gen = torch.Generator().manual_seed(seed)
    xs = torch.randn(steps, batch, hidden, generator=gen, dtype=torch.float64)
    r = torch.randn(hidden, generator=gen, dtype=torch.float64)
    r = r / r.norm()
    c0 = torch.randn(batch, hidden, generator=gen, dtype=torch.float64).requires_grad_(True)
    h, c = torch.zeros(batch, hidden, dtype=torch.float64), c0
    H = hidden
    grads, forget, cell_path = np.empty(steps), np.empty(steps), np.empty(steps)
    prod = torch.ones(batch, hidden, dtype=torch.float64)
    for t in range(steps):
        with torch.no_grad():
            gates = xs[t] @ cell.weight_ih.T + cell.bias_ih + h @ cell.weight_hh.T + cell.bias_hh
            f = torch.sigmoid(gates[:, H : 2 * H])  # PyTorch's gate order: input, forget, cell, output
            forget[t] = float(f.mean())
            prod = prod * f
            cell_path[t] = float((r * prod).pow(2).sum(1).mean().sqrt())
        h, c = cell(xs[t], (h, c))
        (g,) = torch.autograd.grad((c @ r).sum(), c0, retain_graph=True)
        grads[t] = float(g.pow(2).sum(1).mean().sqrt())
    return LSTMMemory(grads, forget, cell_path)
