"""The experiments of the chapter "Optimizers" (``book/optimizers.ipynb``).

* the optimizer race: every optimizer of :mod:`nbcode.optim` on five surfaces of
  :data:`nbcode.surfaces.SURFACES` (:func:`race`, :func:`race_table`), how fast each leaves
  the saddle (:func:`saddle_escape`);
* Reddi et al.'s online problem, on which Adam does not converge and AMSGrad does
  (:func:`online_counterexample`);
* a fair comparison on a real network: one MLP on the digits trained by each optimizer of
  :data:`TUNING_GRID` at every learning rate of its grid and several seeds, with a cosine
  schedule — the book's NumPy optimizers stepping the torch model through
  :class:`nbcode.train.NumpyOptimizer` (:func:`tuned_comparison`);
* AdamW against Adam + L2 on the same network (:func:`decoupled_decay`);
* the batch-size study: plain SGD at several batch sizes to the same training loss, with the
  sharpness of each solution (:func:`batch_size_study`), and the gradient-noise scale
  :math:`B_{\\text{simple}}` along the way (:func:`gradient_noise_scale`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, grad, vmap

from nbcode import _validate as v
from nbcode.data import load_digits
from nbcode.experiments._checks import counts, inputs_targets, reals
from nbcode.hessian import HessianOperator, sharpness
from nbcode.optim import Optimizer, Schedule, adadelta, adagrad, adam, adamw, minimize_lbfgs, newton, rmsprop, rprop, run, sgd
from nbcode.schedules import cosine_annealing_lr
from nbcode.surfaces import Surface, escape_steps, get_surface
from nbcode.train import History, NumpyOptimizer, fit, mlp

__all__ = [
    "RACE_SURFACES", "RACERS", "BASE_LR", "race_optimizer", "race", "race_table", "saddle_escape",
    "online_counterexample", "TUNING_GRID", "TunedComparison", "tuned_comparison", "DecayComparison", "decoupled_decay",
    "NoiseScale", "gradient_noise_scale", "BatchRun", "batch_size_study",
]

# ---- the race on 2-D surfaces -----------------------------------------------------------------

#: The race's five surfaces, by the name its table and figure show, from the registry
#: :data:`nbcode.surfaces.SURFACES` (each with its start point ``w0`` and its minima). Beale's
#: window is widened so that the start (1, 1.5) and the racers' detours fit in the figure. The
#: "aligned valley" is the "long valley" turned onto the axes (start point turned with it).
RACE_SURFACES: dict[str, Surface] = {
    "Beale": replace(get_surface("beale"), box=(-1.0, 4.5, -1.5, 2.5)),
    "long valley": get_surface("long valley"),
    "aligned valley": get_surface("aligned valley"),
    "saddle": get_surface("double well"),
    "Rosenbrock": get_surface("rosenbrock"),
}

#: The racers, in legend order. Newton (step 1) and L-BFGS (with a backtracking line search)
#: have no learning rate to tune; the others use ``BASE_LR[surface][name] * lr_scale``.
RACERS: tuple[str, ...] = ("SGD", "momentum", "Nesterov", "AdaGrad", "RMSprop", "Adadelta", "Adam", "Rprop", "Newton", "L-BFGS")

_VALLEY_LR = {"SGD": 0.15, "momentum": 0.05, "Nesterov": 0.05, "AdaGrad": 1.0, "RMSprop": 0.05, "Adadelta": 10.0, "Adam": 0.3,
              "Rprop": 0.1}

#: Hand-picked learning rates (rounded from a coarse search over 200 steps) for each surface; the
#: two valleys share theirs (they are the same function, turned). Adadelta's ``lr`` multiplies
#: its step (PyTorch's default is 1, Zeiler's method): 10 on every surface.
BASE_LR: dict[str, dict[str, float]] = {
    "Beale": {"SGD": 0.01, "momentum": 0.002, "Nesterov": 0.002, "AdaGrad": 0.5, "RMSprop": 0.05, "Adadelta": 10.0, "Adam": 0.1,
              "Rprop": 0.01},
    "long valley": dict(_VALLEY_LR),
    "aligned valley": dict(_VALLEY_LR),
    "saddle": {"SGD": 0.1, "momentum": 0.05, "Nesterov": 0.05, "AdaGrad": 0.3, "RMSprop": 0.02, "Adadelta": 10.0, "Adam": 0.05,
               "Rprop": 0.01},
    "Rosenbrock": {"SGD": 0.002, "momentum": 0.001, "Nesterov": 0.001, "AdaGrad": 0.5, "RMSprop": 0.01, "Adadelta": 10.0,
                   "Adam": 0.1, "Rprop": 0.05},
}

#: A run that leaves the ball of this radius has diverged (the race's figure shows far less).
RACE_MAX_NORM = 1e3


def race_optimizer(name: str, surface: Surface, lr: float) -> Optimizer:
    """The optimizer ``name`` of :data:`RACERS` (not L-BFGS, which runs its own loop) with learning rate ``lr``.

    Examples
    --------
    >>> race_optimizer("Adam", RACE_SURFACES["saddle"], 0.1).init(np.zeros(2)).step
    0
    """
    makers = {
        "SGD": lambda: sgd(lr=lr),
        "momentum": lambda: sgd(lr=lr, momentum=0.9),
        "Nesterov": lambda: sgd(lr=lr, momentum=0.9, nesterov=True),
        "AdaGrad": lambda: adagrad(lr=lr),
        "RMSprop": lambda: rmsprop(lr=lr, alpha=0.9),
        "Adadelta": lambda: adadelta(lr=lr),
        "Adam": lambda: adam(lr=lr),
        "Rprop": lambda: rprop(lr=lr),
        "Newton": lambda: newton(surface.hess),
    }
    v.choice(name, "optimizer name", list(makers))
    if not isinstance(surface, Surface):
        raise TypeError(f"Invalid surface: {v.show(surface)} (need an nbcode.surfaces.Surface)")
    lr = v.real(lr, "learning rate", low=0, low_open=True, symbol="lr")
    return makers[name]()


def race(surface: str, lr_scale: float = 1.0, steps: int = 200, *, w0: tuple[float, float] | None = None) -> dict[str, np.ndarray]:
    """Trajectories ``(steps + 1, 2)`` of every racer on ``surface`` (NaN after a divergence),
    from the surface's start point or from ``w0``.

    Examples
    --------
    >>> paths = race("long valley", steps=50)
    >>> sorted(paths) == sorted(RACERS), paths["Newton"][1].round(12).tolist()
    (True, [0.0, 0.0])
    """
    v.choice(surface, "surface", list(RACE_SURFACES))
    lr_scale = v.real(lr_scale, "lr_scale", low=0, low_open=True)
    steps = v.count(steps, "steps")
    s = RACE_SURFACES[surface]
    if w0 is not None:
        s = replace(s, w0=tuple(float(c) for c in v.vector(w0, "w0", size=2)))
    assert s.w0 is not None
    out: dict[str, np.ndarray] = {}
    for name in RACERS:
        if name == "L-BFGS":
            # the line search may try points far out: the raw value and gradient give inf there
            # (and a shorter step) where the checked ones would refuse the point
            f = lambda w: float(s.value(np.asarray(w, dtype=float)))  # noqa: E731
            res = minimize_lbfgs(f, s.grad_fn, s.w0, history_size=10, max_iter=steps, tolerance_grad=1e-10)
            path = np.full((steps + 1, 2), np.nan)
            path[: len(res.path)] = res.path
            path[len(res.path) :] = res.path[-1]  # converged early: stays put
            out[name] = path
        else:
            lr = BASE_LR[surface].get(name, 1.0) * (lr_scale if name != "Newton" else 1.0)
            out[name] = run(race_optimizer(name, s, lr), s.grad, s.w0, steps, max_norm=RACE_MAX_NORM)
    return out


def race_table(steps: int = 200) -> dict[str, dict[str, float]]:
    """``table[surface][racer]`` = the loss after ``steps`` steps (NaN if the run diverged).

    Examples
    --------
    >>> t = race_table(steps=100)
    >>> t["long valley"]["Newton"] < 1e-20, abs(t["long valley"]["SGD"] / t["aligned valley"]["SGD"] - 1) < 1e-12
    (True, True)
    """
    table: dict[str, dict[str, float]] = {}
    for name, surface in RACE_SURFACES.items():
        paths = race(name, 1.0, steps)
        table[name] = {n: (surface(p[-1]) if np.all(np.isfinite(p[-1])) else float("nan")) for n, p in paths.items()}
    return table


def _digits64() -> dict[str, torch.Tensor]:
    """The digits split as float64 inputs and integer labels."""
    t = load_digits().as_tensors()
    return {k: (x.double() if torch.is_floating_point(x) else x) for k, x in t.items() if isinstance(x, torch.Tensor)}


# ---- lessons of the race -------------------------------------------------------------------------


def saddle_escape(paths: dict[str, np.ndarray], threshold: float = 0.5) -> dict[str, float]:
    """For each path on the race's saddle, the first step at which :math:`|w_2|` exceeds
    ``threshold`` (``inf`` if it never does): how fast each optimizer leaves the ridge
    :math:`w_2 = 0` towards a minimum :math:`(0, \\pm 1)`
    (:func:`nbcode.surfaces.escape_steps` on the second coordinate).

    Examples
    --------
    >>> saddle_escape({"a": np.array([[2.0, 1e-3], [1.0, 0.1], [0.5, 0.7]])})
    {'a': 2}
    """
    if not isinstance(paths, dict):
        raise TypeError(f"Invalid paths: {v.show(paths)} (need a dict name -> path)")
    threshold = v.real(threshold, "threshold", low=0, low_open=True)
    out: dict[str, float] = {}
    for name, p in paths.items():
        arr = v.array(p, f"path of {name}", ndim=2, finite=False)
        out[name] = escape_steps(arr[:, 1:2], [0.0], threshold)
    return out


def online_counterexample(opt: Optimizer, steps: int = 3000, *, C: float = 3.0, x0: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Reddi, Kale & Kumar's online problem on which Adam does not converge.

    On :math:`x \\in [-1, 1]` the losses are :math:`f_t(x) = Cx` when :math:`t \\bmod 3 = 1` and
    :math:`f_t(x) = -x` otherwise (:math:`t = 1, 2, \\dots`, :math:`C > 2`): over every three
    steps the sum is :math:`(C-2)x`, minimal at :math:`x = -1`. ``opt`` takes the step from the
    gradient :math:`f_t'`, and the iterate is projected back onto :math:`[-1, 1]`.

    Returns
    -------
    x : array of shape ``(steps + 1,)``, the iterates (``x[0] = x0``);
    regret : array of shape ``(steps,)``, the average regret
        :math:`R_T/T = \\frac1T\\sum_{t\\le T} \\big(f_t(x_t) - f_t(-1)\\big)`, which tends to 0 for a
        method that converges to the minimum and to a positive constant for one that does not.

    Examples
    --------
    >>> from nbcode.optim import sgd
    >>> x, regret = online_counterexample(sgd(lr=0.05), 300)
    >>> float(x.min()), bool(regret[-1] < regret[10])
    (-1.0, True)
    """
    if not isinstance(opt, Optimizer):
        raise TypeError(f"Invalid optimizer: {v.show(opt)} (need an nbcode.optim.Optimizer)")
    steps = v.count(steps, "steps", low=1)
    C = v.real(C, "C", low=2, low_open=True)
    x = np.array([v.real(x0, "x0", low=-1, high=1)])
    state = opt.init(x)
    xs, losses = [float(x[0])], np.empty(steps)
    for t in range(1, steps + 1):
        g = C if t % 3 == 1 else -1.0
        losses[t - 1] = g * (float(x[0]) + 1.0)  # f_t(x_t) - f_t(-1), both linear in x
        u, state = opt.update(np.array([g]), state, x)
        x = np.clip(x + u, -1.0, 1.0)
        xs.append(float(x[0]))
    return np.array(xs), np.cumsum(losses) / np.arange(1, steps + 1)


