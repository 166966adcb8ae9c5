r"""Section 3, learning rate: the largest stable rate of the reader's optimizer on the local quadratic
model, and a learning-rate range test on copies of the model and the optimizer.

On :math:`L(w) \approx \tfrac12 (w - w^*)^\top H (w - w^*)` every eigen-direction evolves on its own, and

* gradient descent is stable iff :math:`\eta < 2/\lambda_{\max}`;
* PyTorch's heavy ball (:math:`v \leftarrow \beta v + (1 - d) g`, :math:`w \leftarrow w - \eta v`) iff
  :math:`\eta (1 - d) \lambda_{\max} < 2(1 + \beta)`;
* PyTorch's Nesterov iff :math:`\eta\lambda_{\max} < 2(1 + \beta)/(1 + 2\beta)` (the characteristic
  polynomial :math:`z^2 - (1+\beta)(1-\eta\lambda)z + \beta(1 - \eta\lambda)` has a root at :math:`-1` there);
* Adam with its preconditioner :math:`P = \operatorname{diag}(\sqrt{\hat v} + \epsilon)` held fixed is the
  heavy ball with dampening :math:`\beta_1` on :math:`P^{-1}H`, stable iff
  :math:`\lambda_{\max}(P^{-1}H) < (2 + 2\beta_1)/((1 - \beta_1)\eta)` (Cohen et al. 2022).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from nbcode.checkup._curvature import preconditioned_top
from nbcode.checkup._data import stackable, stacked
from nbcode.checkup._objective import Objective
from nbcode.checkup.quantity import BOOK, Quantity

try:  # the range test lives in nbcode.train after "One home per concept", in nbcode.schedules before
    from nbcode.train import lr_range_test
except ImportError:  # pragma: no cover
    from nbcode.schedules import lr_range_test  # type: ignore[attr-defined,no-redef]
from nbcode.train.adapter import needs_closure

__all__ = ["RateResult", "rates", "optimizer_kind", "stable_lr", "largest_lr", "groups_note"]


@dataclass
class RateResult:
    quantities: list[Quantity] = field(default_factory=list)
    eta_star: float = math.nan
    eta_band: tuple[float, float] = (math.nan, math.nan)
    range_test: Any = None
    kind: str = "gd"


def _group_lr(g: dict[str, Any]) -> float:
    lr = g.get("lr", math.nan)
    return float(lr.item() if isinstance(lr, torch.Tensor) else lr)


def largest_lr(optimizer: Any) -> float:
    """The largest learning rate over the optimizer's parameter groups (NaN when none has one)."""
    lrs = [_group_lr(g) for g in getattr(optimizer, "param_groups", None) or []]
    lrs = [x for x in lrs if not math.isnan(x)]
    return max(lrs) if lrs else math.nan


def groups_note(optimizer: Any) -> str:
    """A sentence when the parameter groups have different learning rates ("" otherwise)."""
    lrs = [_group_lr(g) for g in getattr(optimizer, "param_groups", None) or []]
    if len(set(lrs)) <= 1:
        return ""
    return (f" The optimizer's {len(lrs)} parameter groups have η from {min(lrs):g} to {max(lrs):g}: judged at the "
            "largest (no group's step is larger, so a verdict of stable holds for every group).")


def optimizer_kind(optimizer: Any) -> tuple[str, dict[str, float]]:
    """``("gd" | "momentum" | "nesterov" | "adam" | "other", hyper-parameters)`` of the parameter group
    with the largest learning rate (the first such group; the first group when none has a rate)."""
    if optimizer is None:
        return "gd", {}
    groups = optimizer.param_groups
    g = groups[0]
    top = largest_lr(optimizer)
    for h in groups:
        if _group_lr(h) == top:
            g = h
            break
    if isinstance(optimizer, torch.optim.SGD):
        beta, damp = float(g.get("momentum", 0.0)), float(g.get("dampening", 0.0))
        if beta == 0:
            return "gd", {"lr": float(g["lr"])}
        return ("nesterov" if g.get("nesterov") else "momentum"), {"lr": float(g["lr"]), "momentum": beta, "dampening": damp}
    if isinstance(optimizer, (torch.optim.Adam, torch.optim.AdamW)):
        b1, b2 = g["betas"]
        return "adam", {"lr": float(g["lr"]), "beta1": float(b1), "beta2": float(b2), "eps": float(g["eps"])}
    return "other", {"lr": float(g.get("lr", math.nan))}


