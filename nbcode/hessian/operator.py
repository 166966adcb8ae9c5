"""The loss of a torch model as a function of one flat parameter vector, its Hessian and HVPs.

None of these functions changes the model: the loss is evaluated through
:func:`nbcode._torch.stateless` (parameters passed in, buffers copied, normalization layers in
training mode normalizing with the batch statistics without tracking them, dropout masks fixed and
the global random state restored), so they work on a model in training mode too.
"""

from __future__ import annotations

from typing import Any, Callable, cast

import numpy as np
import torch
from torch import nn
from torch.func import grad, vjp, vmap

from nbcode import _validate
from nbcode._torch import check_fit, one_row_error, stateless

__all__ = ["flat_params", "flat_loss", "exact_hessian", "HessianOperator", "MatrixOperator", "as_operator"]

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def flat_params(model: nn.Module) -> torch.Tensor:
    """A detached copy of the model's parameters as one flat vector (``named_parameters`` order).

    All of them, frozen ones included (the points of :mod:`nbcode.landscape`); the Hessians of
    this package are over the trainable ones only (see :func:`flat_loss`).

    Examples
    --------
    >>> flat_params(nn.Linear(3, 2)).shape
    torch.Size([8])
    """
    _validate.module(model)
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()]).clone()


def unflatten(model: nn.Module, theta: torch.Tensor) -> dict[str, torch.Tensor]:
    """Split a flat vector (or a batch ``(G, d)`` of them) into ``{name: tensor}`` like the model's."""
    named = list(_validate.module(model).named_parameters())
    d = sum(p.numel() for _, p in named)
    if not isinstance(theta, torch.Tensor):
        raise TypeError(f"Invalid parameter vector: {_validate.show(theta)} (need a torch.Tensor)")
    if theta.ndim not in (1, 2) or theta.shape[-1] != d:
        raise ValueError(f"Invalid parameter vector: expected last dimension {d}, got shape {tuple(theta.shape)}")
    return _split(named, theta)


#: Floating dtypes refused for a model: nothing here computes in half precision by accident.
_HALF = (torch.float16, torch.bfloat16)


def _check_data(model: nn.Module, loss_fn: Any, X: Any, y: Any, *, y_message: str | None = None,
                training: bool = False) -> None:
    """The door of every function here (and of :mod:`nbcode.landscape`) taking a model and data:
    tensors with at least one row, finite entries, as many targets as inputs; a model in float32
    or float64 (not float16/bfloat16); data that fits the model and a loss that gives a scalar
    (:func:`nbcode._torch.check_fit`); and, for a batch of one row, no BatchNorm layer in
    training mode (batch statistics need two or more values per channel)."""
    _validate.module(model)
    _validate.function(loss_fn, "loss_fn")
    _validate.tensor(X, "X", nonempty=True, finite=True)
    _validate.tensor(y, "y", nonempty=True, finite=True)
    if X.ndim == 0 or y.ndim == 0 or y.shape[0] != X.shape[0]:
        raise ValueError(y_message or f"Invalid y: shape {tuple(y.shape)} for X of shape {tuple(X.shape)} "
                         "(need one target per row of X)")
    _check_model(model, X, loss_fn, y, training=training)


def _check_model(model: nn.Module, X: torch.Tensor, loss_fn: Any = None, y: Any = None, *, training: bool = False) -> None:
    """The model's part of :func:`_check_data` (``training``: the model will be run in training mode,
    whatever its mode now)."""
    half = sorted({str(p.dtype) for p in model.parameters() if p.dtype in _HALF})
    if half:
        raise TypeError(f"Invalid model: its parameters are {' and '.join(half)} (need float32 or float64: losses and "
                        "Hessians are not computed in half precision here; convert it, e.g. model.double())")
    check_fit(model, X, y, loss_fn)
    if X.shape[0] == 1:
        error = one_row_error(model, X, training=training)
        if error is not None:
            fix = "the training loss is taken, with batch statistics" if training else "or the model in eval mode"
            raise ValueError(f"Invalid X: one row for a model with BatchNorm in training mode ({error}; "
                             f"need two or more rows, {fix})")

