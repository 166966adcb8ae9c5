"""Stochastic gradient descent with momentum (heavy ball) and Nesterov's look-ahead."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import numpy as np

from nbcode import _validate as v
from nbcode.optim import _kernels
from nbcode.optim._base import (
    bad_shape,
    bad_state,
    check_params,
    Array,
    Optimizer,
    Schedule,
    flag,
    grads_and_params,
    hyper,
    learning_rate,
    weight_decay as decay,
    writeable,
)

__all__ = ["SGDState", "sgd", "MomentumMAState", "momentum_ma", "VelocityState", "momentum_velocity", "nesterov_lookahead_path"]


class SGDState(NamedTuple):
    """The steps taken, and ``momentum_buffer`` (``None`` until the first step with momentum, as in ``torch.optim.SGD``)."""

    step: int
    momentum_buffer: Array | None


def sgd(
    lr: float | Schedule = 1e-3,
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
    *,
    engine: str = "readable",
) -> Optimizer:
    r"""SGD with optional momentum, dampening, Nesterov momentum and L2 weight decay.

    .. math::

        g \leftarrow g + \lambda_{wd} w,\quad
        b \leftarrow \beta b + (1 - \tau) g \ (b_1 = g),\quad
        w \leftarrow w - \eta_k\,(g + \beta b \text{ if nesterov else } b)

    with :math:`\beta` = ``momentum`` and :math:`\tau` = ``dampening``.

    Parameters
    ----------
    lr : float or callable
        The learning rate, or a schedule ``k -> lr`` (:mod:`nbcode.schedules`) evaluated at the
        step count ``k = 0, 1, ...``.
    momentum, dampening, weight_decay, nesterov
        As in ``torch.optim.SGD``.
    engine : {'readable', 'numpy', 'numba', 'auto'}
        How :meth:`~nbcode.optim.Optimizer.update_` steps in place: the readable update (the
        ground truth), NumPy by cache-sized blocks, or one fused Numba loop (``'auto'``: Numba
        when installed); see :mod:`nbcode.optim._kernels`. ``update`` is always the readable one.

    Notes
    -----
    PyTorch sums the gradients, :math:`b \leftarrow \beta b + g`, and multiplies the sum by the
    current rate, :math:`w \leftarrow w - \eta_k b`; under a constant gradient the step tends to
    :math:`\eta g/(1-\beta)`. Three conventions share the name "momentum":

    * this one (PyTorch's; its documentation notes that it differs from Sutskever et al.'s);
    * the velocity form of Sutskever et al. (2013) and Goodfellow et al. (2016),
      :math:`v \leftarrow \beta v - \eta_k g,\ w \leftarrow w + v` (:func:`momentum_velocity`):
      the same iterates with :math:`v = -\eta b` while :math:`\eta` is constant, but not under a
      schedule, where past rates linger in :math:`v`;
    * the moving average :math:`v \leftarrow \beta v + (1-\beta) g` (:func:`momentum_ma`), whose
      steps are :math:`1-\beta` times smaller.

    Setting ``dampening=momentum`` is *not* quite the moving average: PyTorch initialises the
    buffer to the first gradient undamped.

    References
    ----------
    Polyak (1964); Nesterov (1983); Sutskever et al., "On the importance of initialization and
    momentum in deep learning", ICML 2013.

    Examples
    --------
    >>> opt = sgd(lr=0.1, momentum=0.9)
    >>> w = np.array([1.0]); s = opt.init(w)
    >>> u, s = opt.update(np.array([1.0]), s, w); u.tolist()
    [-0.1]
    >>> u, s = opt.update(np.array([1.0]), s, w); round(float(u[0]), 6), s.step   # -0.1 * (0.9 + 1)
    (-0.19, 2)
    """
    lr_at = learning_rate(lr)
    momentum = hyper(momentum, "momentum value", "momentum", low=0)
    dampening = hyper(dampening, "dampening value", "dampening")
    weight_decay = hyper(weight_decay, "weight_decay value", "weight_decay", low=0)
    nesterov = flag(nesterov, "nesterov")
    engine = _kernels.engine_for(engine)
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def init(params: Array) -> SGDState:
        check_params(params)
        if engine != "readable" and momentum != 0:  # the kernels write into a buffer of the parameters' dtype
            return SGDState(0, np.zeros_like(writeable(params)))
        return SGDState(0, None)

    def update(grads: Array, state: SGDState, params: Array) -> tuple[Array, SGDState]:
        if type(state) is not SGDState:  # one test per step; the message names the argument
            bad_state(state, SGDState)
        grads, params = grads_and_params(grads, params)
        if state.momentum_buffer is not None and state.momentum_buffer.shape != grads.shape:  # a tuple comparison per step
            bad_shape(state.momentum_buffer, grads)
        g, _ = decay(grads, params, weight_decay, 0.0)  # L2 (torch's SGD has no decoupled decay)
        buf = state.momentum_buffer
        if momentum != 0:
            buf = g.copy() if buf is None or state.step == 0 else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        return -lr_at(state.step) * g, SGDState(state.step + 1, buf)

    def inplace(grads: Array, state: SGDState, params: Array) -> SGDState:
        if type(state) is not SGDState:  # one test per step; the message names the argument
            bad_state(state, SGDState)
        _kernels.sgd_(params, grads, state.momentum_buffer, lr=lr_at(state.step), momentum=momentum, dampening=dampening,
                      weight_decay=weight_decay, nesterov=nesterov, first_step=state.step == 0, engine=engine)
        return SGDState(state.step + 1, state.momentum_buffer)

    return Optimizer(init, update, None if engine == "readable" else inplace, lr_at)


class MomentumMAState(NamedTuple):
    """The steps taken and the moving average ``v`` of the gradients (starts at zero)."""

    step: int
    v: Array


def momentum_ma(lr: float | Schedule, momentum: float) -> Optimizer:
    r"""Momentum in the moving-average convention: :math:`v \leftarrow \beta v + (1-\beta) g,\ w \leftarrow w - \eta v`.

    With :math:`v_0 = 0` this equals :func:`sgd` with learning rate :math:`\eta(1-\beta)`
    (and the same :math:`\beta`): the two conventions differ only by that factor.

    Examples
    --------
    >>> from nbcode.optim import run
    >>> a = run(momentum_ma(lr=1.0, momentum=0.5), lambda w: w, [1.0], 3)
    >>> b = run(sgd(lr=0.5, momentum=0.5), lambda w: w, [1.0], 3)
    >>> bool(np.allclose(a, b))
    True
    """
    lr_at = learning_rate(lr)
    beta = hyper(momentum, "momentum value", "momentum", low=0, high=1, high_open=True)

    def init(params: Array) -> MomentumMAState:
        check_params(params)
        return MomentumMAState(0, np.zeros(np.shape(params)))

    def update(grads: Array, state: MomentumMAState, params: Array) -> tuple[Array, MomentumMAState]:
        if type(state) is not MomentumMAState:  # one test per step; the message names the argument
            bad_state(state, MomentumMAState)
        grads, _ = grads_and_params(grads, params)
        if state.v.shape != grads.shape:  # a tuple comparison per step
            bad_shape(state.v, grads)
        m = beta * state.v + (1 - beta) * grads
        return -lr_at(state.step) * m, MomentumMAState(state.step + 1, m)

    return Optimizer(init, update, lr=lr_at)


class VelocityState(NamedTuple):
    """The steps taken and the velocity ``v`` (starts at zero), which carries the learning rate in it."""

    step: int
    v: Array


def momentum_velocity(lr: float | Schedule, momentum: float) -> Optimizer:
    r"""Momentum in the velocity form of Sutskever et al. (2013) and Goodfellow et al. (2016, §8.3.2).

    .. math:: v_{k+1} = \beta v_k - \eta_k g_k,\qquad w_{k+1} = w_k + v_{k+1},\qquad v_0 = 0

    The learning rate sits *inside* the velocity. With a constant :math:`\eta` this is
    :func:`sgd` (PyTorch's form, :math:`b \leftarrow \beta b + g,\ w \leftarrow w - \eta b`) with
    :math:`v = -\eta b`: the same iterates. Under a schedule they differ: PyTorch multiplies the
    whole sum of past gradients by today's :math:`\eta_k`, so a change of rate acts at once,
    while here every past gradient keeps the rate it was taken with and a change acts gradually.

    Examples
    --------
    >>> from nbcode.optim import run
    >>> a = run(momentum_velocity(lr=0.1, momentum=0.9), lambda w: w, [1.0], 5)
    >>> bool(np.allclose(a, run(sgd(lr=0.1, momentum=0.9), lambda w: w, [1.0], 5)))
    True
    >>> drop = lambda k: 0.1 if k < 2 else 0.01            # a schedule: the two forms part
    >>> a = run(momentum_velocity(lr=drop, momentum=0.9), lambda w: w, [1.0], 3)
    >>> b = run(sgd(lr=drop, momentum=0.9), lambda w: w, [1.0], 3)
    >>> bool(np.allclose(a[:3], b[:3])), bool(np.isclose(a[3, 0], b[3, 0]))
    (True, False)
    """
    lr_at = learning_rate(lr)
    beta = hyper(momentum, "momentum value", "momentum", low=0, high=1, high_open=True)

    def init(params: Array) -> VelocityState:
        check_params(params)
        return VelocityState(0, np.zeros(np.shape(params)))

    def update(grads: Array, state: VelocityState, params: Array) -> tuple[Array, VelocityState]:
        if type(state) is not VelocityState:  # one test per step; the message names the argument
            bad_state(state, VelocityState)
        grads, _ = grads_and_params(grads, params)
        if state.v.shape != grads.shape:  # a tuple comparison per step
            bad_shape(state.v, grads)
        vel = beta * state.v - lr_at(state.step) * grads
        return vel, VelocityState(state.step + 1, vel)

    return Optimizer(init, update, lr=lr_at)


def nesterov_lookahead_path(grad: Callable[[Array], Array], w0: Any, lr: float, momentum: float, steps: int) -> tuple[Array, Array]:
    r"""Nesterov's method in its look-ahead form; returns the iterates and the look-ahead points.

    .. math::

        v_{k+1} = \beta v_k - \eta\,\nabla L(w_k + \beta v_k),\qquad w_{k+1} = w_k + v_{k+1},
        \qquad v_0 = 0.

    The gradient is taken at the look-ahead point :math:`\tilde w_k = w_k + \beta v_k`.
    ``torch.optim.SGD(nesterov=True)`` stores :math:`\tilde w_k`, not :math:`w_k`: its
    parameters are exactly the look-ahead points returned here.

    Returns
    -------
    w, lookahead : arrays of shape ``(steps + 1,) + w0.shape``.

    Examples
    --------
    >>> from nbcode.optim import run
    >>> w, look = nesterov_lookahead_path(lambda w: w, [1.0], 0.1, 0.9, 5)
    >>> bool(np.allclose(look, run(sgd(lr=0.1, momentum=0.9, nesterov=True), lambda w: w, [1.0], 5)))
    True
    """
    v.function(grad, "grad")
    lr = hyper(lr, "learning rate", "lr", low=0)
    momentum = hyper(momentum, "momentum value", "momentum", low=0)
    steps = v.count(steps, "steps")
    w = v.array(w0, "w0")
    vel = np.zeros_like(w)
    ws, looks = [w.copy()], [w.copy()]
    for k in range(steps):
        g = np.asarray(grad(w + momentum * vel), dtype=float)
        if g.shape != w.shape:  # a tuple comparison per step
            raise ValueError(f"Invalid grad: it returned shape {g.shape} at step {k} (need the shape of w0, {w.shape})")
        vel = momentum * vel - lr * g
        w = w + vel
        ws.append(w.copy())
        looks.append(w + momentum * vel)
    return np.array(ws), np.array(looks)
