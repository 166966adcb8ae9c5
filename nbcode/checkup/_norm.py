r"""Section 5, normalization: for each Linear/Conv layer whose output goes straight into a BatchNorm,
LayerNorm or GroupNorm, the scale-invariance identity and the effective learning rate.

The normalized output does not change when the layer's weight and bias are scaled together,
:math:`L(aW, ab) = L(W, b)`; differentiating at :math:`a = 1` gives

.. math:: \langle W, \nabla_W L\rangle + \langle b, \nabla_b L\rangle = 0

(for BatchNorm in training mode :math:`\nabla_b L = 0` and the identity holds for every output channel).
With :math:`\epsilon > 0` in the denominator the invariance is exact only up to a relative term of
about :math:`\epsilon/(\sigma^2 + \epsilon)`, :math:`\sigma^2` the normalized channel's variance. A step
sees the effective rate :math:`\eta/\lVert W\rVert^2`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from nbcode.checkup._objective import Objective
from nbcode.checkup._rates import _group_lr, groups_note, largest_lr
from nbcode.checkup.quantity import BOOK, Quantity

__all__ = ["NormResult", "normalization"]

_NORMS = (nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm)
_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


@dataclass
class NormResult:
    quantities: list[Quantity] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)


def _pairs(obj: Objective) -> tuple[list[tuple[str, str]], dict[str, float]]:
    """(layer, norm) pairs where the norm's input is the layer's output, and each norm's smallest
    normalized variance, from one forward pass of the first batch."""
    names = {m: n for n, m in obj.model.named_modules()}
    producer: dict[int, str] = {}
    alive: list[torch.Tensor] = []  # keeps every output alive, so no address is reused in the pass
    pairs: list[tuple[str, str]] = []
    var_min: dict[str, float] = {}
    handles = []

    def hook(module: nn.Module, inputs: Any, out: Any) -> None:
        name = names[module]
        if isinstance(module, _NORMS) and inputs and isinstance(inputs[0], torch.Tensor):
            x = inputs[0].detach().double()
            src = producer.get(int(x.data_ptr()))
            if src is not None:
                pairs.append((src, name))
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                dims = [d for d in range(x.ndim) if d != 1]
                v = x.var(dim=dims, unbiased=False)
            elif isinstance(module, nn.LayerNorm):
                k = len(module.normalized_shape)
                v = x.reshape(*x.shape[: x.ndim - k], -1).var(dim=-1, unbiased=False)
            else:
                v = x.reshape(x.shape[0], module.num_groups, -1).var(dim=-1, unbiased=False)
            var_min[name] = min(var_min.get(name, math.inf), float(v.min()))
        if isinstance(out, torch.Tensor):
            producer[int(out.data_ptr())] = name
            alive.append(out)

    for m in obj.model.modules():
        if isinstance(m, _NORMS + _LAYERS):
            handles.append(m.register_forward_hook(hook))
    try:
        with torch.no_grad():
            obj.output(obj.params(), obj.chunks[0].inputs)
    finally:
        for h in handles:
            h.remove()
        alive.clear()
    obj.cost.forward += obj.chunks[0].n / obj.n
    return pairs, var_min


def normalization(obj: Objective, grads: list[torch.Tensor], optimizer: Any) -> NormResult:
    res = NormResult()
    pairs, var_min = _pairs(obj)
    if not pairs:
        res.quantities.append(Quantity("norm.identity", "⟨W, ∇_W L⟩ = 0 for weights followed by a normalization",
                                       verdict="not applicable", link=BOOK["bn"],
                                       note="No Linear/Conv layer feeds a BatchNorm, LayerNorm or GroupNorm directly."))
        return res
    modules = dict(obj.model.named_modules())
    index = {n: i for i, n in enumerate(obj.names)}
    lr = largest_lr(optimizer) if optimizer is not None else math.nan
    group_lr = {id(p): _group_lr(g) for g in (optimizer.param_groups if optimizer is not None else []) for p in g["params"]}
    tiny = 100 * torch.finfo(obj.dtype).eps
    worst = 0.0
    tol_all = 0.0
    for layer, norm in pairs:
        wname, bname = f"{layer}.weight", f"{layer}.bias"
        if wname not in index:
            continue
        W, gW = obj.theta[index[wname]].double(), grads[index[wname]].double()
        inner = float((W * gW).sum())
        scale = float(W.norm() * gW.norm())
        if bname in index:
            b, gb = obj.theta[index[bname]].double(), grads[index[bname]].double()
            inner += float((b * gb).sum())
            scale += float(b.norm() * gb.norm())
        rel = abs(inner) / scale if scale > 0 else 0.0
        nm = modules[norm]
        eps = float(getattr(nm, "eps", 0.0))
        vmin = var_min.get(norm, math.inf)
        tol = tiny + (3 * eps / (vmin + eps) if eps > 0 and math.isfinite(vmin) else 0.0)
        per_channel = math.nan
        if isinstance(nm, nn.modules.batchnorm._BatchNorm) and W.shape[0] > 1:
            rows = (W * gW).reshape(W.shape[0], -1).sum(dim=1).abs()
            den = W.reshape(W.shape[0], -1).norm(dim=1) * gW.reshape(W.shape[0], -1).norm(dim=1)
            per_channel = float((rows / den.clamp(min=1e-300)).max())
        sqn = float((W * W).sum())
        lr_layer = group_lr.get(id(getattr(modules[layer], "weight", None)), lr)
        row = {"layer": layer, "norm": f"{norm} ({type(nm).__name__})", "inner": inner, "relative_inner": rel, "tolerance": tol,
               "per_channel_max": per_channel, "weight_norm_sq": sqn, "effective_lr": lr_layer / sqn if math.isfinite(lr_layer) else math.nan,
               "holds": rel <= tol}
        res.rows.append(row)
        worst = max(worst, rel)
        tol_all = max(tol_all, tol)
    q = Quantity("norm.identity", "|⟨W, ∇_W L⟩ + ⟨b, ∇_b L⟩| / (‖W‖‖∇_W L‖ + ‖b‖‖∇_b L‖), largest over the layers",
                 value=worst, prediction=0.0, link=BOOK["bn"])
    q.prediction_text = f"0 (scale invariance), up to ε/(σ² + ε) and round-off: ≤ {tol_all:.2g}"
    q.assumptions = "normalization layers in training mode (batch statistics), as in training"
    q.verdict = "consistent" if worst <= tol_all else "differs"
    q.note = ("The gradient is orthogonal to the weights, so steps only grow ‖W‖ and the effective rate η/‖W‖² falls "
              "as training goes on." if q.verdict == "consistent" else
              "The identity fails: something between the layer and the normalization breaks the scale invariance.")
    res.quantities.append(q)
    if math.isfinite(lr):
        effs = [r["effective_lr"] for r in res.rows]
        spread = groups_note(optimizer)
        q2 = Quantity("norm.effective_lr", "effective learning rate η/‖W‖² " + ("(η of each layer's parameter group)" if spread
                      else f"(η = {lr:g})"), value=min(effs), link=BOOK["bn"],
                      note=f"From {min(effs):.3g} to {max(effs):.3g} over the {len(effs)} normalized layers."
                      + (" The parameter groups have different η; each layer's is its group's." if spread else ""))
        q2.extra = {"per_layer": {r['layer']: r['effective_lr'] for r in res.rows}}
        res.quantities.append(q2)
    return res
