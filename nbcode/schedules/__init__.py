"""Learning-rate schedules: pure ``step -> lr`` functions in closed form, and a stateful
reduce-on-plateau rule as an ``init``/``update`` pair.

A schedule is what the optimizers of :mod:`nbcode.optim` take as ``lr``. This package imports
NumPy only; the learning-rate range test, which trains a torch model, is
:func:`nbcode.train.lr_range_test`.

Parameter names are PyTorch's (``step_size``, ``gamma``, ``milestones``, ``T_max``, ``eta_min``,
``T_0``, ``T_mult``, ``base_lr``, ``max_lr``, ``step_size_up``, ``mode``, ``pct_start``, ...), and
each schedule is checked step by step against ``torch.optim.lr_scheduler``.
"""

from nbcode.schedules.closed_form import (
    Schedule,
    constant_lr,
    cosine_annealing_lr,
    cosine_annealing_warm_restarts,
    cyclic_lr,
    exponential_lr,
    inverse_power_lr,
    inverse_time_lr,
    linear_decay,
    linear_lr,
    multistep_lr,
    one_cycle_lr,
    robbins_monro_sums,
    schedule_values,
    step_lr,
    warmup,
)
from nbcode.schedules.plateau import Plateau, PlateauState, reduce_lr_on_plateau

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
    "Plateau",
    "PlateauState",
    "reduce_lr_on_plateau",
]
