r"""Order and chaos at initialization: the mean-field picture of Poole et al. (2016) and
Schoenholz et al. (2017) for a deep tanh network with random biases.

Layer :math:`l` computes :math:`z^l = W^l \phi(z^{l-1}) + b^l` with
:math:`W^l_{ij} \sim \mathcal N(0, \sigma_w^2/n)` and :math:`b^l_i \sim \mathcal N(0, \sigma_b^2)`.
For an infinitely wide layer the pre-activations of two inputs are jointly Gaussian, and two
numbers describe them: the length :math:`q^l` (the variance of :math:`z^l`) and the correlation
:math:`c^l` between the two inputs' pre-activations. They follow the maps

.. math::

    q^{l} = \sigma_w^2\,\mathbb E_{z\sim\mathcal N(0,1)}\big[\phi(\sqrt{q^{l-1}}\,z)^2\big] + \sigma_b^2,
    \qquad
    c^{l} = \frac{\sigma_w^2\,\mathbb E[\phi(u_1)\phi(u_2)] + \sigma_b^2}{q^*},

with :math:`u_1 = \sqrt{q^*} z_1`, :math:`u_2 = \sqrt{q^*}(c^{l-1} z_1 + \sqrt{1 - (c^{l-1})^2} z_2)`,
once :math:`q^l` has reached its fixed point :math:`q^*`. The correlation :math:`c = 1` is always a
fixed point; its stability is set by the slope of the correlation map there,

.. math::

    \chi_1 = \sigma_w^2\,\mathbb E\big[\phi'(\sqrt{q^*} z)^2\big].

If :math:`\chi_1 < 1` (the **ordered** phase) every pair of inputs becomes perfectly correlated with
depth, :math:`1 - c^l \propto \chi_1^l`, so the network forgets which input it saw after about
:math:`\xi_c = -1/\ln\chi_1` layers, the *depth scale*; :math:`\chi_1` is also the factor by which
the squared gradient changes per layer, so gradients vanish on the same scale. If :math:`\chi_1 > 1`
(the **chaotic** phase) two nearby inputs separate, :math:`1 - c^l \propto \chi_1^l` while small, until
their correlation reaches a fixed point :math:`c^* < 1`, approached on the depth scale
:math:`-1/\ln\chi_c` with :math:`\chi_c` the slope of the map at :math:`c^*`; gradients explode. The
boundary :math:`\chi_1 = 1` is the **critical line** (the "edge of chaos"), where :math:`\xi_c`
diverges and signals and gradients travel through any depth.

One-dimensional expectations use :func:`~nbcode.init.propagation.gaussian_expectation` (about 15
digits); the two-dimensional ones are Gauss-Hermite sums with :data:`NODES` nodes per dimension,
accurate to :math:`10^{-9}` for tanh at :math:`q \le 4` (:math:`10^{-13}` at :math:`q \le 2`).
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from scipy import optimize

from nbcode import _validate
from nbcode.init._threads import single_blas_thread
from nbcode.init.propagation import gaussian_expectation

__all__ = ["NODES", "MeanField", "mean_field", "variance_map", "correlation_map", "correlation_walk"]

#: Gauss-Hermite nodes per dimension (two-dimensional expectations).
NODES = 200
_X, _W = hermegauss(NODES)
_W = _W / _W.sum()
_Z1, _Z2 = np.meshgrid(_X, _X, indexing="ij")
_W2 = np.outer(_W, _W)


def _check(sigma_w: float, sigma_b: float) -> tuple[float, float]:
    out = _validate.real(sigma_w, "sigma_w", low=0, low_open=True), _validate.real(sigma_b, "sigma_b", low=0)
    for name, value in zip(("sigma_w", "sigma_b"), out):
        try:
            value**2
        except OverflowError:
            raise ValueError(f"Invalid {name}: {value} (need {name}**2 finite in float64: {name} < 1e154)") from None
    return out


def variance_map(q: float, sigma_w: float, sigma_b: float = 0.0) -> float:
    r"""One layer of the length map for tanh: :math:`\sigma_w^2\,\mathbb E[\tanh(\sqrt q z)^2] + \sigma_b^2`.

    Examples
    --------
    >>> round(variance_map(1.0, 1.0), 6)   # E[tanh(z)^2] for a standard normal z
    0.394294
    """
    sigma_w, sigma_b = _check(sigma_w, sigma_b)
    q = _validate.real(q, "q", low=0)
    return sigma_w**2 * gaussian_expectation(lambda z: np.tanh(z) ** 2, q) + sigma_b**2


def _pair(c: float, q: float) -> tuple[np.ndarray, np.ndarray]:
    s = math.sqrt(q)
    return s * _Z1, s * (c * _Z1 + math.sqrt(max(1.0 - c * c, 0.0)) * _Z2)


def correlation_map(c: float, q: float, sigma_w: float, sigma_b: float = 0.0) -> float:
    r"""One layer of the correlation map for tanh at length ``q`` (normally :math:`q^*`).

    Examples
    --------
    >>> round(correlation_map(1.0, 0.5, 1.2, 0.1), 12) == round((variance_map(0.5, 1.2, 0.1)) / 0.5, 12)
    True
    """
    sigma_w, sigma_b = _check(sigma_w, sigma_b)
    c = _validate.real(c, "c", low=-1, high=1)
    q = _validate.real(q, "q", low=0, low_open=True)
    u1, u2 = _pair(c, q)
    return (sigma_w**2 * float((_W2 * np.tanh(u1) * np.tanh(u2)).sum()) + sigma_b**2) / q


def _iterate(f: Callable[[float], float], x: float, tol: float = 1e-15, max_iter: int = 20_000) -> float:
    for _ in range(max_iter):
        x_new = f(x)
        if abs(x_new - x) <= tol * max(1.0, abs(x)):
            return float(x_new)
        x = x_new
    return float(x)


class MeanField(NamedTuple):
    """The fixed points and slopes of the mean-field maps (see the module docstring).

    ``q_star``: the length the signal settles at; ``chi_1``: slope of the correlation map at
    :math:`c = 1`; ``c_star``: the stable correlation (1 in the ordered phase); ``chi_c``: slope at
    ``c_star``; ``depth_scale``: :math:`-1/\\ln\\chi_c` (infinite on the critical line)."""

    q_star: float
    chi_1: float
    c_star: float
    chi_c: float
    depth_scale: float


def mean_field(sigma_w: float, sigma_b: float = 0.0) -> MeanField:
    r"""Fixed points :math:`q^*`, :math:`c^*` and slopes :math:`\chi_1`, :math:`\chi_c` of a deep tanh
    network with weight scale ``sigma_w`` (:math:`\operatorname{Var}(W) = \sigma_w^2/n`) and bias
    standard deviation ``sigma_b``.

    :math:`q^*` is found by iterating the length map from :math:`q = 1` to a relative change of
    :math:`10^{-15}`; in the chaotic phase :math:`c^*` is the root of :math:`C(c) - c` in
    :math:`[0, 1)` (Brent's method; the map lies above the diagonal at 0 and below it just under 1). With ``sigma_b = 0`` and :math:`\sigma_w \le 1`,
    :math:`q^* = 0`, :math:`\chi_1 = \sigma_w^2` and the depth scale is :math:`-1/(2\ln\sigma_w)`. With
    ``sigma_b = 0`` and :math:`\sigma_w > 1` the map is odd with non-negative Taylor coefficients in
    :math:`c` (Mehler's expansion), hence convex on :math:`[0, 1]` and below the diagonal there:
    :math:`c^* = 0` and :math:`\chi_c = \sigma_w^2\,\mathbb E[\phi'(\sqrt{q^*} z)]^2`.

    Examples
    --------
    >>> mf = mean_field(1.0, 0.05 ** 0.5)      # sigma_w^2 = 1, sigma_b^2 = 0.05: ordered
    >>> round(mf.q_star, 4), round(mf.chi_1, 4), mf.c_star, round(mf.depth_scale, 2)
    (0.1936, 0.759, 1.0, 3.63)
    >>> mf = mean_field(2.0 ** 0.5, 0.05 ** 0.5)   # sigma_w^2 = 2: chaotic
    >>> round(mf.chi_1, 4), round(mf.c_star, 4)
    (1.0477, 0.7441)
    """
    sigma_w, sigma_b = _check(sigma_w, sigma_b)
    if sigma_b == 0.0 and sigma_w <= 1.0:
        q = 0.0
    else:
        q = _iterate(lambda x: variance_map(x, sigma_w, sigma_b), 1.0)
    if q == 0.0:
        chi_1 = sigma_w**2
    else:
        chi_1 = sigma_w**2 * gaussian_expectation(lambda z: 1.0 / np.cosh(z) ** 4, q)
    if chi_1 <= 1.0 or q == 0.0:
        c_star, chi_c = 1.0, chi_1
    else:
        def gap(c: float) -> float:
            return correlation_map(c, q, sigma_w, sigma_b) - c

        if sigma_b == 0.0:
            c_star = 0.0  # C(0) = 0 and C(c) < c on (0, 1): see above
        else:
            hi = 1.0 - 1e-6
            while gap(hi) >= 0.0 and hi < 1.0 - 1e-14:
                hi = 1.0 - (1.0 - hi) / 100.0
            c_star = float(optimize.brentq(gap, 0.0, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps))
        u1, u2 = _pair(c_star, q)
        chi_c = sigma_w**2 * float((_W2 / np.cosh(u1) ** 2 / np.cosh(u2) ** 2).sum())
    depth = math.inf if chi_c >= 1.0 else -1.0 / math.log(chi_c)
    return MeanField(q, chi_1, c_star, chi_c, depth)


def _one_minus_c(z: np.ndarray) -> float:
    n1, n2 = math.sqrt(z[0] @ z[0]), math.sqrt(z[1] @ z[1])
    d = z[0] - z[1]
    return float((d @ d - (n1 - n2) ** 2) / (2.0 * n1 * n2))


@single_blas_thread
def correlation_walk(
    depth: int,
    width: int,
    sigma_ws: "np.ndarray | list[float]",
    sigma_b: float,
    *,
    gap: float,
    networks: int = 4,
    rng: np.random.Generator,
) -> np.ndarray:
    r""":math:`1 - c^l` between two nearby inputs in finite tanh networks, for each weight scale.

    For every network, two pre-activation vectors :math:`z^0_1, z^0_2` with entries of variance
    :math:`q^*` and :math:`1 - c^0 =` ``gap`` are propagated through ``depth`` layers
    :math:`z^l = W^l\tanh(z^{l-1}) + b^l`. One set of standard normal weights and biases per network
    is drawn once and multiplied by each :math:`\sigma_w/\sqrt n` and :math:`\sigma_b`, so the scales
    are compared on the same networks. :math:`1 - c` is computed as
    :math:`(\lVert z_1 - z_2\rVert^2 - (\lVert z_1\rVert - \lVert z_2\rVert)^2)/(2\lVert z_1\rVert\lVert z_2\rVert)`,
    which keeps its relative accuracy when :math:`c` is close to 1.

    Returns
    -------
    numpy.ndarray
        Shape ``(len(sigma_ws), networks, depth + 1)``; column 0 is the inputs' own :math:`1 - c^0`
        (``gap`` up to sampling error).

    Examples
    --------
    >>> g = correlation_walk(20, 100, [0.8, 2.0], 0.2, gap=1e-3, networks=2, rng=np.random.default_rng(0))
    >>> bool(g[0, :, -1].max() < 1e-5), bool(g[1, :, -1].min() > 1e-2)   # ordered: merge; chaotic: separate
    (True, True)
    """
    depth = _validate.count(depth, "depth", low=1)
    width = _validate.count(width, "width", low=2)
    networks = _validate.count(networks, "networks", low=1)
    sigma_b = _validate.real(sigma_b, "sigma_b", low=0)
    gap = _validate.real(gap, "gap", low=0, high=1, low_open=True)
    scales = _validate.vector(sigma_ws, "sigma_ws")
    if scales.size == 0 or np.any(scales <= 0):
        raise ValueError(f"Invalid sigma_ws: {_validate.show(sigma_ws)} (need one or more positive numbers)")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"Invalid rng: {_validate.show(rng)} (need a numpy.random.Generator)")
    out = np.empty((scales.size, networks, depth + 1))
    c0 = 1.0 - gap
    lengths = [mean_field(float(sw), sigma_b).q_star for sw in scales]
    for k in range(networks):
        a, b = rng.normal(size=width), rng.normal(size=width)
        pair0 = np.stack([a, c0 * a + math.sqrt(1.0 - c0 * c0) * b])
        weights = rng.normal(size=(depth, width, width)) / math.sqrt(width)
        biases = rng.normal(size=(depth, width))
        for i, sw in enumerate(scales):
            z = pair0 * math.sqrt(max(lengths[i], 1e-300))
            out[i, k, 0] = _one_minus_c(z)
            for l in range(depth):
                z = np.tanh(z) @ (sw * weights[l]).T + sigma_b * biases[l]
                out[i, k, l + 1] = _one_minus_c(z)
    return out
