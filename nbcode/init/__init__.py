"""Weight initialization: the rules, why they hold, and how to check them on a real model.

* :mod:`~nbcode.init.fans`, :mod:`~nbcode.init.initializers`: ``torch.nn.init``'s rules in NumPy
  (LeCun, Glorot/Xavier, He/Kaiming, orthogonal, sparse) with the same names and arguments.
* :mod:`~nbcode.init.propagation`: per-layer activation and gradient variance in a deep MLP,
  simulated and predicted.
* :mod:`~nbcode.init.isometry`: singular values of the input-output Jacobian (dynamical isometry).
* :mod:`~nbcode.init.probe`: per-layer statistics of any torch model on one mini-batch, and LSUV.
* :mod:`~nbcode.init.models`: initializing a torch model with these rules, and checking what
  training did to it.

The book's chapter "Initialization and how variance propagates through depth" uses all of them;
its training experiments live in :mod:`nbcode.experiments.init`.
"""

from nbcode.init.fans import NONLINEARITIES, calculate_correct_fan, calculate_fan_in_and_fan_out, calculate_gain
from nbcode.init.initializers import (
    init_std,
    kaiming_normal,
    kaiming_uniform,
    lecun_normal,
    lecun_uniform,
    orthogonal,
    sparse,
    xavier_normal,
    xavier_uniform,
)
from nbcode.init.isometry import (
    CRITICAL_SIGMA,
    fixed_point_variance,
    input_output_jacobian,
    jacobian_product,
    jacobian_singular_values,
    mlp_weights,
    spectrum_grid,
)
from nbcode.init.models import SCHEMES, init_model_, prior_bias, unit_spread
from nbcode.init.probe import LayerStats, format_stats, forward_stats, layer_stats, lsuv
from nbcode.init.propagation import ACTIVATIONS, VarianceProfile, activation, predict_variance, simulate_variance, weight_std

__all__ = [
    "calculate_fan_in_and_fan_out",
    "calculate_correct_fan",
    "calculate_gain",
    "NONLINEARITIES",
    "init_std",
    "lecun_normal",
    "lecun_uniform",
    "xavier_normal",
    "xavier_uniform",
    "kaiming_normal",
    "kaiming_uniform",
    "orthogonal",
    "sparse",
    "ACTIVATIONS",
    "activation",
    "weight_std",
    "VarianceProfile",
    "simulate_variance",
    "predict_variance",
    "CRITICAL_SIGMA",
    "mlp_weights",
    "input_output_jacobian",
    "jacobian_product",
    "jacobian_singular_values",
    "fixed_point_variance",
    "spectrum_grid",
    "LayerStats",
    "forward_stats",
    "layer_stats",
    "format_stats",
    "lsuv",
    "SCHEMES",
    "init_model_",
    "prior_bias",
    "unit_spread",
]
