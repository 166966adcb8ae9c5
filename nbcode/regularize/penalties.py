"""L2, L1 and elastic-net penalties, their (sub)gradients and proximal operators.

The book writes every penalised objective as :math:`L(w) + \\alpha\\,\\Omega(w)`. The penalties
below use the scaling of :mod:`sklearn.linear_model` so that each can be checked one to one:
``ridge`` :math:`\\tfrac12\\|w\\|^2`, ``lasso`` :math:`\\|w\\|_1`, elastic net
:math:`\\rho\\|w\\|_1 + \\tfrac{1-\\rho}{2}\\|w\\|^2` with ``l1_ratio`` :math:`\\rho`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from nbcode import _validate

__all__ = [
    "l2_penalty",
    "l1_penalty",
    "elastic_net_penalty",
    "l2_grad",
    "l1_subgrad",
    "soft_threshold",
    "prox_l2",
    "prox_elastic_net",
]


def _alpha(alpha: float, name: str = "regularization strength") -> float:
    return _validate.real(alpha, name, low=0)


def _ratio(l1_ratio: float) -> float:
    return _validate.probability(l1_ratio, "l1_ratio")


def l2_penalty(w: Any, alpha: float = 1.0) -> float:
    """:math:`\\tfrac{\\alpha}{2}\\|w\\|_2^2`.

    Examples
    --------
    >>> l2_penalty([3.0, 4.0], alpha=0.1)
    1.25
    """
    w = _validate.array(w, "w")
    return 0.5 * _alpha(alpha) * float(w @ w)


def l1_penalty(w: Any, alpha: float = 1.0) -> float:
    """:math:`\\alpha\\|w\\|_1`.

    Examples
    --------
    >>> l1_penalty([3.0, -4.0], alpha=0.1)
    0.7000000000000001
    """
    return _alpha(alpha) * float(np.abs(_validate.array(w, "w")).sum())


def elastic_net_penalty(w: Any, alpha: float = 1.0, l1_ratio: float = 0.5) -> float:
    """:math:`\\alpha\\bigl(\\rho\\|w\\|_1 + \\tfrac{1-\\rho}{2}\\|w\\|_2^2\\bigr)`, sklearn's scaling
    :cite:`zou2005`.

    Examples
    --------
    >>> elastic_net_penalty([1.0, -1.0], alpha=1.0, l1_ratio=0.5)
    1.5
    """
    rho = _ratio(l1_ratio)
    return rho * l1_penalty(w, alpha) + (1.0 - rho) * l2_penalty(w, alpha)


def l2_grad(w: Any, alpha: float = 1.0) -> np.ndarray:
    """Gradient :math:`\\alpha w` of :func:`l2_penalty`: the "weight decay" term of a step.

    Examples
    --------
    >>> l2_grad([2.0, -1.0], 0.5).tolist()
    [1.0, -0.5]
    """
    return _alpha(alpha) * _validate.array(w, "w")


def l1_subgrad(w: Any, alpha: float = 1.0) -> np.ndarray:
    """The subgradient :math:`\\alpha\\,\\mathrm{sign}(w)` of :func:`l1_penalty` (0 at 0).

    Examples
    --------
    >>> l1_subgrad([2.0, 0.0, -1.0], 0.5).tolist()
    [0.5, 0.0, -0.5]
    """
    return _alpha(alpha) * np.sign(_validate.array(w, "w"))


def soft_threshold(z: Any, t: float) -> np.ndarray:
    """Proximal operator of :math:`t\\|w\\|_1`: :math:`\\mathrm{sign}(z)\\max(|z| - t, 0)`.

    .. math:: \\operatorname{prox}_{t\\|\\cdot\\|_1}(z) = \\arg\\min_w \\tfrac12\\|w - z\\|^2 + t\\|w\\|_1

    It is also the exact L1-penalised optimum of a quadratic with a diagonal Hessian
    :math:`H = \\mathrm{diag}(\\lambda_i)`: :math:`w_i = \\mathrm{sign}(w^*_i)\\max(|w^*_i| - \\alpha/\\lambda_i, 0)`
    :cite:`tibshirani1996`.

    Examples
    --------
    >>> soft_threshold([3.0, 0.5, -2.0], 1.0).tolist()
    [2.0, 0.0, -1.0]
    """
    t = _alpha(t, "t")
    z = _validate.array(z, "z")
    return np.sign(z) * np.maximum(np.abs(z) - t, 0.0)


def prox_l2(z: Any, t: float) -> np.ndarray:
    """Proximal operator of :math:`\\tfrac t2\\|w\\|^2`: :math:`z / (1 + t)`.

    Examples
    --------
    >>> prox_l2([2.0, -4.0], 1.0).tolist()
    [1.0, -2.0]
    """
    t = _alpha(t, "t")
    return _validate.array(z, "z") / (1.0 + t)


def prox_elastic_net(z: Any, t: float, l1_ratio: float = 0.5) -> np.ndarray:
    """Proximal operator of :math:`t\\bigl(\\rho\\|w\\|_1 + \\tfrac{1-\\rho}{2}\\|w\\|^2\\bigr)`:
    soft-threshold by :math:`t\\rho`, then shrink by :math:`1 + t(1-\\rho)`.

    Examples
    --------
    >>> prox_elastic_net([3.0, 0.2], 1.0, 0.5).tolist()
    [1.6666666666666667, 0.0]
    """
    rho = _ratio(l1_ratio)
    t = _alpha(t, "t")
    return soft_threshold(z, t * rho) / (1.0 + t * (1.0 - rho))