# ---- a fair comparison on the digits ---------------------------------------------------------------------


#: The optimizers of the tuned comparison on the digits: a maker ``lr -> Optimizer`` (the lr may be
#: a schedule) and the learning rates tried, a grid in factors of about 3 (PyTorch's defaults:
#: AdaGrad and RMSprop 0.01, Adadelta 1, Adam 0.001; SGD has none), wide enough that the best
#: rate after 80 updates lies inside it for every optimizer.
TUNING_GRID: dict[str, tuple[Callable[[float | Schedule], Optimizer], tuple[float, ...]]] = {
    "SGD": (lambda lr: sgd(lr=lr), (0.3, 1.0, 3.0, 10.0)),
    "momentum": (lambda lr: sgd(lr=lr, momentum=0.9), (0.03, 0.1, 0.3, 1.0)),
    "AdaGrad": (lambda lr: adagrad(lr=lr), (0.01, 0.03, 0.1, 0.3)),
    "RMSprop": (lambda lr: rmsprop(lr=lr), (1e-3, 3e-3, 1e-2, 3e-2)),
    "Adadelta": (lambda lr: adadelta(lr=lr), (3.0, 10.0, 30.0, 100.0)),
    "Adam": (lambda lr: adam(lr=lr), (3e-3, 1e-2, 3e-2, 0.1)),
}


