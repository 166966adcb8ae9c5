"""Gradient descent on quadratics, in closed form and by iteration.

The 1-D quadratic :math:`E(w) = \\tfrac12 a w^2 + b w + c` has its minimum at
:math:`w^* = -b/a`; one gradient step :math:`w \\leftarrow w - \\eta E'(w)` multiplies the
distance to it by the contraction factor :math:`r = 1 - \\eta a`, so

.. math:: w_k - w^* = (1 - \\eta a)^k\\,(w_0 - w^*).

Hence :math:`\\eta_{opt} = 1/a` (one step, Newton's step), monotone convergence for
:math:`\\eta < \\eta_{opt}`, oscillating convergence for :math:`\\eta_{opt} < \\eta < 2\\eta_{opt}`,
and divergence for :math:`\\eta > 2\\eta_{opt}`.

In many dimensions (:mod:`nbcode.quadratic.multi`) the same holds along each eigenvector of the
Hessian; :mod:`nbcode.quadratic.newton` has the local step :math:`1/L''(w)` on any smooth 1-D function.
The iterates come from :func:`nbcode.optim.gd_path` and :func:`nbcode.optim.newton_path` (the
one path runner, with its divergence rule); this package has the closed forms to compare them with.
"""

from nbcode.quadratic.one_d import Quadratic1D, contraction_factor, regime, steps_to_tolerance

__all__ = ["Quadratic1D", "contraction_factor", "regime", "steps_to_tolerance"]

from nbcode.quadratic.multi import (  # noqa: E402
    QuadraticND,
    best_fixed_lr,
    eigen_contractions,
    eigen_regimes,
    iterations_to_tolerance,
    max_stable_lr,
    measured_iterations,
    optimal_rate,
    preconditioned_path,
    predicted_iterations,
    quadratic_2d,
    quadratic_from_eigs,
    rate,
)
from nbcode.quadratic.newton import convergence_ratios, local_eta_opt  # noqa: E402

__all__ += [
    "QuadraticND",
    "quadratic_from_eigs",
    "quadratic_2d",
    "eigen_contractions",
    "eigen_regimes",
    "rate",
    "max_stable_lr",
    "best_fixed_lr",
    "optimal_rate",
    "preconditioned_path",
    "iterations_to_tolerance",
    "predicted_iterations",
    "measured_iterations",
    "local_eta_opt",
    "convergence_ratios",
]
