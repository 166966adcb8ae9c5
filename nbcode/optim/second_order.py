"""Curvature-using steps: Newton's method and Quickprop (a per-weight secant Newton step)."""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from nbcode import _validate as v
from nbcode.optim._base import Array, Optimizer, Schedule, grads_and_params, hyper, learning_rate, check_params, bad_state, bad_shape

__all__ = ["NewtonState", "newton", "QuickpropState", "quickprop"]


class NewtonState(NamedTuple):
    step: int


def newton(hess: Callable[[Array], Array], lr: float | Schedule = 1.0, damping: float = 0.0) -> Optimizer:
    r"""Newton's method: :math:`w \leftarrow w - \eta\,(H(w) + \delta I)^{-1} g`.

    On a quadratic :math:`L(w) = \tfrac12 w^\top H w + b^\top w` with :math:`H \succ 0`, one step
    with :math:`\eta = 1, \delta = 0` lands on :math:`w^* = -H^{-1}b`. At a saddle
    (:math:`H` indefinite) the step points *towards* the saddle along the negative-curvature
    directions: Newton is attracted by every critical point. The damping :math:`\delta`
    (Levenberg) interpolates towards gradient descent with step :math:`\eta/\delta`.

    Parameters
    ----------
    hess : callable
        ``hess(w)`` returns the :math:`d\times d` Hessian at ``w`` (a number when ``d = 1``:
        the step is then the division :math:`g/L''(w)`).
    lr : float or callable
        Step length along the Newton direction (1 is the pure Newton step), or a schedule.
    damping : float
        :math:`\delta \ge 0` added to the diagonal.

    A singular :math:`H + \delta I` raises ``numpy.linalg.LinAlgError`` (the step is not
    defined); :func:`~nbcode.optim.run` ends the path there, padded with NaN.

    References
    ----------
    Nocedal & Wright, *Numerical Optimization*, 2nd ed., 2006, ch. 3.

    Examples
    --------
    >>> H = np.array([[3.0, 1.0], [1.0, 2.0]]); b = np.array([1.0, -1.0])
    >>> opt = newton(lambda w: H)
    >>> w = np.zeros(2); u, _ = opt.update(H @ w + b, opt.init(w), w)
    >>> bool(np.allclose(w + u, np.linalg.solve(H, -b)))
    True
    """
    v.function(hess, "hess")
    lr_at = learning_rate(lr)
    damping = hyper(damping, "damping value", "damping", low=0)

    def init(params: Array) -> NewtonState:
        check_params(params)
        return NewtonState(0)

    def update(grads: Array, state: NewtonState, params: Array) -> tuple[Array, NewtonState]:
        if type(state) is not NewtonState:  # one test per step; the message names the argument
            bad_state(state, NewtonState)
        grads, params = grads_and_params(grads, params)
        H = np.asarray(hess(params), dtype=float)
        if H.size != grads.size * grads.size:
            raise ValueError(f"Invalid Hessian: shape {H.shape} (need ({grads.size}, {grads.size}) for {grads.size} parameters)")
        H = H.reshape(grads.size, grads.size) + damping * np.eye(grads.size)
        if grads.size == 1:  # a division, not LAPACK (whose 1x1 solve may multiply by a reciprocal)
            h = float(H[0, 0])
            if h == 0.0:
                raise np.linalg.LinAlgError("Singular matrix")
            step = grads / h
        else:
            step = np.linalg.solve(H, grads.ravel()).reshape(grads.shape)
        return -lr_at(state.step) * step, NewtonState(state.step + 1)

    return Optimizer(init, update, lr=lr_at)


class QuickpropState(NamedTuple):
    step: int
    prev_grad: Array
    prev_step: Array


def quickprop(lr: float | Schedule = 1e-2, mu: float = 1.75) -> Optimizer:
    r"""Quickprop (Fahlman 1988): a Newton step per weight, the curvature from a secant.

    Per weight, with the last actual change :math:`s_{k-1} = w_k - w_{k-1}`:

    .. math::

        L''(w_k) \approx \frac{g_k - g_{k-1}}{s_{k-1}}, \qquad
        s_k = -\frac{g_k}{L''} = \frac{g_k}{g_{k-1} - g_k}\, s_{k-1}

    clipped to :math:`|s_k| \le \mu |s_{k-1}|` (Fahlman's maximum growth factor: a secant
    through two nearly equal slopes would jump to infinity). Where there is no previous step
    (the first step, or a weight that stopped) a gradient step :math:`-\eta g_k` is taken.
    This is the simplified rule; Fahlman's full method also adds :math:`-\eta g_k` while the
    slope keeps its sign.

    Notes
    -----
    On a separable quadratic the secant *is* the second derivative: after the first gradient
    step, Quickprop lands on the minimum. On non-convex or coupled losses the secant can have
    the wrong sign or be tiny, and the method becomes unstable (hence :math:`\mu`).

    References
    ----------
    Fahlman, "An empirical study of learning speed in back-propagation networks", CMU-CS-88-162, 1988.

    Examples
    --------
    >>> opt = quickprop(lr=0.4)
    >>> w = np.array([4.0]); s = opt.init(w)          # L = (w - 1)^2, g = 2 (w - 1)
    >>> u, s = opt.update(2 * (w - 1), s, w); w = w + u; w.round(12).tolist()
    [1.6]
    >>> u, s = opt.update(2 * (w - 1), s, w); (w + u).round(12).tolist()
    [1.0]
    """
    lr_at = learning_rate(lr)
    mu = hyper(mu, "mu value", "mu", low=0, low_open=True)

    def init(params: Array) -> QuickpropState:
        check_params(params)
        return QuickpropState(0, np.zeros(np.shape(params)), np.zeros(np.shape(params)))

    def update(grads: Array, state: QuickpropState, params: Array) -> tuple[Array, QuickpropState]:
        if type(state) is not QuickpropState:  # one test per step; the message names the argument
            bad_state(state, QuickpropState)
        grads, _ = grads_and_params(grads, params)
        if state.prev_grad.shape != grads.shape:  # a tuple comparison per step
            bad_shape(state.prev_grad, grads)
        lr = lr_at(state.step)
        denom = state.prev_grad - grads
        use_secant = (state.prev_step != 0) & (denom != 0)
        safe = np.where(use_secant, denom, 1.0)
        secant = grads / safe * state.prev_step
        limit = mu * np.abs(state.prev_step)
        step = np.where(use_secant, np.clip(secant, -limit, limit), -lr * grads)
        return step, QuickpropState(state.step + 1, grads.copy(), step)

    return Optimizer(init, update, lr=lr_at)