@dataclass
class TunedComparison:
    """Every run of :func:`tuned_comparison`: ``runs[name][lr]`` is the list of histories, one per seed."""

    runs: dict[str, dict[float, list[History]]]
    seeds: tuple[int, ...]
    steps: int

    def _runs(self, name: str, lr: float, metric: str, *, any_lr: bool = False) -> list[History]:
        """The histories of ``runs[name][lr]`` (of the first rate with ``any_lr``), checked:
        ``name`` and ``lr`` must be in :attr:`runs`, ``metric`` recorded by every run."""
        v.choice(name, "optimizer name", list(self.runs))
        rates = self.runs[name]
        if any_lr:
            lr = next(iter(rates))
        lr = v.choice(v.real(lr, "learning rate", symbol="lr"), "learning rate", list(rates))
        hs = rates[lr]
        v.choice(metric, "metric", sorted(set.intersection(*(set(h.metrics) for h in hs))) if hs else [])
        return hs

    def final(self, name: str, lr: float, metric: str = "val_loss") -> np.ndarray:
        """The last value of ``metric`` of each seed (``inf`` for a loss, 0 for an accuracy, if the run diverged)."""
        hs = self._runs(name, lr, metric)
        bad = 0.0 if metric.endswith("acc") else math.inf
        return np.array([h.last(metric) if not h.diverged and math.isfinite(h.last(metric)) else bad for h in hs])

    def best_lr(self, name: str, metric: str = "val_loss") -> float:
        """The learning rate with the lowest mean final ``metric`` over the seeds (the highest for an accuracy)."""
        self._runs(name, 0.0, metric, any_lr=True)
        lrs = list(self.runs[name])
        means = [float(np.mean(self.final(name, lr, metric))) for lr in lrs]
        # rounded before ranking: a tie (two diverged rates) must not be broken by round-off
        key = [round(m, 9) if math.isfinite(m) else m for m in means]
        return lrs[int(np.argmax(key) if metric.endswith("acc") else np.argmin(key))]

    def curves(self, name: str, lr: float, metric: str = "val_loss") -> np.ndarray:
        """``(seeds, epochs + 1)``: the per-epoch ``metric`` of every seed at ``lr`` (NaN after a divergence)."""
        hs = self._runs(name, lr, metric)
        n = max(len(h[metric]) for h in hs)
        out = np.full((len(hs), n), np.nan)
        for i, h in enumerate(hs):
            out[i, : len(h[metric])] = h[metric]
        return out


