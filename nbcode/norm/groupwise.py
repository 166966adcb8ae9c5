"""Layer, group and instance normalization in NumPy: statistics per example, not per batch.

For an ``(N, C, H, W)`` tensor (see :func:`norm_axes` for the sets):

* **LayerNorm** averages over ``(C, H, W)`` of each example (its ``normalized_shape``);
* **GroupNorm** splits the ``C`` channels into ``G`` groups and averages over ``(C/G, H, W)``;
* **InstanceNorm** averages over ``(H, W)`` of each example and channel (GroupNorm with G = C);
* **RMSNorm** divides by the root mean square over the same axes as LayerNorm, without centring.

None of them looks at other examples, so the output of one example does not depend on the batch
and training and inference compute the same thing.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from nbcode import _validate
from nbcode.norm._check import as_float_array, check_cache, check_eps, check_grad, check_param
from nbcode.norm.core import NormCache, _normalize, _normalize_backward


class AffineCache(NamedTuple):
    """Saved for the backward pass: the normalization cache, how to reshape it and the weight."""

    norm: NormCache
    in_shape: tuple[int, ...]
    weight: np.ndarray | None
    param_axes: tuple[int, ...]


def _affine(x_hat: np.ndarray, weight: Any, bias: Any, pshape: tuple[int, ...], bshape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray | None]:
    w = None if weight is None else check_param(weight, pshape, "weight")
    out = x_hat if w is None else x_hat * w.reshape(bshape)
    if bias is not None:
        out = out + check_param(bias, pshape, "bias").reshape(bshape)
    return out, w


def _affine_backward(dout: Any, cache: AffineCache, bshape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(d_xhat, dx_shape_check, dweight, dbias)`` — dweight/dbias summed over the non-parameter axes."""
    dy = check_grad(dout, cache.in_shape)
    x_hat = cache.norm.x_hat.reshape(cache.in_shape)
    other = tuple(i for i in range(dy.ndim) if i not in cache.param_axes)
    dweight = (dy * x_hat).sum(axis=other)
    dbias = dy.sum(axis=other)
    d_xhat = dy if cache.weight is None else dy * cache.weight.reshape(bshape)
    return d_xhat, x_hat, dweight, dbias


def _trailing_axes(xa: np.ndarray, normalized_shape: Any) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """``normalized_shape`` as a tuple (an int means a 1-tuple, as in torch), checked against the
    trailing axes of ``xa``, and those axes."""
    dims = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) else normalized_shape
    if not isinstance(dims, (tuple, list)):
        raise TypeError(f"Invalid normalized_shape: {_validate.show(normalized_shape)} (need an int or a tuple of ints)")
    ns = tuple(_validate.count(s, "normalized_shape entry", low=1) for s in dims)
    k = len(ns)
    if k == 0 or xa.ndim < k or xa.shape[-k:] != ns:
        raise ValueError(f"Given normalized_shape={list(ns)}, expected input with shape [*, {', '.join(map(str, ns))}], but got input of size {list(xa.shape)}")
    return ns, tuple(range(xa.ndim - k, xa.ndim))


def layer_norm(x: Any, normalized_shape: int | tuple[int, ...], weight: Any = None, bias: Any = None, eps: float = 1e-5) -> tuple[np.ndarray, AffineCache]:
    """Layer normalization over the last ``len(normalized_shape)`` axes, as ``torch.nn.LayerNorm``.

    .. math:: y = \\gamma \\odot \\frac{x - \\mu}{\\sqrt{\\sigma^2 + \\epsilon}} + \\beta,

    µ and σ² (biased) per example over the trailing axes; γ, β of shape ``normalized_shape`` (an
    int ``n`` means ``(n,)``, as in torch).

    References
    ----------
    Ba, J. L., Kiros, J. R. and Hinton, G. E. (2016). Layer normalization. arXiv:1607.06450.

    Examples
    --------
    >>> y, _ = layer_norm(np.array([[1.0, 3.0], [0.0, 10.0]]), (2,), eps=1e-12)
    >>> np.round(y, 6).tolist()
    [[-1.0, 1.0], [-1.0, 1.0]]
    """
    xa = as_float_array(x)
    eps = check_eps(eps)
    ns, axes = _trailing_axes(xa, normalized_shape)
    k = len(ns)
    x_hat, _, _, cache = _normalize(xa, axes, eps)
    bshape = (1,) * (xa.ndim - k) + ns
    out, w = _affine(x_hat, weight, bias, ns, bshape)
    return out, AffineCache(cache, xa.shape, w, axes)


