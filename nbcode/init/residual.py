r"""Residual networks at initialization: how the variance of the residual stream grows with depth,
and the residual MLPs of the book.

A residual block adds a branch to its input, :math:`x^{l+1} = x^l + \alpha F(x^l)`, with
:math:`F(x) = W_2\,\mathrm{relu}(W_1 x)`, :math:`W_1` from He's rule (:math:`2/n`) and :math:`W_2`
from LeCun's (:math:`1/n`), so that :math:`\mathbb E\lVert F(x)\rVert^2 = \mathbb E\lVert x\rVert^2`.
The branch is uncorrelated with its input (:math:`W_2` has mean zero and is independent of
:math:`x`), so the second moments add:

.. math::

    q^{l+1} = q^l + \alpha^2 q^l = (1 + \alpha^2)\,q^l \quad\Rightarrow\quad q^L = (1 + \alpha^2)^L q^0 .

With :math:`\alpha = 1` the stream doubles with every block; with :math:`\alpha = 1/\sqrt L` it
grows by :math:`(1 + 1/L)^L < e` over the whole network; with a zero-initialized last layer of each
branch (:math:`W_2 = 0`; Goyal et al. 2017 zero the last BatchNorm's :math:`\gamma`, Zhang et al.
2019 and De & Smith 2020 zero or scale the branch) every block starts as the identity. If the
branch normalizes its input first (the "pre-norm" block :math:`x + \alpha F(\mathrm{LN}(x))`),
the branch's output has second moment 1 whatever :math:`x` is, and the stream grows *linearly*,
:math:`q^L = q^0 + L\alpha^2`.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from nbcode import _validate
from nbcode.init._threads import single_blas_thread

__all__ = ["predict_residual_variance", "residual_variance", "ResidualBlock", "residual_mlp", "NORMS"]

#: The normalization layers a :class:`ResidualBlock` can use.
NORMS = (None, "layer", "rms", "batch")


def predict_residual_variance(depth: int, *, alpha: float = 1.0, prenorm: bool = False, q0: float = 1.0) -> np.ndarray:
    r"""The second moment :math:`q^l` of the residual stream after :math:`l = 0, \dots,` ``depth``
    blocks: :math:`(1 + \alpha^2)^l q^0`, or :math:`q^0 + l\alpha^2` for pre-norm blocks.

    Examples
    --------
    >>> predict_residual_variance(3, alpha=1.0).tolist(), predict_residual_variance(3, prenorm=True).tolist()
    ([1.0, 2.0, 4.0, 8.0], [1.0, 2.0, 3.0, 4.0])
    """
    depth = _validate.count(depth, "depth")
    alpha = _validate.real(alpha, "alpha", low=0)
    prenorm = _validate.flag(prenorm, "prenorm")
    q0 = _validate.real(q0, "q0", low=0)
    l = np.arange(depth + 1, dtype=np.float64)
    return q0 + l * alpha**2 if prenorm else q0 * (1.0 + alpha**2) ** l


@single_blas_thread
def residual_variance(
    depth: int, width: int, *, alpha: float = 1.0, prenorm: bool = False, zero_init: bool = False, batch: int = 128,
    rng: np.random.Generator,
) -> np.ndarray:
    r"""Measure the second moment of the residual stream :math:`x^l`, :math:`l = 0, \dots,`
    ``depth``, of one random residual MLP (see the module docstring) on standard normal inputs.

    ``prenorm`` normalizes each example's branch input to mean 0 and variance 1 (LayerNorm without
    affine parameters); ``zero_init`` sets every :math:`W_2` to 0.

    Examples
    --------
    >>> q = residual_variance(10, 128, alpha=1.0, rng=np.random.default_rng(0))
    >>> bool(300 < q[-1] < 3000)   # 2^10 = 1024
    True
    """
    depth = _validate.count(depth, "depth")
    width = _validate.count(width, "width", low=2)
    alpha = _validate.real(alpha, "alpha", low=0)
    prenorm = _validate.flag(prenorm, "prenorm")
    zero_init = _validate.flag(zero_init, "zero_init")
    batch = _validate.count(batch, "batch size", low=1)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"Invalid rng: {_validate.show(rng)} (need a numpy.random.Generator)")
    x = rng.normal(size=(batch, width))
    out = np.empty(depth + 1)
    out[0] = np.mean(x**2)
    for l in range(depth):
        w1 = rng.normal(0.0, math.sqrt(2.0 / width), size=(width, width))
        w2 = np.zeros((width, width)) if zero_init else rng.normal(0.0, math.sqrt(1.0 / width), size=(width, width))
        u = x
        if prenorm:
            u = (x - x.mean(axis=1, keepdims=True)) / x.std(axis=1, keepdims=True)
        x = x + alpha * (np.maximum(u @ w1.T, 0.0) @ w2.T)
        out[l + 1] = np.mean(x**2)
    return out


def _check_dtype(dtype: torch.dtype) -> None:
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"Invalid dtype: {_validate.show(dtype)} (need a floating torch.dtype)")


def _norm_layer(kind: str | None, width: int, dtype: torch.dtype) -> nn.Module:
    if kind is None:
        return nn.Identity()
    if kind == "layer":
        return nn.LayerNorm(width, dtype=dtype)
    if kind == "rms":
        return nn.RMSNorm(width, dtype=dtype)
    return nn.BatchNorm1d(width, dtype=dtype)


class ResidualBlock(nn.Module):
    r"""One residual block of width ``width`` with a two-layer ReLU branch of width ``hidden``.

    ``placement='pre'``: :math:`x + \alpha F(N(x))`; ``'post'``: :math:`N(x + \alpha F(x))`, with
    :math:`N` the normalization ``norm`` (``None``: no normalization, :math:`x + \alpha F(x)`).
    The branch's first layer is He-initialized, its second LeCun-initialized (or zero with
    ``zero_init``), biases 0.
    """

    def __init__(self, width: int, hidden: int, *, alpha: float = 1.0, norm: str | None = None, placement: str = "pre",
                 zero_init: bool = False, dtype: torch.dtype = torch.float64) -> None:
        super().__init__()
        width = _validate.count(width, "width", low=1)
        hidden = _validate.count(hidden, "hidden", low=1)
        self.alpha = _validate.real(alpha, "alpha", low=0)
        self.placement = _validate.choice(placement, "placement", ("pre", "post"))
        _validate.choice(norm, "norm", NORMS)
        zero_init = _validate.flag(zero_init, "zero_init")
        _check_dtype(dtype)
        self.norm = _norm_layer(norm, width, dtype)
        self.fc1 = nn.Linear(width, hidden, dtype=dtype)
        self.fc2 = nn.Linear(hidden, width, dtype=dtype)
        with torch.no_grad():
            nn.init.kaiming_normal_(self.fc1.weight, nonlinearity="relu")
            nn.init.zeros_(self.fc1.bias)
            if zero_init:
                nn.init.zeros_(self.fc2.weight)
            else:
                nn.init.kaiming_normal_(self.fc2.weight, nonlinearity="linear")
            nn.init.zeros_(self.fc2.bias)

    def branch(self, x: torch.Tensor) -> torch.Tensor:
        r""":math:`F(x) = W_2\,\mathrm{relu}(W_1 x + b_1) + b_2`, the branch without the skip connection."""
        return self.fc2(torch.relu(self.fc1(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The block's output (``x`` has the block's width as its last dimension)."""
        if self.placement == "pre":
            return x + self.alpha * self.branch(self.norm(x))
        return self.norm(x + self.alpha * self.branch(x))


