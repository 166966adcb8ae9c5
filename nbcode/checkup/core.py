"""``checkup(model, loader, loss_fn, optimizer=None, budget="fast")``: every chapter of the book applied
to the reader's own network, each reading next to the book's prediction."""

from __future__ import annotations

import math
import os
import time
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from nbcode import _validate as V
from nbcode.checkup._curvature import curvature
from nbcode.checkup._data import as_batches, check_batches
from nbcode.checkup._guard import objective_modes, preserved
from nbcode.checkup._init import initialization
from nbcode.checkup._noise import noise
from nbcode.checkup._norm import normalization
from nbcode.checkup._objective import Objective
from nbcode.checkup._rates import largest_lr, rates
from nbcode.checkup.quantity import Cost, fmt
from nbcode.checkup.report import Figure, Report, Section, png

__all__ = ["checkup", "BUDGETS", "SECTIONS"]

#: The sections of a checkup, in order (the learning-rate section needs the curvature).
SECTIONS = ("initialization", "curvature", "rate", "noise", "normalization")

#: What each budget spends. ``lanczos_tol`` is the relative residual at which Lanczos stops.
BUDGETS: dict[str, dict[str, Any]] = {
    "fast": {"lanczos_tol": 1e-3, "lanczos_max": 20, "lanczos_min_max": 10, "hutchinson": 10, "slq": None,
             "range_steps": 60, "noise_draws": 24, "spread_batches": 8},
    "full": {"lanczos_tol": 1e-5, "lanczos_max": 40, "lanczos_min_max": 30, "hutchinson": 30, "slq": (30, 2),
             "range_steps": 150, "noise_draws": 40, "spread_batches": 32},
}


def progress_enabled(progress: bool | None) -> bool:
    if progress is not None:
        return bool(progress)
    return os.environ.get("TQDM_DISABLE", "").strip().lower() not in ("1", "true", "yes")


def _check_optimizer(optimizer: Any, model: nn.Module) -> None:
    if optimizer is None:
        return
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"Invalid optimizer: {V.show(optimizer)} (need a torch.optim.Optimizer or None)")
    mine = {id(p) for p in model.parameters()}
    if not any(id(p) in mine for g in optimizer.param_groups for p in g["params"]):
        raise ValueError("Invalid optimizer: none of its parameters belong to the model")