def layer_norm_backward(dout: Any, cache: AffineCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(dx, dweight, dbias)`` of :func:`layer_norm` (compact formula of :mod:`nbcode.norm.core`)."""
    cache = check_cache(cache, AffineCache, "layer_norm")
    bshape = tuple(s if i in cache.param_axes else 1 for i, s in enumerate(cache.in_shape))
    d_xhat, _, dw, db = _affine_backward(dout, cache, bshape)
    return _normalize_backward(d_xhat, cache.norm), dw, db


class RMSCache(NamedTuple):
    """Saved by :func:`rms_norm` for :func:`rms_norm_backward`."""

    x: np.ndarray
    rms: np.ndarray
    weight: np.ndarray | None
    axes: tuple[int, ...]


def rms_norm(x: Any, normalized_shape: int | tuple[int, ...], weight: Any = None, eps: float | None = None) -> tuple[np.ndarray, RMSCache]:
    r"""Root-mean-square normalization over the last ``len(normalized_shape)`` axes, as ``torch.nn.RMSNorm``.

    .. math:: y = \gamma \odot \frac{x}{\operatorname{rms}(x)}, \qquad
              \operatorname{rms}(x) = \sqrt{\tfrac1d \textstyle\sum_k x_k^2 + \epsilon},

    with :math:`d` the number of normalized entries per example. Unlike LayerNorm it does not
    subtract the mean and has no shift :math:`\beta` (Zhang and Sennrich 2019). ``eps=None`` is
    torch's default, the machine epsilon of float64.

    Examples
    --------
    >>> y, _ = rms_norm(np.array([[3.0, 4.0]]), 2, eps=1e-12)
    >>> np.round(y * np.sqrt(12.5), 6).tolist()   # rms = sqrt((9 + 16)/2)
    [[3.0, 4.0]]
    """
    xa = as_float_array(x)
    eps = float(np.finfo(np.float64).eps) if eps is None else check_eps(eps)
    ns, axes = _trailing_axes(xa, normalized_shape)
    rms = np.sqrt((xa**2).mean(axis=axes, keepdims=True) + eps)
    w = None if weight is None else check_param(weight, ns, "weight")
    out = xa / rms if w is None else xa / rms * w
    return out, RMSCache(xa, rms, w, axes)


def rms_norm_backward(dout: Any, cache: RMSCache) -> tuple[np.ndarray, np.ndarray | None]:
    r"""``(dx, dweight)`` of :func:`rms_norm`. With :math:`u = \gamma \odot g` (``g = dout``),

    .. math:: \frac{\partial L}{\partial x} = \frac{1}{\operatorname{rms}}\Big(u - \hat x\,\overline{u \hat x}\Big),
              \qquad \hat x = x/\operatorname{rms},

    the mean taken over the normalized axes: the gradient loses its component along :math:`\hat x`
    (the output does not change when :math:`x` is scaled), but not its mean, unlike LayerNorm's.
    ``dweight`` is None without a weight.
    """
    cache = check_cache(cache, RMSCache, "rms_norm")
    dy = check_grad(dout, cache.x.shape)
    x_hat = cache.x / cache.rms
    u = dy if cache.weight is None else dy * cache.weight
    dx = (u - x_hat * (u * x_hat).mean(axis=cache.axes, keepdims=True)) / cache.rms
    other = tuple(i for i in range(dy.ndim) if i not in cache.axes)
    dw = None if cache.weight is None else (dy * x_hat).sum(axis=other)
    return dx, dw


def group_norm(x: Any, num_groups: int, weight: Any = None, bias: Any = None, eps: float = 1e-5) -> tuple[np.ndarray, AffineCache]:
    """Group normalization, as ``torch.nn.GroupNorm``: ``x`` of shape ``(N, C, *)``, ``C % G == 0``.

    Each example's channels are split into ``num_groups`` contiguous groups of ``C/G``; each group
    (with all its spatial positions) is standardized, then a per-channel γ, β is applied.

    References
    ----------
    Wu, Y. and He, K. (2018). Group normalization. ECCV.

    Examples
    --------
    >>> y, _ = group_norm(np.array([[1.0, 3.0, 0.0, 10.0]]), 2, eps=1e-12)
    >>> np.round(y, 6).tolist()
    [[-1.0, 1.0, -1.0, 1.0]]
    """
    xa = as_float_array(x)
    eps = check_eps(eps)
    if xa.ndim < 2:
        raise ValueError(f"Expected at least 2D input (got {xa.ndim}D input)")
    N, C = xa.shape[:2]
    num_groups = _validate.count(num_groups, "num_groups", low=1)
    if C % num_groups != 0:
        raise ValueError(f"num_channels ({C}) must be divisible by num_groups ({num_groups})")
    xg = xa.reshape(N, num_groups, -1)
    x_hat, _, _, cache = _normalize(xg, (2,), eps)
    bshape = (1, C) + (1,) * (xa.ndim - 2)
    out, w = _affine(x_hat.reshape(xa.shape), weight, bias, (C,), bshape)
    return out, AffineCache(cache, xa.shape, w, (1,))


def group_norm_backward(dout: Any, cache: AffineCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(dx, dweight, dbias)`` of :func:`group_norm` (and of :func:`instance_norm`)."""
    cache = check_cache(cache, AffineCache, "group_norm or instance_norm")
    shape = cache.in_shape
    bshape = (1, shape[1]) + (1,) * (len(shape) - 2)
    d_xhat, _, dw, db = _affine_backward(dout, cache, bshape)
    dx = _normalize_backward(d_xhat.reshape(cache.norm.x_hat.shape), cache.norm)
    return dx.reshape(shape), dw, db


def instance_norm(x: Any, weight: Any = None, bias: Any = None, eps: float = 1e-5) -> tuple[np.ndarray, AffineCache]:
    """Instance normalization (``torch.nn.InstanceNorm1d/2d`` without running statistics).

    Every (example, channel) pair is standardized over its spatial positions: GroupNorm with one
    channel per group. ``x`` must have at least one spatial axis, ``(N, C, L)`` or ``(N, C, H, W)``.

    Examples
    --------
    >>> y, _ = instance_norm(np.array([[[1.0, 3.0], [0.0, 10.0]]]), eps=1e-12)
    >>> np.round(y, 6).tolist()
    [[[-1.0, 1.0], [-1.0, 1.0]]]
    """
    xa = as_float_array(x)
    if xa.ndim < 3:
        raise ValueError(f"Expected 3D or 4D input (got {xa.ndim}D input)")
    if int(np.prod(xa.shape[2:])) <= 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size {xa.shape}")
    return group_norm(xa, xa.shape[1], weight, bias, eps)


def norm_axes(kind: str, shape: tuple[int, int, int, int], num_groups: int = 2) -> np.ndarray:
    """Boolean mask of shape ``(N, C, H, W)``: the entries sharing one µ, σ² with entry (0, 0, 0, 0).

    ``kind`` is ``'batch'``, ``'layer'``, ``'group'`` or ``'instance'``.

    Examples
    --------
    >>> int(norm_axes("batch", (4, 6, 2, 2)).sum()), int(norm_axes("layer", (4, 6, 2, 2)).sum())
    (16, 24)
    """
    kind = _validate.choice(kind, "normalization kind", ["batch", "layer", "group", "instance"])
    dims = _validate.sizes(shape, "shape", low=1, min_len=4)
    if len(dims) != 4:
        raise ValueError(f"Invalid shape: {_validate.show(shape)} (need 4 sizes, (N, C, H, W))")
    num_groups = _validate.count(num_groups, "num_groups", low=1)
    N, C, H, W = dims
    m = np.zeros(dims, dtype=bool)
    if kind == "batch":
        m[:, 0] = True
    elif kind == "layer":
        m[0] = True
    elif kind == "group":
        if C % num_groups:
            raise ValueError(f"num_channels ({C}) must be divisible by num_groups ({num_groups})")
        m[0, : C // num_groups] = True
    else:  # instance
        m[0, 0] = True
    return m