def tuned_comparison(
    names: tuple[str, ...] | None = None,
    *,
    epochs: int = 5,
    batch_size: int = 64,
    hidden: int = 32,
    seeds: tuple[int, ...] = (0, 1, 2),
    schedule: bool = True,
) -> TunedComparison:
    """Train the digits MLP ``64 -> hidden -> 10`` (tanh) with every optimizer of
    :data:`TUNING_GRID` at every learning rate of its grid, once per seed (the seed sets the
    initial weights and the order of the mini-batches, the same for every optimizer).

    The book's own optimizers step the network (:func:`nbcode.train.fit` with
    :class:`nbcode.train.NumpyOptimizer`); with ``schedule`` the rate follows a cosine from its
    value to 0 over the run (:func:`nbcode.schedules.cosine_annealing_lr`). A run whose loss
    exceeds 100 is stopped and counted as diverged.

    Examples
    --------
    >>> r = tuned_comparison(("SGD",), epochs=1, seeds=(0,))
    >>> sorted(r.runs["SGD"]) == sorted(TUNING_GRID["SGD"][1]), r.steps
    (True, 20)
    """
    names = tuple(TUNING_GRID) if names is None else tuple(v.choice(n, "optimizer name", list(TUNING_GRID)) for n in names)
    epochs = v.count(epochs, "epochs", low=1)
    batch_size = v.count(batch_size, "batch_size", low=1)
    hidden = v.count(hidden, "hidden", low=1)
    seeds = counts(seeds, "seeds", low=0)
    schedule = v.flag(schedule, "schedule")
    t = _digits64()
    X, y = t["X_train"], t["y_train"]
    val = (t["X_val"], t["y_val"])
    steps = epochs * math.ceil(X.shape[0] / batch_size)
    runs: dict[str, dict[float, list[History]]] = {}
    for name in names:
        make, lrs = TUNING_GRID[name]
        runs[name] = {}
        for lr in lrs:
            runs[name][lr] = []
            for seed in seeds:
                net = mlp([64, hidden, 10], nn.Tanh, seed=seed)
                rate = cosine_annealing_lr(lr, T_max=steps) if schedule else lr
                h = fit(net, make(rate), X, y, epochs=epochs, batch_size=batch_size, val=val, seed=seed, max_loss=100.0,
                        progress=False)
                runs[name][lr].append(h)
    return TunedComparison(runs, seeds, steps)