def stable_lr(lam: float, kind: str, hp: dict[str, float]) -> float:
    """The largest stable rate on a quadratic of top curvature ``lam`` (see the module docstring).

    Examples
    --------
    >>> stable_lr(4.0, "gd", {}), stable_lr(4.0, "momentum", {"momentum": 0.9, "dampening": 0.0})
    (0.5, 0.95)
    >>> round(stable_lr(4.0, "nesterov", {"momentum": 0.5}), 6)
    0.375
    """
    if not lam > 0:
        return math.inf
    b = hp.get("momentum", 0.0)
    if kind == "momentum":
        return 2 * (1 + b) / ((1 - hp.get("dampening", 0.0)) * lam)
    if kind == "nesterov":
        return 2 * (1 + b) / ((1 + 2 * b) * lam)
    return 2.0 / lam


def adam_threshold(lr: float, beta1: float) -> float:
    """:math:`(2 + 2\\beta_1)/((1 - \\beta_1)\\eta)`."""
    return (2 + 2 * beta1) / ((1 - beta1) * lr)


def _copies(model: torch.nn.Module, optimizer: Any) -> tuple[torch.nn.Module, Any]:
    twin = copy.deepcopy(model)
    if optimizer is None:
        return twin, torch.optim.SGD(twin.parameters(), lr=1.0)
    mapping = {id(p): q for p, q in zip(model.parameters(), twin.parameters())}
    groups = [{**{k: v for k, v in g.items() if k != "params"}, "params": [mapping[id(p)] for p in g["params"]]}
              for g in optimizer.param_groups]
    opt = type(optimizer)(groups)
    opt.load_state_dict(optimizer.state_dict())
    return twin, opt


def rates(obj: Objective, lam: float, lam_bound: float, optimizer: Any, settings: dict[str, Any],
          bar: Callable[[str], None], *, seed: int = 0) -> RateResult:
    res = RateResult()
    kind, hp = optimizer_kind(optimizer)
    res.kind = kind
    lo_lam, hi_lam = lam - lam_bound, lam + lam_bound
    if kind in ("gd", "momentum", "nesterov", "other"):
        eff = "gd" if kind == "other" else kind
        eta = stable_lr(lam, eff, hp)
        band = (stable_lr(hi_lam, eff, hp), stable_lr(lo_lam, eff, hp) if lo_lam > 0 else math.inf)
        res.eta_star, res.eta_band = eta, band
        formula = {"gd": "2/λ_max", "momentum": "2(1 + β)/((1 − dampening) λ_max)", "nesterov": "2(1 + β)/((1 + 2β) λ_max)"}[eff]
        q = Quantity("rate.stable", f"largest stable learning rate, {formula}", value=eta, ci=band,
                     error_kind="from λ_max's residual bound", link=BOOK["momentum" if eff != "gd" else "stable"])
        q.prediction_text = f"η < {formula}" + (f", β = {hp['momentum']:g}" if "momentum" in hp else "")
        q.assumptions = "full-batch steps on the local quadratic model at the current weights"
        if kind == "other":
            q.note = f"{type(optimizer).__name__} is not modelled; the plain gradient-descent limit is shown."
        elif "lr" in hp:
            lr = hp["lr"]
            q.extra = {"lr": lr, "lr_over_stable": lr / eta}
            if lr < band[0]:
                q.verdict, q.note = "ok", f"The optimizer's η = {lr:g} is {lr / eta:.2g} × the limit: stable on this model."
            elif lr > band[1]:
                q.verdict, q.note = "warning", (f"The optimizer's η = {lr:g} is {lr / eta:.2g} × the limit: full-batch steps would "
                                                "diverge along the top eigenvector (or drive training to the edge of stability).")
            else:
                q.note = f"The optimizer's η = {lr:g} is within the uncertainty of the limit."
            q.note += groups_note(optimizer)
        else:
            q.note = "No optimizer given: this is the limit for plain gradient descent."
        res.quantities.append(q)
    else:
        lr, b1, b2, eps = hp["lr"], hp["beta1"], hp["beta2"], hp["eps"]
        state_v = []
        step = 0
        for group in optimizer.param_groups:
            for p in group["params"]:
                st = optimizer.state.get(p, {})
                if "exp_avg_sq" in st:
                    step = max(step, int(float(st["step"])))
        names_params = [p for _, p in obj.model.named_parameters() if p.requires_grad]
        if step > 0:
            for p in names_params:
                st = optimizer.state.get(p, {})
                v = st.get("exp_avg_sq")
                state_v.append(torch.zeros_like(p) if v is None else v / (1 - b2 ** step))
            source = f"the optimizer's second moments after {step} steps"
            vhat = obj.flatten(state_v)
        else:
            _, g = obj.gradient()
            vhat = obj.flatten(g) ** 2
            source = "no step taken yet: the first step's v̂ = g² of the full-batch gradient"
        precond = np.sqrt(vhat) + eps
        mu, r, cost = preconditioned_top(obj, precond, settings, bar, seed=seed + 5)
        thr = adam_threshold(lr, b1)
        q = Quantity("rate.adam", "preconditioned sharpness λ_max(P⁻¹H) of Adam", value=mu, error=r,
                     error_kind="residual bound", ci=(mu - r, mu + r), prediction=thr,
                     prediction_text=f"stable below (2 + 2β₁)/((1 − β₁)η) = {thr:.4g}", link=BOOK["adam"], cost=cost)
        q.assumptions = f"P = diag(√v̂ + ε) held fixed; {source}; weight decay ignored"
        q.extra = {"threshold": thr, "ratio": mu / thr, "lr": lr, "beta1": b1}
        if mu + r < thr:
            q.verdict, q.note = "ok", f"{mu / thr:.2g} × the threshold: Adam's steps are stable on this model."
        elif mu - r > thr:
            q.verdict, q.note = "warning", (f"{mu / thr:.2g} × the threshold: Adam oscillates along the top preconditioned "
                                            "direction (the adaptive edge of stability).")
        else:
            q.verdict, q.note = "measured", "At the threshold, within the bound."
        q.note += groups_note(optimizer)
        res.quantities.append(q)
        # the rate at which this preconditioned sharpness would reach the threshold
        res.eta_star = lr * thr / mu if mu > 0 else math.inf
        res.eta_band = (res.eta_star, res.eta_star)
    res.quantities.append(_range_test(obj, optimizer, res, settings, bar, seed))
    return res


