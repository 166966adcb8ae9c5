"""Adam and its relatives: AdamW (decoupled weight decay), AMSGrad, AdaMax, NAdam."""

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
    betas as check_betas,
    flag,
    grads_and_params,
    hyper,
    learning_rate,
    shrunk,
    weight_decay as decay,
    writeable,
)

__all__ = ["AdamState", "adam", "adamw", "AdamaxState", "adamax", "NAdamState", "nadam"]


class AdamState(NamedTuple):
    step: int
    exp_avg: Array
    exp_avg_sq: Array
    max_exp_avg_sq: Array | None


def adam(
    lr: float | Schedule = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    amsgrad: bool = False,
    *,
    decoupled_weight_decay: bool = False,
    bias_correction: bool = True,
    engine: str = "readable",
) -> Optimizer:
    r"""Adam: momentum on :math:`g` and RMSProp on :math:`g^2`, both bias-corrected.

    .. math::

        m_k = \beta_1 m_{k-1} + (1-\beta_1) g_k,\quad
        v_k = \beta_2 v_{k-1} + (1-\beta_2) g_k^2,\quad
        w_k = w_{k-1} - \frac{\eta}{1-\beta_1^k}\;
              \frac{m_k}{\sqrt{v_k/(1-\beta_2^k)} + \epsilon}

    Starting from :math:`m_0 = v_0 = 0`, :math:`m_k = (1-\beta_1)\sum_{j\le k}\beta_1^{k-j} g_j`
    has weights summing to :math:`1-\beta_1^k`, hence the division. The first step is
    :math:`-\eta\,\mathrm{sign}(g_1)` up to :math:`\epsilon`.

    Parameters
    ----------
    lr, betas, eps, weight_decay, amsgrad, decoupled_weight_decay
        As in ``torch.optim.Adam``; ``lr`` may be a schedule ``k -> lr``. ``weight_decay`` adds :math:`\lambda w` to the gradient
        (L2); with ``decoupled_weight_decay`` it shrinks :math:`w \leftarrow (1-\eta\lambda)w`
        instead (AdamW). ``amsgrad`` divides by the running maximum of :math:`v_k`
        (of the *uncorrected* :math:`v_k`, as PyTorch does; see the Notes).
    bias_correction : bool
        Not in PyTorch: ``False`` drops both corrections (for the identity with RMSProp, and for
        Reddi et al.'s AMSGrad).
    engine : {'readable', 'numpy', 'numba', 'auto'}
        The implementation of the in-place step :meth:`~nbcode.optim.Optimizer.update_`
        (see :func:`~nbcode.optim.sgd`).

    Notes
    -----
    :math:`\epsilon` is added *after* the square root and the correction of :math:`v` (PyTorch,
    the paper); TensorFlow's default adds an :math:`\hat\epsilon` before correcting.

    AMSGrad comes in two forms. Reddi et al.'s (``amsgrad=True, bias_correction=False``) divides
    by :math:`\sqrt{\hat v_k}` with :math:`\hat v_k = \max(\hat v_{k-1}, v_k)`, so each
    coordinate's effective rate :math:`\eta/\sqrt{\hat v_k}` never grows. PyTorch's
    (``amsgrad=True``) takes the maximum of the uncorrected :math:`v_k` and then divides it by
    :math:`1-\beta_2^k`, which rises towards 1: its effective rate can grow for thousands of steps.

    References
    ----------
    Kingma & Ba, "Adam", ICLR 2015; Reddi, Kale & Kumar, "On the convergence of Adam and
    beyond", ICLR 2018; Loshchilov & Hutter, "Decoupled weight decay regularization", ICLR 2019.

    Examples
    --------
    >>> opt = adam(lr=0.1)
    >>> w = np.zeros(3); s = opt.init(w)
    >>> u, s = opt.update(np.array([5.0, -1e-3, 2.0]), s, w); np.round(u, 4).tolist()
    [-0.1, 0.1, -0.1]
    """
    lr_at = learning_rate(lr)
    eps = hyper(eps, "epsilon value", "eps", low=0)
    b1, b2 = check_betas(betas)
    weight_decay = hyper(weight_decay, "weight_decay value", "weight_decay", low=0)
    amsgrad = flag(amsgrad, "amsgrad")
    decoupled = flag(decoupled_weight_decay, "decoupled_weight_decay")
    bias_correction = flag(bias_correction, "bias_correction")
    engine = _kernels.engine_for(engine)

    def init(params: Array) -> AdamState:
        check_params(params)
        z = np.zeros_like(writeable(params)) if engine != "readable" else np.zeros(np.shape(params))
        return AdamState(0, z, z.copy(), z.copy() if amsgrad else None)

    def update(grads: Array, state: AdamState, params: Array) -> tuple[Array, AdamState]:
        if type(state) is not AdamState:  # one test per step; the message names the argument
            bad_state(state, AdamState)
        grads, params = grads_and_params(grads, params)
        if state.exp_avg.shape != grads.shape:  # a tuple comparison per step
            bad_shape(state.exp_avg, grads)
        k = state.step + 1
        lr = lr_at(state.step)
        g, shrink = decay(grads, params, weight_decay, lr, decoupled)
        m = state.exp_avg + (1 - b1) * (g - state.exp_avg)  # torch's lerp
        v = b2 * state.exp_avg_sq + (1 - b2) * g * g
        bc1, bc2 = (1 - b1**k, 1 - b2**k) if bias_correction else (1.0, 1.0)
        vmax = state.max_exp_avg_sq
        if amsgrad:
            assert vmax is not None
            vmax = np.maximum(vmax, v)
            denom = np.sqrt(vmax) / np.sqrt(bc2) + eps
        else:
            denom = np.sqrt(v) / np.sqrt(bc2) + eps
        step = -(lr / bc1) * m / denom
        return shrunk(step, shrink), AdamState(k, m, v, vmax)

    def inplace(grads: Array, state: AdamState, params: Array) -> AdamState:
        if type(state) is not AdamState:  # one test per step; the message names the argument
            bad_state(state, AdamState)
        _kernels.adam_(params, grads, state.exp_avg, state.exp_avg_sq, state.max_exp_avg_sq, step=state.step + 1,
                       lr=lr_at(state.step), betas=(b1, b2), eps=eps, weight_decay=weight_decay, decoupled=decoupled,
                       bias_correction=bias_correction, engine=engine)
        return state._replace(step=state.step + 1)

    return Optimizer(init, update, None if engine == "readable" else inplace, lr_at)