# ---- AdamW against Adam + L2 ----------------------------------------------------------------------


@dataclass
class DecayComparison:
    """The first layer of the digits MLP after training with Adam + L2 and with AdamW.

    ``w0`` and ``w[name]`` are the first layer's weights ``(hidden, 64)`` before and after,
    ``v_hat[name]`` Adam's bias-corrected :math:`\\hat v` for them, ``dead`` the input pixels
    that are constant (zero after standardization) in the training set, whose weights receive no
    gradient from the data.
    """

    lr: float
    weight_decay: float
    steps: int
    w0: np.ndarray
    w: dict[str, np.ndarray]
    v_hat: dict[str, np.ndarray]
    dead: np.ndarray
    history: dict[str, History]


def decoupled_decay(
    *, lr: float = 1e-3, weight_decay: float = 0.1, epochs: int = 10, batch_size: int = 64, hidden: int = 32, seed: int = 0
) -> DecayComparison:
    """Train the digits MLP ``64 -> hidden -> 10`` (tanh) twice from the same start: with Adam
    and the decay in the gradient (``adam(weight_decay=...)``, an L2 penalty
    :math:`\\tfrac\\alpha2\\|w\\|^2`), and with AdamW (``adamw(weight_decay=...)``, decoupled).

    With AdamW every weight is multiplied by :math:`1 - \\eta\\alpha` at every step; with Adam +
    L2 the decay term :math:`\\alpha w` is divided by :math:`\\sqrt{\\hat v} + \\epsilon` with the rest of
    the gradient, so its relative effect per step is :math:`\\eta\\alpha/(\\sqrt{\\hat v} + \\epsilon)`.

    Examples
    --------
    >>> r = decoupled_decay(epochs=1)
    >>> sorted(r.w), r.w0.shape, int(r.dead.sum())
    (['Adam + L2', 'AdamW'], (32, 64), 4)
    """
    lr = v.real(lr, "learning rate", low=0, low_open=True, symbol="lr")
    weight_decay = v.real(weight_decay, "weight_decay", low=0)
    epochs = v.count(epochs, "epochs", low=1)
    batch_size = v.count(batch_size, "batch_size", low=1)
    hidden = v.count(hidden, "hidden", low=1)
    seed = v.count(seed, "seed")
    t = _digits64()
    X, y = t["X_train"], t["y_train"]
    dead = (X.std(dim=0) == 0).numpy()
    makers = {"Adam + L2": lambda: adam(lr=lr, weight_decay=weight_decay), "AdamW": lambda: adamw(lr=lr, weight_decay=weight_decay)}
    w: dict[str, np.ndarray] = {}
    v_hat: dict[str, np.ndarray] = {}
    hist: dict[str, History] = {}
    w0 = np.zeros(0)
    for name, make in makers.items():
        net = mlp([64, hidden, 10], nn.Tanh, seed=seed)
        first_layer = net[0]
        assert isinstance(first_layer, nn.Linear)
        w0 = first_layer.weight.detach().numpy().copy()
        opt = NumpyOptimizer(net.parameters(), make())
        hist[name] = fit(net, opt, X, y, epochs=epochs, batch_size=batch_size, val=(t["X_val"], t["y_val"]), seed=seed,
                         progress=False)
        k = opt.state.step
        first = hidden * 64  # the first layer's weights come first in named_parameters order
        v_hat[name] = opt.state.exp_avg_sq[:first].reshape(hidden, 64) / (1.0 - 0.999**k)
        w[name] = first_layer.weight.detach().numpy().copy()
    return DecayComparison(lr, weight_decay, hist["AdamW"].steps, w0, w, v_hat, dead, hist)


