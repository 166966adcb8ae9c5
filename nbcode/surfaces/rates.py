"""What gradient descent guarantees on smooth functions that are not quadratics.

A differentiable :math:`L` is **M-smooth** when its gradient is :math:`M`-Lipschitz,
:math:`\\|\\nabla L(w) - \\nabla L(v)\\| \\le M\\|w - v\\|` (for a twice differentiable :math:`L`:
every eigenvalue of every Hessian lies in :math:`[-M, M]`). Then the **descent lemma**

.. math:: L(v) \\le L(w) + \\nabla L(w)^\\top (v - w) + \\tfrac M2 \\|v - w\\|^2

gives, for the step :math:`v = w - \\eta\\nabla L(w)`,

.. math:: L(w - \\eta g) \\le L(w) - \\eta\\big(1 - \\tfrac{\\eta M}2\\big)\\|g\\|^2 ,

a guaranteed decrease for :math:`0 < \\eta < 2/M`, largest at :math:`\\eta = 1/M`. From it:

* any :math:`M`-smooth :math:`L` bounded below by :math:`L^*`:
  :math:`\\min_{j<k}\\|g_j\\|^2 \\le \\dfrac{L(w_0) - L^*}{k\\,\\eta(1 - \\eta M/2)}` (:func:`nonconvex_bound`);
* convex and :math:`M`-smooth, :math:`\\eta \\le 1/M`:
  :math:`L(w_k) - L^* \\le \\dfrac{\\|w_0 - w^*\\|^2}{2\\eta k}` (:func:`convex_bound`);
* :math:`\\mu`-PL, :math:`\\|\\nabla L(w)\\|^2 \\ge 2\\mu\\,(L(w) - L^*)` for every :math:`w` (which
  :math:`\\mu`-strong convexity implies):
  :math:`L(w_k) - L^* \\le \\big(1 - 2\\mu\\eta(1 - \\tfrac{\\eta M}2)\\big)^k (L(w_0) - L^*)`, i.e.
  :math:`(1 - \\mu/M)^k` at :math:`\\eta = 1/M` (:func:`pl_bound`).

References
----------
Nesterov (2018), *Lectures on Convex Optimization*, 2nd ed., §1.2 and §2.1.
Karimi, Nutini & Schmidt (2016), Linear convergence of gradient and proximal-gradient methods
under the Polyak-Łojasiewicz condition. ECML-PKDD.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nbcode import _validate as v

__all__ = ["guaranteed_decrease", "nonconvex_bound", "convex_bound", "pl_bound", "pl_constant"]


def _lr_below(lr: Any, M: Any, *, limit: float) -> tuple[float, float]:
    Mv = v.real(M, "smoothness M", low=0, low_open=True, symbol="M")
    eta = v.real(lr, "learning rate", low=0, low_open=True, symbol="lr")
    if eta * Mv > limit * (1 + 1e-12):
        bound = "2/M" if limit == 2 else "1/M"
        raise ValueError(f"Invalid learning rate: {lr} (need lr {'<' if limit == 2 else '<='} {bound} = {limit / Mv:.6g})")
    return eta, Mv


def _steps(k: Any) -> np.ndarray:
    ks = np.asarray(k)
    if ks.dtype.kind not in "iu" or np.any(ks < 1):
        raise ValueError(f"Invalid k: {v.show(k)} (need step counts >= 1)")
    return ks.astype(float)


def guaranteed_decrease(lr: float, M: float) -> float:
    """:math:`\\eta(1 - \\eta M/2)`: the descent lemma guarantees :math:`L(w - \\eta g) \\le L(w) -` this :math:`\\cdot\\|g\\|^2`.

    Positive for :math:`0 < \\eta < 2/M`, largest (:math:`1/(2M)`) at :math:`\\eta = 1/M`.

    Examples
    --------
    >>> guaranteed_decrease(0.5, 2.0), guaranteed_decrease(1.0, 2.0)
    (0.25, 0.0)
    """
    eta, Mv = _lr_below(lr, M, limit=2)
    return eta * (1.0 - 0.5 * eta * Mv)


def nonconvex_bound(k: Any, *, gap0: float, lr: float, M: float) -> np.ndarray:
    """:math:`\\min_{j<k} \\|\\nabla L(w_j)\\|^2 \\le (L(w_0) - L^*)/(k\\,\\eta(1 - \\eta M/2))` for any
    :math:`M`-smooth :math:`L \\ge L^*`, :math:`0 < \\eta < 2/M`: an :math:`O(1/k)` rate for the
    smallest gradient seen (convexity not needed).

    Summing the descent lemma over :math:`k` steps, :math:`\\eta(1 - \\eta M/2)\\sum_{j<k}\\|g_j\\|^2 \\le
    L(w_0) - L(w_k) \\le L(w_0) - L^*`; the minimum is at most the mean.

    Examples
    --------
    >>> nonconvex_bound(np.array([1, 10]), gap0=1.0, lr=0.5, M=1.0).tolist()   # 1 / (k * 0.375)
    [2.6666666666666665, 0.26666666666666666]
    """
    gap = v.real(gap0, "gap0", low=0)
    return np.asarray(gap / (_steps(k) * guaranteed_decrease(lr, M)))


def convex_bound(k: Any, *, dist0: float, lr: float, M: float) -> np.ndarray:
    """:math:`L(w_k) - L^* \\le \\|w_0 - w^*\\|^2/(2\\eta k)` for convex :math:`M`-smooth :math:`L` and
    :math:`0 < \\eta \\le 1/M` (``dist0`` is :math:`\\|w_0 - w^*\\|`).

    Examples
    --------
    >>> convex_bound(np.array([1, 4]), dist0=2.0, lr=0.5, M=2.0).tolist()
    [4.0, 1.0]
    """
    eta, _ = _lr_below(lr, M, limit=1)
    d = v.real(dist0, "dist0", low=0)
    return np.asarray(d * d / (2.0 * eta * _steps(k)))


def pl_bound(k: Any, *, gap0: float, lr: float, M: float, mu: float) -> np.ndarray:
    """:math:`L(w_k) - L^* \\le (1 - 2\\mu\\eta(1 - \\eta M/2))^k\\,(L(w_0) - L^*)` for an
    :math:`M`-smooth, :math:`\\mu`-PL :math:`L` and :math:`0 < \\eta < 2/M` (``k = 0`` allowed).

    The PL inequality :math:`\\|g\\|^2 \\ge 2\\mu(L - L^*)` turns the descent lemma's decrease into a
    fixed fraction of the gap. At :math:`\\eta = 1/M` the factor is :math:`1 - \\mu/M = 1 - 1/\\kappa`.

    Examples
    --------
    >>> pl_bound(np.array([0, 1, 2]), gap0=1.0, lr=1.0, M=1.0, mu=0.25).tolist()
    [1.0, 0.75, 0.5625]
    """
    eta, Mv = _lr_below(lr, M, limit=2)
    m = v.real(mu, "PL constant mu", low=0, low_open=True, symbol="mu")
    if m > Mv:
        raise ValueError(f"Invalid PL constant mu: {mu} (need mu <= M = {Mv:g})")
    ks = np.asarray(k)
    if ks.dtype.kind not in "iu" or np.any(ks < 0):
        raise ValueError(f"Invalid k: {v.show(k)} (need step counts >= 0)")
    factor = 1.0 - 2.0 * m * guaranteed_decrease(eta, Mv)
    return np.asarray(v.real(gap0, "gap0", low=0) * factor ** ks.astype(float))


def pl_constant(values: Any, grad_norms_sq: Any, f_star: float) -> float:
    """The largest :math:`\\mu` with :math:`\\|\\nabla L\\|^2 \\ge 2\\mu(L - L^*)` at the given points:
    :math:`\\min \\|\\nabla L(w)\\|^2 / (2(L(w) - L^*))` over the points with :math:`L(w) > L^*`.

    Evaluated on a grid, it estimates the PL constant of the region the grid covers.

    Examples
    --------
    >>> x = np.linspace(-3, 3, 7)            # L = x^2: |L'|^2 = 4x^2 = 2 * 2 * L, so mu = 2
    >>> pl_constant(x**2, (2 * x) ** 2, 0.0)
    2.0
    """
    f = v.vector(values, "values")
    g2 = v.vector(grad_norms_sq, "grad_norms_sq", size=f.size)
    fs = v.real(f_star, "f_star")
    gap = f - fs
    if np.any(gap < -1e-12 * max(1.0, abs(fs))):
        raise ValueError("Invalid values: some lie below f_star")
    above = gap > 0
    if not np.any(above):
        raise ValueError("Invalid values: none lies above f_star")
    return float(np.min(g2[above] / (2.0 * gap[above])))