def adamw(
    lr: float | Schedule = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 1e-2,
    amsgrad: bool = False,
    *,
    engine: str = "readable",
) -> Optimizer:
    r"""AdamW: Adam with decoupled weight decay, :math:`w \leftarrow (1 - \eta\lambda) w` before the Adam step.

    With L2 in the gradient, Adam divides the decay term by :math:`\sqrt{\hat v}`: weights with
    large gradients are barely decayed. Decoupling applies the same shrinkage to every weight.

    Examples
    --------
    >>> opt = adamw(lr=0.1, weight_decay=0.5)
    >>> w = np.array([2.0]); s = opt.init(w)
    >>> u, s = opt.update(np.array([1.0]), s, w); round(float(u[0]), 6)   # -0.1*0.5*2 - 0.1
    -0.2
    """
    return adam(lr, betas, eps, weight_decay, amsgrad, decoupled_weight_decay=True, engine=engine)


class AdamaxState(NamedTuple):
    step: int
    exp_avg: Array
    exp_inf: Array


def adamax(lr: float | Schedule = 2e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0) -> Optimizer:
    r"""AdaMax: Adam with the :math:`L^\infty` norm, :math:`u_k = \max(\beta_2 u_{k-1}, |g_k| + \epsilon)`.

    .. math:: w_k = w_{k-1} - \frac{\eta}{1-\beta_1^k}\,\frac{m_k}{u_k}

    :math:`u` needs no bias correction (a maximum is not pulled towards its zero start).

    References
    ----------
    Kingma & Ba (2015), section 7.1.

    Examples
    --------
    >>> opt = adamax(lr=0.1)
    >>> w = np.zeros(1); s = opt.init(w)
    >>> u, s = opt.update(np.array([-3.0]), s, w); round(float(u[0]), 6)
    0.1
    """
    lr_at = learning_rate(lr)
    eps = hyper(eps, "epsilon value", "eps", low=0)
    b1, b2 = check_betas(betas)
    weight_decay = hyper(weight_decay, "weight_decay value", "weight_decay", low=0)

    def init(params: Array) -> AdamaxState:
        check_params(params)
        return AdamaxState(0, np.zeros(np.shape(params)), np.zeros(np.shape(params)))

    def update(grads: Array, state: AdamaxState, params: Array) -> tuple[Array, AdamaxState]:
        if type(state) is not AdamaxState:  # one test per step; the message names the argument
            bad_state(state, AdamaxState)
        grads, params = grads_and_params(grads, params)
        if state.exp_avg.shape != grads.shape:  # a tuple comparison per step
            bad_shape(state.exp_avg, grads)
        k = state.step + 1
        g, _ = decay(grads, params, weight_decay, 0.0)  # L2 (as torch's Adamax)
        m = state.exp_avg + (1 - b1) * (g - state.exp_avg)
        u = np.maximum(b2 * state.exp_inf, np.abs(g) + eps)
        return -(lr_at(state.step) / (1 - b1**k)) * m / u, AdamaxState(k, m, u)

    return Optimizer(init, update, lr=lr_at)


