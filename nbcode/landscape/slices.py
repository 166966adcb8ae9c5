"""Loss along lines and planes through a network's parameters (:cite:`li2018`)."""

from __future__ import annotations

from typing import Any, Callable, Iterator

import numpy as np
import torch
from torch import nn
from torch.func import vmap

from nbcode import _validate
from nbcode._torch import stateless
from nbcode.hessian.operator import _check_data as _check_model_data
from nbcode.hessian.operator import _check_model, flat_params, unflatten

__all__ = [
    "random_direction", "filter_normalize", "centered_grid", "loss_on_grid", "losses_at", "auto_chunk", "slice_1d", "slice_2d",
    "interpolate",
]

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def filter_normalize(model: nn.Module, direction: torch.Tensor) -> torch.Tensor:
    """Rescale ``direction`` filter by filter to the norms of the model's filters.

    For every weight with two or more dimensions, each output row (a neuron of a ``Linear``
    layer, a filter of a convolution) :math:`d_i` becomes :math:`d_i \\|\\theta_i\\| / \\|d_i\\|`;
    one-dimensional parameters (biases, normalization scales) get a zero direction, as in
    :cite:`li2018`. The direction is taken in the model's dtype (like every point and direction
    of this module: a float32 direction for a float64 model is converted, exactly). This removes the scale invariance that makes raw random slices of ReLU
    networks misleading.

    Examples
    --------
    >>> net = nn.Linear(3, 2)
    >>> d = filter_normalize(net, torch.ones(8))
    >>> torch.allclose(d[:6].reshape(2, 3).norm(dim=1), net.weight.detach().norm(dim=1)), d[6:].tolist()
    (True, [0.0, 0.0])
    """
    _validate.module(model)
    parts = unflatten(model, _flat_vector(direction, "direction", model))
    out = []
    for (name, p), dp in zip(model.named_parameters(), parts.values()):
        if p.ndim <= 1:
            out.append(torch.zeros_like(dp).reshape(-1))
            continue
        rows_d = dp.reshape(dp.shape[0], -1)
        rows_p = p.detach().reshape(p.shape[0], -1)
        scale = rows_p.norm(dim=1, keepdim=True) / rows_d.norm(dim=1, keepdim=True).clamp_min(1e-12)
        out.append((rows_d * scale).reshape(-1))
    return torch.cat(out)


def _n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _dtype(model: nn.Module) -> torch.dtype:
    """The dtype of the model's parameters (the promoted one if they differ): that of every point
    and direction here."""
    return torch.cat([p.detach().reshape(-1)[:1] for p in model.parameters()]).dtype


def _flat_vector(v: Any, name: str, model: nn.Module) -> torch.Tensor:
    """A finite floating-point tensor of shape ``(d,)`` (a point or a direction in parameter space),
    in the model's dtype (a float32 vector for a float64 model is converted, exactly)."""
    size = _n_params(model)
    _validate.tensor(v, name, floating=True, finite=True)
    if tuple(v.shape) != (size,):
        raise ValueError(f"Invalid shape of {name}: {tuple(v.shape)} (need ({size},), one entry per parameter)")
    return v.to(_dtype(model))


def random_direction(model: nn.Module, *, seed: int = 0, normalization: str = "filter") -> torch.Tensor:
    """A seeded Gaussian direction in parameter space, flat, in the model's dtype.

    ``normalization='filter'`` applies :func:`filter_normalize`; ``'none'`` keeps the raw
    :math:`N(0, I)` direction.
    """
    theta = flat_params(model)
    _validate.choice(normalization, "normalization", ["filter", "none"])
    gen = torch.Generator().manual_seed(_validate.count(seed, "seed"))
    d = torch.randn(theta.numel(), generator=gen, dtype=torch.float64).to(theta.dtype)
    return filter_normalize(model, d) if normalization == "filter" else d