def residual_mlp(
    sizes: tuple[int, int, int],
    depth: int,
    *,
    hidden: int | None = None,
    alpha: float = 1.0,
    norm: str | None = None,
    placement: str = "pre",
    zero_init: bool = False,
    seed: int | None = None,
    dtype: torch.dtype = torch.float64,
) -> nn.Sequential:
    r"""A residual MLP ``in -> width`` (a LeCun-initialized ``Linear``), ``depth`` :class:`ResidualBlock`
    s, and a LeCun-initialized head ``width -> out``; ``sizes = (in, width, out)``.

    With pre-norm blocks (``placement='pre'`` and a ``norm``) a final normalization precedes the
    head, as in pre-LN transformers (Xiong et al. 2020). ``hidden`` is the branch width (default
    ``width``). ``seed`` seeds torch's generator first, so the network is reproducible.

    Examples
    --------
    >>> net = residual_mlp((64, 32, 10), 3, norm="layer", seed=0)
    >>> [type(m).__name__ for m in net]
    ['Linear', 'ResidualBlock', 'ResidualBlock', 'ResidualBlock', 'LayerNorm', 'Linear']
    >>> x = torch.randn(5, 64, dtype=torch.float64)
    >>> bool(torch.equal(residual_mlp((64, 32, 10), 4, zero_init=True, seed=0)[1](x[:, :32]), x[:, :32]))
    True
    """
    dims = _validate.sizes(sizes, "sizes", low=1, min_len=3)
    if len(dims) != 3:
        raise ValueError(f"Invalid sizes: {_validate.show(sizes)} (need (in_features, width, out_features))")
    n_in, width, n_out = dims
    depth = _validate.count(depth, "depth")
    hidden = width if hidden is None else _validate.count(hidden, "hidden", low=1)
    _validate.choice(norm, "norm", NORMS)
    _validate.choice(placement, "placement", ("pre", "post"))
    _validate.real(alpha, "alpha", low=0)
    zero_init = _validate.flag(zero_init, "zero_init")
    _check_dtype(dtype)
    if seed is not None:
        torch.manual_seed(_validate.count(seed, "seed"))
    first = nn.Linear(n_in, width, dtype=dtype)
    head = nn.Linear(width, n_out, dtype=dtype)
    with torch.no_grad():
        for lin in (first, head):
            nn.init.kaiming_normal_(lin.weight, nonlinearity="linear")
            nn.init.zeros_(lin.bias)
    blocks = [ResidualBlock(width, hidden, alpha=alpha, norm=norm, placement=placement, zero_init=zero_init, dtype=dtype)
              for _ in range(depth)]
    final = [_norm_layer(norm, width, dtype)] if norm is not None and placement == "pre" else []
    return nn.Sequential(first, *blocks, *final, head)
