r"""Singular values of the input-output Jacobian of a deep network at initialization.

For :math:`h^L = \phi(W^L \phi(\cdots \phi(W^1 x)))` the Jacobian is

.. math:: J = \frac{\partial h^L}{\partial x} = \prod_{l=L}^{1} D^l W^l,\qquad D^l = \operatorname{diag}\phi'(z^l).

The variance rules of :mod:`nbcode.init.propagation` fix only the *mean* squared singular value
of :math:`J`. *Dynamical isometry* (Saxe et al. 2014; Pennington et al. 2017) asks that *all*
of them be close to 1: a linear network with orthogonal weights has exactly that; a tanh network
with orthogonal weights and :math:`\sigma_w \approx 1` (where :math:`D^l \approx I`) nearly has it;
a ReLU network cannot, because each :math:`D^l` zeroes about half of the coordinates.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
import torch
from torch.func import jacrev

from nbcode import _validate
from nbcode.init._threads import single_blas_thread
from nbcode.init.initializers import orthogonal
from nbcode.init.propagation import activation, gaussian_expectation

__all__ = ["mlp_weights", "input_output_jacobian", "jacobian_product", "jacobian_singular_values", "spectrum_grid", "fixed_point_variance",
           "input_variance", "CRITICAL_SIGMA"]

_TORCH_ACTS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"linear": lambda z: z, "tanh": torch.tanh, "relu": torch.relu}
_NP_DERIV: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "linear": np.ones_like,
    "tanh": lambda z: 1.0 - np.tanh(z) ** 2,
    "relu": lambda z: (z > 0).astype(float),
}
_NP_ACTS: dict[str, Callable[[np.ndarray], np.ndarray]] = {"linear": lambda z: z, "tanh": np.tanh, "relu": lambda z: np.maximum(z, 0.0)}
#: The weight scale at which the mean squared singular value of :math:`J` stays 1 with depth.
CRITICAL_SIGMA = {"linear": 1.0, "tanh": 1.0, "relu": math.sqrt(2.0)}


def _check_act(act: str, name: str = "act") -> str:
    return str(_validate.choice(act, name, list(_TORCH_ACTS)))


def _check_rng(rng: np.random.Generator) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"Invalid rng: {_validate.show(rng)} (need a numpy.random.Generator)")
    return rng


def _names(values: Sequence[str], name: str, options: Sequence[str]) -> list[str]:
    """A non-empty list of names, each one of ``options``."""
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
        raise TypeError(f"Invalid {name}: {_validate.show(values)} (need a list of names from {list(options)})")
    items = list(values)
    if not items:
        raise ValueError(f"Invalid {name}: it is empty")
    for v in items:
        _validate.choice(v, name, options)
    return items


def _check_weights(weights: Sequence[np.ndarray], x: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Float64 copies of a chain of weight matrices ``n_1 x n_0, n_2 x n_1, ...`` and of an input of size ``n_0``."""
    if isinstance(weights, (str, bytes, np.ndarray)) or not isinstance(weights, Sequence) or len(weights) == 0:
        raise TypeError(f"Invalid weights: {_validate.show(weights)} (need a non-empty list of 2-D arrays)")
    ws = [_validate.array(w, f"weights[{i}]", ndim=2) for i, w in enumerate(weights)]
    for i in range(1, len(ws)):
        if ws[i].shape[1] != ws[i - 1].shape[0]:
            raise ValueError(f"Invalid shape of weights[{i}]: {ws[i].shape} (need {ws[i - 1].shape[0]} columns, the rows "
                             f"of weights[{i - 1}])")
    h = _validate.vector(x, "x", size=ws[0].shape[1])
    return ws, h


@single_blas_thread
def mlp_weights(depth: int, width: int, *, init: str = "gaussian", sigma_w: float = 1.0, rng: np.random.Generator) -> list[np.ndarray]:
    r"""``depth`` square weights with :math:`\operatorname{Var}(W_{ij}) = \sigma_w^2/n`.

    ``init='gaussian'``: i.i.d. :math:`\mathcal N(0, \sigma_w^2/n)`; ``'orthogonal'``: :math:`\sigma_w`
    times a Haar-random orthogonal matrix (same entry variance).

    Examples
    --------
    >>> ws = mlp_weights(2, 4, init="orthogonal", rng=np.random.default_rng(0))
    >>> bool(np.allclose(ws[0] @ ws[0].T, np.eye(4)))
    True
    """
    depth = _validate.count(depth, "depth", low=1)
    width = _validate.count(width, "width", low=1)
    _validate.choice(init, "init", ("gaussian", "orthogonal"))
    sigma_w = _validate.real(sigma_w, "sigma_w", low=0)
    rng = _check_rng(rng)
    if init == "gaussian":
        return list(rng.normal(0.0, sigma_w / math.sqrt(width), size=(depth, width, width)))
    return [orthogonal((width, width), sigma_w, rng=rng) for _ in range(depth)]