def checkup(model: nn.Module, loader: Any, loss_fn: Callable[..., torch.Tensor], optimizer: Any = None,
            budget: str = "fast", *, batch_fn: Callable[[Any], Any] | None = None, seed: int = 0,
            progress: bool | None = None, sections: Sequence[str] | None = None) -> Report:
    """Apply every chapter of the book to ``model`` on the data of ``loader``.

    Parameters
    ----------
    model : torch.nn.Module
        Any model, on any device. It is left exactly as it was: parameters, buffers (BatchNorm's
        running statistics), ``requires_grad``, ``.grad``, train/eval modes.
    loader : iterable of batches
        A ``DataLoader`` or any iterable, iterated once: ``(x, y)`` pairs, dicts (with ``batch_fn``)
        or tensors (inputs without targets). See :mod:`nbcode.checkup._data`.
    loss_fn : callable
        ``loss_fn(output, targets)``, the mean loss over a batch (e.g. ``F.cross_entropy``).
    optimizer : torch.optim.Optimizer, optional
        Its kind and hyper-parameters set the stability limits (SGD with or without momentum or
        Nesterov, Adam, AdamW), those of its parameter group with the largest learning rate (no
        group steps further, so "stable" holds for all); its state is left unchanged. An optimizer
        whose step needs a closure (LBFGS) gets no range test.
    budget : {"fast", "full"}
        ``"full"`` adds the spectral density and tightens every estimate (see :data:`BUDGETS`).
    batch_fn : callable, optional
        Maps a batch to ``(inputs, targets)``.
    seed : int
        Seeds the random probes and batch draws (the global generators are not used or changed).
    progress : bool, optional
        A tqdm bar over the passes (default: on unless ``TQDM_DISABLE=1``).
    sections : sequence of str, optional
        Run only these of :data:`SECTIONS` (default: all); ``"rate"`` brings ``"curvature"`` along.

    Returns
    -------
    Report
        One section per chapter; ``report["curvature.lambda_max"]`` is one :class:`Quantity`;
        ``report.to_dict()``, ``report.save_html(path)``.

    Notes
    -----
    The loss is the one training minimizes, :math:`L(w) = \\sum_b (n_b/n)\\,\\ell_b(w)` over the
    loader's batches, with normalization layers in training mode and dropout off.

    Examples
    --------
    >>> torch.manual_seed(0) and None
    >>> net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3)).double()
    >>> data = [(torch.randn(16, 4, dtype=torch.float64), torch.randint(0, 3, (16,))) for _ in range(4)]
    >>> report = checkup(net, data, nn.functional.cross_entropy, progress=False)
    >>> report["curvature.lambda_max"].value > 0, report["init.loss"].verdict
    (True, 'consistent')
    """
    V.module(model, "model")
    V.function(loss_fn, "loss_fn")
    V.choice(budget, "budget", list(BUDGETS))
    V.count(seed, "seed")
    V.optional(V.flag, progress, "progress")
    _check_optimizer(optimizer, model)
    if sections is None:
        wanted = set(SECTIONS)
    else:
        if isinstance(sections, str):
            raise TypeError(f"Invalid sections: {sections!r} (need a list of names, e.g. [{sections!r}])")
        wanted = {V.choice(s, "section", list(SECTIONS)) for s in sections}
        if "rate" in wanted:
            wanted.add("curvature")
    settings = BUDGETS[budget]
    param = next(model.parameters())
    device = param.device
    cost = Cost()
    parts: list[Section] = []
    messages: list[str] = []
    bar = tqdm(desc="checkup", unit="pass", leave=False, disable=not progress_enabled(progress))

    def tick(what: str) -> None:
        bar.set_postfix_str(what, refresh=False)
        bar.update(1)

    t0 = time.perf_counter()
    try:
        # NumPy's BLAS on one thread: the vectors of Lanczos are long but the operations are
        # level-1, where waking threads costs more than it saves (and one thread sums in one order)
        with preserved(model, optimizer), objective_modes(model), threadpool_limits(limits=1, user_api="blas"):
            batches = as_batches(loader, batch_fn, device)
            check_batches(model, batches, loss_fn)
            obj = Objective(model, batches, loss_fn, cost)

            def timed(section: Section, start: Cost, t: float) -> None:
                section.cost = cost - start
                section.cost.seconds = time.perf_counter() - t

            # 1. initialization
            s1, c, t = Section("initialization", "Initialization: the loss at the start, variance through depth"), cost.copy(), time.perf_counter()
            init = initialization(obj, tick)
            s1.quantities = init.quantities
            s1.quantities[0].cost = cost - c
            _layer_table(s1, init)
            timed(s1, c, t)
            parts.append(s1)
            finite_loss = math.isfinite(init.loss0)
            if not finite_loss:
                messages.append(f"The loss at initialization is not finite ({init.loss0}): curvature, learning rate, noise and "
                                "normalization need a finite loss and are skipped; the per-layer variances show where it breaks.")
            # 2. curvature
            s2, c, t = Section("curvature", "Curvature: the Hessian over all of the data"), cost.copy(), time.perf_counter()
            curv = None
            if finite_loss and "curvature" in wanted:
                curv = curvature(obj, settings, tick, seed=seed)
                s2.quantities = curv.quantities
                s2.figures.append(_curvature_figure(curv))
            else:
                s2.skipped = "the loss is not finite"
            timed(s2, c, t)
            parts.append(s2)
            # 3. learning rate
            s3, c, t = Section("rate", "Learning rate: the stability limit and a range test"), cost.copy(), time.perf_counter()
            if curv is not None and "rate" in wanted:
                rr = rates(obj, curv.lam_max, curv.lam_max_bound, optimizer, settings, tick, seed=seed)
                s3.quantities = rr.quantities
                fig = _range_figure(rr, optimizer)
                if fig is not None:
                    s3.figures.append(fig)
            else:
                s3.skipped = "the loss is not finite"
            timed(s3, c, t)
            parts.append(s3)
            # 4. noise, and the full gradient shared with 5.
            s4, c, t = Section("noise", "Noise and batch size"), cost.copy(), time.perf_counter()
            grads = None
            if finite_loss and wanted & {"noise", "normalization"}:
                _, grads = obj.gradient()
            if grads is not None and "noise" in wanted:
                nz = noise(obj, grads, optimizer, settings, tick, seed=seed)
                s4.quantities = nz.quantities
                if nz.sizes:
                    s4.figures.append(_noise_figure(nz))
            else:
                s4.skipped = "the loss is not finite"
            timed(s4, c, t)
            parts.append(s4)
            # 5. normalization
            s5, c, t = Section("normalization", "Normalization: scale invariance and the effective learning rate"), cost.copy(), time.perf_counter()
            if grads is not None and "normalization" in wanted:
                nr = normalization(obj, grads, optimizer)
                s5.quantities = nr.quantities
                s5.rows = nr.rows
                if nr.rows:
                    s5.table = (["layer", "normalization", "|⟨W,∇W⟩ + ⟨b,∇b⟩| (relative)", "bound", "per channel (max)", "‖W‖²", "η/‖W‖²"],
                                [[r["layer"], r["norm"], fmt(r["relative_inner"], 2), fmt(r["tolerance"], 2),
                                  fmt(r["per_channel_max"], 2), fmt(r["weight_norm_sq"]), fmt(r["effective_lr"])] for r in nr.rows])
            else:
                s5.skipped = "the loss is not finite"
            timed(s5, c, t)
            parts.append(s5)
    finally:
        bar.close()
    n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    summary = {"model": type(model).__name__, "parameters": int(n_params), "rows": int(batches.n), "batches": len(batches),
               "budget": budget, "optimizer": None if optimizer is None else type(optimizer).__name__,
               "device": str(device), "dtype": str(param.dtype), "seconds": time.perf_counter() - t0,
               "merged_batches": len(obj.chunks) != len(batches)}
    keep = [p for p in parts if p.key in wanted]
    return Report(f"Checkup of {type(model).__name__}", summary, keep, messages)


