"""Optimizers as pairs of pure functions, in NumPy, checked step by step against ``torch.optim``.

An optimizer is an :class:`Optimizer` ``(init, update)``: ``state = init(params)``, then
``updates, state = update(grads, state, params)`` and ``params = params + updates``. Names of
hyper-parameters and of state fields match PyTorch's (``lr``, ``momentum``, ``betas``,
``exp_avg``, ``momentum_buffer``, ...); every state carries its step count, and ``lr`` may be a
number or a schedule ``step -> lr`` (:mod:`nbcode.schedules`). :meth:`Optimizer.update_` takes
the step in place; for SGD, RMSprop and Adam the ``engine`` argument chooses a fast kernel
(NumPy blocks or a fused Numba loop) for it, tested against the readable update.

:class:`Stepper` is a stateful wrapper, :func:`run` collects a trajectory (with the book's one
divergence rule), :func:`gd_path` and :func:`newton_path` are gradient descent and Newton's
method on any loss with a gradient. :class:`nbcode.train.NumpyOptimizer` lets any of these
optimizers train a torch model.

This package imports NumPy only (never torch). The chapter "Optimizers"
(``book/optimizers.ipynb``) uses all of it; its experiments live in
:mod:`nbcode.experiments.optim`.
"""

from nbcode.optim._base import Optimizer, Schedule, Stepper, apply_updates, learning_rate
from nbcode.optim._kernels import ENGINES, HAVE_NUMBA
from nbcode.optim.adam import AdamaxState, AdamState, NAdamState, adam, adamax, adamw, nadam
from nbcode.optim.adaptive import AdadeltaState, AdagradState, RMSpropState, adadelta, adagrad, rmsprop
from nbcode.optim.heavy_ball import (
    converges,
    heavy_ball_path,
    heavy_ball_rate,
    nesterov_rate,
    iteration_matrix,
    measured_rate,
    optimal_heavy_ball,
    optimal_nesterov,
    rate_grid,
)
from nbcode.optim.lbfgs import LBFGSResult, LBFGSState, lbfgs, minimize_lbfgs, two_loop
from nbcode.optim.paths import MAX_NORM, gd_path, iterate, newton_path, run
from nbcode.optim.rprop import RpropBacktrackState, RpropState, rprop, rprop_backtrack
from nbcode.optim.second_order import NewtonState, QuickpropState, newton, quickprop
from nbcode.optim.sgd import MomentumMAState, SGDState, VelocityState, momentum_ma, momentum_velocity, nesterov_lookahead_path, sgd

__all__ = [
    "Optimizer", "Schedule", "Stepper", "apply_updates", "learning_rate", "ENGINES", "HAVE_NUMBA",
    "run", "iterate", "gd_path", "newton_path", "MAX_NORM",
    "sgd", "SGDState", "momentum_ma", "MomentumMAState", "momentum_velocity", "VelocityState",
    "nesterov_lookahead_path",
    "adagrad", "AdagradState", "rmsprop", "RMSpropState", "adadelta", "AdadeltaState",
    "adam", "adamw", "AdamState", "adamax", "AdamaxState", "nadam", "NAdamState",
    "rprop", "RpropState", "rprop_backtrack", "RpropBacktrackState",
    "newton", "NewtonState", "quickprop", "QuickpropState",
    "lbfgs", "LBFGSState", "two_loop", "minimize_lbfgs", "LBFGSResult",
    "iteration_matrix", "heavy_ball_rate", "nesterov_rate", "optimal_heavy_ball", "optimal_nesterov", "heavy_ball_path",
    "measured_rate", "converges", "rate_grid",
]