def input_output_jacobian(weights: Sequence[np.ndarray], act: str, x: np.ndarray) -> np.ndarray:
    """:math:`\\partial h^L/\\partial x` at ``x`` by reverse-mode autodiff (``torch.func.jacrev``), float64.

    Examples
    --------
    >>> w = [np.array([[2.0, 0.0], [0.0, -1.0]])]
    >>> input_output_jacobian(w, "relu", np.array([1.0, 1.0])).tolist()
    [[2.0, 0.0], [0.0, 0.0]]
    """
    phi = _TORCH_ACTS[_check_act(act)]
    arrays, x = _check_weights(weights, x)
    ws = [torch.as_tensor(w, dtype=torch.float64) for w in arrays]

    def net(h: torch.Tensor) -> torch.Tensor:
        for w in ws:
            h = phi(w @ h)
        return h

    return jacrev(net)(torch.as_tensor(np.asarray(x), dtype=torch.float64)).numpy()


def jacobian_product(weights: Sequence[np.ndarray], act: str, x: np.ndarray) -> np.ndarray:
    """The same Jacobian as the explicit product :math:`D^L W^L \\cdots D^1 W^1` (NumPy; a reference)."""
    dphi = _NP_DERIV[_check_act(act)]
    phi = _NP_ACTS[act]
    ws, h = _check_weights(weights, x)
    jac = np.eye(len(h))
    for w in ws:
        z = w @ h
        jac = dphi(z)[:, None] * (w @ jac)
        h = phi(z)
    return jac


def fixed_point_variance(act: str, sigma_w: float, *, q0: float = 1.0, iters: int = 500) -> float:
    r"""The variance :math:`q` the pre-activations settle at after ``iters`` layers:
    :math:`q \leftarrow \sigma_w^2\,\mathbb E_{z\sim\mathcal N(0,q)}[\phi(z)^2]` from ``q0``.

    For tanh with :math:`\sigma_w \le 1` it tends to 0 (slowly, like :math:`1/(2l)`, at
    :math:`\sigma_w = 1`); above 1 it has a positive fixed point. The expectation is exact for
    linear and ReLU networks (:math:`q` and :math:`q/2`) and computed by
    :func:`~nbcode.init.propagation.gaussian_expectation` for tanh, accurate at any :math:`q`
    (a fixed Gauss-Hermite rule gives 41.6 instead of 43.1 at :math:`\sigma_w = 7`).
    For linear and ReLU networks above the critical scale (:math:`\sigma_w > 1`, :math:`\sqrt 2`)
    there is no fixed point: :math:`q` grows geometrically, and a ``ValueError`` says so when it
    overflows float64 within ``iters`` layers.

    Examples
    --------
    >>> round(fixed_point_variance("tanh", 1.05), 4)
    0.0533
    >>> round(fixed_point_variance("tanh", 7.0), 3)
    43.101
    """
    _check_act(act)
    sigma_w = _validate.real(sigma_w, "sigma_w", low=0)
    q = _validate.real(q0, "q0", low=0)
    iters = _validate.count(iters, "iters")
    try:
        s2 = sigma_w**2
    except OverflowError:
        raise ValueError(f"Invalid sigma_w: {sigma_w} (need sigma_w**2 finite in float64: sigma_w < 1e154)") from None
    phi = activation(act)
    for layer in range(iters):
        q = s2 * (float(phi.m2(np.asarray(q))) if phi.m2 is not None else gaussian_expectation(lambda z: phi.f(z) ** 2, q))
        if not math.isfinite(q):
            raise ValueError(f"Invalid sigma_w: {sigma_w} for {act}: the variance grows by a constant factor per layer "
                             f"and overflows float64 after {layer + 1} layers: no fixed point (need "
                             f"sigma_w**2 * E[phi(z)^2] <= q, sigma_w <= {'1' if act == 'linear' else 'sqrt(2)'} for {act})")
    return q


def input_variance(act: str, sigma_w: float) -> float:
    r"""The default input variance of :func:`jacobian_singular_values` and :func:`spectrum_grid`:
    1 for linear and ReLU networks (whose Jacobian does not depend on the input's scale), and
    for tanh the 500th iterate of the variance map from 1, :func:`fixed_point_variance`. For
    :math:`\sigma_w \le 1` (no biases) the fixed point is 0, approached like :math:`1/(2l)`, so
    this is about :math:`10^{-3}` at :math:`\sigma_w = 1`: a signal small enough for
    :math:`\tanh' \approx 1`. Pass ``q0`` to those functions to probe another input size.

    Examples
    --------
    >>> round(input_variance("tanh", 1.0), 5), input_variance("relu", 2.0 ** 0.5)
    (0.001, 1.0)
    """
    _check_act(act)
    sigma_w = _validate.real(sigma_w, "sigma_w", low=0)
    return fixed_point_variance(act, sigma_w) if act == "tanh" else 1.0


