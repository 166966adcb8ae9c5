"""The optimizer race: every optimizer on Beale's function, a long valley, a saddle and Rosenbrock."""

from __future__ import annotations

import numpy as np

from nbcode.optim._base import Optimizer, run
from nbcode.optim._testfns import SURFACES, Surface2D
from nbcode.optim.adam import adam
from nbcode.optim.adaptive import adagrad, rmsprop
from nbcode.optim.lbfgs import minimize_lbfgs
from nbcode.optim.rprop import rprop
from nbcode.optim.second_order import newton
from nbcode.optim.sgd import sgd

__all__ = ["RACERS", "BASE_LR", "race_optimizer", "race", "race_table"]

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


def race_optimizer(name: str, surface: Surface2D, lr: float) -> Optimizer:
    """The optimizer ``name`` of :data:`RACERS` (not L-BFGS, which runs its own loop) with learning rate ``lr``.

    Examples
    --------
    >>> race_optimizer("Adam", SURFACES["saddle"], 0.1).init(np.zeros(2)).step
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
    if name not in makers:
        raise ValueError(f"Invalid optimizer name: {name!r} (use one of {list(makers)})")
    return makers[name]()


def race(surface: str, lr_scale: float = 1.0, steps: int = 200) -> dict[str, np.ndarray]:
    """Trajectories ``(steps + 1, 2)`` of every racer on ``surface`` (NaN after a divergence).

    Examples
    --------
    >>> paths = race("long valley", steps=50)
    >>> sorted(paths) == sorted(RACERS), paths["Newton"][1].round(12).tolist()
    (True, [0.0, 0.0])
    """
    if surface not in SURFACES:
        raise ValueError(f"Invalid surface: {surface!r} (use one of {list(SURFACES)})")
    s = SURFACES[surface]
    out: dict[str, np.ndarray] = {}
    for name in RACERS:
        if name == "L-BFGS":
            res = minimize_lbfgs(s.f, s.grad, s.w0, history_size=10, max_iter=steps, tolerance_grad=1e-10)
            path = np.full((steps + 1, 2), np.nan)
            path[: len(res.path)] = res.path
            path[len(res.path) :] = res.path[-1]  # converged early: stays put
            out[name] = path
        else:
            lr = BASE_LR[surface].get(name, 1.0) * (lr_scale if name != "Newton" else 1.0)
            out[name] = run(race_optimizer(name, s, lr), s.grad, s.w0, steps, stop_at=1e3)
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
    for surface in SURFACES:
        paths = race(surface, 1.0, steps)
        table[surface] = {n: (SURFACES[surface].f(p[-1]) if np.all(np.isfinite(p[-1])) else float("nan")) for n, p in paths.items()}
    return table
