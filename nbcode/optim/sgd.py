"""Stochastic gradient descent with momentum (heavy ball) and Nesterov's look-ahead."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import numpy as np

from nbcode.optim._base import Array, Optimizer, as_params, check_nonneg

__all__ = ["SGDState", "sgd", "MomentumMAState", "momentum_ma", "nesterov_lookahead_path"]


class SGDState(NamedTuple):
    """``momentum_buffer`` is ``None`` until the first step (as in ``torch.optim.SGD``)."""

    momentum_buffer: Array | None


def sgd(lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False) -> Optimizer:
    r"""SGD with optional momentum, dampening, Nesterov momentum and L2 weight decay.

    .. math::

        g \leftarrow g + \lambda_{wd} w,\quad
        b \leftarrow \beta b + (1 - \tau) g \ (b_1 = g),\quad
        w \leftarrow w - \eta\,(g + \beta b \text{ if nesterov else } b)

    with :math:`\beta` = ``momentum`` and :math:`\tau` = ``dampening``.

    Parameters
    ----------
    lr, momentum, dampening, weight_decay, nesterov
        As in ``torch.optim.SGD``.

    Notes
    -----
    PyTorch's convention is :math:`v \leftarrow \beta v + g` (Sutskever et al. 2013), whose
    steady step on a constant gradient is :math:`\eta g/(1-\beta)`. The moving-average convention
    :math:`v \leftarrow \beta v + (1-\beta) g` (:func:`momentum_ma`) takes steps :math:`1-\beta`
    times smaller. Setting ``dampening=momentum`` is *not* quite the moving average: PyTorch
    initialises the buffer to the first gradient undamped.

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
    >>> u, s = opt.update(np.array([1.0]), s, w); round(float(u[0]), 6)   # -0.1 * (0.9 + 1)
    -0.19
    """
    lr = check_nonneg(lr, f"Invalid learning rate: {lr}")
    momentum = check_nonneg(momentum, f"Invalid momentum value: {momentum}")
    weight_decay = check_nonneg(weight_decay, f"Invalid weight_decay value: {weight_decay}")
    dampening = float(dampening)
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def init(params: Array) -> SGDState:
        return SGDState(None)

    def update(grads: Array, state: SGDState, params: Array) -> tuple[Array, SGDState]:
        g = grads + weight_decay * params if weight_decay != 0 else grads.copy()
        buf = state.momentum_buffer
        if momentum != 0:
            buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        return -lr * g, SGDState(buf)

    return Optimizer(init, update)


class MomentumMAState(NamedTuple):
    """The moving average ``v`` of the gradients (starts at zero)."""

    v: Array


def momentum_ma(lr: float, momentum: float) -> Optimizer:
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
    lr = check_nonneg(lr, f"Invalid learning rate: {lr}")
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"Invalid momentum value: {momentum}")
    beta = float(momentum)

    def init(params: Array) -> MomentumMAState:
        return MomentumMAState(np.zeros_like(params))

    def update(grads: Array, state: MomentumMAState, params: Array) -> tuple[Array, MomentumMAState]:
        v = beta * state.v + (1 - beta) * grads
        return -lr * v, MomentumMAState(v)

    return Optimizer(init, update)


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
    w, lookahead : arrays of shape ``(steps + 1, d)``.

    Examples
    --------
    >>> from nbcode.optim import run
    >>> w, look = nesterov_lookahead_path(lambda w: w, [1.0], 0.1, 0.9, 5)
    >>> bool(np.allclose(look, run(sgd(lr=0.1, momentum=0.9, nesterov=True), lambda w: w, [1.0], 5)))
    True
    """
    w = as_params(w0)
    v = np.zeros_like(w)
    ws, looks = [w.copy()], [w.copy()]
    for _ in range(int(steps)):
        v = momentum * v - lr * np.asarray(grad(w + momentum * v), dtype=float)
        w = w + v
        ws.append(w.copy())
        looks.append(w + momentum * v)
    return np.array(ws), np.array(looks)