def _trainable(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """The parameters the Hessian is taken in: those with ``requires_grad`` (``named_parameters`` order)."""
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not named:
        raise ValueError("Invalid model: it has no parameter with requires_grad=True (nothing to differentiate)")
    return named


def _split(named: list[tuple[str, nn.Parameter]], theta: torch.Tensor) -> dict[str, torch.Tensor]:
    """A flat vector (or a batch of them) as ``{name: tensor}`` for the parameters ``named``."""
    lead = theta.shape[:-1]
    out, i = {}, 0
    for name, p in named:
        out[name] = theta[..., i : i + p.numel()].reshape(*lead, *p.shape)
        i += p.numel()
    return out


def _trainable_loss(model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor
                    ) -> tuple[Callable[[torch.Tensor], torch.Tensor], torch.Tensor, Callable[[torch.Tensor], dict[str, torch.Tensor]]]:
    """``(f, theta0, params)`` of :func:`flat_loss`, and ``params(theta)``: the full parameter dict
    for ``functional_call`` (the trainable ones from ``theta``, the frozen ones copied now). ``X``,
    ``y`` and the frozen parameters are copied: later in-place changes by the caller change nothing."""
    named = _trainable(model)
    theta0 = torch.cat([p.detach().reshape(-1) for _, p in named]).clone()
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    X, y = X.detach().clone(), y.detach().clone()
    call = stateless(model)

    def params(theta: torch.Tensor) -> dict[str, torch.Tensor]:
        return {**_split(named, theta), **frozen}

    def f(theta: torch.Tensor) -> torch.Tensor:
        return loss_fn(call(params(theta), X), y)

    return f, theta0, params


def flat_loss(model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor) -> tuple[Callable[[torch.Tensor], torch.Tensor], torch.Tensor]:
    """``(f, theta0)`` with ``f(theta) = loss_fn(model_theta(X), y)`` and ``theta0`` the model's
    trainable parameters.

    ``theta`` holds the parameters with ``requires_grad=True`` only (in ``named_parameters``
    order): frozen ones (``requires_grad=False``) stay at their values, as in training, so the
    Hessians of this package are the curvature over what training moves (as in
    :mod:`nbcode.checkup`). For a model with no frozen parameter ``theta0`` is
    :func:`flat_params`. ``X``, ``y`` and the frozen parameters are copied when ``f`` is made.

    The model is not modified: ``f`` calls it through :func:`nbcode._torch.stateless`. In training
    mode a BatchNorm layer normalizes with the statistics of ``X`` (as in a training step) but its
    running statistics do not move, and dropout uses the same masks at every call (drawn from the
    random state at the time ``f`` was made; the global state is restored after each call), so
    ``f`` is a deterministic function of ``theta``.

    The data must fit the model and the loss must return a scalar (``reduction='mean'`` or
    ``'sum'``): checked at the door (:func:`nbcode._torch.check_fit`). Half-precision
    (float16/bfloat16) models are refused.

    Examples
    --------
    >>> torch.manual_seed(0) is not None
    True
    >>> net = nn.Linear(2, 1)
    >>> f, th = flat_loss(net, nn.functional.mse_loss, torch.ones(4, 2), torch.zeros(4, 1))
    >>> bool(torch.isclose(f(th), nn.functional.mse_loss(net(torch.ones(4, 2)), torch.zeros(4, 1))))
    True
    """
    _check_data(model, loss_fn, X, y)
    f, theta0, _ = _trainable_loss(model, loss_fn, X, y)
    return f, theta0


def exact_hessian(model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """The full ``(d, d)`` Hessian of the loss in the trainable parameters, symmetrized.

    ``d`` counts the parameters with ``requires_grad=True``; frozen ones are held fixed (see
    :func:`flat_loss`, which also lists the checks at the door).

    Computed as :math:`d` Hessian-vector products with the unit vectors, batched: ``vmap`` over
    the vector-Jacobian product of :func:`torch.func.grad` (reverse over reverse). For small models
    only (``d`` up to a few thousand): :math:`d^2` memory. (``torch.func.hessian``, forward over
    reverse, and ``jacrev(jacrev(f))`` both return a wrong, non-symmetric matrix through a
    BatchNorm layer in training mode in torch 2.13; the products are right.) The model is left
    unchanged (see :func:`flat_loss`).

    Examples
    --------
    >>> net = nn.Linear(1, 1, bias=False).double()
    >>> X = torch.tensor([[1.0], [2.0]], dtype=torch.float64)
    >>> exact_hessian(net, nn.functional.mse_loss, X, torch.zeros(2, 1, dtype=torch.float64)).tolist()
    [[5.0]]
    """
    f, theta0 = flat_loss(model, loss_fn, X, y)
    hvp = vjp(grad(f), theta0)[1]
    eye = torch.eye(theta0.numel(), dtype=theta0.dtype)
    H = vmap(hvp)(eye)[0].detach().double().numpy()
    return np.asarray(0.5 * (H + H.T))


class HessianOperator:
    """:math:`v \\mapsto H v` for the loss of a model, by reverse-over-reverse differentiation.

    .. math:: H v = \\nabla_w \\big( \\nabla_w L(w)^\\top v \\big)

    computed as the vector-Jacobian product of :func:`torch.func.grad` (double backprop): one
    forward pass is recorded, then each product costs about two backward passes. (Forward-over-
    reverse, ``jvp(grad(f))``, fails through ``F.mse_loss`` with "ZeroTensors are immutable".)
    Vectors are NumPy float64 arrays of length :attr:`dim`, the number of trainable parameters
    (``requires_grad=True``; frozen ones are held fixed); ``n_matvec`` counts the products. The
    model is left unchanged, and ``X``, ``y`` are copied: changing them afterwards changes nothing
    (see :func:`flat_loss`).

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
        va = _validate.vector(v, "vector", size=self.dim)
        self.n_matvec += 1
        out = self._vjp(torch.as_tensor(va, dtype=self.dtype))[0]
        return np.asarray(out.detach().double().numpy())

    def gradient(self) -> np.ndarray:
        """The gradient :math:`g` at the model's parameters."""
        return np.asarray(grad(self.f)(self.theta).detach().double().numpy())

    def dense(self) -> np.ndarray:
        """The full Hessian from :attr:`dim` products with the unit vectors (small models only)."""
        H = np.stack([self.matvec(e) for e in np.eye(self.dim)], axis=1)
        return np.asarray(0.5 * (H + H.T))


class MatrixOperator:
    """A symmetric matrix as an operator (for tests and small examples)."""

    def __init__(self, A: Any) -> None:
        M = _validate.square_matrix(A, "matrix", symmetric=True)
        self.A = M
        self.dim = M.shape[0]
        self.n_matvec = 0

    def matvec(self, v: Any) -> np.ndarray:
        va = _validate.vector(v, "vector", size=self.dim)
        self.n_matvec += 1
        return np.asarray(self.A @ va)


Operator = HessianOperator | MatrixOperator


def as_operator(op: Any) -> Operator:
    """``op`` itself if it has ``matvec`` and ``dim``, else a :class:`MatrixOperator` of it."""
    if hasattr(op, "matvec") and hasattr(op, "dim"):
        _validate.function(op.matvec, "operator's matvec")
        _validate.count(op.dim, "operator dimension", low=1)
        return cast(Operator, op)
    return MatrixOperator(_validate.square_matrix(op, "operator", symmetric=True))
