"""Loss surfaces with exact derivatives, critical points, and descent near saddles.

* :mod:`~nbcode.surfaces.functions` — test surfaces (bowl, valleys, Rosenbrock, Beale, the saddle
  :math:`x^2 - y^2`, the double-well saddle, the monkey saddle, Himmelblau, the two-weight network
  :math:`(1 - w_1 w_2)^2`), each with value, gradient, Hessian and Hessian-vector product, a
  window, a start point and its critical points; :data:`SURFACES` names them all;
* :mod:`~nbcode.surfaces.critical` — the second-order test and the index of a critical point;
* :mod:`~nbcode.surfaces.descent` — escape times from a saddle, measured and predicted (the
  paths come from :func:`nbcode.optim.gd_path` and :func:`nbcode.optim.newton_path`);
* :mod:`~nbcode.surfaces.cliff` — a one-unit recurrent network whose loss has a cliff;
* :mod:`~nbcode.surfaces.logistic` — multinomial logistic regression with a ridge penalty: smooth,
  convex, not quadratic; :func:`pl_nonconvex` is smooth, PL and not convex;
* :mod:`~nbcode.surfaces.rates` — what gradient descent guarantees on smooth, convex, strongly
  convex and PL functions (the descent lemma and its three rates).
"""

from nbcode.surfaces.cliff import rnn_loss, rnn_loss_grad
from nbcode.surfaces.critical import classify, hessian_index, newton_critical_point
from nbcode.surfaces.descent import escape_steps, predicted_escape_steps
from nbcode.surfaces.logistic import LogisticRegression
from nbcode.surfaces.rates import convex_bound, guaranteed_decrease, nonconvex_bound, pl_bound, pl_constant
from nbcode.surfaces.functions import (
    SURFACES,
    Surface,
    beale,
    double_well,
    get_surface,
    himmelblau,
    long_valley,
    monkey_saddle,
    narrow_valley,
    pl_nonconvex,
    quadratic_bowl,
    rosenbrock,
    saddle,
    two_weight_net,
)

__all__ = [
    "Surface", "SURFACES", "get_surface", "quadratic_bowl", "narrow_valley", "long_valley", "rosenbrock", "beale",
    "saddle", "double_well", "monkey_saddle", "himmelblau", "two_weight_net", "classify", "hessian_index",
    "newton_critical_point", "escape_steps", "predicted_escape_steps", "rnn_loss", "rnn_loss_grad", "pl_nonconvex",
    "LogisticRegression", "guaranteed_decrease", "nonconvex_bound", "convex_bound", "pl_bound", "pl_constant",
]
