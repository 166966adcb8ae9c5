"""Per-coordinate step sizes from the history of squared gradients: AdaGrad, RMSProp, Adadelta."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from nbcode.optim._base import Array, Optimizer, check_nonneg

__all__ = ["AdagradState", "adagrad", "RMSpropState", "rmsprop", "AdadeltaState", "adadelta"]


class AdagradState(NamedTuple):
    step: int
    sum: Array


def adagrad(lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0, initial_accumulator_value: float = 0.0, eps: float = 1e-10) -> Optimizer:
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
    lr = check_nonneg(lr, f"Invalid learning rate: {lr}")
    lr_decay = check_nonneg(lr_decay, f"Invalid lr_decay value: {lr_decay}")
    weight_decay = check_nonneg(weight_decay, f"Invalid weight_decay value: {weight_decay}")
    acc0 = check_nonneg(initial_accumulator_value, f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
    eps = check_nonneg(eps, f"Invalid epsilon value: {eps}")

    def init(params: Array) -> AdagradState:
        return AdagradState(0, np.full_like(params, acc0))

    def update(grads: Array, state: AdagradState, params: Array) -> tuple[Array, AdagradState]:
        k = state.step + 1
        g = grads + weight_decay * params if weight_decay != 0 else grads
        clr = lr / (1 + (k - 1) * lr_decay)
        s = state.sum + g * g
        return -clr * g / (np.sqrt(s) + eps), AdagradState(k, s)

    return Optimizer(init, update)


class RMSpropState(NamedTuple):
    step: int
    square_avg: Array
    momentum_buffer: Array | None
    grad_avg: Array | None


def rmsprop(lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False) -> Optimizer:
    r"""RMSProp: divide by the root of an exponential moving average of squared gradients.

    .. math::

        s \leftarrow \alpha s + (1-\alpha) g^2,\qquad
        w \leftarrow w - \eta\,\frac{g}{\sqrt{s} + \epsilon}

    ``centered=True`` subtracts the squared mean (:math:`\sqrt{s - \bar g^2}`, a variance);
    ``momentum > 0`` accumulates :math:`b \leftarrow \beta b + g/(\sqrt{s}+\epsilon)` and steps
    :math:`-\eta b`. Note that :math:`\alpha` plays the role of Adam's :math:`\beta_2`, and there
    is no bias correction: RMSProp is Adam with :math:`\beta_1 = 0` and no bias correction.

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
    lr = check_nonneg(lr, f"Invalid learning rate: {lr}")
    eps = check_nonneg(eps, f"Invalid epsilon value: {eps}")
    momentum = check_nonneg(momentum, f"Invalid momentum value: {momentum}")
    weight_decay = check_nonneg(weight_decay, f"Invalid weight_decay value: {weight_decay}")
    alpha = check_nonneg(alpha, f"Invalid alpha value: {alpha}")

    def init(params: Array) -> RMSpropState:
        z = np.zeros_like(params)
        return RMSpropState(0, z, z.copy() if momentum > 0 else None, z.copy() if centered else None)

    def update(grads: Array, state: RMSpropState, params: Array) -> tuple[Array, RMSpropState]:
        g = grads + weight_decay * params if weight_decay != 0 else grads
        s = alpha * state.square_avg + (1 - alpha) * g * g
        m = state.grad_avg
        if centered:
            assert m is not None
            m = m + (1 - alpha) * (g - m)  # torch's lerp
            avg = np.sqrt(s - m * m) + eps
        else:
            avg = np.sqrt(s) + eps
        buf = state.momentum_buffer
        if momentum > 0:
            assert buf is not None
            buf = momentum * buf + g / avg
            step = -lr * buf
        else:
            step = -lr * g / avg
        return step, RMSpropState(state.step + 1, s, buf, m)

    return Optimizer(init, update)


class AdadeltaState(NamedTuple):
    step: int
    square_avg: Array
    acc_delta: Array


def adadelta(lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6, weight_decay: float = 0.0) -> Optimizer:
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
    lr = check_nonneg(lr, f"Invalid learning rate: {lr}")
    if not 0.0 <= rho <= 1.0:
        raise ValueError(f"Invalid rho value: {rho}")
    eps = check_nonneg(eps, f"Invalid epsilon value: {eps}")
    weight_decay = check_nonneg(weight_decay, f"Invalid weight_decay value: {weight_decay}")

    def init(params: Array) -> AdadeltaState:
        return AdadeltaState(0, np.zeros_like(params), np.zeros_like(params))

    def update(grads: Array, state: AdadeltaState, params: Array) -> tuple[Array, AdadeltaState]:
        g = grads + weight_decay * params if weight_decay != 0 else grads
        s = rho * state.square_avg + (1 - rho) * g * g
        delta = np.sqrt(state.acc_delta + eps) / np.sqrt(s + eps) * g
        u = rho * state.acc_delta + (1 - rho) * delta * delta
        return -lr * delta, AdadeltaState(state.step + 1, s, u)

    return Optimizer(init, update)
