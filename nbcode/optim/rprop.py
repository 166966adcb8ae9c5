"""Rprop: per-weight step sizes that grow while the gradient keeps its sign and shrink when it flips."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from nbcode.optim._base import Array, Optimizer, check_nonneg

__all__ = ["RpropState", "rprop", "RpropBacktrackState", "rprop_backtrack"]


def _check(lr: float, etas: tuple[float, float], step_sizes: tuple[float, float]) -> tuple[float, float, float, float, float]:
    lr = check_nonneg(lr, f"Invalid learning rate: {lr}")
    eta_minus, eta_plus = etas
    if not 0.0 < eta_minus < 1.0 < eta_plus:
        raise ValueError(f"Invalid eta values: {eta_minus}, {eta_plus}")
    lo, hi = step_sizes
    if not 0.0 <= lo <= hi:
        raise ValueError(f"Invalid step_sizes: {lo}, {hi}")
    return lr, float(eta_minus), float(eta_plus), float(lo), float(hi)


class RpropState(NamedTuple):
    step: int
    prev: Array
    step_size: Array


def rprop(lr: float = 1e-2, etas: tuple[float, float] = (0.5, 1.2), step_sizes: tuple[float, float] = (1e-6, 50.0)) -> Optimizer:
    r"""Rprop *without* weight-backtracking, as ``torch.optim.Rprop`` implements it (iRprop⁻).

    Per weight, with the previous gradient :math:`g_{k-1}` and step size :math:`\Delta`:

    .. math::

        \Delta \leftarrow \mathrm{clip}\big(\Delta\cdot
        \{\eta^+ \text{ if } g_k g_{k-1} > 0;\ \eta^- \text{ if } < 0;\ 1 \text{ if } = 0\},
        \Delta_{\min}, \Delta_{\max}\big),\qquad
        w \leftarrow w - \mathrm{sign}(g_k)\,\Delta

    except that after a sign change the gradient is set to zero: no move this step, and the
    next step counts as "no previous sign". Only the *sign* of the gradient is used. The step
    sizes start at ``lr``.

    References
    ----------
    Riedmiller & Braun, "A direct adaptive method for faster backpropagation learning: the
    RPROP algorithm", ICNN 1993; Igel & Hüsken, "Improving the Rprop learning algorithm", 2000.

    Examples
    --------
    >>> opt = rprop(lr=0.1)
    >>> w = np.zeros(2); s = opt.init(w)
    >>> u, s = opt.update(np.array([10.0, -0.001]), s, w); u.tolist()
    [-0.1, 0.1]
    >>> u, s = opt.update(np.array([3.0, -5.0]), s, w); np.round(u, 6).tolist()   # same signs: 1.2x
    [-0.12, 0.12]
    """
    lr, eta_minus, eta_plus, lo, hi = _check(lr, etas, step_sizes)

    def init(params: Array) -> RpropState:
        return RpropState(0, np.zeros_like(params), np.full_like(params, lr))

    def update(grads: Array, state: RpropState, params: Array) -> tuple[Array, RpropState]:
        s = np.sign(grads * state.prev)
        factor = np.where(s > 0, eta_plus, np.where(s < 0, eta_minus, 1.0))
        step_size = np.clip(state.step_size * factor, lo, hi)
        g = np.where(s < 0, 0.0, grads)
        return -np.sign(g) * step_size, RpropState(state.step + 1, g, step_size)

    return Optimizer(init, update)


class RpropBacktrackState(NamedTuple):
    step: int
    prev: Array
    step_size: Array
    prev_update: Array


def rprop_backtrack(lr: float = 1e-2, etas: tuple[float, float] = (0.5, 1.2), step_sizes: tuple[float, float] = (1e-6, 50.0)) -> Optimizer:
    r"""The original Rprop *with* weight-backtracking (Riedmiller & Braun 1993, "Rprop⁺").

    Same step-size rule as :func:`rprop`, but when the sign flips (we jumped over a minimum
    along that weight) the previous update is *undone*: :math:`w \leftarrow w - \Delta w_{k-1}`,
    and the stored gradient is set to zero so the next step does not adapt.

    Examples
    --------
    >>> opt = rprop_backtrack(lr=1.0)
    >>> w = np.zeros(1); s = opt.init(w)
    >>> u, s = opt.update(np.array([1.0]), s, w); u.tolist()
    [-1.0]
    >>> u, s = opt.update(np.array([-1.0]), s, w + u); u.tolist()   # overshot: go back
    [1.0]
    """
    lr, eta_minus, eta_plus, lo, hi = _check(lr, etas, step_sizes)

    def init(params: Array) -> RpropBacktrackState:
        z = np.zeros_like(params)
        return RpropBacktrackState(0, z, np.full_like(params, lr), z.copy())

    def update(grads: Array, state: RpropBacktrackState, params: Array) -> tuple[Array, RpropBacktrackState]:
        s = np.sign(grads * state.prev)
        factor = np.where(s > 0, eta_plus, np.where(s < 0, eta_minus, 1.0))
        step_size = np.clip(state.step_size * factor, lo, hi)
        du = np.where(s < 0, -state.prev_update, -np.sign(grads) * step_size)
        g = np.where(s < 0, 0.0, grads)
        return du, RpropBacktrackState(state.step + 1, g, step_size, du)

    return Optimizer(init, update)
