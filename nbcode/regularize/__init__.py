"""Regularization: penalties and their proximal operators, dropout and DropConnect (and what
dropout computes: an adaptive ridge penalty, the geometric mean of its thinned models), early
stopping, gradient clipping, data augmentation, input, output (label smoothing) and weight noise.

Chapter: ``book/regularization.ipynb``; its torch experiments live in
:mod:`nbcode.experiments.regularize`.
"""

from nbcode.regularize.augment import augment_shifts, noisy_least_squares, shift_images
from nbcode.regularize.clipping import clip_by_norm, clip_by_value, clipped_descent
from nbcode.regularize.dropout import dropconnect, dropout, dropout_keep, dropout_mask, mask_average, weight_scaling_gap
from nbcode.regularize.dropout_theory import (
    dropout_logistic,
    dropout_penalty,
    dropout_ridge,
    dropout_sgd,
    mask_geometric_mean,
    mc_average,
)
from nbcode.regularize.early_stopping import EarlyStopping, gd_quadratic_factors, l2_factors, matching_alpha
from nbcode.regularize.linear import l1_optimum_diagonal, l2_optimum, ista, lipschitz, ridge, subgradient_descent
from nbcode.regularize.noise import label_smoothing_cross_entropy, smoothed_logit_gap, smoothed_targets, weight_noise_descent
from nbcode.regularize.penalties import (
    elastic_net_penalty,
    l1_penalty,
    l1_subgrad,
    l2_grad,
    l2_penalty,
    prox_elastic_net,
    prox_l2,
    soft_threshold,
)

__all__ = [
    "l2_penalty", "l1_penalty", "elastic_net_penalty", "l2_grad", "l1_subgrad", "soft_threshold", "prox_l2",
    "prox_elastic_net", "ridge", "l2_optimum", "l1_optimum_diagonal", "ista", "subgradient_descent", "lipschitz",
    "dropout_mask", "dropout", "dropout_keep", "dropconnect", "mask_average", "weight_scaling_gap",
    "EarlyStopping", "gd_quadratic_factors", "l2_factors", "matching_alpha",
    "clip_by_value", "clip_by_norm", "clipped_descent", "shift_images", "augment_shifts", "noisy_least_squares",
    "dropout_penalty", "dropout_ridge", "dropout_logistic", "dropout_sgd", "mask_geometric_mean", "mc_average",
    "smoothed_targets", "label_smoothing_cross_entropy", "smoothed_logit_gap", "weight_noise_descent",
]
