"""Weight normalization and spectral normalization: reparametrizing a weight matrix.

Both act on the weight, not on activations, so they do not depend on the batch at all.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from nbcode import _validate
from nbcode.norm._check import as_float_array, check_eps


def _axes(v: np.ndarray, dim: Any) -> tuple[int, ...] | None:
    """The axes the norm runs over: every axis except ``dim``, or None (the whole tensor) for
    ``dim=None`` and ``dim=-1``, as torch's ``norm_except_dim``."""
    if dim is None:
        return None
    d = _validate.count(dim, "dim", low=-v.ndim, high=v.ndim - 1)
    if d == -1:
        return None
    return tuple(i for i in range(v.ndim) if i != d % v.ndim)


def _norm(v: np.ndarray, axes: tuple[int, ...] | None) -> np.ndarray:
    """The 2-norm over ``axes`` with size-1 axes kept (0-d over the whole tensor)."""
    return np.asarray(np.sqrt((v**2).sum() if axes is None else (v**2).sum(axis=axes, keepdims=True)))


def _g(g: Any, shape: tuple[int, ...]) -> np.ndarray:
    ga = _validate.array(g, "g", nonempty=False)
    if ga.shape != shape:
        raise ValueError(f"Invalid g shape: expected {shape}, got {ga.shape} (the shape of the norms of v over every axis "
                         "except dim)")
    return ga


def weight_norm(v: Any, g: Any, dim: int | None = 0) -> np.ndarray:
    """:math:`w = g\\, v / \\|v\\|`, the norm taken over every axis except ``dim`` (one g per slice
    along ``dim``), as ``torch._weight_norm`` and ``torch.nn.utils.parametrizations.weight_norm``.

    ``g`` has the shape of the norms: ``(out, 1)`` for a ``Linear`` weight with ``dim=0``
    (``original0`` in torch; ``original1`` is v). Torch's conventions for ``dim``: ``None``
    *and* ``-1`` mean one norm of the whole tensor with a scalar (0-d) g, not the last axis; other
    negative values count from the end (``-2`` of a 3-D weight is axis 1).

    References
    ----------
    Salimans, T. and Kingma, D. P. (2016). Weight normalization. NeurIPS.

    Examples
    --------
    >>> weight_norm(np.array([[3.0, 4.0]]), np.array([[10.0]])).tolist()
    [[6.0, 8.0]]
    >>> weight_norm(np.array([[3.0], [4.0]]), 10.0, dim=None).tolist()
    [[6.0], [8.0]]
    """
    va = as_float_array(v, "v")
    n = _norm(va, _axes(va, dim))
    return np.asarray(_g(g, n.shape) * va / n)


def weight_norm_backward(dw: Any, v: Any, g: Any, dim: int | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(dv, dg)`` of :func:`weight_norm` (``dg`` with the shape of g: 0-d for ``dim=None`` or ``-1``).

    .. math::

        \\frac{\\partial L}{\\partial g} = \\frac{\\nabla_w L \\cdot v}{\\|v\\|}, \\qquad
        \\nabla_v L = \\frac{g}{\\|v\\|}\\Big(I - \\frac{v v^\\top}{\\|v\\|^2}\\Big)\\nabla_w L:

    the gradient in v is orthogonal to v and shrinks like 1/‖v‖.
    """
    va = as_float_array(v, "v")
    axes = _axes(va, dim)
    n = _norm(va, axes)
    d = _validate.array(dw, "dw", nonempty=False)
    if d.shape != va.shape:
        raise ValueError(f"Invalid dw shape: expected {va.shape}, got {d.shape} (the shape of v)")
    ga = _g(g, n.shape)
    dot = np.asarray((d * va).sum() if axes is None else (d * va).sum(axis=axes, keepdims=True))
    return ga / n * (d - dot * va / n**2), dot / n


class PowerIterationResult(NamedTuple):
    """``sigma`` (the estimate :math:`u^\\top W v`), the final ``u``, ``v`` and the estimate after each iteration."""

    sigma: float
    u: np.ndarray
    v: np.ndarray
    history: np.ndarray


def _normalize(x: np.ndarray, eps: float) -> np.ndarray:
    return x / max(float(np.linalg.norm(x)), eps)


def spectral_power_iteration(W: Any, u: Any, v: Any, n_power_iterations: int = 1, eps: float = 1e-12) -> PowerIterationResult:
    """Largest singular value of ``W`` (flattened to ``(out, -1)``) by power iteration, as torch does.

    .. math:: u \\leftarrow \\frac{W v}{\\|W v\\|}, \\qquad v \\leftarrow \\frac{W^\\top u}{\\|W^\\top u\\|},
        \\qquad \\sigma = u^\\top W v

    One iteration applies :math:`W^\\top W` once: the directions converge like
    :math:`(\\sigma_2/\\sigma_1)^{2k}` and σ, stationary there, like :math:`(\\sigma_2/\\sigma_1)^{4k}`. Spectral normalization divides
    the weight by σ, so the layer's Lipschitz constant (in the 2-norm) is about 1. torch keeps
    ``u``, ``v`` between forward passes and does one iteration per training step.

    References
    ----------
    Miyato, T. et al. (2018). Spectral normalization for generative adversarial networks. ICLR.

    Examples
    --------
    >>> r = spectral_power_iteration(np.diag([3.0, 1.0]), np.ones(2), np.ones(2), 20)
    >>> round(r.sigma, 8)
    3.0
    """
    Wa = as_float_array(W, "weight")
    if Wa.ndim < 2:
        raise ValueError(f"Invalid weight: expected at least 2 dimensions, got {Wa.ndim}")
    Wm = Wa.reshape(Wa.shape[0], -1)
    ua, va = _validate.array(u, "u", nonempty=False), _validate.array(v, "v", nonempty=False)
    if ua.shape != (Wm.shape[0],) or va.shape != (Wm.shape[1],):
        raise ValueError(f"Invalid u, v shapes: expected ({Wm.shape[0]},), ({Wm.shape[1]},), got {ua.shape}, {va.shape}")
    n_power_iterations = _validate.count(n_power_iterations, "n_power_iterations")
    eps = check_eps(eps)
    hist = []
    for _ in range(n_power_iterations):
        ua = _normalize(Wm @ va, eps)
        va = _normalize(Wm.T @ ua, eps)
        hist.append(float(ua @ Wm @ va))
    return PowerIterationResult(float(ua @ Wm @ va), ua, va, np.array(hist))


def spectral_norm(W: Any, u: Any, v: Any, n_power_iterations: int = 1, eps: float = 1e-12) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(W / sigma, u, v)`` after ``n_power_iterations`` (torch's training-mode forward).

    Examples
    --------
    >>> Wn, _, _ = spectral_norm(np.diag([3.0, 1.0]), np.ones(2), np.ones(2), 30)
    >>> np.round(Wn, 6).tolist()
    [[1.0, 0.0], [0.0, 0.333333]]
    """
    r = spectral_power_iteration(W, u, v, n_power_iterations, eps)
    return np.asarray(W, dtype=np.float64) / r.sigma, r.u, r.v
