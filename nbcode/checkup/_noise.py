r"""Section 4, noise and batch size.

Batches of :math:`B` rows drawn *with replacement* from the :math:`n` rows give, exactly,

.. math:: \mathbb E\,\lVert g_B - g\rVert^2 = \frac{\operatorname{tr}\Sigma}{B}, \qquad
          \mathbb E\,\lVert g_B\rVert^2 = \lvert G\rvert^2 + \frac{\operatorname{tr}\Sigma}{B},

with :math:`\Sigma` the covariance of one row's gradient and :math:`G = g` the full gradient (the
convergence chapter's :math:`\sigma^2 = \operatorname{tr}\Sigma`). The gradient-noise scale
:math:`B_{\text{simple}} = \operatorname{tr}\Sigma/\lvert G\rvert^2` (McCandlish et al. 2018) comes from
their unbiased estimators at two batch sizes :math:`B_s < B_b`:

.. math:: \widehat{\lvert G\rvert^2} = \frac{B_b\overline{\lVert g_{B_b}\rVert^2} - B_s\overline{\lVert g_{B_s}\rVert^2}}{B_b - B_s},\qquad
          \widehat{\operatorname{tr}\Sigma} = \frac{\overline{\lVert g_{B_s}\rVert^2} - \overline{\lVert g_{B_b}\rVert^2}}{1/B_s - 1/B_b},

with a delta-method interval for the ratio (on the log scale, as for every positive estimate here:
they are means of squared norms, skewed to the right). Near a minimum, constant-step SGD stalls at the
excess loss :math:`\eta\operatorname{tr}\Sigma/(4B)` (the convergence chapter's noise floor).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch
from scipy import stats

from nbcode.checkup._data import Batch, stackable, stacked
from nbcode.checkup._objective import Objective
from nbcode.checkup._init import Z95
from nbcode.checkup._rates import groups_note, largest_lr
from nbcode.checkup.quantity import BOOK, Quantity

__all__ = ["NoiseResult", "noise", "b_simple"]


@dataclass
class NoiseResult:
    quantities: list[Quantity] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    measured: list[tuple[float, float]] = field(default_factory=list)
    trace_sigma: float = math.nan


def b_simple(small: np.ndarray, big: np.ndarray, Bs: int, Bb: int) -> tuple[float, float, float, float]:
    """``(B_simple, standard error, tr Σ estimate, |G|² estimate)`` from the squared norms of
    gradients of batches of ``Bs`` and ``Bb`` rows (drawn with replacement).

    Examples
    --------
    >>> b_simple(np.array([3.0, 3.0]), np.array([1.5, 1.5]), 1, 4)  # |G|^2 = 1, tr(Sigma) = 2
    (2.0, 0.0, 2.0, 1.0)
    """
    A, C = float(np.mean(small)), float(np.mean(big))
    vA = float(np.var(small, ddof=1)) / len(small) if len(small) > 1 else 0.0
    vC = float(np.var(big, ddof=1)) / len(big) if len(big) > 1 else 0.0
    G2 = (Bb * C - Bs * A) / (Bb - Bs)
    S = (A - C) / (1.0 / Bs - 1.0 / Bb)
    den = Bb * C - Bs * A
    if den == 0:
        return math.inf, math.inf, S, G2
    B = Bs * Bb * (A - C) / den
    dA = Bs * Bb * C * (Bb - Bs) / den**2
    dC = -Bs * Bb * A * (Bb - Bs) / den**2
    return B, math.sqrt(dA * dA * vA + dC * dC * vC), S, G2


def _log_ci(value: float, se: float, z: float) -> tuple[float, float]:
    """A 95 % interval for a positive, right-skewed estimate, symmetric on the log scale (delta
    method): :math:`v\\,e^{\\pm z\\,\\mathrm{se}/v}`."""
    if not value > 0:
        return (value - z * se, value + z * se)
    f = math.exp(z * se / value)
    return (value / f, value * f)


def noise(obj: Objective, g_full: list[torch.Tensor], optimizer: Any, settings: dict[str, Any],
          bar: Callable[[str], None], *, seed: int = 0) -> NoiseResult:
    res = NoiseResult()
    if not stackable(obj.batches):
        q = Quantity("noise.b_simple", "gradient-noise scale B_simple", verdict="not applicable", link=BOOK["batch"],
                     note="The batches are not plain tensors, so rows cannot be redrawn.")
        res.quantities.append(q)
        return res
    start = obj.cost.copy()
    X, y = stacked(obj.batches)
    n = X.shape[0]
    B0 = obj.batches[0].n
    low = 2 if obj.batch_dependent else 1  # BatchNorm needs two rows per batch
    sizes = sorted({max(low, min(n, s)) for s in (max(low, B0 // 4), B0, 4 * B0)})
    if len(sizes) < 3:
        sizes = sorted({low, max(low + 1, n // 8), max(low + 2, n // 2)})
    res.sizes = sizes
    m = settings["noise_draws"]
    gflat = obj.flatten(g_full)
    gen = torch.Generator()
    gen.manual_seed(seed)
    sq: dict[int, np.ndarray] = {}
    dev: dict[int, np.ndarray] = {}
    for B in sizes:
        a, e = np.empty(m), np.empty(m)
        for j in range(m):
            idx = torch.randint(0, n, (B,), generator=gen).to(X.device)
            _, gb = obj.gradient([Batch(X[idx], y[idx], B)])
            v = obj.flatten(gb)
            a[j], e[j] = float(v @ v), float((v - gflat) @ (v - gflat))
        sq[B], dev[B] = a, e
        bar("noise")
    G2 = float(gflat @ gflat)
    # tr(Sigma) from each size: B * mean ||g_B - g||^2, unbiased with replacement
    per = {B: (B * float(dev[B].mean()), B * float(dev[B].std(ddof=1)) / math.sqrt(m)) for B in sizes}
    w = np.array([1.0 / per[B][1] ** 2 if per[B][1] > 0 else 0.0 for B in sizes])
    vals = np.array([per[B][0] for B in sizes])
    pooled = float(w @ vals / w.sum()) if w.sum() > 0 else float(vals.mean())
    pooled_se = float(1.0 / math.sqrt(w.sum())) if w.sum() > 0 else 0.0
    res.trace_sigma = pooled
    tq = float(stats.t.ppf(0.975, m - 1))
    note_bn = " (BatchNorm: a batch's gradient is not a mean of per-row gradients, so the 1/B law is approximate)" if obj.batch_dependent else ""
    cost = obj.cost - start
    for i, B in enumerate(sizes):
        others = [s for s in sizes if s != B]
        ww = np.array([w[sizes.index(s)] for s in others])
        vv = np.array([per[s][0] for s in others])
        trS = float(ww @ vv / ww.sum()) if ww.sum() > 0 else float(vv.mean())
        trS_se = float(1.0 / math.sqrt(ww.sum())) if ww.sum() > 0 else math.nan
        mean_e = float(dev[B].mean())
        se_e = float(dev[B].std(ddof=1)) / math.sqrt(m)
        res.measured.append((mean_e, se_e))
        q = Quantity(f"noise.variance_B{B}", f"E‖g_B − g‖² at B = {B}", value=mean_e, error=se_e,
                     error_kind=f"standard error over {m} batches; interval on the log scale", ci=_log_ci(mean_e, se_e, tq),
                     prediction=trS / B, prediction_error=trS_se / B,
                     prediction_text=f"tr Σ / B with tr Σ = {trS:.3g} ± {trS_se:.2g} from the other two sizes",
                     assumptions="batches drawn with replacement" + note_bn, link=BOOK["noise"])
        q.extra["quantile"] = tq
        q.judge()
        if i == 0:
            q.cost = cost
        res.quantities.append(q)
    Bs, Bb = sizes[0], sizes[-1]
    Bsim, se, S, G2hat = b_simple(sq[Bs], sq[Bb], Bs, Bb)
    q = Quantity("noise.b_simple", "gradient-noise scale B_simple = tr Σ / |G|²", value=Bsim, error=se,
                 error_kind=f"delta method, {m} batches at B = {Bs} and B = {Bb}", link=BOOK["batch"])
    exact = pooled / G2 if G2 > 0 else math.inf
    if math.isfinite(Bsim) and Bsim > 0 and G2hat > 0 and math.isfinite(se):
        q.ci = _log_ci(Bsim, se, tq)
    q.extra = {"trace_sigma_two_sizes": S, "G2_two_sizes": G2hat, "G2_exact": G2, "trace_sigma_pooled": pooled,
               "trace_sigma_pooled_se": pooled_se, "b_simple_exact_gradient": exact, "sizes": sizes}
    q.assumptions = "unbiased estimators at two batch sizes (McCandlish et al. 2018); rows drawn with replacement" + note_bn
    if G2hat <= 0 or not math.isfinite(Bsim) or Bsim <= 0 or not math.isfinite(se) or se > Bsim:
        # not resolved: a relative standard error above 1 (the interval would span a factor of ~50)
        q.extra["raw_estimate"], q.extra["raw_se"] = Bsim, se
        q.value, q.error, q.ci = None, None, None
        q.note = ("|G|² is not resolved from the noise (the full gradient is small against tr Σ/B): B_simple is large; "
                  f"with the exact full gradient it is {exact:.3g}.")
    else:
        q.note = (f"Batches much smaller than B_simple are dominated by noise, much larger ones waste computation; "
                  f"the loader's B = {B0} is {B0 / Bsim:.2g} × B_simple. With the exact full gradient, tr Σ/|g|² = {exact:.3g}.")
    res.quantities.append(q)
    kind_lr = None
    if isinstance(optimizer, torch.optim.SGD):  # the floor is constant-step SGD's
        kind_lr = largest_lr(optimizer)
    if kind_lr is not None and math.isfinite(kind_lr):
        floor = kind_lr * pooled / (4 * B0)
        band = _log_ci(floor, kind_lr * pooled_se / (4 * B0), Z95)
        q = Quantity("noise.floor", f"noise floor of constant-step SGD, η tr Σ/(4B) at η = {kind_lr:g}, B = {B0}",
                     value=floor, error=kind_lr * pooled_se / (4 * B0), error_kind="from tr Σ's standard error", ci=band,
                     link=BOOK["floor"])
        q.assumptions = "near a minimum (Σ there), small η; the excess loss constant-step SGD settles at"
        q.note = (f"Training at this η and B cannot get the loss closer than about {floor:.2g} to its minimum "
                  "without a decaying rate or a larger batch." + groups_note(optimizer))
        res.quantities.append(q)
    return res
