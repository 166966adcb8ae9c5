"""Hessians of torch models: exact for small ones, from Hessian-vector products for large ones.

* :mod:`~nbcode.hessian.operator` — the loss as a function of a flat parameter vector, its
  exact Hessian (``torch.func.hessian``) and the operator :math:`v \\mapsto Hv` by double
  backprop;
* :mod:`~nbcode.hessian.spectrum` — power iteration, Lanczos (top-k, full reorthogonalization),
  Hutchinson's trace and the spectral density by stochastic Lanczos quadrature;
* :mod:`~nbcode.hessian.monitor` — :math:`g^\\top g` and :math:`g^\\top H g` during training and
  the second-order prediction of a step's change of loss;
* :mod:`~nbcode.hessian.sharpness` — :math:`\\lambda_{\\max}` of the training loss's Hessian (the one
  sharpness function of the book);
* :mod:`~nbcode.hessian.critical` — critical points of small networks and their index;
* :mod:`~nbcode.hessian.gauss_newton` — the Gauss-Newton part of the Hessian (positive
  semi-definite) and, by difference, the residual part that carries the negative eigenvalues.
"""

from nbcode.hessian.critical import CriticalPoint, find_critical_points, tiny_mlp_loss
from nbcode.hessian.gauss_newton import gauss_newton
from nbcode.hessian.monitor import curvature_along_gradient, predicted_change
from nbcode.hessian.operator import HessianOperator, MatrixOperator, as_operator, exact_hessian, flat_loss, flat_params, unflatten
from nbcode.hessian.sharpness import sharpness
from nbcode.hessian.spectrum import (
    EigResult,
    gaussian_density,
    hutchinson_trace,
    hutchinson_variance,
    lanczos,
    lanczos_topk,
    power_iteration,
    slq,
    slq_density,
)

__all__ = [
    "HessianOperator", "MatrixOperator", "as_operator", "exact_hessian", "flat_loss", "flat_params", "unflatten",
    "EigResult", "power_iteration", "lanczos", "lanczos_topk", "hutchinson_trace", "hutchinson_variance", "slq",
    "slq_density", "gaussian_density", "curvature_along_gradient", "predicted_change", "CriticalPoint",
    "find_critical_points", "tiny_mlp_loss", "sharpness", "gauss_newton",
]
