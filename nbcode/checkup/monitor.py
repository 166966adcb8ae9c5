r"""Section 6, during training: sharpness against the stability limit (the edge of stability), the
update-to-weight ratio of every parameter tensor, and the distribution of mini-batch gradient norms
with a clipping threshold.

Gradient descent at rate :math:`\eta` on a quadratic is stable iff :math:`\lambda_{\max} < 2/\eta`
(:math:`2(1+\beta)/\eta` with heavy-ball momentum; Adam's preconditioned sharpness against
:math:`(2 + 2\beta_1)/((1 - \beta_1)\eta)`). Cohen et al. (2021) found that full-batch training of
networks drives :math:`\lambda_{\max}` up to that limit and then hovers there: the edge of stability.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import torch
from threadpoolctl import threadpool_limits
from torch import nn

from nbcode import _validate as V
from nbcode.checkup._curvature import preconditioned_top, ritz_check
from nbcode.checkup._data import as_batches, check_batches
from nbcode.checkup._guard import objective_modes, preserved
from nbcode.checkup._objective import DataHessian, Objective
from nbcode.checkup._rates import adam_threshold, optimizer_kind, stable_lr
from nbcode.checkup.quantity import BOOK, Cost, Quantity, fmt
from nbcode.checkup.report import Figure, Report, Section, png
from nbcode.hessian import lanczos_topk

__all__ = ["Monitor"]


class Monitor:
    """Follow a training run: call it after any step or epoch (``monitor()``), or pass it as
    ``callback=monitor`` to :func:`nbcode.train.fit` (it never stops training).

    Each call measures, at the current weights and without changing anything:
    :math:`\\lambda_{\\max}` over ``loader``'s data (Lanczos, with its residual bound) and the
    optimizer's stability limit for it; for Adam the preconditioned sharpness and its threshold; the
    ratio :math:`\\lVert w_t - w_{t-1}\\rVert / \\lVert w_{t-1}\\rVert` of every parameter tensor since the
    previous call; and the norms of the gradients of the loader's batches.

    Parameters
    ----------
    model, loader, loss_fn, optimizer : as for :func:`~nbcode.checkup.checkup` (the optimizer is needed).
    every : int
        Measure at calls 0, ``every``, ``2 every``, ... (e.g. every 10 steps).
    lanczos_tol : float
        Relative residual at which Lanczos stops (at most ``max_hvp`` products per call).
    batch_fn : callable, optional
    seed : int

    Examples
    --------
    >>> torch.manual_seed(0) and None
    >>> net = nn.Linear(3, 1).double()
    >>> X, y = torch.randn(32, 3, dtype=torch.float64), torch.randn(32, 1, dtype=torch.float64)
    >>> opt = torch.optim.SGD(net.parameters(), lr=0.1)
    >>> mon = Monitor(net, [(X, y)], nn.functional.mse_loss, opt)
    >>> mon(); _ = opt.zero_grad(); nn.functional.mse_loss(net(X), y).backward(); opt.step(); mon()
    >>> len(mon.records), mon.records[1]["sharpness"] < mon.records[1]["limit"]
    (2, True)
    """

    def __init__(self, model: nn.Module, loader: Any, loss_fn: Callable[..., torch.Tensor], optimizer: Any, *,
                 every: int = 1, lanczos_tol: float = 1e-3, max_hvp: int = 20, batch_fn: Callable[[Any], Any] | None = None,
                 seed: int = 0) -> None:
        V.module(model, "model")
        V.function(loss_fn, "loss_fn")
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"Invalid optimizer: {V.show(optimizer)} (need a torch.optim.Optimizer)")
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.tol = V.real(lanczos_tol, "lanczos_tol", low=0, low_open=True)
        self.max_hvp = V.count(max_hvp, "max_hvp", low=1)
        self.seed = V.count(seed, "seed")
        self.every = V.count(every, "every", low=1)
        self.calls = 0
        device = next(model.parameters()).device
        with preserved(model):
            self.batches = as_batches(loader, batch_fn, device)
            check_batches(model, self.batches, loss_fn)
        self.records: list[dict[str, Any]] = []
        self.cost = Cost()
        self._last: dict[str, torch.Tensor] | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        """Measure at the first call and every ``every`` calls after it (any arguments, e.g.
        ``fit``'s ``(epoch, history)``, are ignored; returns None, so training goes on)."""
        if self.calls % self.every == 0:
            self.measure()
        self.calls += 1
        return None

    def measure(self) -> dict[str, Any]:
        model, opt = self.model, self.optimizer
        kind, hp = optimizer_kind(opt)
        rec: dict[str, Any] = {"call": self.calls, "kind": kind, "lr": hp.get("lr", math.nan)}
        with preserved(model, opt), objective_modes(model), threadpool_limits(limits=1, user_api="blas"):
            obj = Objective(model, self.batches, self.loss_fn, self.cost)
            settings = {"lanczos_tol": self.tol, "lanczos_max": self.max_hvp}
            if kind == "adam":
                params = [p for p in model.parameters() if p.requires_grad]
                st = [opt.state.get(p, {}) for p in params]
                step = max((int(float(s["step"])) for s in st if "step" in s), default=0)
                if step > 0:
                    vhat = obj.flatten([s["exp_avg_sq"] / (1 - hp["beta2"] ** step) if "exp_avg_sq" in s else torch.zeros_like(p)
                                        for s, p in zip(st, params)])
                else:
                    _, g = obj.gradient()
                    vhat = obj.flatten(g) ** 2
                mu, r, _ = preconditioned_top(obj, np.sqrt(vhat) + hp["eps"], settings, lambda s: None, seed=self.seed)
                rec.update(sharpness=mu, bound=r, limit=adam_threshold(hp["lr"], hp["beta1"]), measure="λ_max(P⁻¹H)")
            else:
                top = lanczos_topk(DataHessian(obj), k=1, tol=self.tol, max_iter=min(self.max_hvp, obj.dim), seed=self.seed)
                lam = float(top.eigenvalues[0])
                r, _ = ritz_check(obj, top.eigenvectors[:, 0], lam)
                lr = hp.get("lr", math.nan)
                eff = "gd" if kind == "other" else kind
                # the limit on λ_max at this η: the rate formula solved for λ
                limit = stable_lr(1.0, eff, hp) / lr if lr > 0 else math.inf
                rec.update(sharpness=lam, bound=r, limit=limit, measure="λ_max(H)")
            norms = []
            for b in self.batches:
                _, g = obj.gradient([b])
                norms.append(float(np.linalg.norm(obj.flatten(g))))
            rec["grad_norms"] = norms
            rec["loss"] = obj.loss()
        now = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
        if self._last is not None:
            rec["update_ratio"] = {n: float((now[n] - self._last[n]).norm() / self._last[n].norm().clamp(min=1e-300)) for n in now}
        self._last = now
        self.records.append(rec)
        return rec

    # ------------------------------------------------------------------ report
    def clipping_threshold(self, percentile: float = 90.0) -> float:
        """The ``percentile`` of all mini-batch gradient norms seen so far: clipping there rescales
        about ``100 - percentile`` % of the steps (a heuristic, not a prediction)."""
        allv = [v for r in self.records for v in r["grad_norms"]]
        if not allv:
            raise ValueError("The monitor has no measurement yet: call it at least once")
        return float(np.percentile(allv, V.real(percentile, "percentile", low=0, high=100)))

    def report(self) -> Report:
        """The measurements as a :class:`Report` (one section, a table per call and a figure)."""
        if not self.records:
            raise ValueError("The monitor has no measurement yet: call it at least once")
        sec = Section("monitor", "During training: sharpness against the stability limit")
        last = self.records[-1]
        ratio = last["sharpness"] / last["limit"]
        q = Quantity("monitor.sharpness", f"{last['measure']} at the last call", value=last["sharpness"], error=last["bound"],
                     error_kind="residual bound", ci=(last["sharpness"] - last["bound"], last["sharpness"] + last["bound"]),
                     prediction=last["limit"], prediction_text=f"stability limit {fmt(last['limit'])} at η = {last['lr']:g}",
                     link=BOOK["eos"], cost=self.cost.copy())
        above = [r for r in self.records if r["sharpness"] - r["bound"] > r["limit"]]
        q.verdict = "warning" if above else "ok"
        q.note = (f"{ratio:.2g} × the limit now; above it at {len(above)} of {len(self.records)} calls "
                  "(the edge of stability: the loss keeps falling, not monotonically)." if above else
                  f"{ratio:.2g} × the limit now; below it at every call.")
        sec.quantities.append(q)
        thr = self.clipping_threshold(90)
        q2 = Quantity("monitor.clip", "clipping threshold: 90th percentile of mini-batch gradient norms", value=thr,
                      link=BOOK["clipping"], verdict="measured",
                      note=f"Median {np.median([v for r in self.records for v in r['grad_norms']]):.3g}; clipping by norm at "
                           f"{thr:.3g} would rescale about one step in ten.")
        sec.quantities.append(q2)
        if len(self.records) > 1:
            names = list(self.records[-1]["update_ratio"])
            head = ["call", "loss", last["measure"], "limit"] + [f"‖Δw‖/‖w‖ {n}" for n in names]
            rows = [[str(r["call"]), fmt(r["loss"]), fmt(r["sharpness"]), fmt(r["limit"])]
                    + [fmt(r.get("update_ratio", {}).get(n), 2) for n in names] for r in self.records]
            sec.table = (head, rows)
        sec.figures.append(Figure(self._png, "Sharpness against the stability limit, and gradient-norm percentiles, at each call",
                                  "Left: the top eigenvalue (or Adam's preconditioned one) at each call against its stability limit. "
                                  "Right: percentiles of the mini-batch gradient norms."))
        sec.cost = self.cost.copy()
        summary = {"parameters": sum(p.numel() for p in self.model.parameters() if p.requires_grad),
                   "rows": self.batches.n, "batches": len(self.batches), "budget": "monitor", "calls": len(self.records)}
        rep = Report(f"Monitor of {type(self.model).__name__}", summary, [sec])
        return rep

    def _png(self) -> bytes:
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 2, figsize=(8.4, 2.6))
        c = np.array([r["call"] for r in self.records])
        s = np.array([r["sharpness"] for r in self.records])
        lim = np.array([r["limit"] for r in self.records])
        axes[0].plot(c, s, "o-", ms=3, color="#3182bd", label=self.records[-1]["measure"])
        axes[0].plot(c, lim, "--", color="#e6550d", label="stability limit")
        axes[0].set(xlabel="call", title="sharpness and the limit")
        axes[0].legend(fontsize=7)
        q = np.array([np.percentile(r["grad_norms"], [10, 50, 90]) for r in self.records])
        axes[1].fill_between(c, q[:, 0], q[:, 2], color="#9ecae1", alpha=0.6, label="10–90%")
        axes[1].plot(c, q[:, 1], color="#3182bd", label="median")
        axes[1].set(xlabel="call", yscale="log", title="mini-batch gradient norms")
        axes[1].legend(fontsize=7)
        return png(fig)
