"""Learning-rate schedules as pure functions ``step -> lr`` in closed form.

Each factory (``step_lr(lr=0.1, step_size=30)``) returns a function of the step ``k = 0, 1, ...``
giving the learning rate used at that step. Parameter names are PyTorch's, and each schedule
equals the learning rate that the corresponding ``torch.optim.lr_scheduler`` class sets after
``k`` calls of ``scheduler.step()`` (``tests/test_schedules.py`` checks this step by step).
"""

from __future__ import annotations

import bisect
import math
from typing import Callable, Sequence

import numpy as np

from nbcode import _validate as v

__all__ = [
    "Schedule",
    "constant_lr",
    "step_lr",
    "multistep_lr",
    "exponential_lr",
    "inverse_time_lr",
    "inverse_power_lr",
    "linear_lr",
    "linear_decay",
    "warmup",
    "cosine_annealing_lr",
    "cosine_annealing_warm_restarts",
    "cyclic_lr",
    "one_cycle_lr",
    "schedule_values",
    "robbins_monro_sums",
]

Schedule = Callable[[int], float]


def _check_lr(lr: float, name: str = "learning rate") -> float:
    return v.real(lr, name, low=0)


def _check_period(value: int, name: str) -> int:
    return v.count(value, name, low=1)


def _check_factor(value: float, name: str, *, allow_above_one: bool = True) -> float:
    return v.real(value, name, low=0, low_open=True, high=None if allow_above_one else 1)


def _check_step(k: int) -> int:
    return v.count(k, "step")


def _rate(value: object, k: int) -> float:
    """A schedule's value at step ``k``, checked as the optimizers check it (a real number
    ``>= 0``; ``inf`` is kept: it is what a closed form gives on a true overflow)."""
    if type(value) is float and 0.0 <= value:  # the common case, checked cheaply (NaN fails it)
        return value
    return v.real(value, f"learning rate at step {k}", low=0, finite=False, symbol="lr")


#: The smallest positive normal float: below it a power has lost precision (or is zero).
_TINY = 2.2250738585072014e-308


def _times_power(c: float, base: float, n: float) -> float:
    """:math:`c\\,\\mathrm{base}^n` (``base > 0``) without an intermediate overflow or underflow:
    the plain ``c * base ** n`` whenever ``base ** n`` is a normal float (every ordinary case,
    bit for bit), else through logarithms, e.g. ``1e-300 * 2.0 ** 1100`` (the power alone
    overflows) is 1.36e31; ``inf`` on a true overflow.

    >>> f"{_times_power(1e-300, 2.0, 1100):.6g}", f"{_times_power(1e300, 0.5, 1100):.6g}"
    ('1.3583e+31', '7.36215e-32')
    >>> _times_power(0.5, 1e10, 40), _times_power(0.0, 1e10, 40)
    (inf, 0.0)
    """
    try:
        p = base**n
    except OverflowError:
        p = math.inf
    if _TINY <= p < math.inf or c == 0.0:
        return c * p if p < math.inf else 0.0
    try:
        return math.copysign(math.exp(math.log(abs(c)) + n * math.log(base)), c)
    except OverflowError:
        return math.copysign(math.inf, c)


def constant_lr(lr: float) -> Schedule:
    """:math:`\\eta_k = \\eta_0`.

    Examples
    --------
    >>> constant_lr(0.1)(1000)
    0.1
    """
    lr = _check_lr(lr)

    def schedule(k: int) -> float:
        _check_step(k)
        return lr

    return schedule