def _range_test(obj: Objective, optimizer: Any, res: RateResult, settings: dict[str, Any], bar: Callable[[str], None], seed: int) -> Quantity:
    q = Quantity("rate.range_test", "learning-rate range test (on copies)", link=BOOK["range_test"])
    if not stackable(obj.batches):
        q.verdict, q.note = "not applicable", "The batches are not plain tensors, so rows cannot be redrawn."
        return q
    if optimizer is not None and needs_closure(optimizer):
        q.verdict, q.note = "not applicable", (f"{type(optimizer).__name__}'s step needs a closure (several evaluations "
                                               "per step): a range test of one mini-batch step per rate does not apply.")
        return q
    if not (math.isfinite(res.eta_star) and res.eta_star > 0):
        q.verdict, q.note = "not applicable", "No positive curvature to centre the range on."
        return q
    X, y = stacked(obj.batches)
    B = min(obj.batches[0].n, X.shape[0])
    lr_min, lr_max = res.eta_star / 300.0, res.eta_star * 30.0
    twin, opt = _copies(obj.model, optimizer)
    steps = settings["range_steps"]
    rt = lr_range_test(twin, opt, X, y, lr_min=lr_min, lr_max=lr_max, num_steps=steps, batch_size=B,
                       loss_fn=obj.loss_fn, seed=seed)
    bar("learning rate")
    k = len(rt.lrs)
    obj.cost.forward += k * B / obj.n
    obj.cost.backward += k * B / obj.n
    res.range_test = rt
    lr_min_loss = rt.lr_min_loss
    stopped = k < steps
    q.value = lr_min_loss
    q.error_kind = "rate of the lowest smoothed loss"
    q.prediction = res.eta_star
    q.prediction_text = f"stable limit η* = {res.eta_star:.3g} (the dashed line)"
    q.assumptions = (f"mini-batches of {B}, rate growing geometrically from η*/300 to 30 η* over {steps} steps "
                     "(Smith 2017); the limit is for full-batch steps at the starting weights")
    q.verdict = "measured"
    end = f"the loss blew up at η = {rt.lrs[-1]:.2g} ({rt.lrs[-1] / res.eta_star:.2g} η*)" if stopped else "the loss never blew up"
    q.note = f"Lowest smoothed loss at η = {lr_min_loss:.2g} ({lr_min_loss / res.eta_star:.2g} η*); {end}."
    q.extra = {"lrs": rt.lrs, "losses": rt.losses, "smoothed": rt.smoothed, "stopped": stopped, "batch_size": B,
               "lr_min": lr_min, "lr_max": lr_max, "num_steps": steps, "seed": seed}
    del twin, opt
    return q
