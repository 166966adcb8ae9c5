"""Weight initialization: the rules, why they hold, and how to check them on a real model.

* :mod:`~nbcode.init.fans`, :mod:`~nbcode.init.initializers`: ``torch.nn.init``'s rules in NumPy
  (LeCun, Glorot/Xavier, He/Kaiming, orthogonal, sparse) with the same names and arguments.
* :mod:`~nbcode.init.propagation`: per-layer activation and gradient variance in a deep MLP,
  simulated and predicted.
* :mod:`~nbcode.init.isometry`: singular values of the input-output Jacobian (dynamical isometry).
* :mod:`~nbcode.init.probe`: per-layer statistics of any torch model on one mini-batch, and LSUV.
* :mod:`~nbcode.init.models`: initializing a torch model with these rules, and checking what
  training did to it.
* :mod:`~nbcode.init.finite_width`: one finite network against the prediction (the log-variance
  random walk).
* :mod:`~nbcode.init.meanfield`: order and chaos, the depth scale (mean-field theory).
* :mod:`~nbcode.init.residual`: the variance of a residual stream, and residual MLPs.

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
from nbcode.init.finite_width import LogStep, log_norm_walk, relu_log_step
from nbcode.init.isometry import (
    CRITICAL_SIGMA,
    fixed_point_variance,
    input_variance,
    input_output_jacobian,
    jacobian_product,
    jacobian_singular_values,
    mlp_weights,
    spectrum_grid,
)
from nbcode.init.meanfield import MeanField, correlation_map, correlation_walk, mean_field, variance_map
from nbcode.init.models import SCHEMES, init_model_, lstm_forget_bias_, prior_bias, unit_spread
from nbcode.init.probe import LayerStats, format_stats, forward_stats, layer_stats, lsuv
from nbcode.init.propagation import (
    ACTIVATIONS,
    VarianceProfile,
    activation,
    predict_variance,
    predict_widths,
    simulate_variance,
    simulate_widths,
    weight_std,
)
from nbcode.init.residual import ResidualBlock, predict_residual_variance, residual_mlp, residual_variance

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
    "lstm_forget_bias_",
    "predict_widths",
    "simulate_widths",
    "input_variance",
    "LogStep",
    "relu_log_step",
    "log_norm_walk",
    "MeanField",
    "mean_field",
    "variance_map",
    "correlation_map",
    "correlation_walk",
    "predict_residual_variance",
    "residual_variance",
    "ResidualBlock",
    "residual_mlp",
]
