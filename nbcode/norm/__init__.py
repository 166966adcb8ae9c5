"""Normalization layers in NumPy (BatchNorm, LayerNorm, GroupNorm, InstanceNorm, weight and
spectral norm) with their backward passes, and input standardization as preconditioning.

The chapter "Normalization" (``book/normalization.ipynb``) uses them; its experiments with
BatchNorm in torch MLPs live in :mod:`nbcode.experiments.norm`.

* :mod:`~nbcode.norm.core` — standardize over a set of axes, and its backward pass;
* :mod:`~nbcode.norm.batchnorm` — BatchNorm forward (training, inference), running statistics, backward;
* :mod:`~nbcode.norm.groupwise` — LayerNorm, GroupNorm, InstanceNorm, RMSNorm and which axes each averages over;
* :mod:`~nbcode.norm.reparam` — weight normalization and spectral normalization (power iteration);
* :mod:`~nbcode.norm.conditioning` — input standardization as preconditioning of least squares.
"""

from nbcode.norm.batchnorm import BatchNorm, BatchNormCache, BatchNormResult, batch_norm, batch_norm_backward, batch_norm_backward_stepwise
from nbcode.norm.conditioning import (
    Regression2D,
    condition_number,
    design,
    ls_gradient,
    ls_hessian,
    predicted_kappa_standardized,
    standardize,
    steps_to_converge,
    two_feature_regression,
)
from nbcode.norm.core import NormCache, normalize, normalize_backward
from nbcode.norm.groupwise import (
    AffineCache,
    RMSCache,
    group_norm,
    group_norm_backward,
    instance_norm,
    layer_norm,
    layer_norm_backward,
    norm_axes,
    rms_norm,
    rms_norm_backward,
)
from nbcode.norm.reparam import PowerIterationResult, spectral_norm, spectral_power_iteration, weight_norm, weight_norm_backward

__all__ = [
    "NormCache", "normalize", "normalize_backward",
    "BatchNorm", "BatchNormCache", "BatchNormResult", "batch_norm", "batch_norm_backward", "batch_norm_backward_stepwise",
    "AffineCache", "layer_norm", "layer_norm_backward", "group_norm", "group_norm_backward", "instance_norm", "norm_axes",
    "RMSCache", "rms_norm", "rms_norm_backward",
    "weight_norm", "weight_norm_backward", "PowerIterationResult", "spectral_power_iteration", "spectral_norm",
    "Regression2D", "two_feature_regression", "standardize", "design", "ls_hessian", "ls_gradient", "condition_number",
    "predicted_kappa_standardized", "steps_to_converge",
]