def _layer_table(sec: Section, init: Any) -> None:
    if not init.layers:
        sec.notes.append("No Linear or Conv2d layer was called as a module: no per-layer prediction.")
        return

    def band(b: tuple[float, float] | None) -> str:
        return "–" if b is None else f"[{fmt(b[0], 2)}, {fmt(b[1], 2)}]"

    head = ["layer", "kind", "n_in → n_out", "then", "E[z²] measured", "predicted through depth", "predicted from its input",
            "verdict", "Var(δ) measured", "Var(δ) predicted", "dead (ReLU)", "saturated"]
    rows = []
    for r in init.layers:
        rows.append([r.name, r.kind, f"{r.n_in} → {r.n_out}", r.act_after or "–", fmt(r.var_z),
                     f"{fmt(r.chain)} {band(r.chain_band)}" if r.chain is not None else "no prediction",
                     f"{fmt(r.local)} {band(r.local_band)}" if r.local is not None else "no prediction",
                     "§:" + r.verdict, fmt(r.var_delta),
                     f"{fmt(r.chain_delta)} {band(r.chain_delta_band)}" if r.chain_delta is not None else "–",
                     r.dead or "–", r.saturated or "–"])
        sec.rows.append(r.to_dict())
    sec.table = (head, rows)
    sec.table_caption = ("Per Linear/Conv2d layer z = Wh + b: the second moment E[z²] over all of the data against "
                         "n_in Var(W) E[h²] + E[b²], propagated through depth along Linear → activation → Linear paths, "
                         "or from the measured input E[h²]; brackets: the 95% band of a finite layer (random-walk "
                         "spread of the log-variance). Var(δ) is the mean square of ∂L/∂z, propagated down from the "
                         "layer above.")
    if len(init.layers) >= 2:
        sec.figures.append(Figure(lambda: _variance_png(init), "Per-layer variances: measured points and the predicted band",
                                  "Per layer: measured second moments (points) against the variance-propagation prediction and its 95% band."))


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False) if matplotlib.get_backend().lower() == "" else None
    import matplotlib.pyplot as plt

    return plt


def _variance_png(init: Any) -> bytes:
    plt = _plt()
    rows = init.layers
    fig, axes = plt.subplots(1, 2, figsize=(8.4, 2.8))
    x = np.arange(len(rows))
    for ax, meas, pred, band, title in (
            (axes[0], [r.var_z for r in rows], [r.chain if r.chain is not None else r.local for r in rows],
             [r.chain_band if r.chain is not None else r.local_band for r in rows], "forward E[z²]"),
            (axes[1], [r.var_delta for r in rows], [r.chain_delta for r in rows], [r.chain_delta_band for r in rows], "backward Var(δ)")):
        px = [i for i, p in enumerate(pred) if p is not None and band[i] is not None]
        if px:
            lo = [band[i][0] for i in px]
            hi = [band[i][1] for i in px]
            ax.fill_between(px, lo, hi, color="#9ecae1", alpha=0.6, label="prediction, 95% band")
            ax.plot(px, [pred[i] for i in px], color="#3182bd", lw=1.2)
        ax.plot(x, meas, "o", color="#e6550d", ms=4, label="measured")
        ax.set(yscale="log", xlabel="layer (Linear/Conv, in order)", title=title)
        ax.set_xticks(x)
        ax.set_xticklabels([str(i + 1) for i in x], fontsize=7)
    axes[0].legend(fontsize=7)
    return png(fig)


