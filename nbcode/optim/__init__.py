"""Optimizers as pairs of pure functions, in NumPy, checked step by step against ``torch.optim``.

An optimizer is an :class:`Optimizer` ``(init, update)``: ``state = init(params)``, then
``updates, state = update(grads, state, params)`` and ``params = params + updates``. Names of
hyper-parameters and of state fields match PyTorch's (``lr``, ``momentum``, ``betas``,
``exp_avg``, ``momentum_buffer``, ...). :class:`Stepper` is a stateful wrapper and :func:`run`
collects a trajectory. The chapter "Optimizers" (``book/optimizers.ipynb``) uses all of them.
"""

from nbcode.optim._base import Optimizer, Stepper, apply_updates, run
from nbcode.optim.adam import AdamaxState, AdamState, NAdamState, adam, adamax, adamw, nadam
from nbcode.optim.adaptive import AdadeltaState, AdagradState, RMSpropState, adadelta, adagrad, rmsprop
from nbcode.optim.heavy_ball import (
    converges,
    gd_optimal_rate,
    heavy_ball_path,
    heavy_ball_rate,
    iteration_matrix,
    measured_rate,
    optimal_heavy_ball,
    rate_grid,
)
from nbcode.optim.lbfgs import LBFGSResult, LBFGSState, lbfgs, minimize_lbfgs, two_loop
from nbcode.optim.rprop import RpropBacktrackState, RpropState, rprop, rprop_backtrack
from nbcode.optim.second_order import NewtonState, QuickpropState, newton, quickprop
from nbcode.optim.sgd import MomentumMAState, SGDState, momentum_ma, nesterov_lookahead_path, sgd

__all__ = [
    "Optimizer", "Stepper", "apply_updates", "run",
    "sgd", "SGDState", "momentum_ma", "MomentumMAState", "nesterov_lookahead_path",
    "adagrad", "AdagradState", "rmsprop", "RMSpropState", "adadelta", "AdadeltaState",
    "adam", "adamw", "AdamState", "adamax", "AdamaxState", "nadam", "NAdamState",
    "rprop", "RpropState", "rprop_backtrack", "RpropBacktrackState",
    "newton", "NewtonState", "quickprop", "QuickpropState",
    "lbfgs", "LBFGSState", "two_loop", "minimize_lbfgs", "LBFGSResult",
    "iteration_matrix", "heavy_ball_rate", "optimal_heavy_ball", "gd_optimal_rate", "heavy_ball_path",
    "measured_rate", "converges", "rate_grid",
]

from nbcode.optim.race import BASE_LR, RACERS, race, race_optimizer, race_table  # noqa: E402
from nbcode.optim.experiments import BatchRun, batch_size_study, digits_race, top_hessian_eigenvalue, update_timings  # noqa: E402
from nbcode.optim._testfns import SURFACES  # noqa: E402

__all__ += ["RACERS", "BASE_LR", "race", "race_optimizer", "race_table", "SURFACES",
            "BatchRun", "batch_size_study", "digits_race", "top_hessian_eigenvalue", "update_timings"]
