r"""Section 2, curvature: :math:`\lambda_{\max}` and the most negative eigenvalue of the Hessian of the
loss over all of the data (Lanczos, :func:`nbcode.hessian.lanczos_topk`), the trace (Hutchinson,
:func:`nbcode.hessian.hutchinson_trace`) and, on the full budget, the spectral density (SLQ,
:func:`nbcode.hessian.slq`).

Error bars. For a Ritz pair :math:`(\theta, x)` with :math:`\lVert x\rVert = 1`, some eigenvalue of
:math:`H` lies within the residual :math:`r = \lVert Hx - \theta x\rVert` of :math:`\theta` (a theorem for
symmetric matrices, no probability involved): that interval is reported. The same pass gives the
curvature :math:`x^\top H_b x` of every batch along :math:`x`; their spread says how much a one-batch
estimate would vary. The trace's interval is Student's t over the Rademacher probes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from scipy import stats

from nbcode.checkup._objective import DataHessian, Objective
from nbcode.checkup.quantity import BOOK, Cost, Quantity
from nbcode.hessian import gaussian_density, hutchinson_trace, lanczos_topk, slq

__all__ = ["CurvatureResult", "curvature", "ritz_check"]


@dataclass
class CurvatureResult:
    quantities: list[Quantity] = field(default_factory=list)
    lam_max: float = math.nan
    lam_max_bound: float = math.nan
    vector: np.ndarray | None = None
    density: tuple[np.ndarray, np.ndarray] | None = None
    history: list[float] = field(default_factory=list)


def ritz_check(obj: Objective, x: np.ndarray, theta: float, scale: float = 1.0, spread: int = 0) -> tuple[float, np.ndarray]:
    """``(residual, curvatures)``: :math:`\\lVert Hx - \\theta x\\rVert` (one HVP) and, for the first
    ``spread`` batches of the loader, :math:`x^\\top H_b x`."""
    x = x / np.linalg.norm(x)
    hx, _ = obj.hvp(x)
    quads = obj.hvp(x, batches=obj.batches[:spread])[1] if spread else np.zeros(0)
    return float(np.linalg.norm(scale * hx - theta * x)), quads


def curvature(obj: Objective, settings: dict[str, Any], bar: Callable[[str], None], *, seed: int = 0) -> CurvatureResult:
    res = CurvatureResult()
    start = obj.cost.copy()
    op = DataHessian(obj, on_product=lambda: bar("curvature"))
    top = lanczos_topk(op, k=1, tol=settings["lanczos_tol"], max_iter=min(settings["lanczos_max"], obj.dim), seed=seed)
    theta = float(top.eigenvalues[0])
    x = top.eigenvectors[:, 0]
    r, quads = ritz_check(obj, x, theta, spread=settings["spread_batches"])
    bar("curvature")
    res.lam_max, res.lam_max_bound, res.vector, res.history = theta, r, x, list(top.history)
    ns = np.array([b.n for b in obj.batches[: len(quads)]], dtype=float)
    q = Quantity("curvature.lambda_max", "λ_max, the top eigenvalue of H over all of the data", value=theta,
                 error=r, error_kind="residual bound ‖Hx − θx‖ (an eigenvalue lies within it)", ci=(theta - r, theta + r),
                 link=BOOK["hessian"])
    q.extra = {"hvp": top.n_matvec + 1, "lanczos_history": top.history}
    if len(quads) >= 2:
        w = ns / ns.sum()
        m = float(w @ quads)
        sd = float(np.sqrt(np.sum(w * (quads - m) ** 2) * len(quads) / (len(quads) - 1)))
        q.extra.update(batch_curvature_mean=m, batch_curvature_sd=sd, batch_curvature_min=float(quads.min()),
                       batch_curvature_max=float(quads.max()), batches=len(quads))
        q.note = (f"Along the top eigenvector the first {len(quads)} batches have curvatures from {quads.min():.3g} to "
                  f"{quads.max():.3g} (sd {sd:.2g}): a one-batch estimate of λ_max varies that much.")
    q.cost = obj.cost - start
    res.quantities.append(q)

    # the most negative eigenvalue: the largest of -H
    start = obj.cost.copy()
    neg = DataHessian(obj, scale=-1.0, on_product=lambda: bar("curvature"))
    low = lanczos_topk(neg, k=1, tol=settings["lanczos_tol"], max_iter=min(settings["lanczos_min_max"], obj.dim), seed=seed + 1)
    mu = -float(low.eigenvalues[0])
    rmin, _ = ritz_check(obj, low.eigenvectors[:, 0], mu)
    q = Quantity("curvature.lambda_min", "λ_min, the most negative eigenvalue of H", value=mu, error=rmin,
                 error_kind="residual bound", ci=(mu - rmin, mu + rmin), link=BOOK["hessian"])
    if mu < -rmin:
        q.note = (f"H has a negative eigenvalue: the weights are not at a minimum (λ_min/λ_max = {mu / theta:.2g}); "
                  "directions of negative curvature lead down.")
    elif rmin > 0.1 * abs(theta):
        q.note = "Not resolved within the budget: the bottom of the spectrum is crowded; the interval says where it lies."
    else:
        q.note = "No eigenvalue below zero within the bound: locally convex in every direction resolved."
    q.cost = obj.cost - start
    res.quantities.append(q)

    start = obj.cost.copy()
    n_probe = settings["hutchinson"]
    op_t = DataHessian(obj, on_product=lambda: bar("curvature"))
    tr, se = hutchinson_trace(op_t, n_probe, seed=seed + 2)
    t = float(stats.t.ppf(0.975, n_probe - 1))
    q = Quantity("curvature.trace", "tr H, the sum of all eigenvalues (Hutchinson)", value=tr, error=se,
                 error_kind=f"standard error over {n_probe} Rademacher probes", ci=(tr - t * se, tr + t * se), link=BOOK["hessian"])
    q.note = (f"The mean eigenvalue tr H/d is {tr / obj.dim:.2g}, against λ_max = {theta:.3g}: "
              f"the spectrum is a bulk near zero and a few large outliers." if theta > 0 and abs(tr / obj.dim) < 0.05 * theta else
              f"The mean eigenvalue tr H/d is {tr / obj.dim:.2g}.")
    q.cost = obj.cost - start
    res.quantities.append(q)

    if settings.get("slq"):
        start = obj.cost.copy()
        m, probes = settings["slq"]
        m = min(m, obj.dim)
        nodes, weights = slq(DataHessian(obj, on_product=lambda: bar("curvature")), m, probes, seed=seed + 3)
        lo, hi = float(nodes.min()), float(nodes.max())
        pad = 0.05 * (hi - lo if hi > lo else 1.0)
        grid = np.linspace(lo - pad, hi + pad, 400)
        sigma = max((hi - lo) / 100.0, 1e-12)
        res.density = (grid, gaussian_density(grid, nodes, weights, sigma))
        q = Quantity("curvature.density", "spectral density of H (stochastic Lanczos quadrature)", value=float(hi),
                     error_kind="largest node", link=BOOK["hessian"])
        q.note = f"{probes} probes × {m} Lanczos steps; the density is drawn below (Gaussian smoothing σ = {sigma:.2g})."
        q.extra = {"nodes": nodes, "weights": weights, "sigma": sigma}
        q.cost = obj.cost - start
        res.quantities.append(q)
    return res


def preconditioned_top(obj: Objective, p: np.ndarray, settings: dict[str, Any], bar: Callable[[str], None], seed: int = 0) -> tuple[float, float, Cost]:
    r""":math:`\lambda_{\max}(P^{-1}H)` for :math:`P = \operatorname{diag}(p)`, with its residual bound
    (computed on the symmetric :math:`P^{-1/2}HP^{-1/2}`, which has the same eigenvalues)."""
    start = obj.cost.copy()
    op = DataHessian(obj, precond=p, on_product=lambda: bar("learning rate"))
    top = lanczos_topk(op, k=1, tol=settings["lanczos_tol"], max_iter=min(settings["lanczos_max"], obj.dim), seed=seed)
    theta = float(top.eigenvalues[0])
    x = top.eigenvectors[:, 0]
    r = float(np.linalg.norm(op.matvec(x) - theta * x))
    return theta, r, obj.cost - start
