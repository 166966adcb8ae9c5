"""Gradient descent on quadratics, in closed form and by iteration.

The 1-D quadratic :math:`E(w) = \\tfrac12 a w^2 + b w + c` has its minimum at
:math:`w^* = -b/a`; one gradient step :math:`w \\leftarrow w - \\eta E'(w)` multiplies the
distance to it by the contraction factor :math:`r = 1 - \\eta a`, so

.. math:: w_k - w^* = (1 - \\eta a)^k\\,(w_0 - w^*).

Hence :math:`\\eta_{opt} = 1/a` (one step, Newton's step), monotone convergence for
:math:`\\eta < \\eta_{opt}`, oscillating convergence for :math:`\\eta_{opt} < \\eta < 2\\eta_{opt}`,
and divergence for :math:`\\eta > 2\\eta_{opt}`.
"""

from nbcode.quadratic.one_d import Quadratic1D, contraction_factor, gd_path, regime, steps_to_tolerance

__all__ = ["Quadratic1D", "contraction_factor", "gd_path", "regime", "steps_to_tolerance"]
