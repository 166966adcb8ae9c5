"""The loss of a torch model as a function of one flat parameter vector, its Hessian and HVPs."""

from __future__ import annotations

from typing import Any, Callable, cast

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, grad, hessian, vjp

__all__ = ["flat_params", "flat_loss", "exact_hessian", "HessianOperator", "MatrixOperator", "as_operator"]

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def flat_params(model: nn.Module) -> torch.Tensor:
    """A detached copy of the model's parameters as one flat vector (``named_parameters`` order).

    Examples
    --------
    >>> flat_params(nn.Linear(3, 2)).shape
    torch.Size([8])
    """
    params = [p.detach().reshape(-1) for p in model.parameters()]
    if not params:
        raise ValueError("Invalid model: it has no parameters")
    return torch.cat(params).clone()


def unflatten(model: nn.Module, theta: torch.Tensor) -> dict[str, torch.Tensor]:
    """Split a flat vector (or a batch ``(G, d)`` of them) into ``{name: tensor}`` like the model's."""
    named = list(model.named_parameters())
    if not named:
        raise ValueError("Invalid model: it has no parameters")
    d = sum(p.numel() for _, p in named)
    if theta.shape[-1] != d or theta.ndim not in (1, 2):
        raise ValueError(f"Invalid parameter vector: expected last dimension {d}, got shape {tuple(theta.shape)}")
    lead = theta.shape[:-1]
    out, i = {}, 0
    for name, p in named:
        out[name] = theta[..., i : i + p.numel()].reshape(*lead, *p.shape)
        i += p.numel()
    return out


def flat_loss(model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor) -> tuple[Callable[[torch.Tensor], torch.Tensor], torch.Tensor]:
    """``(f, theta0)`` with ``f(theta) = loss_fn(model_theta(X), y)`` and ``theta0`` the model's parameters.

    The model is not modified: ``f`` calls it through :func:`torch.func.functional_call`.

    Examples
    --------
    >>> torch.manual_seed(0) is not None
    True
    >>> net = nn.Linear(2, 1)
    >>> f, th = flat_loss(net, nn.functional.mse_loss, torch.ones(4, 2), torch.zeros(4, 1))
    >>> bool(torch.isclose(f(th), nn.functional.mse_loss(net(torch.ones(4, 2)), torch.zeros(4, 1))))
    True
    """
    theta0 = flat_params(model)

    def f(theta: torch.Tensor) -> torch.Tensor:
        return loss_fn(functional_call(model, unflatten(model, theta), (X,)), y)

    return f, theta0


def exact_hessian(model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """The full ``(d, d)`` Hessian of the loss in the parameters, by ``torch.func.hessian``.

    For small models only (``d`` up to a few thousand): it costs ``d`` Hessian-vector products
    and :math:`d^2` memory.
    """
    f, theta0 = flat_loss(model, loss_fn, X, y)
    H = hessian(f)(theta0).detach().double().numpy()
    return 0.5 * (H + H.T)


class HessianOperator:
    """:math:`v \\mapsto H v` for the loss of a model, by reverse-over-reverse differentiation.

    .. math:: H v = \\nabla_w \\big( \\nabla_w L(w)^\\top v \\big)

    computed as the vector-Jacobian product of :func:`torch.func.grad` (double backprop): one
    forward pass is recorded, then each product costs about two backward passes. (Forward-over-
    reverse, ``jvp(grad(f))``, fails through ``F.mse_loss`` with "ZeroTensors are immutable".)
    Vectors are NumPy float64 arrays; ``n_matvec`` counts the products.

    Examples
    --------
    >>> torch.manual_seed(0) is not None
    True
    >>> net = nn.Linear(3, 1).double()
    >>> X = torch.randn(8, 3, dtype=torch.float64)
    >>> op = HessianOperator(net, nn.functional.mse_loss, X, torch.zeros(8, 1, dtype=torch.float64))
    >>> H = exact_hessian(net, nn.functional.mse_loss, X, torch.zeros(8, 1, dtype=torch.float64))
    >>> v = np.arange(4.0)
    >>> bool(np.allclose(op.matvec(v), H @ v)), op.n_matvec
    (True, 1)
    """

    def __init__(self, model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor) -> None:
        self.f, self.theta = flat_loss(model, loss_fn, X, y)
        self.dim = int(self.theta.numel())
        self.dtype = self.theta.dtype
        out = vjp(grad(self.f), self.theta)
        self._vjp = out[1]
        self.n_matvec = 0

    def matvec(self, v: Any) -> np.ndarray:
        """:math:`H v` for a vector ``v`` of length :attr:`dim`."""
        va = np.asarray(v, dtype=np.float64)
        if va.shape != (self.dim,):
            raise ValueError(f"Invalid vector: expected shape ({self.dim},), got {va.shape}")
        self.n_matvec += 1
        out = self._vjp(torch.as_tensor(va, dtype=self.dtype))[0]
        return out.detach().double().numpy()

    def gradient(self) -> np.ndarray:
        """The gradient :math:`g` at the model's parameters."""
        return grad(self.f)(self.theta).detach().double().numpy()

    def dense(self) -> np.ndarray:
        """The full Hessian from :attr:`dim` products with the unit vectors (small models only)."""
        H = np.stack([self.matvec(e) for e in np.eye(self.dim)], axis=1)
        return 0.5 * (H + H.T)


class MatrixOperator:
    """A symmetric matrix as an operator (for tests and small examples)."""

    def __init__(self, A: Any) -> None:
        M = np.asarray(A, dtype=np.float64)
        if M.ndim != 2 or M.shape[0] != M.shape[1] or M.shape[0] == 0:
            raise ValueError(f"Invalid matrix: expected a square matrix, got shape {M.shape}")
        if not np.all(np.isfinite(M)):
            raise ValueError("Invalid matrix: it has non-finite entries")
        self.A = M
        self.dim = M.shape[0]
        self.n_matvec = 0

    def matvec(self, v: Any) -> np.ndarray:
        va = np.asarray(v, dtype=np.float64)
        if va.shape != (self.dim,):
            raise ValueError(f"Invalid vector: expected shape ({self.dim},), got {va.shape}")
        self.n_matvec += 1
        return self.A @ va


Operator = HessianOperator | MatrixOperator


def as_operator(op: Any) -> Operator:
    """``op`` itself if it has ``matvec`` and ``dim``, else a :class:`MatrixOperator` of it."""
    if hasattr(op, "matvec") and hasattr(op, "dim"):
        if int(op.dim) < 1:
            raise ValueError(f"Invalid operator dimension: {op.dim}")
        return cast(Operator, op)
    return MatrixOperator(op)
