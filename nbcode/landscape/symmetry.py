"""Symmetries of an MLP's parameters: changes of the weights that leave the function unchanged.

* **Permutation**: relabelling the hidden units of a layer (permuting the rows of its ``Linear``
  weight and bias, and the columns of the next ``Linear`` weight) computes the same function, for
  any activation. A layer of width :math:`n_l` gives :math:`n_l!` copies of every minimum.
* **Rescaling**: for a positively homogeneous activation, :math:`\\phi(cz) = c\\,\\phi(z)` for
  :math:`c > 0` (ReLU, leaky ReLU, the identity), multiplying unit :math:`j`'s incoming weights
  *and bias* by :math:`c_j > 0` and dividing its outgoing weights by :math:`c_j` computes the same
  function. Each unit gives a continuous curve of parameters with equal loss: minima are not
  isolated. Differentiating along the curve at :math:`c_j = 1` gives the tangent
  :math:`v_j = (W^{l}_{j,:},\\ b^{l}_j,\\ -W^{l+1}_{:,j})` (zero elsewhere); since
  :math:`L` is constant along the curve, :math:`g^\\top v_j = 0` at *every* point, and at a
  minimum :math:`H v_j = 0`.

The functions act on the ``nn.Sequential`` MLPs of :func:`nbcode.train.mlp` (``Linear``,
activation and ``Dropout`` modules) and return new models; the model passed in is not changed.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from torch import nn

from nbcode import _validate
from nbcode.hessian.operator import flat_params

__all__ = ["hidden_layers", "permute_hidden", "rescale_hidden", "rescaling_directions"]

_ALLOWED = (nn.Linear, nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid, nn.Identity, nn.Dropout, nn.GELU, nn.ELU, nn.Softplus)


def _linears(model: Any) -> list[nn.Linear]:
    _validate.module(model)
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"Invalid model: {type(model).__name__} (need an nn.Sequential MLP, as built by nbcode.train.mlp)")
    bad = [type(m).__name__ for m in model if not isinstance(m, _ALLOWED)]
    if bad:
        raise ValueError(f"Invalid model: it has {bad[0]} layers (need Linear layers, elementwise activations and Dropout)")
    lins = [m for m in model if isinstance(m, nn.Linear)]
    if len(lins) < 2:
        raise ValueError(f"Invalid model: {len(lins)} Linear layer (need two or more: a hidden layer)")
    return lins


def hidden_layers(model: nn.Module) -> list[int]:
    """The widths of the hidden layers (every ``Linear`` layer but the last).

    Examples
    --------
    >>> hidden_layers(nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 2)))
    [3, 5]
    """
    return [lin.out_features for lin in _linears(model)[:-1]]


def _check_layer(model: nn.Module, layer: Any) -> tuple[nn.Linear, nn.Linear, int]:
    lins = _linears(model)
    i = _validate.count(layer, "layer", low=0, high=len(lins) - 2)
    return lins[i], lins[i + 1], i


def permute_hidden(model: nn.Module, layer: int, perm: Any) -> nn.Module:
    """A copy of ``model`` with the units of hidden layer ``layer`` (0 = the first) relabelled by ``perm``.

    Unit ``perm[j]`` of the original becomes unit ``j`` of the copy: rows of the layer's weight and
    bias, and columns of the next layer's weight, are permuted together. The function is the same
    (up to the order of floating-point sums).

    Examples
    --------
    >>> torch.manual_seed(0) is not None
    True
    >>> net = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1)).double()
    >>> x = torch.randn(4, 2, dtype=torch.float64)
    >>> bool(torch.allclose(permute_hidden(net, 0, [2, 0, 1])(x), net(x), rtol=1e-14, atol=1e-15))
    True
    """
    _, _, i = _check_layer(model, layer)
    width = _linears(model)[i].out_features
    p = np.asarray(perm)
    if p.dtype.kind not in "iu" or p.shape != (width,) or sorted(p.tolist()) != list(range(width)):
        raise ValueError(f"Invalid perm: {_validate.show(perm)} (need a permutation of 0..{width - 1})")
    new = copy.deepcopy(model)
    a, b, _ = _check_layer(new, i)
    idx = torch.as_tensor(p, dtype=torch.long)
    with torch.no_grad():
        a.weight.copy_(a.weight[idx])
        if a.bias is not None:
            a.bias.copy_(a.bias[idx])
        b.weight.copy_(b.weight[:, idx])
    return new


def _scales(c: Any, width: int) -> torch.Tensor:
    arr = _validate.array(c, "c")
    if arr.ndim == 0:
        arr = np.full(width, float(arr))
    if arr.shape != (width,) or np.any(arr <= 0):
        raise ValueError(f"Invalid c: {_validate.show(c)} (need a positive number or {width} positive numbers)")
    return torch.as_tensor(arr)


def rescale_hidden(model: nn.Module, layer: int, c: Any) -> nn.Module:
    """A copy of ``model`` with unit ``j`` of hidden layer ``layer`` rescaled by :math:`c_j > 0`.

    Incoming weights and bias are multiplied by :math:`c_j`, outgoing weights divided by it. With a
    positively homogeneous activation (ReLU, leaky ReLU, identity) the function is unchanged; with
    any other (tanh, sigmoid) it changes. ``c`` is one number for every unit or one per unit.

    Examples
    --------
    >>> torch.manual_seed(0) is not None
    True
    >>> net = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)).double()
    >>> x = torch.randn(4, 2, dtype=torch.float64)
    >>> bool(torch.allclose(rescale_hidden(net, 0, [0.5, 2.0, 3.0])(x), net(x), rtol=1e-14, atol=1e-15))
    True
    """
    _, _, i = _check_layer(model, layer)
    s = _scales(c, _linears(model)[i].out_features)
    new = copy.deepcopy(model)
    a, b, _ = _check_layer(new, i)
    with torch.no_grad():
        s = s.to(a.weight.dtype)
        a.weight.mul_(s[:, None])
        if a.bias is not None:
            a.bias.mul_(s)
        b.weight.div_(s[None, :])
    return new


def rescaling_directions(model: nn.Module, layer: int) -> np.ndarray:
    """The tangents :math:`v_j` of the rescaling curves of hidden layer ``layer``, one row per unit, ``(width, d)``.

    Row ``j`` is :math:`\\frac{d}{dc}` of :func:`rescale_hidden` (unit ``j`` only) at :math:`c = 1`,
    as a flat vector in the order of :func:`~nbcode.hessian.flat_params`: unit ``j``'s incoming
    weights and bias, minus its outgoing weights, zero elsewhere. For a positively homogeneous
    activation :math:`g^\\top v_j = 0` at any parameters, and :math:`H v_j = 0` at a minimum.

    Examples
    --------
    >>> net = nn.Sequential(nn.Linear(1, 2), nn.ReLU(), nn.Linear(2, 1))
    >>> with torch.no_grad():
    ...     _ = [p.copy_(torch.arange(1.0, p.numel() + 1).reshape(p.shape)) for p in net.parameters()]
    >>> rescaling_directions(net, 0).tolist()     # order: W1 (2x1), b1 (2), W2 (1x2), b2 (1)
    [[1.0, 0.0, 1.0, 0.0, -1.0, 0.0, 0.0], [0.0, 2.0, 0.0, 2.0, 0.0, -2.0, 0.0]]
    """
    a, b, _ = _check_layer(model, layer)
    theta = flat_params(model)
    rows = []
    for j in range(a.out_features):
        parts = []
        for p in model.parameters():
            t = torch.zeros_like(p)
            if p is a.weight:
                t[j] = p.detach()[j]
            elif a.bias is not None and p is a.bias:
                t[j] = p.detach()[j]
            elif p is b.weight:
                t[:, j] = -p.detach()[:, j]
            parts.append(t.reshape(-1))
        rows.append(torch.cat(parts))
    out = torch.stack(rows).double().numpy()
    assert out.shape == (a.out_features, theta.numel())
    return np.asarray(out)
