"""Loss surfaces with exact derivatives, critical points, and descent near saddles.

* :mod:`~nbcode.surfaces.functions` — test surfaces (bowl, valley, Rosenbrock, Beale, saddle,
  monkey saddle, Himmelblau, the two-weight network :math:`(1 - w_1 w_2)^2`), each with value,
  gradient, Hessian and Hessian-vector product;
* :mod:`~nbcode.surfaces.critical` — the second-order test and the index of a critical point;
* :mod:`~nbcode.surfaces.descent` — gradient descent, perturbed GD and Newton near a saddle,
  escape times measured and predicted;
* :mod:`~nbcode.surfaces.cliff` — a one-unit recurrent network whose loss has a cliff.
"""

from nbcode.surfaces.cliff import rnn_loss, rnn_loss_grad
from nbcode.surfaces.critical import classify, hessian_index, newton_critical_point
from nbcode.surfaces.descent import escape_steps, gd_path, newton_path, predicted_escape_steps
from nbcode.surfaces.functions import (
    SURFACES,
    Surface,
    beale,
    get_surface,
    himmelblau,
    monkey_saddle,
    narrow_valley,
    quadratic_bowl,
    rosenbrock,
    saddle,
    two_weight_net,
)

__all__ = [
    "Surface", "SURFACES", "get_surface", "quadratic_bowl", "narrow_valley", "rosenbrock", "beale", "saddle",
    "monkey_saddle", "himmelblau", "two_weight_net", "classify", "hessian_index", "newton_critical_point",
    "gd_path", "newton_path", "escape_steps", "predicted_escape_steps", "rnn_loss", "rnn_loss_grad",
]
