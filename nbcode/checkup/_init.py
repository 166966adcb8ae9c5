r"""Section 1, initialization: the loss at the start against :math:`\log K`, and per layer the forward
and backward variances against the chapter's variance propagation.

For a ``Linear`` or ``Conv2d`` layer :math:`z = Wh + b` with :math:`n_{\text{in}}` inputs per output, the
chapter's first formula, in expectation over i.i.d. zero-mean weights independent of the input, is

.. math:: \operatorname{E}[z^2] = n_{\text{in}}\operatorname{Var}(W)\,\operatorname{E}[h^2] + \operatorname{E}[b^2].

The *local* prediction puts in the measured :math:`\operatorname{E}[h^2]` of the layer's input; the
*chained* one, for a path Linear/Conv → known activation → Linear/Conv, propagates from the first
layer with :math:`\operatorname{E}[\phi(z)^2]` and :math:`\operatorname{E}[\phi'(z)^2]` of a Gaussian
:math:`z` (:func:`nbcode.init.predict_variance`). Backward,
:math:`\operatorname{Var}(\delta^{l-1}) = n_l\operatorname{Var}(W^l)\operatorname{E}[\phi'(z^{l-1})^2]\operatorname{Var}(\delta^l)`.

A finite layer fluctuates around the prediction. Given its input, the units of a layer are
independent over random weights (each has its own row :math:`w_i`), so the layer's mean square is an
average of :math:`n_{\text{out}}` independent per-unit mean squares :math:`m_i`, with relative standard
deviation :math:`s = \operatorname{sd}(m_i)/(\sqrt{n_{\text{out}}}\,\bar m)`, estimated from the units
themselves (the same for the activation that follows, and for the gradients going down).
Along a chain the log-variance adds these steps like a random walk, so the 95 % band is
:math:`\hat q\,e^{\pm 1.96\sqrt{\sum s_k^2}}`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from nbcode.checkup._objective import Objective
from nbcode.checkup.quantity import BOOK, Quantity
from nbcode.init import predict_variance

__all__ = ["LayerRow", "InitResult", "initialization"]

_WEIGHTED = (nn.Linear, nn.Conv2d)
_ACTS: dict[type, str] = {nn.ReLU: "relu", nn.Tanh: "tanh", nn.Sigmoid: "sigmoid", nn.Identity: "linear", nn.LeakyReLU: "leaky_relu"}
_SQUASH = (nn.Tanh, nn.Sigmoid, nn.Hardtanh, nn.Softsign)
_ZEROING = (nn.ReLU, nn.ReLU6)
Z95 = 1.959963984540054


def act_name(m: nn.Module) -> str | None:
    """The name :mod:`nbcode.init` uses for an activation module (None if it has no prediction)."""
    for cls, name in _ACTS.items():
        if type(m) is cls:
            if name == "leaky_relu" and not math.isclose(float(getattr(m, "negative_slope", 0.0)), 0.01):
                return None
            return name
    return None


def gaussian_moments(act: str, q: float) -> tuple[float, float]:
    r""":math:`(\operatorname{E}[\phi(z)^2], \operatorname{E}[\phi'(z)^2])` for :math:`z \sim \mathcal N(0, q)`, by
    :func:`nbcode.init.predict_variance` (a two-layer profile with unit weight variance).

    Examples
    --------
    >>> gaussian_moments("relu", 2.0)
    (1.0, 0.5)
    """
    pv = predict_variance(2, 1, init="lecun", act=act, scale=1.0, q0=float(q))
    return float(pv.forward[1]), float(pv.backward[0])


@dataclass
class _Acc:
    """Running sums over all rows of the data."""

    z2: float = 0.0
    zn: int = 0
    h2: float = 0.0
    hn: int = 0
    zu: torch.Tensor | None = None  # per-unit sums of squares of the output
    d2: float = 0.0
    dn: int = 0
    du: torch.Tensor | None = None  # per-unit sums of squares of the output's gradient
    input_from: str | None = None
    dphi2: float = 0.0
    dphin: int = 0
    zero: float = 0.0
    sat: float = 0.0
    n_el: int = 0
    unit_dead: torch.Tensor | None = None
    unit_sat: torch.Tensor | None = None
    hu: torch.Tensor | None = None  # activations: per-unit sums of squares
    patches_ok: bool = True


@dataclass
class LayerRow:
    """One Linear/Conv layer: measured second moments and the predictions with their 95 % bands."""

    name: str
    kind: str
    n_in: int
    n_out: int
    act_after: str | None
    var_z: float
    local: float | None = None
    local_band: tuple[float, float] | None = None
    chain: float | None = None
    chain_band: tuple[float, float] | None = None
    var_delta: float = math.nan
    chain_delta: float | None = None
    chain_delta_band: tuple[float, float] | None = None
    verdict: str = "no prediction"
    dead: str = ""
    saturated: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class InitResult:
    quantities: list[Quantity] = field(default_factory=list)
    layers: list[LayerRow] = field(default_factory=list)
    loss0: float = math.nan
    outputs_shape: tuple[int, ...] = ()
    classifier: bool = False


def _units(t: torch.Tensor, conv: bool) -> torch.Tensor:
    """Per-unit sums of squares (units: channels of a convolution, else the last axis)."""
    t2 = t.detach().double() ** 2
    if conv:
        return t2.transpose(0, 1).reshape(t2.shape[1], -1).sum(dim=1)
    return t2.reshape(-1, t2.shape[-1]).sum(dim=0)


def _rel_step(u: torch.Tensor | None) -> float | None:
    """Relative standard deviation of the mean over units of per-unit second moments ``u``: the
    fluctuation of one finite layer around the average over random weights."""
    if u is None or u.numel() < 2:
        return None
    m = float(u.mean())
    if not m > 0:
        return None
    return math.sqrt(float(u.var(unbiased=True)) / (u.numel() * m * m))


def _weight(m: nn.Module) -> torch.Tensor:
    w = getattr(m, "weight")
    assert isinstance(w, torch.Tensor)
    return w.detach().double()


def _band(q: float, var_log: float) -> tuple[float, float]:
    s = Z95 * math.sqrt(max(var_log, 0.0))
    return q * math.exp(-s), q * math.exp(s)


def _patches(m: nn.Conv2d, x: torch.Tensor) -> torch.Tensor | None:
    if isinstance(m.padding, str) or m.groups != 1 or m.padding_mode != "zeros":
        return None
    cols = nn.functional.unfold(x, m.kernel_size, dilation=m.dilation, padding=m.padding, stride=m.stride)
    return cols.transpose(1, 2).reshape(-1, cols.shape[1])


def initialization(obj: Objective, bar: Callable[[str], None]) -> InitResult:
    """One forward and backward pass over all of the data with hooks; see the module docstring."""
    model = obj.model
    res = InitResult()
    names = {m: n for n, m in model.named_modules()}
    acc: dict[str, _Acc] = {}
    producer: dict[int, str] = {}
    alive: list[torch.Tensor] = []  # outputs kept alive during a pass, so no address is reused
    handles = []
    kinds: dict[str, nn.Module] = {}

    def key(t: torch.Tensor) -> int:
        return int(t.data_ptr())

    def hook(module: nn.Module, inputs: Any, out: Any) -> None:
        name = names[module]
        if not isinstance(out, torch.Tensor):
            return
        a = acc.setdefault(name, _Acc())
        x = inputs[0] if inputs and isinstance(inputs[0], torch.Tensor) else None
        if x is not None:
            a.input_from = producer.get(key(x), "input" if a.input_from is None else a.input_from)
        if isinstance(module, _WEIGHTED) and x is not None:
            conv = isinstance(module, nn.Conv2d)
            zd = out.detach().double()
            a.z2 += float((zd * zd).sum())
            a.zn += zd.numel()
            zu = _units(out, conv)
            a.zu = zu if a.zu is None else a.zu + zu
            rows = _patches(module, x.detach()) if isinstance(module, nn.Conv2d) else x.detach()
            if rows is None:
                a.patches_ok = False
            else:
                rd = rows.double()
                a.h2 += float((rd * rd).sum())
                a.hn += rd.numel()
            if out.requires_grad:

                def grad_hook(g: torch.Tensor, a: _Acc = a, conv: bool = conv) -> None:
                    gd = g.detach().double()
                    a.d2 += float((gd * gd).sum())
                    a.dn += gd.numel()
                    du = _units(gd, conv)
                    a.du = du if a.du is None else a.du + du

                out.register_hook(grad_hook)
        act = act_name(module)
        if act is not None or isinstance(module, _SQUASH + _ZEROING):
            o = out.detach()
            unit_dim = 1 if (o.ndim == 4 or (o.ndim == 3 and isinstance(kinds.get(a.input_from or "", None), nn.Conv2d))) else -1
            unit_dim = unit_dim % o.ndim
            other = [d for d in range(o.ndim) if d != unit_dim]
            if isinstance(module, _ZEROING):
                bad = o == 0
            elif isinstance(module, nn.Sigmoid):
                bad = (o < 0.01) | (o > 0.99)
            elif isinstance(module, _SQUASH):
                bad = o.abs() > 0.99
            else:
                bad = None
            hu = _units(o, unit_dim == 1 and o.ndim > 2)
            a.hu = hu if a.hu is None else a.hu + hu
            if bad is not None:
                a.zero += float(bad.double().sum())
                a.n_el += bad.numel()
                all_bad = bad.all(dim=other[0]) if len(other) == 1 else bad.permute(unit_dim, *other).reshape(bad.shape[unit_dim], -1).all(dim=1)
                a.unit_dead = all_bad if a.unit_dead is None else (a.unit_dead & all_bad)
            if x is not None and act is not None:
                z = x.detach().double()
                if act == "relu":
                    d = (z > 0).double()
                elif act == "tanh":
                    d = 1 - torch.tanh(z) ** 2
                elif act == "sigmoid":
                    s = torch.sigmoid(z)
                    d = s * (1 - s)
                elif act == "leaky_relu":
                    d = torch.where(z > 0, 1.0, 0.01).double()
                else:
                    d = torch.ones_like(z)
                a.dphi2 += float((d * d).sum())
                a.dphin += d.numel()
        producer[key(out)] = name
        alive.append(out)
        kinds[name] = module

    for m in model.modules():
        if isinstance(m, _WEIGHTED + _SQUASH + _ZEROING) or act_name(m) is not None:
            handles.append(m.register_forward_hook(hook))
    outputs: list[torch.Tensor] = []
    targets: list[Any] = []
    total, ok_batches = 0.0, True
    try:
        p = obj.params(True)
        for b in obj.chunks:
            producer.clear()
            alive.clear()
            out = obj.output(p, b.inputs)
            loss = obj.loss_fn(out, b.targets).reshape(())
            if isinstance(out, torch.Tensor):
                outputs.append(out.detach())
                targets.append(b.targets)
            if torch.isfinite(loss):
                (loss * (b.n / obj.n)).backward()
            else:
                ok_batches = False
            total += b.n * float(loss.detach())
            bar("initialization")
    finally:
        for h in handles:
            h.remove()
        alive.clear()
    # the loss of every loader batch (its spread is the error bar of the loss)
    with torch.no_grad():
        pp = obj.params()
        per_batch = [(b.n, float(obj.batch_loss(pp, b))) for b in obj.batches]
    obj.cost.forward += 1.0
    obj.cost.forward += 1.0
    obj.cost.backward += 1.0
    res.loss0 = total / obj.n
    res.quantities.append(_loss_quantity(obj, outputs, targets, per_batch, res))
    res.layers = _rows(model, acc, kinds, ok_batches)
    dead = _dead_quantities(acc, kinds)
    res.quantities.extend(dead)
    return res


def _loss_quantity(obj: Objective, outputs: list[torch.Tensor], targets: list[Any], per_batch: list[tuple[int, float]],
                   res: InitResult) -> Quantity:
    L0 = res.loss0
    q = Quantity("init.loss", "loss at initialization", value=L0, link=BOOK["init_loss"])
    if not math.isfinite(L0):
        q.verdict = "warning"
        q.note = (f"The loss at initialization is {L0}: the output or the loss overflows before any step. "
                  "Look at the per-layer variances below: a layer whose variance explodes is the usual cause.")
        return q
    ns = np.array([n for n, _ in per_batch], dtype=float)
    ls = np.array([v for _, v in per_batch])
    if len(ls) >= 2:
        w = ns / ns.sum()
        mean = float(w @ ls)
        # standard error of a weighted mean of independent batch losses
        se = math.sqrt(float(np.sum(w * w * (ls - mean) ** 2)) * len(ls) / (len(ls) - 1))
        q.error, q.error_kind = se, "standard error across batches"
        q.ci = (L0 - Z95 * se, L0 + Z95 * se)
    out = outputs[0] if outputs else None
    y = targets[0] if targets else None
    if out is None or out.ndim < 2 or not isinstance(y, torch.Tensor) or torch.is_floating_point(y) or y.shape != out.shape[:-1]:
        q.verdict = "measured"
        q.assumptions = "no class dimension: the output's last axis does not match integer targets"
        q.note = "Not a classifier (integer targets, one logit per class): the log K rule does not apply."
        return q
    K = int(out.shape[-1])
    with torch.no_grad():
        uniform = float(obj.loss_fn(torch.zeros_like(out), y))
    if not math.isclose(uniform, math.log(K), rel_tol=1e-6):
        q.verdict = "measured"
        q.note = f"The loss of uniform logits is {uniform:.4g}, not log K = {math.log(K):.4g}: not a cross-entropy; no prediction."
        return q
    res.classifier = True
    allo = torch.cat([o.reshape(-1, K) for o in outputs]).double()
    s2 = float(allo.var(dim=1, unbiased=False).mean())
    ally = torch.cat([t.reshape(-1) for t in targets])
    counts = torch.bincount(ally.long().clamp(min=0), minlength=K).double()
    prior = counts / counts.sum()
    entropy = float(-(prior[prior > 0] * prior[prior > 0].log()).sum())
    q.prediction = math.log(K) + 0.5 * s2
    q.prediction_text = f"log K + ½ Var(logits) = {math.log(K):.3f} + ½·{s2:.3g}"
    q.assumptions = ("logits small (Var ≲ 1) and independent of the label; second-order expansion of "
                     "log Σ exp around equal logits (Var(logits) measured over the classes, averaged over rows)")
    q.extra = {"K": K, "log_K": math.log(K), "var_logits": s2, "prior_entropy": entropy}
    q.judge()
    if s2 > 1.0:  # outside the expansion's range: no verdict on it
        q.verdict = "measured"
    gap = L0 - math.log(K)
    if abs(gap) < 0.05 * math.log(K):
        q.note = f"Close to log K = {math.log(K):.3f}: the network starts by predicting nearly uniform classes."
    elif gap > 0:
        q.note = (f"{gap:.2g} above log K = {math.log(K):.3f}: the output logits have variance {s2:.2g}, so the network "
                  "starts confidently wrong; a smaller last layer (or the initialization chapter's rule) fixes it.")
    else:
        q.note = f"Below log K: the network already beats uniform guessing (the class-prior entropy is {entropy:.3f})."
    return q


def _rows(model: nn.Module, acc: dict[str, _Acc], kinds: dict[str, nn.Module], ok: bool) -> list[LayerRow]:
    rows: list[LayerRow] = []
    chain_q: dict[str, tuple[float, float]] = {}  # name -> (predicted E[z^2], accumulated var of log)
    order = [n for n in acc if isinstance(kinds.get(n), _WEIGHTED)]
    users: dict[str, str] = {}
    for n, a in acc.items():
        if a.input_from is not None:
            users.setdefault(a.input_from, n)
    for name in order:
        m = kinds[name]
        a = acc[name]
        W = _weight(m)
        s2 = float((W * W).mean())
        bias = getattr(m, "bias", None)
        b2 = float((bias.detach().double() ** 2).mean()) if isinstance(bias, torch.Tensor) else 0.0
        n_out = int(W.shape[0])
        n_in = int(W[0].numel())
        var_z = a.z2 / max(a.zn, 1)
        user = users.get(name)
        act = act_name(kinds[user]) if user is not None and user in kinds else None
        row = LayerRow(name, type(m).__name__, n_in, n_out, act, var_z)
        step = _rel_step(a.zu)
        if a.hn > 0 and a.patches_ok and math.isfinite(a.h2):
            Eh2 = a.h2 / a.hn
            row.local = n_in * s2 * Eh2 + b2
            if step is not None:
                row.local_band = _band(row.local, step * step)
        # chained prediction
        src = a.input_from
        start = None
        if src == "input":
            start = (n_in * s2 * (a.h2 / max(a.hn, 1)) + b2, (step or 0.0) ** 2) if a.patches_ok and a.hn else None
        elif src is not None and src in acc and act_name(kinds[src]) is not None:
            prev = acc[src].input_from
            if prev in chain_q and math.isfinite(chain_q[prev][0]):
                qprev, vprev = chain_q[prev]
                M, _ = gaussian_moments(act_name(kinds[src]) or "linear", qprev)
                sh = _rel_step(acc[src].hu) or 0.0
                start = (n_in * s2 * M + b2, vprev + sh * sh + (step or 0.0) ** 2)
        if start is not None and step is not None:
            chain_q[name] = start
            row.chain, row.chain_band = start[0], _band(start[0], start[1])
        row.var_delta = a.d2 / a.dn if a.dn else math.nan
        verdicts = []
        for pred, band in ((row.chain, row.chain_band), (row.local, row.local_band)):
            if pred is not None and band is not None:
                verdicts.append(band[0] <= var_z <= band[1])
        row.verdict = "no prediction" if not verdicts else ("consistent" if verdicts[0] else "differs")
        # activation statistics of the layer that follows
        if user is not None and user in acc and acc[user].n_el:
            u = acc[user]
            frac = u.zero / u.n_el
            units = int(u.unit_dead.sum()) if u.unit_dead is not None else 0
            total_units = int(u.unit_dead.numel()) if u.unit_dead is not None else 0
            text = f"{100 * frac:.0f}% of outputs, {units}/{total_units} units always"
            if isinstance(kinds[user], _ZEROING):
                row.dead = text
            else:
                row.saturated = text
        rows.append(row)
    # backward chain: from the last layer of each chain towards the first
    by_name = {r.name: r for r in rows}
    for name in reversed(order):
        r = by_name[name]
        a = acc[name]
        user = users.get(name)
        nxt = users.get(user) if user is not None else None
        if user is None or nxt is None or nxt not in by_name or act_name(kinds[user]) is None:
            continue
        up = by_name[nxt]
        mu = kinds[nxt]
        Wn = _weight(mu)
        s2n = float((Wn * Wn).mean())
        n_next = int(Wn.shape[0])
        base = up.chain_delta if up.chain_delta is not None else up.var_delta
        vlog = 0.0
        if up.chain_delta_band is not None and up.chain_delta is not None:
            vlog = (math.log(up.chain_delta_band[1] / up.chain_delta) / Z95) ** 2
        qz = r.chain if r.chain is not None else r.var_z
        if not (math.isfinite(qz) and qz >= 0):
            continue
        _, D = gaussian_moments(act_name(kinds[user]) or "linear", qz)
        stepb = _rel_step(a.du)
        if not math.isfinite(base) or stepb is None:
            continue
        # per output row of the delta: the loss-gradient of one unit sums over the n_next units it feeds
        pred = n_next * s2n * D * base
        if isinstance(mu, nn.Conv2d):
            pred *= float(np.prod(mu.kernel_size)) / max(1.0, float(np.prod(mu.stride)))
        r.chain_delta = pred
        r.chain_delta_band = _band(pred, vlog + stepb * stepb)
    return rows


def _dead_quantities(acc: dict[str, _Acc], kinds: dict[str, nn.Module]) -> list[Quantity]:
    out = []

    def stuck(kind: Any) -> tuple[int, int]:
        """(units stuck on every example, all units) over the activation modules of ``kind``."""
        masks = [a.unit_dead for n, a in acc.items() if a.unit_dead is not None and isinstance(kinds[n], kind)]
        return sum(int(m.sum()) for m in masks), sum(int(m.numel()) for m in masks)

    dead_units, all_units = stuck(_ZEROING)
    sat_units, sat_all = stuck(_SQUASH)
    q = Quantity("init.dead_units", "ReLU units that are zero on every example", link=BOOK["saturation"])
    if all_units:
        q.value = float(dead_units)
        q.verdict = "warning" if dead_units > 0.1 * all_units else "ok"
        q.note = f"{dead_units} of {all_units} ReLU units output 0 on all of the data (they get no gradient)."
    else:
        q.verdict, q.note = "not applicable", "No ReLU module in the model."
    out.append(q)
    q = Quantity("init.saturated_units", "tanh/sigmoid units saturated on every example", link=BOOK["saturation"])
    if sat_all:
        q.value = float(sat_units)
        q.verdict = "warning" if sat_units > 0.1 * sat_all else "ok"
        q.note = f"{sat_units} of {sat_all} squashing units sit at |h| > 0.99 (tanh) or outside [0.01, 0.99] (sigmoid) on all of the data."
    else:
        q.verdict, q.note = "not applicable", "No tanh or sigmoid module in the model."
    out.append(q)
    return out