def _input(act: str, sigma_w: float, width: int, rng: np.random.Generator, q0: float | None) -> np.ndarray:
    q = input_variance(act, sigma_w) if q0 is None else _validate.real(q0, "q0", low=0, low_open=True)
    return math.sqrt(q) * rng.normal(size=width)


@single_blas_thread
def jacobian_singular_values(
    depth: int,
    width: int,
    *,
    act: str = "tanh",
    init: str = "orthogonal",
    sigma_w: float = 1.0,
    q0: float | None = None,
    rng: np.random.Generator,
) -> np.ndarray:
    r"""Singular values (descending) of the input-output Jacobian of one random network, by
    ``torch.func.jacrev``.

    The input has i.i.d. :math:`\mathcal N(0, q_0)` entries; by default ``q0`` is
    :func:`input_variance` (about :math:`10^{-3}` for tanh at :math:`\sigma_w = 1`, 1 otherwise).
    For tanh the result depends on it: a small input keeps every :math:`\tanh'(z) \approx 1`
    (Pennington et al. 2017 reach this regime by choosing :math:`(\sigma_w, \sigma_b)` on the
    critical line with a small fixed point :math:`q^*`), while an input of variance 1 saturates the
    first layers and contracts the Jacobian.

    Examples
    --------
    >>> s = jacobian_singular_values(8, 16, act="linear", init="orthogonal", rng=np.random.default_rng(0))
    >>> bool(np.allclose(s, 1.0))
    True
    """
    _check_act(act)
    sigma_w = _validate.real(sigma_w, "sigma_w", low=0)
    if q0 is not None:
        _validate.real(q0, "q0", low=0, low_open=True)
    weights = mlp_weights(depth, width, init=init, sigma_w=sigma_w, rng=rng)
    x = _input(act, sigma_w, width, rng, q0)
    return np.linalg.svd(input_output_jacobian(weights, act, x), compute_uv=False)


@single_blas_thread
def spectrum_grid(
    depths: Sequence[int],
    sigmas: Sequence[float],
    acts: Sequence[str],
    inits: Sequence[str],
    *,
    width: int = 64,
    seed: int = 0,
    q0: float | None = None,
) -> dict[tuple[str, str, int, float], np.ndarray]:
    """Singular values of :math:`J` on a grid; ``sigmas`` are multiples of :data:`CRITICAL_SIGMA`;
    inputs of variance ``q0`` (default: :func:`input_variance`).

    Keys are ``(act, init, depth, sigma)``. For each ``(act, init, sigma)`` one network of depth
    ``max(depths)`` is drawn (seeded by its grid position) and the Jacobians of its first
    ``depth`` layers are accumulated as the product :func:`jacobian_product` (the tests check it
    against ``torch.func.jacrev``), so the grid costs one pass per network.
    """
    want = sorted(set(_validate.sizes(depths, "depths", low=1)))
    scales = _validate.vector(sigmas, "sigmas")
    if np.any(scales < 0):
        raise ValueError(f"Invalid sigmas: {_validate.show(sigmas)} (need numbers >= 0)")
    acts = _names(acts, "acts", list(_TORCH_ACTS))
    inits = _names(inits, "inits", ["gaussian", "orthogonal"])
    width = _validate.count(width, "width", low=1)
    seed = _validate.count(seed, "seed")
    if q0 is not None:
        _validate.real(q0, "q0", low=0, low_open=True)
    out = {}
    for i, act in enumerate(acts):
        phi = _NP_ACTS[act]
        for j, init in enumerate(inits):
            for m, s in enumerate(float(v) for v in scales):
                rng = np.random.default_rng([seed, i, j, m])
                sw = s * CRITICAL_SIGMA[act]
                weights = mlp_weights(want[-1], width, init=init, sigma_w=sw, rng=rng)
                h = _input(act, sw, width, rng, q0)
                jac = np.eye(width)
                for depth, w in enumerate(weights, start=1):
                    z = w @ h
                    jac = _NP_DERIV[act](z)[:, None] * (w @ jac)
                    h = phi(z)
                    if depth in want:
                        out[(act, init, depth, s)] = np.linalg.svd(jac, compute_uv=False)
    return out
