"""Sharpness: the largest eigenvalue of the Hessian of a model's training loss."""

from __future__ import annotations

import copy
from typing import Callable

import torch
from torch import nn

from nbcode import _validate as v
from nbcode.hessian.operator import HessianOperator, _check_data
from nbcode.hessian.spectrum import lanczos_topk

__all__ = ["sharpness"]


def sharpness(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    loss_fn: Callable[..., torch.Tensor] = nn.functional.cross_entropy,
    *,
    tol: float = 1e-6,
    seed: int = 0,
) -> float:
    r"""The sharpness :math:`\lambda_{\max}(\nabla^2 L(w))` of the training loss at the model's
    parameters, by Lanczos on Hessian-vector products (:func:`~nbcode.hessian.lanczos_topk`).

    The :math:`d \times d` Hessian is never formed: each Lanczos step is one product
    :math:`Hv` by double back-propagation (:class:`~nbcode.hessian.HessianOperator`). The
    loss is the training loss, whatever the model's mode: a copy in training mode is
    differentiated, so BatchNorm layers normalize with the batch statistics of ``X`` (and
    dropout draws one fixed mask), and ``model`` (parameters, buffers, mode) is left unchanged.
    The Hessian is taken in the trainable parameters (``requires_grad=True``; frozen ones are held
    fixed, as in training and in :mod:`nbcode.checkup`); the data must fit the model and the loss
    give a scalar, and half-precision models are refused (see :func:`~nbcode.hessian.flat_loss`).
    ``tol`` is the relative residual at which Lanczos stops (the eigenvalue is then at least
    that accurate).

    At a minimum the Hessian is positive semi-definite and this is the curvature that limits
    a stable step, :math:`\eta < 2/\lambda_{\max}` (the "edge of stability").

    Examples
    --------
    >>> net = nn.Linear(2, 1, bias=False).double()
    >>> X = torch.tensor([[1.0, 0.0], [0.0, 2.0]], dtype=torch.float64); y = torch.zeros(2, 1, dtype=torch.float64)
    >>> round(sharpness(net, X, y, nn.functional.mse_loss), 6)   # H = 2 X^T X / 2 = diag(1, 4)
    4.0
    """
    _check_data(model, loss_fn, X, y, training=True)
    op = HessianOperator(copy.deepcopy(model).train(), loss_fn, X, y)
    return float(lanczos_topk(op, 1, tol=v.real(tol, "tol", low=0, low_open=True), seed=v.count(seed, "seed")).eigenvalues[0])
