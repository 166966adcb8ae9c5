r"""One finite network against the variance prediction: the log of the squared length of the
signal is a random walk with a downward drift.

The recursions of :mod:`nbcode.init.propagation` predict an *expectation over random weights*.
For one network of finite width :math:`n` the squared length of the signal is multiplied, layer by
layer, by a random factor. For a bias-free ReLU network with He's rule,
:math:`W^l_{ij} \sim \mathcal N(0, 2/n)`, and a fixed input :math:`x`, rotation invariance of the
Gaussian weights makes these factors independent and identically distributed (Hanin 2018;
Hanin & Rolnick 2018):

.. math::

    \frac{\lVert h^l\rVert^2}{\lVert h^{l-1}\rVert^2} = X_l = \frac{2}{n}\,\chi^2_{K_l},\qquad
    K_l \sim \operatorname{Binomial}(n, \tfrac12),

where :math:`K_l` counts the active units of layer :math:`l` and, given :math:`K_l = k`, the
sum of the squares of the :math:`k` positive pre-activations (in units of their standard
deviation) is :math:`\chi^2_k`. So :math:`\mathbb E[X_l] = 1` (the prediction) while

.. math::

    \mathbb E[\log X_l] = \log\frac4n + \mathbb E_K\big[\psi(K/2)\big] \approx -\frac{5}{2n},\qquad
    \operatorname{Var}(\log X_l) = \mathbb E_K\big[\psi'(K/2)\big] + \operatorname{Var}_K\big[\psi(K/2)\big] \approx \frac5n,

with :math:`\psi` the digamma function (:math:`\mathbb E\log\chi^2_k = \psi(k/2) + \log 2`,
:math:`\operatorname{Var}\log\chi^2_k = \psi'(k/2)`). After :math:`L` layers
:math:`\log(\lVert h^L\rVert^2/\lVert x\rVert^2)` has mean :math:`\approx -5L/(2n)` and standard
deviation :math:`\approx\sqrt{5L/n}`: the typical network sits *below* the predicted line, while
the mean of the ratio itself stays 1, carried by rare networks far above it. The approximations
come from :math:`\operatorname{Var}(X_l) = \tfrac4{n}\operatorname{Var}(\max(g, 0)^2) = 5/n` for
:math:`g \sim \mathcal N(0, 1)` and :math:`\mathbb E\log X \approx -\operatorname{Var}(X)/2`.

The event :math:`K_l = 0` (every unit inactive, probability :math:`2^{-n}`) kills the signal; the
moments above are conditioned on :math:`K_l \ge 1`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy import special, stats

from nbcode import _validate
from nbcode.init._threads import single_blas_thread
from nbcode.init.propagation import activation, weight_std

__all__ = ["LogStep", "relu_log_step", "log_norm_walk"]


class LogStep(NamedTuple):
    """Mean and variance of the per-layer log factor :math:`\\log X_l` (exact), and the
    large-width approximations :math:`-5/(2n)` and :math:`5/n`."""

    mean: float
    var: float
    mean_approx: float
    var_approx: float


def relu_log_step(width: int) -> LogStep:
    r"""Exact moments of :math:`\log X` for :math:`X = \tfrac2n\chi^2_K`, :math:`K \sim
    \operatorname{Binomial}(n, \tfrac12)` conditioned on :math:`K \ge 1`: the per-layer step of
    the log squared length in a ReLU network with He's rule (see the module docstring).

    Parameters
    ----------
    width : int
        The width :math:`n` of every layer (at least 1).

    Examples
    --------
    >>> s = relu_log_step(100)
    >>> round(s.mean, 4), s.mean_approx, round(s.var, 4), s.var_approx
    (-0.0254, -0.025, 0.0519, 0.05)
    """
    n = _validate.count(width, "width", low=1)
    k = np.arange(1, n + 1)
    p = stats.binom.pmf(k, n, 0.5)
    p = p / p.sum()
    psi = special.digamma(k / 2.0)
    mean_psi = float(p @ psi)
    mean = math.log(4.0 / n) + mean_psi
    var = float(p @ special.polygamma(1, k / 2.0)) + float(p @ (psi - mean_psi) ** 2)
    return LogStep(mean, var, -2.5 / n, 5.0 / n)


@single_blas_thread
def log_norm_walk(
    depth: int, width: int, networks: int, *, init: str = "kaiming", act: str = "relu", rng: np.random.Generator
) -> np.ndarray:
    r""":math:`\log(\lVert h^l\rVert^2/\lVert h^0\rVert^2)` for ``networks`` independent bias-free
    MLPs of constant ``width``, one input each, at layers :math:`l = 1, \dots,` ``depth``.

    Each network gets its own weights (drawn as in :func:`~nbcode.init.simulate_variance`:
    Gaussian with :func:`~nbcode.init.weight_std`) and its own standard normal input; all networks
    are propagated at once as a stack of matrices. For ``act='relu'`` with ``init='kaiming'`` each
    row is a random walk with independent steps whose moments :func:`relu_log_step` gives; for a
    linear network with Var(W) = 1/n the steps are :math:`\log(\chi^2_n/n)`.

    Returns
    -------
    numpy.ndarray
        Shape ``(networks, depth)``. A network whose signal dies (every unit of a ReLU layer
        inactive) gets ``-inf`` from there on.

    Examples
    --------
    >>> w = log_norm_walk(30, 64, 200, rng=np.random.default_rng(0))
    >>> w.shape, bool(-1.6 < w[:, -1].mean() < -0.8)   # drift about -5 * 30 / (2 * 64) = -1.17
    ((200, 30), True)
    """
    depth = _validate.count(depth, "depth", low=1)
    width = _validate.count(width, "width", low=1)
    networks = _validate.count(networks, "networks", low=1)
    std = weight_std(init, width, act)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"Invalid rng: {_validate.show(rng)} (need a numpy.random.Generator)")
    phi = activation(act)
    h = rng.normal(size=(networks, width, 1))
    log0 = np.log(np.sum(h[:, :, 0] ** 2, axis=1))
    out = np.empty((networks, depth))
    with np.errstate(divide="ignore"):
        for l in range(depth):
            w = rng.normal(0.0, std, size=(networks, width, width))
            h = phi.f(w @ h)
            out[:, l] = np.log(np.sum(h[:, :, 0] ** 2, axis=1)) - log0
    return out
