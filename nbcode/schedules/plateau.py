"""Reduce the learning rate when a monitored metric stops improving, as an ``init``/``update`` pair.

Unlike the closed-form schedules, this one depends on the losses seen so far, so it keeps a small
state (a ``NamedTuple``), like an optax transformation:

>>> plateau = reduce_lr_on_plateau(factor=0.5, patience=1)
>>> state = plateau.init(1.0)
>>> for loss in [3.0, 2.0, 2.0, 2.0, 2.0]:
...     state = plateau.update(loss, state)
>>> state.lr
0.5
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import numpy as np

from nbcode import _validate

__all__ = ["PlateauState", "Plateau", "reduce_lr_on_plateau"]


def _is_nan(x: object) -> bool:
    return isinstance(x, (float, np.floating)) and math.isnan(x)


class PlateauState(NamedTuple):
    """The learning rate, the best metric so far, and the counters of ``ReduceLROnPlateau``."""

    lr: float
    best: float
    num_bad_epochs: int
    cooldown_counter: int


class Plateau(NamedTuple):
    """``init(lr) -> state`` and ``update(metric, state) -> state``."""

    init: Callable[[float], PlateauState]
    update: Callable[[float, PlateauState], PlateauState]


def reduce_lr_on_plateau(
    mode: str = "min",
    factor: float = 0.1,
    patience: int = 10,
    threshold: float = 1e-4,
    threshold_mode: str = "rel",
    cooldown: int = 0,
    min_lr: float = 0.0,
    eps: float = 1e-8,
) -> Plateau:
    """Functional ``torch.optim.lr_scheduler.ReduceLROnPlateau``.

    A metric is an improvement when it beats the best so far by ``threshold`` (relative:
    :math:`m < \\text{best}\\,(1 - \\text{threshold})` in ``'min'`` mode). After more than ``patience``
    updates without improvement the rate is multiplied by ``factor`` (not below ``min_lr``; changes
    smaller than ``eps`` are skipped), and the next ``cooldown`` updates do not count as bad.

    Parameters
    ----------
    mode : {'min', 'max'}
    factor : float
        In :math:`(0, 1)`.
    patience, cooldown : int
        Non-negative.
    threshold : float
    threshold_mode : {'rel', 'abs'}
    min_lr, eps : float
        Non-negative.

    Notes
    -----
    The state's ``best`` starts at :math:`+\\infty` (``'min'``) or :math:`-\\infty` (``'max'``),
    as in torch. ``update`` takes a metric that is a real number, infinite or NaN (a diverged
    run): a NaN metric is never an improvement, so it counts as a bad epoch, as in torch.
    """
    if mode not in ("min", "max"):
        raise ValueError(f"Invalid mode: {mode!r} (use 'min' or 'max')")
    if threshold_mode not in ("rel", "abs"):
        raise ValueError(f"Invalid threshold_mode: {threshold_mode!r} (use 'rel' or 'abs')")
    factor = _validate.real(factor, "factor", low=0, high=1, low_open=True, high_open=True)
    patience = _validate.count(patience, "patience")
    threshold = _validate.real(threshold, "threshold")
    cooldown = _validate.count(cooldown, "cooldown")
    min_lr = _validate.real(min_lr, "min_lr", low=0)
    eps = _validate.real(eps, "eps", low=0)

    def is_better(a: float, best: float) -> bool:
        if mode == "min" and threshold_mode == "rel":
            return a < best * (1.0 - threshold)
        if mode == "min":
            return a < best - threshold
        if threshold_mode == "rel":
            return a > best * (threshold + 1.0)
        return a > best + threshold

    def init(lr: float) -> PlateauState:
        lr = _validate.real(lr, "learning rate", low=0, symbol="lr")
        return PlateauState(lr, math.inf if mode == "min" else -math.inf, 0, 0)

    def update(metric: float, state: PlateauState) -> PlateauState:
        if type(state) is not PlateauState:
            raise TypeError(f"Invalid state: {_validate.show(state)} (need the PlateauState returned by init or update)")
        lr, best, bad, cool = state
        # a NaN metric (a diverged run) is not an improvement: a bad epoch, as in torch
        current = math.nan if _is_nan(metric) else _validate.real(metric, "metric", finite=False)
        if is_better(current, best):
            best, bad = current, 0
        else:
            bad += 1
        if cool > 0:
            cool -= 1
            bad = 0
        if bad > patience:
            new_lr = max(lr * factor, min_lr)
            if lr - new_lr > eps:
                lr = new_lr
            cool, bad = cooldown, 0
        return PlateauState(lr, best, bad, cool)

    return Plateau(init, update)
