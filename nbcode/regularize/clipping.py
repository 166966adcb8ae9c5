"""Gradient clipping by value and by norm, as ``torch.nn.utils``, and clipped descent on a cliff."""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from nbcode import _validate

__all__ = ["clip_by_value", "clip_by_norm", "clipped_descent"]


def clip_by_value(g: Any, clip_value: float) -> np.ndarray:
    """Clip every component to :math:`[-\\theta, \\theta]` (both signs), as
    ``torch.nn.utils.clip_grad_value_``. The direction of the gradient can change.

    Examples
    --------
    >>> clip_by_value([3.0, -0.5, -7.0], 1.0).tolist()
    [1.0, -0.5, -1.0]
    """
    clip_value = _validate.real(clip_value, "clip value", low=0, low_open=True)
    return np.clip(_validate.array(g, "gradient", nonempty=False, finite=False), -clip_value, clip_value)


def clip_by_norm(
    grads: Sequence[Any], max_norm: float, norm_type: float = 2.0, *, error_if_nonfinite: bool = False
) -> tuple[list[np.ndarray], float]:
    """Rescale all gradients together so that their total norm is at most ``max_norm``, as
    ``torch.nn.utils.clip_grad_norm_`` :cite:`pascanu2013`. The direction is kept.

    .. math:: \\|g\\| = \\Bigl(\\sum_{\\text{tensors}} \\|g_t\\|_p^p\\Bigr)^{1/p}, \\qquad
              g \\leftarrow g \\cdot \\min\\Bigl(1, \\frac{\\theta}{\\|g\\| + 10^{-6}}\\Bigr)

    (the :math:`10^{-6}` is PyTorch's). Returns the clipped gradients and the total norm
    *before* clipping, as PyTorch does. As in PyTorch, a non-finite total norm is not hidden: a
    NaN anywhere makes every returned gradient NaN (the factor is NaN), an infinite entry makes
    the factor 0 (so finite entries become 0 and infinite ones NaN); with
    ``error_if_nonfinite=True`` a ``RuntimeError`` is raised instead, with torch's message.

    Examples
    --------
    >>> clipped, total = clip_by_norm([np.array([3.0, 4.0])], 1.0)
    >>> total, [round(float(c), 4) for c in clipped[0]]
    (5.0, [0.6, 0.8])
    >>> clip_by_norm([np.array([1.0, float("nan")]), np.array([2.0])], 1.0)[0][1].tolist()
    [nan]
    """
    max_norm = _validate.real(max_norm, "max norm", low=0, low_open=True)
    norm_type = _validate.real(norm_type, "norm type", low=0, low_open=True, finite=False)
    _validate.flag(error_if_nonfinite, "error_if_nonfinite")
    if isinstance(grads, np.ndarray) or not isinstance(grads, (list, tuple)):
        raise TypeError(f"Invalid grads: {_validate.show(grads)} (need a list of arrays)")
    gs = [_validate.array(g, f"grads[{i}]", nonempty=False, finite=False) for i, g in enumerate(grads)]
    if not gs:
        return [], 0.0
    # the norm of the per-tensor norms, as torch computes it (NaN propagates through np.max too)
    norms = np.array([np.linalg.norm(g.ravel(), ord=norm_type) if g.size else 0.0 for g in gs])
    total = float(np.max(norms)) if norm_type == math.inf else float(np.linalg.norm(norms, ord=norm_type))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so it cannot be "
            "clipped. To disable this error and scale the gradients by the non-finite norm anyway, set "
            "`error_if_nonfinite=False`"
        )
    coef = max_norm / (total + 1e-6)
    coef = float(np.minimum(coef, 1.0))  # torch.clamp(max=1): NaN stays NaN (min(1.0, nan) would give 1.0)
    with np.errstate(invalid="ignore"):  # inf * 0 = NaN, as in torch, without a warning
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
    _validate.choice(clip, "clip mode", [None, "value", "norm"])
    _validate.function(grad, "grad")
    lr = _validate.real(lr, "learning rate", low=0, low_open=True)
    steps = _validate.count(steps, "steps")
    threshold = _validate.real(threshold, "threshold", low=0, low_open=True)
    w = _validate.vector(w0, "w0")
    path = [w.copy()]
    for _ in range(steps):
        g = np.asarray(grad(w), dtype=np.float64)
        if g.shape != w.shape:
            raise ValueError(f"Invalid grad: it returned shape {g.shape} at a point of shape {w.shape} (need the same shape)")
        if clip == "value":
            g = clip_by_value(g, threshold)
        elif clip == "norm":
            g = clip_by_norm([g], threshold)[0][0]
        w = w - lr * g
        path.append(w.copy())
    return np.array(path)
