"""The experiments of the chapter "Optimizers" (``book/optimizers.ipynb``).

* the optimizer race: every optimizer of :mod:`nbcode.optim` on four surfaces of
  :data:`nbcode.surfaces.SURFACES` (:func:`race`, :func:`race_table`);
* the race on a real network: one MLP on the digits trained by each optimizer of
  :mod:`nbcode.optim` — the NumPy code checked against ``torch.optim``, stepping the torch
  model through :class:`nbcode.train.NumpyOptimizer` (:func:`digits_race`);
* the batch-size study: plain SGD at several batch sizes to the same training loss, with the
  sharpness of each solution (:func:`batch_size_study`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
import torch
from torch import nn

from nbcode import _validate as v
from nbcode.data import load_digits
from nbcode.hessian import sharpness
from nbcode.optim import Optimizer, adagrad, adam, adamw, minimize_lbfgs, nadam, newton, rmsprop, rprop, run, sgd
from nbcode.surfaces import Surface, get_surface
from nbcode.train import History, fit, mlp, seed_everything

__all__ = [
    "RACE_SURFACES", "RACERS", "BASE_LR", "race_optimizer", "race", "race_table",
    "DIGITS_RACE_OPTIMIZERS", "digits_race", "BatchRun", "batch_size_study",
]

# ---- the race on 2-D surfaces -----------------------------------------------------------------

#: The race's four surfaces, by the name its table and figure show, from the registry
#: :data:`nbcode.surfaces.SURFACES` (each with its start point ``w0`` and its minima). Beale's
#: window is widened so that the start (1, 1.5) and the racers' detours fit in the figure.
RACE_SURFACES: dict[str, Surface] = {
    "Beale": replace(get_surface("beale"), box=(-1.0, 4.5, -1.5, 2.5)),
    "long valley": get_surface("long valley"),
    "saddle": get_surface("double well"),
    "Rosenbrock": get_surface("rosenbrock"),
}

#: The racers, in legend order. Newton (step 1) and L-BFGS (with a backtracking line search)
#: have no learning rate to tune; the others use ``BASE_LR[surface][name] * lr_scale``.
RACERS: tuple[str, ...] = ("SGD", "momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam", "Rprop", "Newton", "L-BFGS")

#: Hand-picked learning rates (rounded from a coarse search over 200 steps) for each surface.
BASE_LR: dict[str, dict[str, float]] = {
    "Beale": {"SGD": 0.01, "momentum": 0.002, "Nesterov": 0.002, "AdaGrad": 0.5, "RMSprop": 0.05, "Adam": 0.1, "Rprop": 0.01},
    "long valley": {"SGD": 0.15, "momentum": 0.05, "Nesterov": 0.05, "AdaGrad": 1.0, "RMSprop": 0.05, "Adam": 0.3, "Rprop": 0.1},
    "saddle": {"SGD": 0.1, "momentum": 0.05, "Nesterov": 0.05, "AdaGrad": 0.3, "RMSprop": 0.02, "Adam": 0.05, "Rprop": 0.01},
    "Rosenbrock": {"SGD": 0.002, "momentum": 0.001, "Nesterov": 0.001, "AdaGrad": 0.5, "RMSprop": 0.01, "Adam": 0.1, "Rprop": 0.05},
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
        "Adam": lambda: adam(lr=lr),
        "Rprop": lambda: rprop(lr=lr),
        "Newton": lambda: newton(surface.hess),
    }
    v.choice(name, "optimizer name", list(makers))
    return makers[name]()


def race(surface: str, lr_scale: float = 1.0, steps: int = 200) -> dict[str, np.ndarray]:
    """Trajectories ``(steps + 1, 2)`` of every racer on ``surface`` (NaN after a divergence).

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
    >>> t["long valley"]["Newton"] < 1e-20
    True
    """
    table: dict[str, dict[str, float]] = {}
    for name, surface in RACE_SURFACES.items():
        paths = race(name, 1.0, steps)
        table[name] = {n: (surface(p[-1]) if np.all(np.isfinite(p[-1])) else float("nan")) for n, p in paths.items()}
    return table


# ---- the race on a real network ----------------------------------------------------------------


def _digits64() -> dict[str, torch.Tensor]:
    """The digits split as float64 inputs and integer labels."""
    t = load_digits().as_tensors()
    return {k: (x.double() if torch.is_floating_point(x) else x) for k, x in t.items() if isinstance(x, torch.Tensor)}


#: The optimizers of the race on digits (the book's own, each equal to its ``torch.optim`` twin
#: with the same arguments), with the learning rates each is usually started at.
DIGITS_RACE_OPTIMIZERS: dict[str, Callable[[], Optimizer]] = {
    "SGD": lambda: sgd(lr=0.1),
    "momentum": lambda: sgd(lr=0.01, momentum=0.9),
    "Nesterov": lambda: sgd(lr=0.01, momentum=0.9, nesterov=True),
    "AdaGrad": lambda: adagrad(lr=0.01),
    "RMSprop": lambda: rmsprop(lr=1e-3),
    "Adam": lambda: adam(lr=1e-3),
    "AdamW": lambda: adamw(lr=1e-3, weight_decay=1e-2),
    "NAdam": lambda: nadam(lr=1e-3),
    "Rprop": lambda: rprop(lr=1e-3),
}


def digits_race(epochs: int = 8, batch_size: int = 64, hidden: int = 32, seed: int = 0) -> dict[str, History]:
    """Train the same MLP ``64 -> hidden -> 10`` (same initial weights, same mini-batches) with
    each optimizer of :data:`DIGITS_RACE_OPTIMIZERS` on digits, for ``epochs`` epochs
    (:func:`nbcode.train.fit` steps the model with the NumPy optimizer).

    Rprop runs on the same mini-batches as the others although it was designed for full-batch
    gradients: the signs of noisy mini-batch gradients flip at random, which is the point.

    Examples
    --------
    >>> h = digits_race(epochs=1)
    >>> sorted(h) == sorted(DIGITS_RACE_OPTIMIZERS), len(h["Adam"]["val_acc"])
    (True, 2)
    """
    t = _digits64()
    X, y = t["X_train"], t["y_train"]
    val = (t["X_val"], t["y_val"])
    out: dict[str, History] = {}
    for name, make in DIGITS_RACE_OPTIMIZERS.items():
        seed_everything(seed)
        net = mlp([64, hidden, 10], nn.Tanh)
        out[name] = fit(net, make(), X, y, epochs=epochs, batch_size=batch_size, val=val, seed=seed, progress=False)
    return out


# ---- the batch-size study ------------------------------------------------------------------------


@dataclass
class BatchRun:
    """One run of the batch-size study."""

    batch_size: int
    history: History
    epochs: int
    steps: int
    train_acc: float
    test_acc: float
    sharpness: float


def batch_size_study(
    batch_sizes: tuple[int, ...] = (16, 64, 256, 1257),
    *,
    lr: float = 0.2,
    target_loss: float = 0.02,
    max_epochs: int = 1000,
    hidden: int = 64,
    seed: int = 0,
) -> list[BatchRun]:
    """Train the same MLP with plain SGD (same ``lr``) at each batch size until the training loss
    falls below ``target_loss``; record accuracies and the sharpness at the solution
    (:func:`nbcode.hessian.sharpness`).

    Stopping at the same training loss (rather than after the same number of epochs) compares
    solutions of equal quality, as Keskar et al. did by training every model to near 100%.

    Examples
    --------
    >>> runs = batch_size_study((1257,), target_loss=1.5, max_epochs=50)
    >>> runs[0].history["train_loss"][-1] < 1.5 < runs[0].history["train_loss"][0], runs[0].sharpness > 0
    (True, True)
    """
    t = _digits64()
    X, y = t["X_train"], t["y_train"]
    Xt, yt = t["X_test"], t["y_test"]
    runs = []
    for B in batch_sizes:
        seed_everything(seed)
        net = mlp([64, hidden, 10], nn.ReLU)
        opt = torch.optim.SGD(net.parameters(), lr=lr)
        h = fit(net, opt, X, y, epochs=max_epochs, batch_size=B, val=(Xt, yt), seed=seed, progress=False,
                callback=lambda e, hist: hist.last("train_loss") < target_loss)
        runs.append(BatchRun(B, h, len(h["train_loss"]) - 1, h.steps, h.last("train_acc"), h.last("val_acc"),
                             sharpness(net, X, y)))
    return runs