class NAdamState(NamedTuple):
    step: int
    mu_product: float
    exp_avg: Array
    exp_avg_sq: Array


def nadam(
    lr: float | Schedule = 2e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum_decay: float = 4e-3,
    decoupled_weight_decay: bool = False,
) -> Optimizer:
    r"""NAdam: Adam with a Nesterov-style look-ahead on the first moment (Dozat 2016).

    With the momentum schedule :math:`\mu_k = \beta_1(1 - \tfrac12\, 0.96^{k\psi})`
    (:math:`\psi` = ``momentum_decay``) and :math:`\Pi_k = \prod_{j\le k}\mu_j`:

    .. math::

        w_k = w_{k-1} - \eta\left(\frac{1-\mu_k}{1-\Pi_k}\,g_k
              + \frac{\mu_{k+1}}{1-\Pi_{k+1}}\,m_k\right)\Big/
              \left(\sqrt{v_k/(1-\beta_2^k)} + \epsilon\right)

    The first term is the current gradient, the second the momentum already "looked ahead"
    by one step: Nesterov's trick applied to Adam.

    References
    ----------
    Dozat, "Incorporating Nesterov momentum into Adam", ICLR workshop 2016.

    Examples
    --------
    >>> opt = nadam(lr=0.1)
    >>> w = np.zeros(1); s = opt.init(w)
    >>> u, s = opt.update(np.array([2.0]), s, w); round(float(u[0]), 3)
    -0.106
    """
    lr_at = learning_rate(lr)
    eps = hyper(eps, "epsilon value", "eps", low=0)
    b1, b2 = check_betas(betas)
    weight_decay = hyper(weight_decay, "weight_decay value", "weight_decay", low=0)
    momentum_decay = hyper(momentum_decay, "momentum_decay value", "momentum_decay", low=0)
    decoupled = flag(decoupled_weight_decay, "decoupled_weight_decay")

    def init(params: Array) -> NAdamState:
        check_params(params)
        return NAdamState(0, 1.0, np.zeros(np.shape(params)), np.zeros(np.shape(params)))

    def update(grads: Array, state: NAdamState, params: Array) -> tuple[Array, NAdamState]:
        if type(state) is not NAdamState:  # one test per step; the message names the argument
            bad_state(state, NAdamState)
        grads, params = grads_and_params(grads, params)
        if state.exp_avg.shape != grads.shape:  # a tuple comparison per step
            bad_shape(state.exp_avg, grads)
        k = state.step + 1
        lr = lr_at(state.step)
        g, shrink = decay(grads, params, weight_decay, lr, decoupled)
        mu = b1 * (1.0 - 0.5 * 0.96 ** (k * momentum_decay))
        mu_next = b1 * (1.0 - 0.5 * 0.96 ** ((k + 1) * momentum_decay))
        prod = state.mu_product * mu
        m = state.exp_avg + (1 - b1) * (g - state.exp_avg)
        v = b2 * state.exp_avg_sq + (1 - b2) * g * g
        denom = np.sqrt(v / (1 - b2**k)) + eps
        step = -lr * (1 - mu) / (1 - prod) * g / denom - lr * mu_next / (1 - prod * mu_next) * m / denom
        return shrunk(step, shrink), NAdamState(k, prod, m, v)

    return Optimizer(init, update, lr=lr_at)
