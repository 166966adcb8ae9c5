"""Initializing torch models with the NumPy initializers, and what to look at after training.

* :func:`init_model_` sets every ``nn.Linear`` of a model by one of :data:`SCHEMES`
  (:func:`~nbcode.init.lecun_normal`, :func:`~nbcode.init.xavier_normal`,
  :func:`~nbcode.init.kaiming_normal`, :func:`~nbcode.init.orthogonal`, ...);
* :func:`prior_bias` gives the output biases that predict the class frequencies;
* :func:`unit_spread` measures whether the units of a layer still compute the same function;
* :func:`lstm_forget_bias_` sets the forget-gate bias of an LSTM (Gers et al. 2000).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from nbcode import _validate as v
from nbcode.init.fans import NONLINEARITIES, calculate_gain
from nbcode.init.initializers import kaiming_normal, lecun_normal, orthogonal, xavier_normal

__all__ = ["SCHEMES", "init_model_", "prior_bias", "unit_spread", "lstm_forget_bias_"]

#: Weight schemes understood by :func:`init_model_`.
SCHEMES = ("zeros", "constant", "small", "lecun", "xavier", "kaiming", "orthogonal")


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
    v.module(model)
    v.choice(scheme, "initialization scheme", SCHEMES)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"Invalid rng: {v.show(rng)} (need a numpy.random.Generator)")
    v.choice(nonlinearity, "nonlinearity", NONLINEARITIES)
    bias = v.real(bias, "bias")
    value = v.real(value, "value")
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
    n_classes = v.count(n_classes, "n_classes", low=1)
    labels = v.array(y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else y, "y", ndim=1)
    if np.any(labels != np.round(labels)) or labels.min() < 0 or labels.max() >= n_classes:
        raise ValueError(f"Invalid y: {v.show(y)} (need integer labels in [0, {n_classes}))")
    counts = np.bincount(labels.astype(int), minlength=n_classes).astype(float)
    if np.any(counts == 0):
        missing = np.flatnonzero(counts == 0).tolist()
        raise ValueError(f"Invalid y: every one of the {n_classes} classes must occur (missing: {missing})")
    return np.log(counts / counts.sum())


def unit_spread(layer: nn.Linear) -> float:
    """Largest distance between a hidden unit's incoming weights (and bias) and unit 0's:
    zero when all units of the layer compute the same function."""
    if not isinstance(layer, nn.Linear):
        raise TypeError(f"Invalid layer: {v.show(layer)} (need a torch.nn.Linear)")
    w = layer.weight.detach().double()
    if layer.bias is not None:
        w = torch.cat([w, layer.bias.detach().double()[:, None]], dim=1)
    return float((w - w[0]).norm(dim=1).max())


def lstm_forget_bias_(lstm: nn.LSTM | nn.LSTMCell, value: float = 1.0) -> nn.Module:
    r"""Set the forget-gate bias of every layer of ``lstm`` to ``value``, in place.

    The cell state follows :math:`c_t = f_t \odot c_{t-1} + i_t \odot g_t` with the forget gate
    :math:`f_t = \sigma(W_f x_t + U_f h_{t-1} + b_f)`, so along the cell state a gradient is
    multiplied by :math:`f_t` at every step. With small weights :math:`f_t \approx \sigma(b_f)`:
    :math:`\tfrac12` for :math:`b_f = 0`, :math:`0.73` for :math:`b_f = 1` (Gers et al. 2000;
    Jozefowicz et al. 2015 recommend 1). PyTorch stores the gates in the order (input, forget,
    cell, output) and adds two biases, ``bias_ih`` and ``bias_hh``: the forget slice
    ``[H:2H]`` of ``bias_ih`` is set to ``value`` and that of ``bias_hh`` to 0, so their sum is
    ``value``.

    Examples
    --------
    >>> cell = lstm_forget_bias_(nn.LSTMCell(3, 2), 1.0)
    >>> (cell.bias_ih + cell.bias_hh)[2:4].tolist()
    [1.0, 1.0]
    """
    if not isinstance(lstm, (nn.LSTM, nn.LSTMCell)):
        raise TypeError(f"Invalid lstm: {v.show(lstm)} (need a torch.nn.LSTM or LSTMCell)")
    value = v.real(value, "value")
    if not lstm.bias:
        raise ValueError("Invalid lstm: it has no biases (bias=False)")
    H = lstm.hidden_size
    with torch.no_grad():
        for name, p in lstm.named_parameters():
            if name.startswith("bias_ih"):
                p[H : 2 * H] = value
            elif name.startswith("bias_hh"):
                p[H : 2 * H] = 0.0
    return lstm