def centered_grid(radius: float, num: int) -> np.ndarray:
    """``num`` (odd) points from ``-radius`` to ``radius`` with the middle one exactly 0.

    Examples
    --------
    >>> centered_grid(1.0, 5).tolist()
    [-1.0, -0.5, 0.0, 0.5, 1.0]
    """
    radius = _validate.real(radius, "radius", low=0, low_open=True)
    num = _validate.count(num, "number of grid points", low=3)
    if num % 2 == 0:
        raise ValueError(f"Invalid number of grid points: {num} (need an odd integer >= 3)")
    half = np.arange(1, num // 2 + 1) * (radius / (num // 2))
    return np.concatenate([-half[::-1], [0.0], half])


#: Activation entries (per layer) that a vectorized chunk of grid points may hold at once: 2**20
#: (4 MB in float32), so a chunk's activations stay in cache. Larger chunks were measured slower:
#: for the 64-300-300-10 MLP on 1,257 digits, 6.0 ms a point with chunks of 64 against 3.2 ms
#: with 16 and 2.8 ms for a plain loop.
ACTIVATION_BUDGET = 2**20
#: Below this many points a chunk is not worth ``vmap``'s batching: a plain loop is faster.
MIN_VMAP_CHUNK = 8


def _activation_size(model: nn.Module, X: torch.Tensor) -> int:
    """The largest output (entries) of any leaf module on ``X``: one probe pass, without side effects."""
    sizes: list[int] = []

    def record(module: nn.Module, inputs: Any, output: Any) -> None:
        if isinstance(output, torch.Tensor):
            sizes.append(output.numel())

    leaves = [m for m in model.modules() if not list(m.children())]
    hooks = [m.register_forward_hook(record) for m in leaves]
    try:
        with torch.no_grad():
            stateless(model)(dict(model.named_parameters()), X)
    finally:
        for h in hooks:
            h.remove()
    return max(sizes, default=X.numel())


def auto_chunk(model: nn.Module, X: torch.Tensor) -> int:
    """Grid points to evaluate at once: as many as fit :data:`ACTIVATION_BUDGET`, at most 64;
    1 (a plain loop) when fewer than :data:`MIN_VMAP_CHUNK` fit."""
    _validate.module(model)
    _validate.tensor(X, "X", nonempty=True, finite=True)
    if X.ndim == 0:
        raise ValueError(f"Invalid X: shape {tuple(X.shape)} (need one row per example)")
    _check_model(model, X)
    return _auto_chunk(model, X)


def _auto_chunk(model: nn.Module, X: torch.Tensor) -> int:
    chunk = min(64, ACTIVATION_BUDGET // max(1, _activation_size(model, X)))
    return chunk if chunk >= MIN_VMAP_CHUNK else 1


def _evaluate(model: nn.Module, loss_fn: LossFn, y: torch.Tensor, chunks: Iterator[tuple[torch.Tensor, torch.Tensor]]) -> np.ndarray:
    """Losses for a stream of ``(parameter rows, inputs)`` chunks; a chunk of one row runs without
    ``vmap``. The model is called through :func:`nbcode._torch.stateless`: unchanged, batch
    statistics in training mode, the same dropout masks at every point."""
    call = stateless(model)

    def one(theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        return loss_fn(call(unflatten(model, theta), X), y)

    batched = vmap(one, in_dims=(0, None), randomness="same")
    out = []
    with torch.no_grad():
        for thetas, X in chunks:
            out.append(one(thetas[0], X).reshape(1) if thetas.shape[0] == 1 else batched(thetas, X))
    return torch.cat(out).double().numpy()


def _chunk_size(model: nn.Module, X: torch.Tensor, chunk: int | None) -> int:
    if chunk is None:
        return _auto_chunk(model, X)
    return _validate.count(chunk, "chunk", low=1)


def _check_data(model: nn.Module, loss_fn: Any, X: Any, y: Any) -> None:
    """The door of every function here taking a model and data: that of :mod:`nbcode.hessian`
    (data that fit the model, a loss that gives a scalar, no half-precision model, no batch of
    one row through BatchNorm in training mode)."""
    shape = tuple(getattr(y, "shape", ())), tuple(getattr(X, "shape", ()))
    _check_model_data(model, loss_fn, X, y, y_message=f"Invalid shape of y: {shape[0]} (need one target per row of X, "
                                                      f"whose shape is {shape[1]})")


def loss_on_grid(
    model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor, thetas: torch.Tensor, *, chunk: int | None = None
) -> np.ndarray:
    """The loss at each row of ``thetas`` (shape ``(G, d)``): vectorized with ``vmap`` in chunks
    of ``chunk`` points, or a plain loop when ``chunk`` is 1 (``None``: :func:`auto_chunk`).

    The model is called through :func:`torch.func.functional_call`: its parameters are not
    touched. For points on a line or a plane, :func:`losses_at` (used by :func:`slice_1d` and
    :func:`slice_2d`) makes them chunk by chunk instead.

    Points and directions (here ``thetas``) are taken in the model's dtype: a float32 one for a
    float64 model is converted, exactly. They span every parameter of the model, frozen ones
    (``requires_grad=False``) included: a slice shows the function family, whatever training
    moves. The data must fit the model and ``loss_fn`` must give a scalar (checked at the door, by
    :func:`nbcode._torch.check_fit`); half-precision models are refused.

    The model is left unchanged (parameters, buffers, modes, the global random state). In training
    mode a BatchNorm layer normalizes with the statistics of ``X`` at every point without
    updating its running statistics, and dropout uses the same masks at every point, so the
    losses are those of one fixed network function.
    """
    _check_data(model, loss_fn, X, y)
    _validate.tensor(thetas, "thetas", floating=True, nonempty=True, finite=True)
    size = _n_params(model)
    if thetas.ndim != 2 or thetas.shape[1] != size:
        raise ValueError(f"Invalid shape of thetas: {tuple(thetas.shape)} (need (G, {size}), one row per point)")
    thetas = thetas.to(_dtype(model))
    size = _chunk_size(model, X, chunk)
    chunks = ((thetas[i : i + size], X) for i in range(0, thetas.shape[0], size))
    return _evaluate(model, loss_fn, y, chunks)


def losses_at(
    model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor, theta: torch.Tensor,
    directions: list[torch.Tensor], coeffs: torch.Tensor, *, chunk: int | None = None,
) -> np.ndarray:
    r"""The loss at :math:`\theta + \sum_k c_{gk} d_k` for each row :math:`c_g` of ``coeffs`` (shape ``(G, K)``).

    Like :func:`loss_on_grid`, but the points are made chunk by chunk, so the ``(G, d)`` matrix
    of all of them is never held (1.5 GB for a 41 x 41 grid of a 112,810-parameter float64 model).
    The model is left unchanged, as by :func:`loss_on_grid`.
    """
    _check_data(model, loss_fn, X, y)
    theta = _flat_vector(theta, "theta", model)
    if not isinstance(directions, (list, tuple)) or len(directions) == 0:
        raise TypeError(f"Invalid directions: {_validate.show(directions)} (need a non-empty list of tensors)")
    directions = [_flat_vector(d, "direction", model) for d in directions]
    _validate.tensor(coeffs, "coeffs", nonempty=True, finite=True)
    if coeffs.ndim != 2 or coeffs.shape[1] != len(directions):
        raise ValueError(f"Invalid shape of coeffs: {tuple(coeffs.shape)} (need (G, {len(directions)}) for {len(directions)} "
                         f"direction{'s' if len(directions) != 1 else ''})")
    size = _chunk_size(model, X, chunk)
    coeffs, D = coeffs.to(theta.dtype), torch.stack(directions)
    chunks = ((theta + coeffs[i : i + size] @ D, X) for i in range(0, coeffs.shape[0], size))
    return _evaluate(model, loss_fn, y, chunks)


def _coefficients(values: Any, name: str, dtype: torch.dtype) -> torch.Tensor:
    return torch.as_tensor(_validate.vector(values, name), dtype=dtype)


def slice_1d(
    model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor, direction: torch.Tensor, alphas: Any
) -> np.ndarray:
    """:math:`L(\\theta^* + \\alpha d)` for each ``alpha``, with :math:`\\theta^*` the model's parameters."""
    theta = flat_params(model)
    return losses_at(model, loss_fn, X, y, theta, [direction], _coefficients(alphas, "alphas", theta.dtype)[:, None])


def slice_2d(
    model: nn.Module,
    loss_fn: LossFn,
    X: torch.Tensor,
    y: torch.Tensor,
    directions: tuple[torch.Tensor, torch.Tensor],
    alphas: Any,
    betas: Any,
) -> np.ndarray:
    """``Z[i, j] = L(θ* + alphas[j] d1 + betas[i] d2)`` (rows follow ``betas``, as contour plots expect).

    The model is left unchanged (see :func:`loss_on_grid`).

    Examples
    --------
    >>> torch.manual_seed(0) is not None
    True
    >>> net = nn.Linear(2, 1)
    >>> X, y = torch.randn(5, 2), torch.randn(5, 1)
    >>> d1, d2 = random_direction(net, seed=1), random_direction(net, seed=2)
    >>> Z = slice_2d(net, nn.functional.mse_loss, X, y, (d1, d2), centered_grid(1.0, 3), centered_grid(1.0, 3))
    >>> Z.shape, bool(Z[1, 1] == nn.functional.mse_loss(net(X), y).item())
    ((3, 3), True)
    """
    theta = flat_params(model)
    if not isinstance(directions, (list, tuple)) or len(directions) != 2:
        raise TypeError(f"Invalid directions: {_validate.show(directions)} (need a pair of tensors (d1, d2))")
    a, b = _coefficients(alphas, "alphas", theta.dtype), _coefficients(betas, "betas", theta.dtype)
    B, A = torch.meshgrid(b, a, indexing="ij")
    coeffs = torch.stack([A.reshape(-1), B.reshape(-1)], dim=1)
    return losses_at(model, loss_fn, X, y, theta, list(directions), coeffs).reshape(len(b), len(a))


def interpolate(
    model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor, theta_start: torch.Tensor, alphas: Any
) -> np.ndarray:
    """:math:`L((1 - \\alpha)\\,\\theta_0 + \\alpha\\,\\theta^*)`: the straight line from ``theta_start`` (α = 0) to the model (α = 1)."""
    theta = flat_params(model)
    theta_start = _flat_vector(theta_start, "theta_start", model)
    return slice_1d(model, loss_fn, X, y, theta - theta_start.to(theta.dtype), _validate.vector(alphas, "alphas") - 1.0)

