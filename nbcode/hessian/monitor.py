"""Ill-conditioning during training: :math:`g^\\top g`, :math:`g^\\top H g` and the second-order model."""

from __future__ import annotations

import torch
from torch import nn

from nbcode import _validate
from nbcode.hessian.operator import HessianOperator, LossFn

__all__ = ["curvature_along_gradient", "predicted_change"]


def curvature_along_gradient(model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """``(g @ g, g @ H @ g)`` of the full-batch loss at the model's parameters (one HVP); the
    model is left unchanged (see :func:`~nbcode.hessian.operator.flat_loss`).

    :cite:`goodfellow2016` (§8.2.1) suggest monitoring both: ill-conditioning shows as
    :math:`g^\\top H g` growing while :math:`g^\\top g` does not shrink.

    Examples
    --------
    >>> net = nn.Linear(1, 1, bias=False).double()
    >>> _ = net.weight.data.fill_(1.0)
    >>> X = torch.tensor([[1.0], [2.0]], dtype=torch.float64)
    >>> gg, gHg = curvature_along_gradient(net, nn.functional.mse_loss, X, torch.zeros(2, 1, dtype=torch.float64))
    >>> round(gg, 6), round(gHg, 6)   # L = (w² + 4w²)/2 = 2.5 w²: g = 5, H = 5
    (25.0, 125.0)
    """
    op = HessianOperator(model, loss_fn, X, y)
    g = op.gradient()
    return float(g @ g), float(g @ op.matvec(g))


def predicted_change(gTg: float, gTHg: float, lr: float) -> float:
    """The second-order Taylor prediction of :math:`L(w - \\eta g) - L(w)`.

    .. math:: \\Delta L \\approx -\\eta\\, g^\\top g + \\tfrac12 \\eta^2\\, g^\\top H g

    A step increases the loss once :math:`\\eta > 2 g^\\top g / g^\\top H g`.

    Examples
    --------
    >>> predicted_change(25.0, 125.0, 0.1)
    -1.875
    """
    lr = _validate.real(lr, "learning rate", low=0)
    gTg = _validate.real(gTg, "gTg", low=0)
    gTHg = _validate.real(gTHg, "gTHg")
    return -lr * gTg + 0.5 * lr * lr * gTHg
