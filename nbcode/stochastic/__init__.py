"""Stochastic and mini-batch gradients: the SGD loop on least squares, mini-batch gradient
variance (with and without replacement), and the noise floor of constant-step SGD."""

from nbcode.stochastic.noise import (
    gradient_noise_variance,
    minibatch_gradient_variance,
    noise_floor_small_lr,
    per_example_gradients,
    predicted_minibatch_variance,
    stationary_excess_loss,
)
from nbcode.stochastic.sgd import ORDERS, LeastSquares, SGDRun, batch_indices, minibatch_sgd

__all__ = [
    "ORDERS",
    "LeastSquares",
    "SGDRun",
    "batch_indices",
    "minibatch_sgd",
    "per_example_gradients",
    "gradient_noise_variance",
    "predicted_minibatch_variance",
    "minibatch_gradient_variance",
    "stationary_excess_loss",
    "noise_floor_small_lr",
]