# ---- the batch-size study ------------------------------------------------------------------------


@dataclass
class NoiseScale:
    """The gradient noise of a model on its training set (:func:`gradient_noise_scale`)."""

    loss: float
    trace_sigma: float
    grad_sq: float
    b_simple: float
    lr_max: float


def gradient_noise_scale(
    model: nn.Module, X: torch.Tensor, y: torch.Tensor, loss_fn: Callable[..., torch.Tensor] = nn.functional.cross_entropy
) -> NoiseScale:
    """The gradient-noise scale :math:`B_{\\text{simple}} = \\operatorname{tr}\\Sigma / \\|g\\|^2` of
    McCandlish et al. (2018), from the exact per-example gradients.

    With :math:`g_i` the gradient of example :math:`i`'s loss and :math:`g` their mean (the full
    gradient), :math:`\\operatorname{tr}\\Sigma = \\frac1n\\sum_i\\|g_i - g\\|^2`: a batch of :math:`B`
    examples drawn with replacement has :math:`\\mathbb E\\|g_B - g\\|^2 = \\operatorname{tr}\\Sigma/B`,
    so :math:`B_{\\text{simple}}` is the batch size at which the noise in :math:`g_B` is as large
    as :math:`g` itself. ``lr_max`` is :math:`\\|g\\|^2 / g^\\top H g`, the step that lowers the
    local quadratic model most along :math:`-g` without noise (one Hessian-vector product).

    The per-example gradients come from ``torch.func`` (``vmap`` over ``grad``); ``loss_fn``
    must average over the rows (as ``reduction='mean'``), and the model must treat rows
    independently (no BatchNorm in training mode, no dropout). The model is not changed.

    Examples
    --------
    >>> net = nn.Linear(1, 1, bias=False).double(); _ = net.weight.data.fill_(0.0)
    >>> X = torch.tensor([[1.0], [2.0]], dtype=torch.float64); y = torch.tensor([[1.0], [1.0]], dtype=torch.float64)
    >>> s = gradient_noise_scale(net, X, y, nn.functional.mse_loss)   # g_i = -2 x_i y_i = -2, -4
    >>> s.trace_sigma, s.grad_sq, s.b_simple
    (1.0, 9.0, 0.1111111111111111)
    """
    v.module(model)
    noisy = [type(m).__name__ for m in model.modules()
             if m.training and isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.modules.dropout._DropoutNd))]
    if noisy:
        raise ValueError(f"Invalid model: a {noisy[0]} layer in training mode (the per-example gradients need rows treated "
                         "independently: call model.eval() first)")
    inputs_targets(X, y, x_ndim=None)
    v.function(loss_fn, "loss_fn")
    if X.shape[0] != y.shape[0] or X.shape[0] < 2:
        raise ValueError(f"Invalid data: {X.shape[0]} inputs and {y.shape[0]} targets (need the same number, at least 2)")
    params = {k: p.detach() for k, p in model.named_parameters()}

    def example_loss(p: dict[str, torch.Tensor], x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return loss_fn(functional_call(model, p, (x.unsqueeze(0),)), t.unsqueeze(0))

    with torch.no_grad():
        loss = float(loss_fn(model(X), y))
    per = vmap(grad(example_loss), in_dims=(None, 0, 0))(params, X, y)
    G = torch.cat([per[k].reshape(X.shape[0], -1) for k in params], dim=1).double().numpy()
    g = G.mean(axis=0)
    D = G - g
    trace = float(np.einsum("ij,ij->", D, D) / X.shape[0])
    g2 = float(g @ g)
    gHg = float(g @ HessianOperator(model, loss_fn, X, y).matvec(g))
    return NoiseScale(loss, trace, g2, trace / g2 if g2 > 0 else math.inf, g2 / gHg if gHg > 0 else math.inf)


@dataclass
class BatchRun:
    """One run of the batch-size study: the loss at which it stopped (the first update that took
    the full training loss below the target), the updates it took, accuracies and sharpness."""

    batch_size: int
    seed: int
    history: History
    epochs: int
    steps: int
    stop_loss: float
    train_acc: float
    test_acc: float
    sharpness: float
    noise: list[NoiseScale]


def batch_size_study(
    batch_sizes: tuple[int, ...] = (16, 64, 256, 1257),
    *,
    lr: float = 0.2,
    target_loss: float = 0.02,
    max_epochs: int = 1000,
    hidden: int = 64,
    seed: int = 0,
    noise_at: tuple[float, ...] = (),
) -> list[BatchRun]:
    """Train the same MLP ``64 -> hidden -> 10`` (ReLU) with plain SGD (the book's
    :func:`nbcode.optim.sgd`, the same ``lr`` for every batch size) until the full training loss
    falls below ``target_loss``, checked after every update; record accuracies and the sharpness
    at the solution (:func:`nbcode.hessian.sharpness`).

    Stopping at the same training loss (rather than after the same number of epochs) compares
    solutions of equal quality, as Keskar et al. did by training every model to near 100%.
    ``noise_at``: training losses at which the full-batch run (``B = n``) records
    :func:`gradient_noise_scale`, the first time its loss falls below each (and at the start).

    Examples
    --------
    >>> runs = batch_size_study((1257,), target_loss=1.5, max_epochs=50, noise_at=(2.0,))
    >>> r = runs[0]
    >>> r.stop_loss < 1.5 < r.history["train_loss"][0], r.sharpness > 0, len(r.noise)
    (True, True, 2)
    """
    lr = v.real(lr, "learning rate", low=0, low_open=True, symbol="lr")
    target_loss = v.real(target_loss, "target_loss", low=0, low_open=True)
    max_epochs = v.count(max_epochs, "max_epochs", low=1)
    hidden = v.count(hidden, "hidden", low=1)
    seed = v.count(seed, "seed")
    marks = sorted(reals(noise_at, "noise_at", what="noise_at loss", nonempty=False, low=0, low_open=True), reverse=True)
    t = _digits64()
    X, y = t["X_train"], t["y_train"]
    Xt, yt = t["X_test"], t["y_test"]
    n = X.shape[0]
    sizes = list(counts(batch_sizes, "batch_sizes", high=n))
    ce = nn.functional.cross_entropy
    runs = []
    for B in sizes:
        net = mlp([64, hidden, 10], nn.ReLU, seed=seed)
        noise = [gradient_noise_scale(net, X, y)] if marks and B == n else []
        pending = list(marks) if B == n else []
        last = {"loss": math.inf}

        def full_loss() -> float:
            with torch.no_grad():
                return float(ce(net(X), y))

        def after_epoch(epoch: int, hist: History) -> bool:
            last["loss"] = hist.last("train_loss")
            return last["loss"] < target_loss

        def after_update(step: int, batch_loss: float) -> bool:
            # the full loss after every update, once the last epoch's loss is near the target
            # (far from it, an update cannot cross it; a full batch is checked once per epoch anyway)
            if B == n or last["loss"] > 2.0 * target_loss:
                if pending:
                    L = full_loss()
                    while pending and L < pending[0]:
                        pending.pop(0)
                        noise.append(gradient_noise_scale(net, X, y))
                return False
            last["loss"] = full_loss()
            return last["loss"] < target_loss

        h = fit(net, sgd(lr=lr), X, y, epochs=max_epochs, batch_size=B, seed=seed, progress=False,
                callback=after_epoch, step_callback=after_update)
        with torch.no_grad():
            test_acc = float((net(Xt).argmax(dim=1) == yt).double().mean())
        runs.append(BatchRun(B, seed, h, len(h["train_loss"]) - 1, h.steps, full_loss(), h.last("train_acc"), test_acc,
                             sharpness(net, X, y), noise))
    return runs