def _curvature_figure(curv: Any) -> Figure:
    return Figure(lambda: _curvature_png(curv), "Lanczos estimates of the top Hessian eigenvalue against the number of products",
                  "The top eigenvalue's Lanczos estimate after each Hessian-vector product; the band is the residual bound."
                  + (" Right: the spectral density by stochastic Lanczos quadrature." if curv.density is not None else ""))


def _curvature_png(curv: Any) -> bytes:
    plt = _plt()
    if curv.density is not None:
        fig, axes = plt.subplots(1, 2, figsize=(8.4, 2.6))
    else:
        fig, ax0 = plt.subplots(1, 1, figsize=(4.4, 2.6))
        axes = [ax0]
    h = np.array(curv.history)
    axes[0].plot(np.arange(1, h.size + 1), h, "o-", ms=3, color="#3182bd")
    axes[0].axhspan(curv.lam_max - curv.lam_max_bound, curv.lam_max + curv.lam_max_bound, color="#e6550d", alpha=0.25)
    axes[0].set(xlabel="Hessian-vector products", ylabel="Lanczos estimate of λ_max", title="λ_max by Lanczos")
    if curv.density is not None:
        grid, dens = curv.density
        axes[1].plot(grid, dens + 1e-6, color="#3182bd")
        axes[1].set(yscale="log", xlabel="eigenvalue", title="spectral density (SLQ)")
    return png(fig)


def _range_figure(rr: Any, optimizer: Any) -> Figure | None:
    q = next((q for q in rr.quantities if q.key == "rate.range_test"), None)
    if q is None or "lrs" not in q.extra:
        return None
    return Figure(lambda: _range_png(rr, q, optimizer),
                  "Range test: training loss against a growing learning rate, with the predicted stable limit",
                  "Range test on copies of the model and optimizer: the loss against the learning rate; dashed: the stable limit from λ_max.")


def _range_png(rr: Any, q: Any, optimizer: Any) -> bytes:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.2, 2.8))
    lrs, losses, sm = q.extra["lrs"], q.extra["losses"], q.extra["smoothed"]
    ax.plot(lrs, losses, color="#3182bd", alpha=0.35, lw=0.8, label="mini-batch loss")
    ax.plot(lrs, sm, color="#3182bd", label="smoothed")
    ax.axvline(rr.eta_star, color="#e6550d", ls="--", label="predicted stable limit η*")
    if optimizer is not None:
        ax.axvline(largest_lr(optimizer), color="#31a354", ls=":", label="optimizer's η")
    ax.set(xscale="log", xlabel="learning rate η (grows every step)", ylabel="training loss", title="range test")
    top = np.nanmax(sm[: max(1, len(sm) // 2)]) if len(sm) else 1.0
    ax.set_ylim(0, 1.6 * top if np.isfinite(top) and top > 0 else None)
    ax.legend(fontsize=7)
    return png(fig)


def _noise_figure(nz: Any) -> Figure:
    return Figure(lambda: _noise_png(nz), "Mini-batch gradient variance against batch size, with the 1/B prediction",
                  "Mean squared deviation of mini-batch gradients from the full gradient at three batch sizes, against tr Σ/B.")


def _noise_png(nz: Any) -> bytes:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.4, 2.6))
    Bs = np.array(nz.sizes, dtype=float)
    m = np.array([v for v, _ in nz.measured])
    e = np.array([s for _, s in nz.measured])
    line = np.geomspace(Bs.min() / 1.5, Bs.max() * 1.5, 50)
    ax.plot(line, nz.trace_sigma / line, color="#3182bd", label="tr Σ / B")
    ax.errorbar(Bs, m, yerr=1.96 * e, fmt="o", color="#e6550d", ms=4, label="measured, 95%")
    ax.set(xscale="log", yscale="log", xlabel="batch size B", ylabel="E‖g_B − g‖²", title="gradient noise")
    ax.legend(fontsize=7)
    return png(fig)
