"""Initializing torch models with the NumPy initializers, and the chapter's training experiments."""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
from torch import nn

from nbcode.init.fans import calculate_gain
from nbcode.init.initializers import kaiming_normal, lecun_normal, orthogonal, xavier_normal
from nbcode.train import History, fit, mlp

__all__ = ["SCHEMES", "init_model_", "prior_bias", "deep_mlp", "train_with_init", "unit_spread", "symmetry_run"]

#: Weight schemes understood by :func:`init_model_`.
SCHEMES = ("zeros", "constant", "small", "lecun", "xavier", "kaiming", "orthogonal")
_ACTS: dict[str, Callable[[], nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU, "sigmoid": nn.Sigmoid, "linear": nn.Identity}


def init_model_(
    model: nn.Module, scheme: str, *, rng: np.random.Generator, nonlinearity: str = "relu", bias: float = 0.0, value: float = 0.1
) -> nn.Module:
    """Set every ``nn.Linear`` weight of ``model`` by ``scheme`` and every bias to ``bias``, in place.

    ``'zeros'``: 0; ``'constant'``: ``value`` everywhere; ``'small'``: :math:`\\mathcal N(0, 0.01^2)`;
    ``'lecun'``, ``'xavier'``: :func:`lecun_normal`, :func:`xavier_normal`; ``'kaiming'``:
    :func:`kaiming_normal` for ``nonlinearity``; ``'orthogonal'``: :func:`orthogonal` with the gain
    of ``nonlinearity``. The last layer gets the same rule as the others.

    Examples
    --------
    >>> net = nn.Sequential(nn.Linear(3, 2)).double()
    >>> init_model_(net, "constant", rng=np.random.default_rng(0), bias=0.5) and net[0].weight.tolist()
    [[0.1, 0.1, 0.1], [0.1, 0.1, 0.1]]
    >>> net[0].bias.tolist()
    [0.5, 0.5]
    """
    if scheme not in SCHEMES:
        raise ValueError(f"Unsupported initialization scheme {scheme}")
    with torch.no_grad():
        for m in model.modules():
            if not isinstance(m, nn.Linear):
                continue
            shape = tuple(m.weight.shape)
            if scheme == "zeros":
                w = np.zeros(shape)
            elif scheme == "constant":
                w = np.full(shape, value)
            elif scheme == "small":
                w = 0.01 * rng.normal(size=shape)
            elif scheme == "lecun":
                w = lecun_normal(shape, rng=rng)
            elif scheme == "xavier":
                w = xavier_normal(shape, rng=rng)
            elif scheme == "kaiming":
                w = kaiming_normal(shape, nonlinearity=nonlinearity, rng=rng)
            else:
                w = orthogonal(shape, float(calculate_gain(nonlinearity)), rng=rng)
            m.weight.copy_(torch.as_tensor(w, dtype=m.weight.dtype))
            if m.bias is not None:
                m.bias.fill_(bias)
    return model


def prior_bias(y: np.ndarray | torch.Tensor, n_classes: int) -> np.ndarray:
    r"""Output biases :math:`b_k = \log \hat p_k` that make a zero-weight softmax layer predict the
    class frequencies :math:`\hat p_k` (Goodfellow et al. 2016, §8.4); its cross-entropy is then
    the entropy of the labels, :math:`-\sum_k \hat p_k \log \hat p_k`.

    Examples
    --------
    >>> prior_bias(np.array([0, 0, 0, 1]), 2).round(4).tolist()
    [-0.2877, -1.3863]
    """
    counts = np.bincount(np.asarray(y).astype(int), minlength=n_classes).astype(float)
    if counts.size != n_classes or np.any(counts == 0):
        raise ValueError(f"Invalid labels: every one of the {n_classes} classes must occur")
    return np.log(counts / counts.sum())


def deep_mlp(depth: int, width: int, act: str, n_in: int = 64, n_out: int = 10) -> nn.Sequential:
    """``n_in -> width -> ... -> n_out`` with ``depth`` weight layers (``depth - 1`` hidden layers), float64."""
    if act not in _ACTS:
        raise ValueError(f"Unsupported nonlinearity {act}")
    if not isinstance(depth, int) or depth < 2:
        raise ValueError(f"Invalid depth: {depth}")
    return mlp([n_in] + [width] * (depth - 1) + [n_out], _ACTS[act]).double()


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
    """Train a :func:`deep_mlp` initialized with ``scheme`` by SGD with momentum on
    ``data = (X_train, y_train, X_val, y_val)``; returns the :class:`~nbcode.train.History`."""
    X, y, Xv, yv = data
    torch.manual_seed(seed)
    model = init_model_(deep_mlp(depth, width, act), scheme, rng=np.random.default_rng(seed), nonlinearity=act if act != "sigmoid" else "sigmoid")
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    return fit(model, opt, X, y, epochs=epochs, batch_size=batch_size, val=(Xv, yv), seed=seed, progress=False)


def unit_spread(layer: nn.Linear) -> float:
    """Largest distance between a hidden unit's incoming weights (and bias) and unit 0's:
    zero when all units of the layer compute the same function."""
    w = layer.weight.detach().double()
    if layer.bias is not None:
        w = torch.cat([w, layer.bias.detach().double()[:, None]], dim=1)
    return float((w - w[0]).norm(dim=1).max())


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
    model = mlp([X.shape[1], hidden, 10], _ACTS[act]).double()
    init_model_(model, scheme, rng=np.random.default_rng(seed), nonlinearity=act)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    hist = fit(model, opt, X, y, epochs=epochs, batch_size=32, val=(Xv, yv), seed=seed, progress=False)
    first = model[0]
    assert isinstance(first, nn.Linear)
    spread = unit_spread(first)
    return hist, spread if math.isfinite(spread) else math.nan
