"""Gradient clipping by value and by norm, as ``torch.nn.utils``, and clipped descent on a cliff."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

__all__ = ["clip_by_value", "clip_by_norm", "clipped_descent"]


def clip_by_value(g: Any, clip_value: float) -> np.ndarray:
    """Clip every component to :math:`[-\\theta, \\theta]` (both signs), as
    ``torch.nn.utils.clip_grad_value_``. The direction of the gradient can change.

    Examples
    --------
    >>> clip_by_value([3.0, -0.5, -7.0], 1.0).tolist()
    [1.0, -0.5, -1.0]
    """
    if not clip_value > 0:
        raise ValueError(f"Invalid clip value: {clip_value} (need > 0)")
    return np.clip(np.asarray(g, dtype=np.float64), -clip_value, clip_value)


def clip_by_norm(grads: Sequence[Any], max_norm: float, norm_type: float = 2.0) -> tuple[list[np.ndarray], float]:
    """Rescale all gradients together so that their total norm is at most ``max_norm``, as
    ``torch.nn.utils.clip_grad_norm_`` :cite:`pascanu2013`. The direction is kept.

    .. math:: \\|g\\| = \\Bigl(\\sum_{\\text{tensors}} \\|g_t\\|_p^p\\Bigr)^{1/p}, \\qquad
              g \\leftarrow g \\cdot \\min\\Bigl(1, \\frac{\\theta}{\\|g\\| + 10^{-6}}\\Bigr)

    (the :math:`10^{-6}` is PyTorch's). Returns the clipped gradients and the total norm
    *before* clipping, as PyTorch does.

    Examples
    --------
    >>> clipped, total = clip_by_norm([np.array([3.0, 4.0])], 1.0)
    >>> total, [round(float(c), 4) for c in clipped[0]]
    (5.0, [0.6, 0.8])
    """
    if not max_norm > 0:
        raise ValueError(f"Invalid max norm: {max_norm} (need > 0)")
    if not (norm_type == np.inf or norm_type > 0):
        raise ValueError(f"Invalid norm type: {norm_type}")
    gs = [np.asarray(g, dtype=np.float64) for g in grads]
    if norm_type == np.inf:
        total = max(float(np.abs(g).max()) for g in gs)
    else:
        total = float(sum(float((np.abs(g) ** norm_type).sum()) for g in gs) ** (1.0 / norm_type))
    coef = min(1.0, max_norm / (total + 1e-6))
    return [g * coef for g in gs], total


def clipped_descent(
    grad: Callable[[np.ndarray], np.ndarray], w0: Any, lr: float, steps: int, *, clip: str | None = None, threshold: float = 1.0
) -> np.ndarray:
    """Gradient descent :math:`w \\leftarrow w - \\eta\\,\\mathrm{clip}(g)`; returns all iterates.

    Parameters
    ----------
    grad : gradient of the loss; w0 : start; lr : :math:`\\eta`; steps : number of steps
    clip : {None, 'value', 'norm'}
    threshold : :math:`\\theta` of the clipping

    Examples
    --------
    >>> clipped_descent(lambda w: 100.0 * w, [1.0], 0.1, 1, clip="norm", threshold=1.0)[-1].round(6).tolist()
    [0.9]
    """
    if clip not in (None, "value", "norm"):
        raise ValueError(f"Invalid clip mode: {clip!r} (choose None, 'value' or 'norm')")
    if not lr > 0:
        raise ValueError(f"Invalid learning rate: {lr}")
    w = np.asarray(w0, dtype=np.float64).copy()
    path = [w.copy()]
    for _ in range(int(steps)):
        g = np.asarray(grad(w), dtype=np.float64)
        if clip == "value":
            g = clip_by_value(g, threshold)
        elif clip == "norm":
            g = clip_by_norm([g], threshold)[0][0]
        w = w - lr * g
        path.append(w.copy())
    return np.array(path)