def step_lr(lr: float, step_size: int, gamma: float = 0.1) -> Schedule:
    """Step decay (``torch.optim.lr_scheduler.StepLR``): :math:`\\eta_k = \\eta_0\\,\\gamma^{\\lfloor k/s \\rfloor}`.

    Examples
    --------
    >>> s = step_lr(1.0, step_size=2, gamma=0.5)
    >>> [s(k) for k in range(5)]
    [1.0, 1.0, 0.5, 0.5, 0.25]
    """
    lr, step_size, gamma = _check_lr(lr), _check_period(step_size, "step_size"), _check_factor(gamma, "gamma")

    def schedule(k: int) -> float:
        return _times_power(lr, gamma, _check_step(k) // step_size)

    return schedule


def multistep_lr(lr: float, milestones: Sequence[int], gamma: float = 0.1) -> Schedule:
    """Multiply by ``gamma`` at each milestone (``MultiStepLR``): :math:`\\eta_k = \\eta_0\\gamma^{\\#\\{m \\le k\\}}`.

    Examples
    --------
    >>> s = multistep_lr(1.0, milestones=[2, 4], gamma=0.1)
    >>> [round(s(k), 6) for k in range(6)]
    [1.0, 1.0, 0.1, 0.1, 0.01, 0.01]
    """
    lr, gamma = _check_lr(lr), _check_factor(gamma, "gamma")
    if isinstance(milestones, (str, bytes)) or not isinstance(milestones, (Sequence, np.ndarray)):
        raise TypeError(f"Invalid milestones: {v.show(milestones)} (need a sequence of integers)")
    ms = sorted(_check_period(m, "milestone") for m in milestones)

    def schedule(k: int) -> float:
        return _times_power(lr, gamma, bisect.bisect_right(ms, _check_step(k)))

    return schedule


def exponential_lr(lr: float, gamma: float) -> Schedule:
    """Exponential decay (``ExponentialLR``): :math:`\\eta_k = \\eta_0\\gamma^k` (the notes' :math:`\\eta_0 e^{-\\beta k}`, :math:`\\gamma = e^{-\\beta}`).

    Examples
    --------
    >>> exponential_lr(1.0, 0.5)(3)
    0.125
    """
    lr, gamma = _check_lr(lr), _check_factor(gamma, "gamma")

    def schedule(k: int) -> float:
        return _times_power(lr, gamma, _check_step(k))  # lr * gamma**k, also where gamma**k alone overflows

    return schedule


def inverse_power_lr(lr: float, power: float, decay_rate: float = 1.0) -> Schedule:
    """:math:`\\eta_k = \\eta_0 / (1 + c\\,k)^p`; ``power = 1`` is inverse-time, ``2`` inverse-square, ``0.5`` inverse square root.

    (The notes call :math:`\\eta_0/(k+1)` "linear" and :math:`\\eta_0/(k+1)^2` "quadratic" decay;
    they are inverse-time and inverse-square decays.)

    Examples
    --------
    >>> s = inverse_power_lr(1.0, power=2.0)
    >>> [s(k) for k in range(3)]
    [1.0, 0.25, 0.1111111111111111]
    """
    lr = _check_lr(lr)
    power = v.real(power, "power", low=0)
    decay_rate = _check_factor(decay_rate, "decay_rate")

    def schedule(k: int) -> float:
        base = 1.0 + decay_rate * _check_step(k)
        try:
            return lr / base**power
        except OverflowError:  # the power alone overflows: the quotient is tiny or zero
            return math.exp(math.log(lr) - power * math.log(base)) if lr > 0 else 0.0

    return schedule


def inverse_time_lr(lr: float, decay_rate: float = 1.0) -> Schedule:
    """Inverse-time decay :math:`\\eta_k = \\eta_0/(1 + c\\,k)`, the Robbins–Monro schedule.

    Examples
    --------
    >>> [inverse_time_lr(1.0)(k) for k in range(4)]
    [1.0, 0.5, 0.3333333333333333, 0.25]
    """
    return inverse_power_lr(lr, 1.0, decay_rate)


def linear_lr(lr: float, start_factor: float = 1.0 / 3, end_factor: float = 1.0, total_iters: int = 5) -> Schedule:
    """``LinearLR``: the factor goes linearly from ``start_factor`` to ``end_factor`` in ``total_iters`` steps, then stays.

    .. math:: \\eta_k = \\eta_0\\Big(f_s + (f_e - f_s)\\,\\frac{\\min(k, T)}{T}\\Big)

    With ``start_factor < end_factor = 1`` it is a linear warmup.

    Examples
    --------
    >>> s = linear_lr(1.0, start_factor=0.25, end_factor=1.0, total_iters=3)
    >>> [s(k) for k in range(5)]
    [0.25, 0.5, 0.75, 1.0, 1.0]
    """
    lr = _check_lr(lr)
    total_iters = _check_period(total_iters, "total_iters")
    start_factor = _check_factor(start_factor, "start_factor", allow_above_one=False)
    end_factor = v.real(end_factor, "end_factor", low=0, high=1)

    def schedule(k: int) -> float:
        return lr * (start_factor + (end_factor - start_factor) * min(total_iters, _check_step(k)) / total_iters)

    return schedule


def linear_decay(lr: float, end_lr: float, tau: int) -> Schedule:
    """Goodfellow et al.'s linear decay to :math:`\\eta_\\tau` at step :math:`\\tau`, constant after.

    .. math:: \\eta_k = (1 - \\alpha)\\,\\eta_0 + \\alpha\\,\\eta_\\tau, \\qquad \\alpha = \\min(k/\\tau, 1)

    References
    ----------
    Goodfellow, Bengio, Courville (2016), *Deep Learning*, §8.3.1.

    Examples
    --------
    >>> s = linear_decay(1.0, 0.01, tau=4)
    >>> [round(s(k), 4) for k in (0, 2, 4, 10)]
    [1.0, 0.505, 0.01, 0.01]
    """
    lr, end_lr, tau = _check_lr(lr), _check_lr(end_lr, "end_lr"), _check_period(tau, "tau")

    def schedule(k: int) -> float:
        alpha = min(_check_step(k) / tau, 1.0)
        return (1.0 - alpha) * lr + alpha * end_lr

    return schedule


def warmup(schedule: Schedule, warmup_iters: int, start_factor: float = 0.1) -> Schedule:
    """Multiply ``schedule`` by a linear warmup factor from ``start_factor`` to 1 over ``warmup_iters`` steps.

    Equal to torch's ``ChainedScheduler([LinearLR(start_factor, 1.0, warmup_iters), main])`` for a
    multiplicative ``main`` schedule (e.g. ``ExponentialLR``).

    Examples
    --------
    >>> s = warmup(constant_lr(1.0), warmup_iters=4, start_factor=0.2)
    >>> [round(s(k), 2) for k in range(6)]
    [0.2, 0.4, 0.6, 0.8, 1.0, 1.0]
    """
    v.function(schedule, "schedule")
    warmup_iters = _check_period(warmup_iters, "warmup_iters")
    factor = linear_lr(1.0, start_factor, 1.0, warmup_iters)

    def warmed(k: int) -> float:
        return factor(k) * _rate(schedule(k), k)

    return warmed


def cosine_annealing_lr(lr: float, T_max: int, eta_min: float = 0.0) -> Schedule:
    """Cosine annealing (``CosineAnnealingLR``), periodic with period :math:`2T_{\\max}`:

    .. math:: \\eta_k = \\eta_{\\min} + \\tfrac12(\\eta_0 - \\eta_{\\min})\\Big(1 + \\cos\\frac{\\pi k}{T_{\\max}}\\Big)

    References
    ----------
    Loshchilov & Hutter (2017), SGDR: Stochastic gradient descent with warm restarts. ICLR.

    Examples
    --------
    >>> s = cosine_annealing_lr(1.0, T_max=4)
    >>> [round(s(k), 4) for k in range(5)]
    [1.0, 0.8536, 0.5, 0.1464, 0.0]
    """
    lr, T_max, eta_min = _check_lr(lr), _check_period(T_max, "T_max"), _check_lr(eta_min, "eta_min")

    def schedule(k: int) -> float:
        return eta_min + (lr - eta_min) * (1.0 + math.cos(math.pi * _check_step(k) / T_max)) / 2.0

    return schedule


def cosine_annealing_warm_restarts(lr: float, T_0: int, T_mult: int = 1, eta_min: float = 0.0) -> Schedule:
    """SGDR (``CosineAnnealingWarmRestarts``): cosine from :math:`\\eta_0` towards ``eta_min`` over a
    period :math:`T_i`, then restart; periods :math:`T_0, T_0 T_{mult}, T_0 T_{mult}^2, \\dots`

    .. math:: \\eta_k = \\eta_{\\min} + \\tfrac12(\\eta_0 - \\eta_{\\min})\\Big(1 + \\cos\\frac{\\pi T_{cur}}{T_i}\\Big)

    References
    ----------
    Loshchilov & Hutter (2017), SGDR: Stochastic gradient descent with warm restarts. ICLR.

    Examples
    --------
    >>> s = cosine_annealing_warm_restarts(1.0, T_0=2, T_mult=2)
    >>> [round(s(k), 3) for k in range(7)]
    [1.0, 0.5, 1.0, 0.854, 0.5, 0.146, 1.0]
    """
    lr, T_0, eta_min = _check_lr(lr), _check_period(T_0, "T_0"), _check_lr(eta_min, "eta_min")
    T_mult = _check_period(T_mult, "T_mult")

    def schedule(k: int) -> float:
        t, T_i = _check_step(k), T_0
        if T_mult == 1:
            t %= T_0
        else:
            while t >= T_i:
                t -= T_i
                T_i *= T_mult
        return eta_min + (lr - eta_min) * (1.0 + math.cos(math.pi * t / T_i)) / 2.0

    return schedule


def cyclic_lr(
    base_lr: float,
    max_lr: float,
    step_size_up: int = 2000,
    step_size_down: int | None = None,
    mode: str = "triangular",
    gamma: float = 1.0,
) -> Schedule:
    """Cyclical learning rates (``CyclicLR``, Smith 2017): up from ``base_lr`` to ``max_lr`` in
    ``step_size_up`` steps, down in ``step_size_down``; ``mode`` is ``'triangular'`` (constant
    amplitude), ``'triangular2'`` (amplitude halves each cycle) or ``'exp_range'`` (amplitude
    times :math:`\\gamma^k`).

    References
    ----------
    Smith (2017), Cyclical learning rates for training neural networks. WACV.

    Examples
    --------
    >>> s = cyclic_lr(0.0, 1.0, step_size_up=2)
    >>> [s(k) for k in range(6)]
    [0.0, 0.5, 1.0, 0.5, 0.0, 0.5]
    """
    base_lr, max_lr = _check_lr(base_lr, "base_lr"), _check_lr(max_lr, "max_lr")
    up = float(_check_period(step_size_up, "step_size_up"))
    down = up if step_size_down is None else float(_check_period(step_size_down, "step_size_down"))
    v.choice(mode, "mode", ("triangular", "triangular2", "exp_range"))
    gamma = _check_factor(gamma, "gamma")
    total = up + down
    ratio = up / total

    def schedule(k: int) -> float:
        k = _check_step(k)
        cycle = math.floor(1 + k / total)
        x = 1.0 + k / total - cycle
        scale = x / ratio if x <= ratio else (x - 1) / (ratio - 1)
        if mode == "triangular":
            amp = 1.0
        elif mode == "triangular2":
            amp = math.ldexp(1.0, 1 - cycle)  # 1 / 2**(cycle - 1), exactly, also past 2**1024
        else:
            return base_lr + _times_power((max_lr - base_lr) * scale, gamma, k)  # gamma**k may overflow alone
        return base_lr + (max_lr - base_lr) * scale * amp

    return schedule


def one_cycle_lr(
    max_lr: float,
    total_steps: int,
    pct_start: float = 0.3,
    anneal_strategy: str = "cos",
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
    three_phase: bool = False,
) -> Schedule:
    """The one-cycle policy (``OneCycleLR``, Smith & Topin 2019): warm up from
    ``max_lr / div_factor`` to ``max_lr`` over a fraction ``pct_start`` of ``total_steps``, then
    anneal to ``max_lr / (div_factor * final_div_factor)``. Defined for ``0 <= k <= total_steps``
    (torch raises beyond, and so does this).

    Examples
    --------
    >>> s = one_cycle_lr(1.0, total_steps=11, pct_start=0.5, anneal_strategy="linear", div_factor=10.0, final_div_factor=1.0)
    >>> [round(s(k), 3) for k in (0, 2, 4, 6, 8, 10)]
    [0.1, 0.5, 0.9, 0.755, 0.427, 0.1]
    """
    max_lr = _check_lr(max_lr, "max_lr")
    total_steps = _check_period(total_steps, "total_steps")
    pct_start = v.real(pct_start, "pct_start", low=0, high=1)
    v.choice(anneal_strategy, "anneal_strategy", ("cos", "linear"))
    div_factor = _check_factor(div_factor, "div_factor")
    final_div_factor = _check_factor(final_div_factor, "final_div_factor")
    three_phase = v.flag(three_phase, "three_phase")
    initial = max_lr / div_factor
    final = initial / final_div_factor
    if three_phase:
        phases = [
            (float(pct_start * total_steps) - 1, initial, max_lr),
            (float(2 * pct_start * total_steps) - 2, max_lr, initial),
            (total_steps - 1.0, initial, final),
        ]
    else:
        phases = [(float(pct_start * total_steps) - 1, initial, max_lr), (total_steps - 1.0, max_lr, final)]

    def anneal(start: float, end: float, pct: float) -> float:
        if anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def schedule(k: int) -> float:
        k = _check_step(k)
        if k > total_steps:
            raise ValueError(f"Invalid step: {k} (the schedule has total_steps={total_steps})")
        start_step = 0.0
        for i, (end_step, a, b) in enumerate(phases):
            if k <= end_step or i == len(phases) - 1:
                return anneal(a, b, (k - start_step) / (end_step - start_step))
            start_step = end_step
        raise AssertionError("unreachable")  # pragma: no cover

    return schedule


def schedule_values(schedule: Schedule, steps: int) -> np.ndarray:
    """``[schedule(0), ..., schedule(steps - 1)]`` as an array.

    Examples
    --------
    >>> schedule_values(exponential_lr(1.0, 0.5), 3).tolist()
    [1.0, 0.5, 0.25]
    >>> schedule_values(lambda k: 1.0 - k, 3)      # the optimizers' check of every value
    Traceback (most recent call last):
        ...
    ValueError: Invalid learning rate at step 2: -1.0 (need lr >= 0)
    """
    v.function(schedule, "schedule")
    steps = _check_period(steps, "number of steps")
    return np.array([_rate(schedule(k), k) for k in range(steps)], dtype=float)


def robbins_monro_sums(schedule: Schedule, steps: int) -> tuple[float, float]:
    """Partial sums :math:`(\\sum_{k<K}\\eta_k, \\sum_{k<K}\\eta_k^2)`.

    Robbins and Monro's conditions ask the first to diverge and the second to converge as
    :math:`K\\to\\infty`: :math:`\\eta_k \\propto 1/k^p` with :math:`\\tfrac12 < p \\le 1` meets both;
    a constant rate fails the second, an exponential decay the first.

    Examples
    --------
    >>> s1, s2 = robbins_monro_sums(inverse_time_lr(1.0), 10_000)
    >>> round(s1, 2), round(s2, 4)  # ln K + 0.577..., pi^2/6 - 1/K
    (9.79, 1.6448)
    """
    eta = schedule_values(schedule, steps)  # checks both arguments
    return float(eta.sum()), float(np.sum(eta * eta))
