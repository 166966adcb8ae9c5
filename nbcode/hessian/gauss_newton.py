"""The Gauss-Newton part of a network's Hessian, and what is left.

Write the loss as a function of the network's outputs, :math:`L(w) = \\ell(F(w))` with
:math:`F(w) \\in \\mathbb R^{n \\times K}` the outputs on all ``n`` examples. The chain rule twice gives

.. math:: \\nabla^2 L = \\underbrace{J^\\top \\nabla^2_F \\ell\\, J}_{G:\\ \\text{Gauss-Newton}}
   + \\underbrace{\\sum_{i, c} \\frac{\\partial \\ell}{\\partial F_{ic}}\\, \\nabla^2_w F_{ic}}_{\\text{residual part}},
   \\qquad J = \\frac{\\partial F}{\\partial w} .

For a loss that is convex in the outputs (squared error, cross-entropy) :math:`\\nabla^2_F \\ell
\\succeq 0`, so :math:`G` is positive semi-definite: every negative eigenvalue of the Hessian
comes from the residual part, whose weights :math:`\\partial\\ell/\\partial F_{ic}` (the residuals
:math:`p - y` for cross-entropy, :math:`F - Y` for the squared error) are small where the network fits
the data. ``G`` is a sum of ``n`` terms of rank at most ``K`` (``K - 1`` for cross-entropy), one
per example, each weighted by the curvature of the loss at that example's output.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.func import grad, jacrev, vjp, vmap

from nbcode._torch import stateless
from nbcode.hessian.operator import _check_data, _split, _trainable

__all__ = ["gauss_newton"]


def gauss_newton(
    model: nn.Module, loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], X: torch.Tensor, y: torch.Tensor
) -> np.ndarray:
    """The Gauss-Newton matrix :math:`G = J^\\top \\nabla^2_F \\ell\\, J` of ``loss_fn(model(X), y)``, ``(d, d)``.

    ``J`` is the Jacobian of all outputs :math:`F = ` ``model(X)`` in the flat parameters (reverse
    mode), and :math:`\\nabla^2_F \\ell` the Hessian of ``loss_fn(F, y)`` in the outputs, applied to
    the columns of ``J`` by double backprop (no :math:`nK \\times nK` matrix is formed). The residual
    part of the Hessian is :func:`~nbcode.hessian.exact_hessian` minus this. For small models only
    (:math:`d^2` memory and ``d`` output-space products). The model is left unchanged. As for
    :func:`~nbcode.hessian.exact_hessian`, ``d`` counts the trainable parameters
    (``requires_grad=True``; frozen ones are held fixed), and the data are checked at the door
    (see :func:`~nbcode.hessian.flat_loss`).

    See the module for the decomposition.

    Examples
    --------
    >>> torch.manual_seed(0) is not None
    True
    >>> net = nn.Linear(3, 2).double()            # outputs linear in w: the residual part is zero
    >>> X, Y = torch.randn(5, 3, dtype=torch.float64), torch.randn(5, 2, dtype=torch.float64)
    >>> from nbcode.hessian import exact_hessian
    >>> G = gauss_newton(net, nn.functional.mse_loss, X, Y)
    >>> bool(np.allclose(G, exact_hessian(net, nn.functional.mse_loss, X, Y), atol=1e-12))
    True
    """
    _check_data(model, loss_fn, X, y)
    named = _trainable(model)
    theta = torch.cat([p.detach().reshape(-1) for _, p in named]).clone()
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    call = stateless(model)

    def outputs(th: torch.Tensor) -> torch.Tensor:
        return call({**_split(named, th), **frozen}, X)

    F = outputs(theta).detach()
    J = jacrev(outputs)(theta).detach().reshape(-1, theta.numel())  # (nK, d)
    def loss_of_outputs(out: torch.Tensor) -> torch.Tensor:
        return loss_fn(out, y)

    hvp_out = vjp(grad(loss_of_outputs), F)[1]
    HJ = vmap(hvp_out)(J.T.reshape(theta.numel(), *F.shape))[0].reshape(theta.numel(), -1)  # (d, nK): rows (H_F J_:j)^T
    G = (HJ @ J).detach().double().numpy()
    return np.asarray(0.5 * (G + G.T))
