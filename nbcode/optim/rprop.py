"""Rprop: per-weight step sizes that grow while the gradient keeps its sign and shrink when it flips."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from nbcode.optim._base import Array, Optimizer, grads_and_params, hyper, pair, check_params, bad_state, bad_shape

__all__ = ["RpropState", "rprop", "RpropBacktrackState", "rprop_backtrack"]


def _check(lr: float, etas: tuple[float, float], step_sizes: tuple[float, float]) -> tuple[float, float, float, float, float]:
    if callable(lr):
        raise TypeError("Invalid learning rate: a schedule (Rprop's lr is only its first step size; torch.optim.Rprop "
                        "ignores later changes of lr too)")
    lr = hyper(lr, "learning rate", "lr", low=0)
    eta_minus, eta_plus = pair(etas, "etas")
    if not 0.0 < eta_minus < 1.0 < eta_plus:
        raise ValueError(f"Invalid eta values: {eta_minus}, {eta_plus} (need 0 < etaminus < 1 < etaplus)")
    lo, hi = pair(step_sizes, "step_sizes")
    if not 0.0 <= lo <= hi:
        raise ValueError(f"Invalid step_sizes: {lo}, {hi} (need 0 <= min <= max)")
    return lr, eta_minus, eta_plus, lo, hi


def _sign(x: Array) -> Array:
    """``torch.sign``: -1, 0 or 1, and 0 for NaN (NumPy's ``sign`` gives NaN): an entry whose
    gradient is NaN keeps its step size and does not move, as in ``torch.optim.Rprop``."""
    return np.asarray((x > 0).astype(np.float64) - (x < 0))


def _step_sizes(grads: Array, prev: Array, step_size: Array, etas: tuple[float, float], bounds: tuple[float, float]) -> tuple[Array, Array]:
    """The sign of :math:`g_k g_{k-1}` and the new step sizes (the rule both Rprops share)."""
    s = _sign(grads * prev)
    factor = np.where(s > 0, etas[1], np.where(s < 0, etas[0], 1.0))
    return s, np.clip(step_size * factor, bounds[0], bounds[1])


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
        check_params(params)
        return RpropState(0, np.zeros(np.shape(params)), np.full(np.shape(params), lr))

    def update(grads: Array, state: RpropState, params: Array) -> tuple[Array, RpropState]:
        if type(state) is not RpropState:  # one test per step; the message names the argument
            bad_state(state, RpropState)
        grads, _ = grads_and_params(grads, params)
        if state.prev.shape != grads.shape:  # a tuple comparison per step
            bad_shape(state.prev, grads)
        s, step_size = _step_sizes(grads, state.prev, state.step_size, (eta_minus, eta_plus), (lo, hi))
        g = np.where(s < 0, 0.0, grads)
        return -_sign(g) * step_size, RpropState(state.step + 1, g, step_size)

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
        check_params(params)
        z = np.zeros(np.shape(params))
        return RpropBacktrackState(0, z, np.full(np.shape(params), lr), z.copy())

    def update(grads: Array, state: RpropBacktrackState, params: Array) -> tuple[Array, RpropBacktrackState]:
        if type(state) is not RpropBacktrackState:  # one test per step; the message names the argument
            bad_state(state, RpropBacktrackState)
        grads, _ = grads_and_params(grads, params)
        if state.prev.shape != grads.shape:  # a tuple comparison per step
            bad_shape(state.prev, grads)
        s, step_size = _step_sizes(grads, state.prev, state.step_size, (eta_minus, eta_plus), (lo, hi))
        du = np.where(s < 0, -state.prev_update, -_sign(grads) * step_size)
        g = np.where(s < 0, 0.0, grads)
        return du, RpropBacktrackState(state.step + 1, g, step_size, du)

    return Optimizer(init, update)
