"""Per-coordinate step sizes from the history of squared gradients: AdaGrad, RMSProp, Adadelta."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

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

__all__ = ["AdagradState", "adagrad", "RMSpropState", "rmsprop", "AdadeltaState", "adadelta"]


class AdagradState(NamedTuple):
    step: int
    sum: Array


def adagrad(lr: float | Schedule = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0, initial_accumulator_value: float = 0.0, eps: float = 1e-10) -> Optimizer:
    r"""AdaGrad: divide each coordinate's step by the root of its summed squared gradients.

    .. math::

        s \leftarrow s + g^2,\qquad
        w \leftarrow w - \frac{\eta}{1 + (k-1)\,\text{lr\_decay}}\;\frac{g}{\sqrt{s} + \epsilon}

    References
    ----------
    Duchi, Hazan & Singer, "Adaptive subgradient methods", JMLR 2011.

    Examples
    --------
    >>> opt = adagrad(lr=0.5)
    >>> w = np.zeros(2); s = opt.init(w)
    >>> u, s = opt.update(np.array([4.0, -0.01]), s, w); np.round(u, 6).tolist()   # sign(g) * lr
    [-0.5, 0.5]
    """
    lr_at = learning_rate(lr)
    lr_decay = hyper(lr_decay, "lr_decay value", "lr_decay", low=0)
    weight_decay = hyper(weight_decay, "weight_decay value", "weight_decay", low=0)
    acc0 = hyper(initial_accumulator_value, "initial_accumulator_value value", "initial_accumulator_value", low=0)
    eps = hyper(eps, "epsilon value", "eps", low=0)

    def init(params: Array) -> AdagradState:
        check_params(params)
        return AdagradState(0, np.full(np.shape(params), acc0))

    def update(grads: Array, state: AdagradState, params: Array) -> tuple[Array, AdagradState]:
        if type(state) is not AdagradState:  # one test per step; the message names the argument
            bad_state(state, AdagradState)
        grads, params = grads_and_params(grads, params)
        if state.sum.shape != grads.shape:  # a tuple comparison per step
            bad_shape(state.sum, grads)
        k = state.step + 1
        g, _ = decay(grads, params, weight_decay, 0.0)  # L2, as torch's Adagrad
        clr = lr_at(state.step) / (1 + (k - 1) * lr_decay)
        s = state.sum + g * g
        return -clr * g / (np.sqrt(s) + eps), AdagradState(k, s)

    return Optimizer(init, update, lr=lr_at)


class RMSpropState(NamedTuple):
    step: int
    square_avg: Array
    momentum_buffer: Array | None
    grad_avg: Array | None


def rmsprop(
    lr: float | Schedule = 1e-2,
    alpha: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    centered: bool = False,
    *,
    engine: str = "readable",
) -> Optimizer:
    r"""RMSProp: divide by the root of an exponential moving average of squared gradients.

    .. math::

        s \leftarrow \alpha s + (1-\alpha) g^2,\qquad
        w \leftarrow w - \eta\,\frac{g}{\sqrt{s} + \epsilon}

    ``centered=True`` subtracts the squared mean (:math:`\sqrt{s - \bar g^2}`, a variance);
    ``momentum > 0`` accumulates :math:`b \leftarrow \beta b + g/(\sqrt{s}+\epsilon)` and steps
    :math:`-\eta b`. Note that :math:`\alpha` plays the role of Adam's :math:`\beta_2`, and there
    is no bias correction: RMSProp is Adam with :math:`\beta_1 = 0` and no bias correction.
    ``lr`` may be a schedule ``k -> lr``; ``engine`` chooses the implementation of the in-place
    step :meth:`~nbcode.optim.Optimizer.update_` (see :func:`~nbcode.optim.sgd`).

    References
    ----------
    Tieleman & Hinton, Lecture 6.5, COURSERA: Neural Networks for Machine Learning, 2012.

    Examples
    --------
    >>> opt = rmsprop(lr=0.01, alpha=0.99)
    >>> w = np.zeros(1); s = opt.init(w)
    >>> u, s = opt.update(np.array([3.0]), s, w); round(float(u[0]), 4)   # first step: lr / sqrt(1 - alpha)
    -0.1
    """
    lr_at = learning_rate(lr)
    eps = hyper(eps, "epsilon value", "eps", low=0)
    momentum = hyper(momentum, "momentum value", "momentum", low=0)
    weight_decay = hyper(weight_decay, "weight_decay value", "weight_decay", low=0)
    alpha = hyper(alpha, "alpha value", "alpha", low=0)
    centered = flag(centered, "centered")
    engine = _kernels.engine_for(engine)

    def init(params: Array) -> RMSpropState:
        check_params(params)
        z = np.zeros_like(writeable(params)) if engine != "readable" else np.zeros(np.shape(params))
        return RMSpropState(0, z, z.copy() if momentum > 0 else None, z.copy() if centered else None)

    def update(grads: Array, state: RMSpropState, params: Array) -> tuple[Array, RMSpropState]:
        if type(state) is not RMSpropState:  # one test per step; the message names the argument
            bad_state(state, RMSpropState)
        grads, params = grads_and_params(grads, params)
        if state.square_avg.shape != grads.shape:  # a tuple comparison per step
            bad_shape(state.square_avg, grads)
        g, _ = decay(grads, params, weight_decay, 0.0)  # L2, as torch's RMSprop
        s = alpha * state.square_avg + (1 - alpha) * g * g
        m = state.grad_avg
        if centered:
            assert m is not None
            m = m + (1 - alpha) * (g - m)  # torch's lerp
            avg = np.sqrt(s - m * m) + eps
        else:
            avg = np.sqrt(s) + eps
        buf = state.momentum_buffer
        lr = lr_at(state.step)
        if momentum > 0:
            assert buf is not None
            buf = momentum * buf + g / avg
            step = -lr * buf
        else:
            step = -lr * g / avg
        return step, RMSpropState(state.step + 1, s, buf, m)

    def inplace(grads: Array, state: RMSpropState, params: Array) -> RMSpropState:
        if type(state) is not RMSpropState:  # one test per step; the message names the argument
            bad_state(state, RMSpropState)
        _kernels.rmsprop_(params, grads, state.square_avg, state.grad_avg, state.momentum_buffer, lr=lr_at(state.step),
                          alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum, engine=engine)
        return state._replace(step=state.step + 1)

    return Optimizer(init, update, None if engine == "readable" else inplace, lr_at)


class AdadeltaState(NamedTuple):
    step: int
    square_avg: Array
    acc_delta: Array


def adadelta(lr: float | Schedule = 1.0, rho: float = 0.9, eps: float = 1e-6, weight_decay: float = 0.0) -> Optimizer:
    r"""Adadelta: RMSProp whose numerator is the RMS of the past updates (units of :math:`w`).

    .. math::

        s \leftarrow \rho s + (1-\rho) g^2,\quad
        \Delta = \frac{\sqrt{u + \epsilon}}{\sqrt{s + \epsilon}}\, g,\quad
        u \leftarrow \rho u + (1-\rho)\Delta^2,\quad
        w \leftarrow w - \eta \Delta

    Zeiler's paper has no learning rate (:math:`\eta = 1`, PyTorch's default); note that
    :math:`\epsilon` sits *inside* both square roots.

    References
    ----------
    Zeiler, "ADADELTA: an adaptive learning rate method", arXiv:1212.5701, 2012.

    Examples
    --------
    >>> opt = adadelta()
    >>> w = np.zeros(1); s = opt.init(w)
    >>> u, s = opt.update(np.array([1.0]), s, w); round(float(u[0]), 6)   # -sqrt(eps / (0.1 + eps))
    -0.003162
    """
    lr_at = learning_rate(lr)
    rho = hyper(rho, "rho value", "rho", low=0, high=1)
    eps = hyper(eps, "epsilon value", "eps", low=0)
    weight_decay = hyper(weight_decay, "weight_decay value", "weight_decay", low=0)

    def init(params: Array) -> AdadeltaState:
        check_params(params)
        return AdadeltaState(0, np.zeros(np.shape(params)), np.zeros(np.shape(params)))

    def update(grads: Array, state: AdadeltaState, params: Array) -> tuple[Array, AdadeltaState]:
        if type(state) is not AdadeltaState:  # one test per step; the message names the argument
            bad_state(state, AdadeltaState)
        grads, params = grads_and_params(grads, params)
        if state.square_avg.shape != grads.shape:  # a tuple comparison per step
            bad_shape(state.square_avg, grads)
        g, _ = decay(grads, params, weight_decay, 0.0)  # L2, as torch's Adadelta
        s = rho * state.square_avg + (1 - rho) * g * g
        delta = np.sqrt(state.acc_delta + eps) / np.sqrt(s + eps) * g
        u = rho * state.acc_delta + (1 - rho) * delta * delta
        return -lr_at(state.step) * delta, AdadeltaState(state.step + 1, s, u)

    return Optimizer(init, update, lr=lr_at)
