"""A battery of bad and edge inputs against every public callable of nbcode.

Every public callable is enumerated (each module's and package's ``__all__``, the constructors and
public methods of its classes, and what some factories return: an optimizer's ``init`` /
``update``, a schedule, a plateau rule's ``init`` / ``update``). Each one is first called with a
valid *baseline* (the table ``SPECS`` below, or the parameter's default, or a default by name),
then once per (argument, input) with that one argument replaced. The inputs follow from the
argument's kind, inferred from its baseline value and annotation:

* ``bad`` inputs must be refused: wrong types (a string, a bool where a number is meant,
  ``None``, complex, a list of strings), NaN and infinite entries, negative counts, empty arrays,
  wrong shapes, callables that are not callable, models that are not modules;
* ``probe`` inputs may be accepted or refused (``±inf``, ``0``, ``-1`` for a real number, a
  zero count): accepting them is fine unless the result is NaN or infinite;
* ``valid`` inputs must be accepted *and* give the baseline's result: NumPy scalars
  (``np.float32(0.5)``, ``np.int64(3)``) where a Python number is valid, integer, float16 and
  float32 arrays and lists (with exactly representable values) where a float64 array is meant;
* ``alias`` checks: an object that keeps an array or list argument must not change when the
  caller edits that argument afterwards.

Each call's outcome is one of

* ``clear``: a ValueError/TypeError whose message names the argument (``Invalid <name>: ...``,
  or the argument's name, or one of the aliases in ``ALIASES``);
* ``unclear``: any other exception, or a message that names no argument;
* ``silent``: a bad input accepted, a probe that returned NaN/inf, a valid input whose result
  differs from the baseline, or an object that changed when the caller's array changed;
* ``crash``: the interpreter died (abort, segfault) or the call hung (timeout);
* ``refused``: a valid input refused (a defect too);
* ``ok``: a probe or a valid input accepted with a good result.

Every call runs in a worker process; when one dies or hangs, its call is recorded as a crash and a
new worker continues with the next call.

Usage::

    python scripts/battery.py                       # the table, and the defects one per line
    python scripts/battery.py --json out.json       # every call's outcome
    PYTHONPATH=/tmp/battery-before python scripts/battery.py   # another checkout of nbcode

``tests/test_battery.py`` runs the same battery in-process, one test per entry point.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import importlib
import inspect
import json
import math
import numbers
import os
import pkgutil
import re
import select
import subprocess
import sys
import time
import traceback
import warnings
from typing import Any, Callable, Iterable

import numpy as np

OUTCOMES = ("clear", "unclear", "silent", "crash", "refused", "ok")
DEFECTS = ("unclear", "silent", "crash", "refused")


# ---------------------------------------------------------------------------------------------
# Inputs the battery builds (tiny, seeded, fresh for every call)
# ---------------------------------------------------------------------------------------------

def _torch() -> Any:
    import torch

    return torch


def tiny_model(out: int = 2, d: int = 3, hidden: int = 4, seed: int = 0) -> Any:
    """A float64 MLP ``d -> hidden -> out`` (tanh)."""
    torch = _torch()
    g = torch.manual_seed(seed)
    del g
    return torch.nn.Sequential(torch.nn.Linear(d, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, out)).double()


def bn_model(seed: int = 0) -> Any:
    torch = _torch()
    torch.manual_seed(seed)
    nn = torch.nn
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2)).double()


def tX(n: int = 8, d: int = 3, seed: int = 0) -> Any:
    torch = _torch()
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64)


def ty(n: int = 8, classes: int = 2) -> Any:
    torch = _torch()
    return torch.arange(n) % classes


def ty_reg(n: int = 8, out: int = 1, seed: int = 1) -> Any:
    torch = _torch()
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, out, generator=g, dtype=torch.float64)


def ce() -> Any:
    return _torch().nn.functional.cross_entropy


def mse() -> Any:
    return _torch().nn.functional.mse_loss


def nX(n: int = 6, d: int = 2) -> np.ndarray:
    """A small design matrix with integer entries (exact in float16)."""
    return (np.arange(n * d, dtype=float).reshape(n, d) % 5) - 2.0 + np.eye(n, d)


def ny(n: int = 6) -> np.ndarray:
    return (np.arange(n, dtype=float) % 3) - 1.0


def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def torch_sgd(model: Any, lr: float = 0.1) -> Any:
    return _torch().optim.SGD(model.parameters(), lr=lr)


# ---------------------------------------------------------------------------------------------
# Specs: the baseline call of each entry point, and what is special about its arguments
# ---------------------------------------------------------------------------------------------

@dataclasses.dataclass
class Spec:
    """How to call one entry point.

    ``args()`` returns the baseline arguments (by name); arguments not given use their default or
    a default by name (``BY_NAME``). ``kinds`` overrides the inferred kind of an argument;
    ``shapes``: ``"any"`` (any shape is valid: no wrong-shape input), ``"tied"`` (the length
    must match another argument: a shortened input is bad as well); ``nonfinite`` names array
    arguments whose NaN/inf entries are valid; ``nonfinite_result``: a NaN/inf result is
    documented (no probe counts as silent for it); ``empty`` names arguments that may be empty;
    ``accept`` maps an argument to labels of bad inputs that are in fact valid for it;
    ``skip`` names arguments not battered (with the reason in ``SKIP_REASONS``); ``instance``
    builds the object whose method is called; ``heavy``: the test runs only its bad inputs.
    """

    args: Callable[[], dict[str, Any]] = dict
    kinds: dict[str, str] = dataclasses.field(default_factory=dict)
    shapes: dict[str, str] = dataclasses.field(default_factory=dict)
    nonfinite: tuple[str, ...] = ()
    nonfinite_result: bool = False
    empty: tuple[str, ...] = ()
    accept: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    skip: tuple[str, ...] = ()
    instance: Callable[[], Any] | None = None
    heavy: bool = False
    deterministic: bool = True
    inplace: tuple[str, ...] = ()


S = Spec

#: Messages may name an argument by a longer name (PyTorch's "learning rate" for ``lr``).
ALIASES: dict[str, tuple[str, ...]] = {
    "lr": ("learning rate", "lr"),
    "betas": ("beta parameter", "betas"),
    "eps": ("epsilon value", "eps"),
    "momentum": ("momentum value",),
    "weight_decay": ("weight_decay value", "weight decay"),
    "num": ("number of grid points",),
    "opt": ("optimizer",),
    "op": ("operator",),
    "theta": ("parameter vector",),
    "thetas": ("parameter grid",),
    "lr_decay": ("lr_decay",),
    "rho": ("rho value",),
    "etas": ("etas", "eta"),
    "step_sizes": ("step_sizes", "step size"),
    "directions": ("direction",),
    "X": ("inputs", "X"),
    "data": ("data",),
    "q": ("quantizer",),
    "fn": ("function",),
    "gTg": ("gTg",),
    "n_classes": ("number of classes",),
    "sizes": ("layer sizes", "sizes"),
    "grads": ("gradient", "grads"),
    "g": ("gradient",),
    "ax": ("axes",),
    # descriptive names used by the messages (PyTorch's style: "Invalid learning rate")
    "A": ("matrix",), "H": ("Hessian",), "P": ("preconditioner",), "T": ("number of time steps",),
    "W": ("weight",), "act": ("activation",), "alpha": ("regularization strength",),
    "eigvals": ("eigenvalues",), "kappa": ("condition number",), "m": ("number of Lanczos steps",),
    "n": ("number of examples", "number of points"), "n_inits": ("number of initializations",),
    "n_probes": ("number of probes",), "n_samples": ("number of samples",), "num": ("number of grid points",
    "number of slider positions"), "p": ("dropout probability",), "params": ("parameters",), "q": ("variance",),
    "rho": ("correlation",), "sections": ("section",), "seeds": ("seed",), "side": ("image size",),
    "tol": ("tolerance",), "v": ("vector",), "w": ("point",), "w0": ("starting point", "point", "parameters"),
    "x0": ("parameters", "starting point"), "x": ("input",), "milestones": ("milestone",),
    "batch_sizes": ("batch size",), "hidden": ("number of hidden units",), "lrs": ("learning rate",), "depths": ("depth",), "names": ("optimizer name",),
    "ls": ("line style",), "k": ("step",), "bn": ("batch_norm",), "batch_size": ("batch size",),
    "epochs": ("number of epochs",), "steps": ("number of steps",), "depth": ("depth",),
    "n_batches": ("number of batches",), "copies": ("number of copies",), "draws": ("number of draws",),
}

#: Argument names whose value is free text (any string is valid; not battered).
TEXT = {"title", "xlabel", "ylabel", "label", "caption", "fmt", "s", "question", "hint", "alt",
        "table_caption", "link_base", "prediction_text", "error_kind", "summary_text"}

#: Integer arguments that may be negative.
SIGNED = {"dim", "dx", "dy", "k_step", "axis", "default"}


def _opt_sgd() -> Any:
    from nbcode.optim import sgd

    return sgd(lr=0.1)


def _surface(name: str = "rosenbrock") -> Any:
    from nbcode.surfaces import get_surface

    return get_surface(name)


def _quad() -> Any:
    from nbcode.quadratic import QuadraticND

    return QuadraticND(np.array([[2.0, 1.0], [1.0, 3.0]]), np.array([1.0, -1.0]))


def _logistic() -> Any:
    from nbcode.surfaces import LogisticRegression

    return LogisticRegression(nX(6, 2), np.array([0, 1, 0, 1, 0, 1]), alpha=0.1)


def _lsq() -> Any:
    from nbcode.data import conditioned_regression

    return conditioned_regression(n=12, d=3, seed=0)


def _report() -> Any:
    from nbcode.checkup import Report, Section, Quantity

    return Report("t", {}, [Section("curvature", "Curvature", [Quantity("curvature.lambda_max", "λ", value=1.0)])])


def _sweep() -> Any:
    from nbcode.sweep import Plot, Slider, Sweep

    def draw(a: float) -> Any:
        p = Plot()
        p.axes[0].plot([0.0, 1.0], [0.0, a])
        return p

    return Sweep(draw, {"a": Slider(0.0, 1.0, 3)})


def _plot() -> Any:
    from nbcode.sweep import Plot

    return Plot()


def _axes() -> Any:
    from nbcode.sweep import Axes

    return Axes()


def _draw(a: float = 0.5) -> Any:
    from nbcode.sweep import Plot

    p = Plot()
    p.axes[0].plot([0.0, 1.0], [0.0, a])
    return p


def _history() -> Any:
    from nbcode.train import History

    h = History()
    h.log(val_loss=2.0, train_loss=1.0)
    return h


def _nadam_state() -> Any:
    return None


def _loader() -> list[Any]:
    return [(tX(16, 3, s), ty(16)) for s in range(2)]


def _matplotlib_axes() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    return ax


def _bn_cache() -> Any:
    from nbcode.norm import batch_norm

    x = nX(6, 2)
    return batch_norm(x, np.ones(2), np.zeros(2), np.zeros(2), np.ones(2), training=True).cache


def _affine_cache(kind: str = "layer") -> Any:
    from nbcode import norm

    x = nX(6, 4).reshape(2, 2, 6)
    if kind == "layer":
        return norm.layer_norm(x, 6)[1]
    return norm.group_norm(x, 1)[1]


def _norm_cache() -> Any:
    from nbcode.norm import normalize

    return normalize(nX(6, 2), (0,), 1e-5)[3]


def _lbfgs_two_loop() -> dict[str, Any]:
    s = (np.array([1.0, 0.0]),)
    y = (np.array([2.0, 0.5]),)
    return dict(g=np.array([1.0, 1.0]), old_stps=s, old_dirs=y, ro=(0.5,), H_diag=0.5)


def _monitor() -> Any:
    from nbcode.checkup import Monitor

    m = tiny_model(2)
    return Monitor(m, _loader(), ce(), torch_sgd(m), max_hvp=4)


def _residual_block() -> Any:
    from nbcode.init import ResidualBlock

    _torch().manual_seed(0)
    return ResidualBlock(4, 3)


def _monitor_measured() -> Any:
    """A Monitor that has measured once (what clipping_threshold and report need)."""
    m = _monitor()
    m()
    return m


def _checkup_report() -> Any:
    """A Report from a real (smallest) checkup run: one section, the fast budget."""
    from nbcode.checkup import checkup

    return checkup(tiny_model(2), _loader(), ce(), progress=False, sections=["initialization"])


def _digits_tensors() -> tuple[Any, ...]:
    return (tX(12, 3, 0), ty(12, 2), tX(6, 3, 1), ty(6, 2))


def _dropout_model() -> Any:
    from nbcode.train import mlp

    return mlp([3, 4, 2], dropout=0.5, seed=0)


def _full_batch_run() -> Any:
    from nbcode.experiments.convergence import FullBatchRun

    return FullBatchRun(1.0, np.array([3.0, 2.0, 2.5, 1.0]), np.ones(4), np.array([0, 2, 3]), np.array([1.0, 2.1, 1.95]), 9)


def _tuned() -> Any:
    from nbcode.experiments.optim import TunedComparison
    from nbcode.train import History

    def hist(*losses: float) -> Any:
        h = History()
        for x in losses:
            h.log(val_loss=x, val_acc=1.0 / (1.0 + x))
        return h

    return TunedComparison({"SGD": {0.5: [hist(2.0, 1.0), hist(2.0, 1.5)], 2.0: [hist(2.0, 0.5), hist(2.0, 0.75)]}}, (0, 1), 4)


def _tensor_split() -> Any:
    from nbcode.data import Split

    a = nX(4, 2)
    return Split(a, np.arange(4) % 2, a, np.arange(4) % 2, a, np.arange(4) % 2, np.zeros(2), np.ones(2))


SPECS: dict[str, Spec] = {
    # ---- checkup
    "nbcode.checkup.checkup": S(lambda: dict(model=tiny_model(2), loader=_loader(), loss_fn=ce(), progress=False,
                                             sections=["initialization"]), heavy=True,
                                kinds={"loader": "object"}),
    "nbcode.checkup.Monitor": S(lambda: (lambda m: dict(model=m, loader=_loader(), loss_fn=ce(), optimizer=torch_sgd(m),
                                                        max_hvp=4))(tiny_model(2)), kinds={"loader": "object"}),
    "nbcode.checkup.Monitor.clipping_threshold": S(instance=_monitor_measured, nonfinite_result=True),
    "nbcode.checkup.Monitor.measure": S(instance=_monitor, heavy=True),
    "nbcode.checkup.Monitor.report": S(instance=_monitor_measured, heavy=True),
    "nbcode.checkup.Report.html": S(instance=_checkup_report),
    "nbcode.checkup.Report.section": S(lambda: dict(key="curvature"), instance=_report),
    "nbcode.checkup.Report.save_html": S(lambda: dict(path="/tmp/battery-report.html"), instance=_checkup_report,
                                         kinds={"path": "object"}, skip=("path",), heavy=True),
    "nbcode.checkup.quantity.fmt": S(lambda: dict(x=1.5), nonfinite_result=True, accept={"x": ("None", "nan")}),
    "nbcode.checkup.quantity.fmt_pm": S(lambda: dict(value=1.5, error=0.1), accept={"value": ("None", "nan"),
                                                                                    "error": ("None", "nan")}),
    "nbcode.checkup.report.Figure": S(lambda: dict(draw=lambda: b"png", alt="a", caption="c")),
    # ---- data
    "nbcode.data.toy2d": S(lambda: dict(name="moons", n=20)),
    "nbcode.data.conditioned_regression": S(lambda: dict(n=12, d=3)),
    "nbcode.data.Regression.loss": S(lambda: dict(w=np.array([1.0, 0.0, -1.0])), instance=_lsq, shapes={"w": "tied"}),
    "nbcode.data.Regression.grad": S(lambda: dict(w=np.array([1.0, 0.0, -1.0])), instance=_lsq, shapes={"w": "tied"}),
    "nbcode.data.Split.as_tensors": S(instance=_tensor_split),
    "nbcode.data.Split": S(lambda: dict(X_train=nX(4, 2), y_train=np.arange(4) % 2, X_val=nX(4, 2), y_val=np.arange(4) % 2,
                                        X_test=nX(4, 2), y_test=np.arange(4) % 2, mean=np.zeros(2), std=np.ones(2))),
    "nbcode.data.Regression": S(lambda: dict(X=nX(4, 3), y=np.ones(4), w_star=np.ones(3), noise=0.1)),
    # ---- exercises
    "nbcode.exercises.check": S(lambda: dict(key="intro.gd_path", answer=None), skip=("answer",), heavy=True),
    "nbcode.exercises.get": S(lambda: dict(key="intro.gd_path")),
    # an exercise already registered: registering the same object again changes nothing
    "nbcode.exercises.register": S(lambda: dict(ex=__import__("nbcode.exercises", fromlist=["x"]).get("intro.eta_opt")),
                                   kinds={"ex": "object"}),
    "nbcode.exercises.Exercise": S(lambda: dict(key="battery.x", question="q", judge=lambda a: (True, "ok"))),
    "nbcode.exercises.Exercise.check": S(lambda: dict(answer=1.0), skip=("answer",),
                                         instance=lambda: __import__("nbcode.exercises", fromlist=["x"]).Exercise(
                                             "battery.x", "q", lambda a: (True, "ok"))),
    "nbcode.exercises.NumberAnswer": S(lambda: dict(value=2.5)),
    "nbcode.exercises.NumberAnswer.__call__": S(lambda: dict(answer=2.5), skip=("answer",),
                                                instance=lambda: __import__("nbcode.exercises", fromlist=["x"]).NumberAnswer(2.5)),
    "nbcode.exercises.ChoiceAnswer": S(lambda: dict(value="a", options=["a", "b"]), kinds={"value": "object", "options": "object"}),
    "nbcode.exercises.ChoiceAnswer.__call__": S(lambda: dict(answer="a"), skip=("answer",),
                                                instance=lambda: __import__("nbcode.exercises", fromlist=["x"]).ChoiceAnswer("a", ["a", "b"])),
    "nbcode.exercises.FunctionAnswer": S(lambda: dict(reference=lambda x: 2 * x, cases=[(1.0,), (2.0,)]), kinds={"cases": "object"}),
    "nbcode.exercises.FunctionAnswer.__call__": S(lambda: dict(answer=lambda x: 2 * x), skip=("answer",),
                                                  instance=lambda: __import__("nbcode.exercises", fromlist=["x"]).FunctionAnswer(
                                                      lambda x: 2 * x, [(1.0,), (2.0,)])),
    # ---- experiments (tiny sizes: the bad inputs must be refused before any training)
    "nbcode.experiments.init.train_with_init": S(lambda: dict(data=_digits_tensors(), scheme="kaiming", depth=2, width=4,
                                                              epochs=1, batch_size=6), kinds={"data": "tensors"}, heavy=True),
    "nbcode.experiments.init.symmetry_run": S(lambda: dict(data=(tX(40, 3, 0), ty(40), tX(6, 3, 1), ty(6)), scheme="kaiming", hidden=4, epochs=1),
                                              kinds={"data": "tensors"}, heavy=True),
    "nbcode.experiments.norm.gd_train": S(lambda: dict(model=tiny_model(2), X=tX(), y=ty(), lr=0.1, steps=2),
                                          shapes={"y": "tied"}),
    "nbcode.experiments.norm.lr_scan": S(lambda: dict(sizes=[3, 4, 2], X=tX(), y=ty(), lrs=[0.1, 0.2], bn=False, steps=2),
                                         shapes={"y": "tied"}, heavy=True),
    "nbcode.experiments.norm.class_skewed_batches": S(lambda: dict(y=np.arange(20) % 2, batch_size=4, skew=0.5, n_batches=2),
                                                      deterministic=True),
    "nbcode.experiments.norm.batch_stat_accuracy": S(lambda: dict(model=bn_model(), X=tX(20), y=ty(20), batch_size=4, n_batches=2),
                                                     shapes={"y": "tied"}),
    "nbcode.experiments.norm.train_sgd": S(lambda: dict(model=tiny_model(2), X=tX(), y=ty(), batch_size=4, epochs=1, lr=0.1),
                                           shapes={"y": "tied"}),
    "nbcode.experiments.norm.compare_bn": S(lambda: dict(sizes=[3, 4, 2], X=tX(), y=ty(), lrs=[0.1], steps=2),
                                            shapes={"y": "tied"}, heavy=True),
    "nbcode.experiments.norm.scale_invariance": S(lambda: dict(model=bn_model(), X=tX(), y=ty(), a=2.0), shapes={"y": "tied"}),
    "nbcode.experiments.optim.race_optimizer": S(lambda: dict(name="Adam", surface=_surface(), lr=0.01)),
    "nbcode.experiments.optim.race": S(lambda: dict(surface="Rosenbrock", steps=3)),
    "nbcode.experiments.optim.race_table": S(lambda: dict(steps=2), heavy=True),
    "nbcode.experiments.optim.digits_race": S(lambda: dict(epochs=1, batch_size=256, hidden=4), heavy=True),
    "nbcode.experiments.optim.tuned_comparison": S(lambda: dict(names=("SGD",), epochs=1, batch_size=256, hidden=4, seeds=(0,),
                                                                schedule=False), heavy=True, kinds={"names": "choices"}),
    "nbcode.experiments.optim.decoupled_decay": S(lambda: dict(epochs=1, batch_size=256, hidden=4), heavy=True),
    "nbcode.experiments.optim.batch_size_study": S(lambda: dict(batch_sizes=(256,), max_epochs=1, hidden=4), heavy=True),
    "nbcode.experiments.regularize.dropout_digits": S(lambda: dict(ps=[0.5], n_train=60, hidden=4, epochs=1), heavy=True),
    "nbcode.experiments.regularize.playground_run": S(lambda: dict(name="moons", hidden=4, n=20, epochs=1, grid=5), heavy=True),
    "nbcode.experiments.regularize.augmentation_digits": S(lambda: dict(n_train=60, hidden=4, epochs=1), heavy=True),
    "nbcode.experiments.regularize.weight_decay_digits": S(lambda: dict(alphas=[0.0, 0.1], n_train=50, hidden=4, epochs=1),
                                                           heavy=True),
    "nbcode.experiments.regularize.label_smoothing_digits": S(lambda: dict(smoothings=[0.1], n_train=50, hidden=4, epochs=1),
                                                              heavy=True),
    "nbcode.experiments.regularize.mc_dropout_predict": S(lambda: dict(model=_dropout_model(), X=tX(), samples=2)),
    "nbcode.experiments.convergence.half_mse": S(lambda: dict(out=tX(8, 2, 0), target=tX(8, 2, 1)),
                                                 shapes={"target": "tied"}, nonfinite=("out", "target")),
    "nbcode.experiments.convergence.edge_summary": S(lambda: dict(run=_full_batch_run(), start=1), kinds={"run": "object"}),
    "nbcode.experiments.convergence.logistic_run": S(lambda: dict(alpha=0.1, steps=2), heavy=True),
    "nbcode.experiments.init.train_residual": S(lambda: dict(data=_digits_tensors(), depth=1, width=4, epochs=1, batch_size=6),
                                                kinds={"data": "tensors"}, heavy=True),
    "nbcode.experiments.init.lstm_memory": S(lambda: dict(hidden=3, steps=3, batch=2)),
    "nbcode.experiments.norm.rescaled_sharpness": S(lambda: dict(model=bn_model(), X=tX(), y=ty(), a=2.0), shapes={"y": "tied"}),
    "nbcode.experiments.norm.norm_mlp": S(lambda: dict(sizes=[3, 4, 2], norm="group", groups=2)),
    "nbcode.experiments.norm.train_norms": S(lambda: dict(sizes=[3, 4, 2], X=tX(), y=ty(), Xv=tX(6, 3, 1), yv=ty(6), norms=["batch"],
                                                          batch_sizes=[4], epochs=1, lr_per_example=0.01),
                                             shapes={"y": "tied", "yv": "tied"}, kinds={"norms": "choices"}, heavy=True),
    "nbcode.experiments.optim.saddle_escape": S(lambda: dict(paths={"a": np.array([[2.0, 1e-3], [1.0, 0.1], [0.5, 0.7]])}),
                                                kinds={"paths": "object"}),
    "nbcode.experiments.optim.online_counterexample": S(lambda: dict(opt=_opt_sgd(), steps=5), kinds={"opt": "object"}),
    "nbcode.experiments.optim.TunedComparison.final": S(lambda: dict(name="SGD", lr=0.5), instance=_tuned),
    "nbcode.experiments.optim.TunedComparison.best_lr": S(lambda: dict(name="SGD"), instance=_tuned),
    "nbcode.experiments.optim.TunedComparison.curves": S(lambda: dict(name="SGD", lr=0.5), instance=_tuned),
    "nbcode.experiments.optim.gradient_noise_scale": S(lambda: dict(model=tiny_model(2), X=tX(), y=ty()), shapes={"y": "tied"}),
    # ---- hessian
    "nbcode.hessian.HessianOperator": S(lambda: dict(model=tiny_model(2), loss_fn=ce(), X=tX(), y=ty()), shapes={"y": "tied"}),
    "nbcode.hessian.HessianOperator.matvec": S(lambda: dict(v=np.arange(26, dtype=float) % 3),
                                               instance=lambda: __import__("nbcode.hessian", fromlist=["x"]).HessianOperator(
                                                   tiny_model(2), ce(), tX(), ty()), shapes={"v": "tied"}),
    "nbcode.hessian.HessianOperator.gradient": S(instance=lambda: __import__("nbcode.hessian", fromlist=["x"]).HessianOperator(
        tiny_model(2), ce(), tX(), ty())),
    "nbcode.hessian.HessianOperator.dense": S(instance=lambda: __import__("nbcode.hessian", fromlist=["x"]).HessianOperator(
        tiny_model(2), ce(), tX(), ty())),
    "nbcode.hessian.MatrixOperator": S(lambda: dict(A=np.array([[2.0, 1.0], [1.0, 3.0]]))),
    "nbcode.hessian.MatrixOperator.matvec": S(lambda: dict(v=np.array([1.0, -1.0])), shapes={"v": "tied"},
                                              instance=lambda: __import__("nbcode.hessian", fromlist=["x"]).MatrixOperator(
                                                  np.array([[2.0, 1.0], [1.0, 3.0]]))),
    "nbcode.hessian.as_operator": S(lambda: dict(op=np.array([[2.0, 1.0], [1.0, 3.0]]))),
    "nbcode.hessian.exact_hessian": S(lambda: dict(model=tiny_model(2), loss_fn=ce(), X=tX(), y=ty()), shapes={"y": "tied"}),
    "nbcode.hessian.flat_loss": S(lambda: dict(model=tiny_model(2), loss_fn=ce(), X=tX(), y=ty()), shapes={"y": "tied"}),
    "nbcode.hessian.flat_params": S(lambda: dict(model=tiny_model(2))),
    "nbcode.hessian.unflatten": S(lambda: dict(model=tiny_model(2), theta=_torch().zeros(26, dtype=_torch().float64)),
                                  shapes={"theta": "tied"}, nonfinite=("theta",)),
    "nbcode.hessian.gauss_newton": S(lambda: dict(model=tiny_model(2), loss_fn=ce(), X=tX(), y=ty()), shapes={"y": "tied"}),
    "nbcode.hessian.power_iteration": S(lambda: dict(op=np.diag([4.0, 1.0, 0.5]), max_iter=50)),
    "nbcode.hessian.lanczos": S(lambda: dict(op=np.diag([4.0, 1.0, 0.5]), m=2), shapes={"v0": "tied"}),
    "nbcode.hessian.lanczos_topk": S(lambda: dict(op=np.diag([4.0, 1.0, 0.5]), k=1)),
    "nbcode.hessian.hutchinson_trace": S(lambda: dict(op=np.diag([4.0, 1.0, 0.5]), n_samples=4)),
    "nbcode.hessian.hutchinson_variance": S(lambda: dict(H=np.array([[2.0, 1.0], [1.0, 3.0]]))),
    "nbcode.hessian.slq": S(lambda: dict(op=np.diag([4.0, 1.0, 0.5]), m=2, n_probes=2)),
    "nbcode.hessian.slq_density": S(lambda: dict(op=np.diag([4.0, 1.0, 0.5]), grid=np.array([0.0, 1.0, 2.0]), m=2, n_probes=2)),
    "nbcode.hessian.gaussian_density": S(lambda: dict(grid=np.array([0.0, 1.0, 2.0]), nodes=np.array([1.0, 2.0]),
                                                      weights=np.array([0.5, 0.5]), sigma=0.5), shapes={"weights": "tied"}),
    "nbcode.hessian.curvature_along_gradient": S(lambda: dict(model=tiny_model(2), loss_fn=ce(), X=tX(), y=ty()), shapes={"y": "tied"}),
    "nbcode.hessian.predicted_change": S(lambda: dict(gTg=2.0, gTHg=1.0, lr=0.5)),
    "nbcode.hessian.find_critical_points": S(lambda: dict(X=np.array([[1.0], [-1.0], [2.0]]), y=np.array([1.0, -1.0, 0.5]),
                                                          hidden=1, gd_steps=(0, 2), n_inits=1, iters=3), shapes={"y": "tied"},
                                             heavy=True),
    "nbcode.hessian.tiny_mlp_loss": S(lambda: dict(X=np.array([[1.0], [-1.0], [2.0]]), y=np.array([1.0, -1.0, 0.5]), hidden=1),
                                      shapes={"y": "tied"}),
    "nbcode.hessian.sharpness": S(lambda: dict(model=tiny_model(2), X=tX(), y=ty()), shapes={"y": "tied"}),
    # ---- init
    "nbcode.init.calculate_fan_in_and_fan_out": S(lambda: dict(shape=(3, 4))),
    "nbcode.init.calculate_correct_fan": S(lambda: dict(shape=(3, 4), mode="fan_in")),
    "nbcode.init.calculate_gain": S(lambda: dict(nonlinearity="leaky_relu", param=0.5)),
    "nbcode.init.init_std": S(lambda: dict(shape=(3, 4), scheme="kaiming")),
    "nbcode.init.lecun_normal": S(lambda: dict(shape=(3, 4), rng=rng())),
    "nbcode.init.lecun_uniform": S(lambda: dict(shape=(3, 4), rng=rng())),
    "nbcode.init.xavier_normal": S(lambda: dict(shape=(3, 4), rng=rng())),
    "nbcode.init.xavier_uniform": S(lambda: dict(shape=(3, 4), rng=rng())),
    "nbcode.init.kaiming_normal": S(lambda: dict(shape=(3, 4), rng=rng())),
    "nbcode.init.kaiming_uniform": S(lambda: dict(shape=(3, 4), rng=rng())),
    "nbcode.init.orthogonal": S(lambda: dict(shape=(3, 4), rng=rng())),
    "nbcode.init.sparse": S(lambda: dict(shape=(3, 4), sparsity=0.5, rng=rng())),
    "nbcode.init.activation": S(lambda: dict(name="tanh")),
    "nbcode.init.weight_std": S(lambda: dict(init="kaiming", width=4, act="relu")),
    "nbcode.init.VarianceProfile": S(lambda: dict(forward=np.ones(3), backward=np.ones(3), hidden=None),
                                     nonfinite=("forward", "backward")),
    "nbcode.init.simulate_variance": S(lambda: dict(depth=3, width=4, batch=8, rng=rng())),
    "nbcode.init.predict_variance": S(lambda: dict(depth=3, width=4)),
    "nbcode.init.mlp_weights": S(lambda: dict(depth=3, width=4, rng=rng())),
    "nbcode.init.input_output_jacobian": S(lambda: dict(weights=[np.eye(2), 0.5 * np.ones((2, 2))], act="tanh",
                                                        x=np.array([1.0, -1.0])), kinds={"weights": "arrays"}, shapes={"x": "tied"}),
    "nbcode.init.jacobian_product": S(lambda: dict(weights=[np.eye(2), 0.5 * np.ones((2, 2))], act="tanh",
                                                   x=np.array([1.0, -1.0])), kinds={"weights": "arrays"}, shapes={"x": "tied"}),
    "nbcode.init.jacobian_singular_values": S(lambda: dict(depth=3, width=4, rng=rng())),
    "nbcode.init.fixed_point_variance": S(lambda: dict(act="tanh", sigma_w=1.5, iters=20)),
    "nbcode.init.spectrum_grid": S(lambda: dict(depths=[2], sigmas=[1.0], acts=["tanh"], inits=["orthogonal"], width=4)),
    "nbcode.init.forward_stats": S(lambda: dict(model=tiny_model(2), X=tX())),
    "nbcode.init.layer_stats": S(lambda: dict(model=tiny_model(2), X=tX(), y=ty(), loss_fn=ce()), shapes={"y": "tied"}),
    "nbcode.init.format_stats": S(lambda: dict(stats=__import__("nbcode.init", fromlist=["x"]).forward_stats(tiny_model(2), tX())),
                                  kinds={"stats": "object"}, empty=("stats",)),
    "nbcode.init.lsuv": S(lambda: dict(model=tiny_model(2), X=tX(), max_iter=2, rng=rng())),
    "nbcode.init.init_model_": S(lambda: dict(model=tiny_model(2), scheme="kaiming", rng=rng())),
    "nbcode.init.prior_bias": S(lambda: dict(y=np.array([0, 1, 1, 2]), n_classes=3)),
    "nbcode.init.unit_spread": S(lambda: dict(layer=tiny_model(2)[0])),
    "nbcode.init.fans.check_shape": S(lambda: dict(shape=(3, 4)), empty=("shape",)),  # () is a scalar's shape
    "nbcode.init.propagation.gaussian_expectation": S(lambda: dict(fn=np.tanh, q=1.0)),
    "nbcode.init.lstm_forget_bias_": S(lambda: dict(lstm=_torch().nn.LSTMCell(3, 2).double(), value=1.0)),
    "nbcode.init.predict_widths": S(lambda: dict(widths=[4, 6, 3])),
    "nbcode.init.simulate_widths": S(lambda: dict(widths=[4, 6, 3], batch=8, rng=rng())),
    "nbcode.init.input_variance": S(lambda: dict(act="tanh", sigma_w=1.0)),
    "nbcode.init.relu_log_step": S(lambda: dict(width=4)),
    "nbcode.init.log_norm_walk": S(lambda: dict(depth=3, width=4, networks=2, rng=rng())),
    "nbcode.init.mean_field": S(lambda: dict(sigma_w=1.2, sigma_b=0.1)),
    "nbcode.init.variance_map": S(lambda: dict(q=1.0, sigma_w=1.0)),
    "nbcode.init.correlation_map": S(lambda: dict(c=0.5, q=0.5, sigma_w=1.2, sigma_b=0.1)),
    "nbcode.init.correlation_walk": S(lambda: dict(depth=3, width=4, sigma_ws=[0.5, 2.0], sigma_b=0.2, gap=0.5, networks=2,
                                                   rng=rng())),
    "nbcode.init.predict_residual_variance": S(lambda: dict(depth=3)),
    "nbcode.init.residual_variance": S(lambda: dict(depth=3, width=4, batch=8, rng=rng())),
    "nbcode.init.ResidualBlock": S(lambda: dict(width=4, hidden=3)),
    # a module's forward, as torch's layers: NaN in gives NaN out, an empty batch an empty output (called every step)
    "nbcode.init.ResidualBlock.branch": S(lambda: dict(x=tX(5, 4)), instance=lambda: _residual_block(), nonfinite=("x",),
                                          empty=("x",)),
    "nbcode.init.ResidualBlock.forward": S(lambda: dict(x=tX(5, 4)), instance=lambda: _residual_block(), nonfinite=("x",),
                                           empty=("x",)),
    "nbcode.init.residual_mlp": S(lambda: dict(sizes=(3, 4, 2), depth=2, seed=0)),
    # a layer whose output std is undefined (one output entry) or overflows reports NaN/inf, as lsuv measures it
    "nbcode.init.probe.LSUVResult": S(lambda: dict(stds=[1.0, 0.5], converged=[True, False], iterations=[1, 10]),
                                      kinds={"converged": "object"}, nonfinite=("stds",)),
    # ---- landscape
    "nbcode.landscape.random_direction": S(lambda: dict(model=tiny_model(2))),
    "nbcode.landscape.filter_normalize": S(lambda: dict(model=tiny_model(2), direction=_torch().ones(26, dtype=_torch().float64)),
                                           shapes={"direction": "tied"}),
    "nbcode.landscape.centered_grid": S(lambda: dict(radius=1.0, num=5)),
    "nbcode.landscape.loss_on_grid": S(lambda: dict(model=tiny_model(2), loss_fn=ce(), X=tX(), y=ty(),
                                                    thetas=_torch().zeros(3, 26, dtype=_torch().float64)),
                                       shapes={"y": "tied"}),  # thetas: any number G of rows
    "nbcode.landscape.losses_at": S(lambda: dict(model=tiny_model(2), loss_fn=ce(), X=tX(), y=ty(),
                                                 theta=_torch().zeros(26, dtype=_torch().float64),
                                                 directions=[_torch().ones(26, dtype=_torch().float64)],
                                                 coeffs=_torch().tensor([[0.0], [1.0]], dtype=_torch().float64)),
                                    shapes={"y": "tied", "theta": "tied"}, kinds={"directions": "tensors"}),  # coeffs: any G
    "nbcode.landscape.auto_chunk": S(lambda: dict(model=tiny_model(2), X=tX())),
    "nbcode.landscape.slice_1d": S(lambda: dict(model=tiny_model(2), loss_fn=ce(), X=tX(), y=ty(),
                                                direction=_torch().ones(26, dtype=_torch().float64), alphas=np.array([-1.0, 0.0, 1.0])),
                                   shapes={"y": "tied", "direction": "tied"}),
    "nbcode.landscape.slice_2d": S(lambda: dict(model=tiny_model(2), loss_fn=ce(), X=tX(), y=ty(),
                                                directions=(_torch().ones(26, dtype=_torch().float64),
                                                            -_torch().ones(26, dtype=_torch().float64)),
                                                alphas=np.array([-1.0, 1.0]), betas=np.array([0.0, 1.0])),
                                   shapes={"y": "tied"}, kinds={"directions": "tensors"}),
    "nbcode.landscape.interpolate": S(lambda: dict(model=tiny_model(2), loss_fn=ce(), X=tX(), y=ty(),
                                                   theta_start=_torch().zeros(26, dtype=_torch().float64),
                                                   alphas=np.array([0.0, 0.5, 1.0])),
                                      shapes={"y": "tied", "theta_start": "tied"}),
    "nbcode.landscape.permute_hidden": S(lambda: dict(model=tiny_model(2), layer=0, perm=[3, 0, 1, 2])),
    "nbcode.landscape.rescale_hidden": S(lambda: dict(model=tiny_model(2), layer=0, c=np.array([0.5, 2.0, 1.0, 4.0])),
                                         shapes={"c": "tied"}),
    "nbcode.landscape.rescaling_directions": S(lambda: dict(model=tiny_model(2), layer=0)),
    # ---- norm
    "nbcode.norm.normalize": S(lambda: dict(x=nX(6, 2), axes=(0,), eps=1e-5), kinds={"axes": "axes"},
                               shapes={"x": "any"}),  # any ndim: the axes say which are averaged over
    "nbcode.norm.normalize_backward": S(lambda: dict(d_xhat=nX(6, 2), cache=_norm_cache()), shapes={"d_xhat": "tied"}),
    "nbcode.norm.BatchNorm": S(lambda: dict(num_features=2)),
    "nbcode.norm.BatchNorm.__call__": S(lambda: dict(x=nX(6, 2)), shapes={"x": "tied"}, accept={"x": ("extra dim",)},
                                        instance=lambda: __import__("nbcode.norm", fromlist=["x"]).BatchNorm(2)),
    "nbcode.norm.BatchNorm.backward": S(lambda: dict(dout=nX(6, 2)), shapes={"dout": "tied"},
                                        instance=lambda: (lambda b: (b(nX(6, 2)), b)[1])(
                                            __import__("nbcode.norm", fromlist=["x"]).BatchNorm(2))),
    "nbcode.norm.batch_norm": S(lambda: dict(x=nX(6, 2), weight=np.ones(2), bias=np.zeros(2), running_mean=np.zeros(2),
                                             running_var=np.ones(2), training=True),
                                shapes={"weight": "tied", "bias": "tied", "running_mean": "tied", "running_var": "tied"},
                                accept={"x": ("extra dim",)}),  # (N, C, L) input, as BatchNorm1d
    "nbcode.norm.batch_norm_backward": S(lambda: dict(dout=nX(6, 2), cache=_bn_cache()), shapes={"dout": "tied"}),
    "nbcode.norm.batch_norm_backward_stepwise": S(lambda: dict(dout=nX(6, 2), x=nX(6, 2), weight=np.ones(2)),
                                                  shapes={"dout": "tied", "weight": "tied"}),
    "nbcode.norm.layer_norm": S(lambda: dict(x=nX(6, 4).reshape(2, 2, 6), normalized_shape=6, weight=np.ones(6),
                                             bias=np.zeros(6)), kinds={"normalized_shape": "count"},
                                shapes={"weight": "tied", "bias": "tied"}),
    "nbcode.norm.layer_norm_backward": S(lambda: dict(dout=nX(6, 4).reshape(2, 2, 6), cache=_affine_cache("layer")),
                                         shapes={"dout": "tied"}),
    "nbcode.norm.group_norm": S(lambda: dict(x=nX(6, 4).reshape(2, 2, 6), num_groups=1, weight=np.ones(2), bias=np.zeros(2)),
                                shapes={"weight": "tied", "bias": "tied"}, accept={"x": ("extra dim",)}),  # (N, C, *)
    "nbcode.norm.group_norm_backward": S(lambda: dict(dout=nX(6, 4).reshape(2, 2, 6), cache=_affine_cache("group")),
                                         shapes={"dout": "tied"}),
    "nbcode.norm.instance_norm": S(lambda: dict(x=nX(6, 4).reshape(2, 2, 6), weight=np.ones(2), bias=np.zeros(2)),
                                   shapes={"weight": "tied", "bias": "tied"}, accept={"x": ("extra dim",)}),  # (N, C, H, W)
    "nbcode.norm.norm_axes": S(lambda: dict(kind="layer", shape=(2, 4, 3, 3), num_groups=2)),
    "nbcode.norm.weight_norm": S(lambda: dict(v=nX(3, 2), g=np.array([[1.0], [2.0], [0.5]])), shapes={"g": "tied"}),
    "nbcode.norm.weight_norm_backward": S(lambda: dict(dw=nX(3, 2), v=nX(3, 2), g=np.array([[1.0], [2.0], [0.5]])),
                                          shapes={"g": "tied", "dw": "tied"}),
    # W of any ndim >= 2 is flattened to (out, -1), as torch does for a convolution's weight
    "nbcode.norm.spectral_power_iteration": S(lambda: dict(W=nX(3, 2), u=np.array([1.0, 0.0, 0.0]), v=np.array([0.0, 1.0])),
                                              shapes={"u": "tied", "v": "tied"}, accept={"W": ("extra dim",)}),
    "nbcode.norm.spectral_norm": S(lambda: dict(W=nX(3, 2), u=np.array([1.0, 0.0, 0.0]), v=np.array([0.0, 1.0])),
                                   shapes={"u": "tied", "v": "tied"}, accept={"W": ("extra dim",)}),
    "nbcode.norm.rms_norm": S(lambda: dict(x=nX(6, 4).reshape(2, 2, 6), normalized_shape=6, weight=np.ones(6)),
                              kinds={"normalized_shape": "count"}, shapes={"weight": "tied"}),
    "nbcode.norm.rms_norm_backward": S(lambda: dict(dout=nX(6, 4).reshape(2, 2, 6),
                                                    cache=__import__("nbcode.norm", fromlist=["x"]).rms_norm(
                                                        nX(6, 4).reshape(2, 2, 6), 6, np.ones(6))[1]),
                                       shapes={"dout": "tied"}),
    "nbcode.norm.two_feature_regression": S(lambda: dict(n=10), kinds={"mean": "pair"}),
    "nbcode.norm.standardize": S(lambda: dict(X=nX(6, 2))),
    "nbcode.norm.design": S(lambda: dict(X=nX(6, 2))),
    "nbcode.norm.ls_hessian": S(lambda: dict(A=nX(6, 2))),
    "nbcode.norm.ls_gradient": S(lambda: dict(A=nX(6, 2), y=ny(6)), shapes={"y": "tied"}),
    "nbcode.norm.condition_number": S(lambda: dict(H=np.array([[2.0, 1.0], [1.0, 3.0]]))),
    "nbcode.norm.predicted_kappa_standardized": S(lambda: dict(rho=0.5)),
    "nbcode.norm.steps_to_converge": S(lambda: dict(A=np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), y=np.array([1.0, 0.0, 1.0]),
                                                    lr=0.3, tol=1e-3, max_steps=200), shapes={"y": "tied"}),
    # ---- optim
    "nbcode.optim.Stepper": S(lambda: dict(opt=_opt_sgd(), params=np.array([1.0, -2.0])), shapes={"params": "any"}),
    "nbcode.optim.Stepper.step": S(lambda: dict(grads=np.array([0.5, 1.0])), shapes={"grads": "tied"}, nonfinite=("grads",),
                                   instance=lambda: __import__("nbcode.optim", fromlist=["x"]).Stepper(_opt_sgd(), np.array([1.0, -2.0]))),
    "nbcode.optim.Optimizer.update_": S(lambda: dict(grads=np.array([0.5, 1.0]), state=_opt_sgd().init(np.array([1.0, -2.0])),
                                                     params=np.array([1.0, -2.0])), instance=_opt_sgd, nonfinite=("grads", "params"), inplace=("params",),
                                        shapes={"grads": "tied"}, kinds={"state": "object"}),
    "nbcode.optim.apply_updates": S(lambda: dict(params=np.array([1.0, -2.0]), updates=np.array([0.5, 1.0])),
                                    shapes={"updates": "tied"}),
    "nbcode.optim.learning_rate": S(lambda: dict(lr=0.5), kinds={"lr": "real", "name": "text"}),
    "nbcode.optim.run": S(lambda: dict(opt=_opt_sgd(), grad=lambda w: 2 * w, w0=np.array([1.0, -2.0]), steps=3),
                          shapes={"w0": "any"}),
    "nbcode.optim.iterate": S(lambda: dict(opt=_opt_sgd(), grad=lambda w: 2 * w, w0=np.array([1.0, -2.0])), shapes={"w0": "any"}),
    "nbcode.optim.gd_path": S(lambda: dict(loss=_surface(), w0=np.array([1.0, -2.0]), lr=0.001, steps=3), shapes={"w0": "tied"}),
    "nbcode.optim.newton_path": S(lambda: dict(loss=_surface(), w0=np.array([1.0, -2.0]), steps=3), shapes={"w0": "tied"}),
    "nbcode.optim.momentum_ma": S(lambda: dict(lr=0.1, momentum=0.5)),
    "nbcode.optim.momentum_velocity": S(lambda: dict(lr=0.1, momentum=0.5)),
    "nbcode.optim.nesterov_lookahead_path": S(lambda: dict(grad=lambda w: 2 * w, w0=np.array([1.0, -2.0]), lr=0.1, momentum=0.5,
                                                           steps=3), shapes={"w0": "any"}),
    "nbcode.optim.newton": S(lambda: dict(hess=lambda w: 2 * np.eye(np.size(w)))),
    "nbcode.optim.two_loop": S(_lbfgs_two_loop, kinds={"old_stps": "arrays", "old_dirs": "arrays", "ro": "reals"},
                               shapes={"g": "tied"}),
    "nbcode.optim.minimize_lbfgs": S(lambda: dict(fun=lambda w: float(w @ w), grad=lambda w: 2 * w, x0=np.array([1.0, -2.0]),
                                                  max_iter=5)),
    "nbcode.optim.iteration_matrix": S(lambda: dict(lr=0.1, momentum=0.5, lam=2.0)),
    "nbcode.optim.heavy_ball_rate": S(lambda: dict(lr=0.1, momentum=0.5, lams=np.array([1.0, 4.0]))),
    "nbcode.optim.nesterov_rate": S(lambda: dict(lr=0.1, momentum=0.5, lams=np.array([1.0, 4.0]))),
    "nbcode.optim.optimal_nesterov": S(lambda: dict(lam_min=1.0, lam_max=4.0)),
    "nbcode.optim.optimal_heavy_ball": S(lambda: dict(lam_min=1.0, lam_max=4.0)),
    "nbcode.optim.heavy_ball_path": S(lambda: dict(lr=0.1, momentum=0.5, lams=np.array([1.0, 4.0]), w0=np.array([1.0, -2.0]), steps=3),
                                      shapes={"w0": "tied"}),
    "nbcode.optim.measured_rate": S(lambda: dict(lr=0.1, momentum=0.5, lams=np.array([1.0, 4.0]), steps=20)),
    "nbcode.optim.converges": S(lambda: dict(lr=0.1, momentum=0.5, lam=2.0)),
    "nbcode.optim.rate_grid": S(lambda: dict(lrs=np.array([0.1, 0.2]), betas=np.array([0.0, 0.5]), lams=np.array([1.0, 4.0]))),
    # ---- plot
    "nbcode.plot.color": S(lambda: dict(c=1), kinds={"c": "object"}, accept={"c": ("None",)}),
    "nbcode.plot.snap_figure": S(lambda: dict(fig=_matplotlib_axes().figure), kinds={"fig": "object"}),
    "nbcode.plot.quantize.Quantizer": S(lambda: dict(lo=0.0, hi=2.0, log=False)),
    # count/number: None, NaN and inf are values an axis cannot show, documented to give None
    "nbcode.plot.quantize.Quantizer.count": S(lambda: dict(v=0.5), accept={"v": ("None", "nan")}, nonfinite_result=True,
                                              instance=lambda: __import__("nbcode.plot.quantize", fromlist=["x"]).Quantizer(0.0, 2.0, False)),
    "nbcode.plot.quantize.Quantizer.value": S(lambda: dict(k=3), accept={"k": ("None",)}, kinds={"k": "int"},
                                              instance=lambda: __import__("nbcode.plot.quantize", fromlist=["x"]).Quantizer(0.0, 2.0, False)),
    "nbcode.plot.quantize.Quantizer.counts": S(lambda: dict(values=np.array([0.5, 1.0])), nonfinite=("values",),
                                               instance=lambda: __import__("nbcode.plot.quantize", fromlist=["x"]).Quantizer(0.0, 2.0, False),
                                               shapes={"values": "any"}, empty=("values",)),
    "nbcode.plot.quantize.Quantizer.number": S(lambda: dict(v=0.5), accept={"v": ("None", "nan")}, nonfinite_result=True,
                                               instance=lambda: __import__("nbcode.plot.quantize", fromlist=["x"]).Quantizer(0.0, 2.0, False)),
    "nbcode.plot.quantize.snap": S(lambda: dict(values=np.array([0.5, 1.0]),
                                                q=__import__("nbcode.plot.quantize", fromlist=["x"]).Quantizer(0.0, 2.0, False)),
                                   nonfinite=("values",), shapes={"values": "any"}, empty=("values",)),
    "nbcode.plot.quantize.snap_field": S(lambda: dict(z=np.array([[0.5, 1.0], [2.0, 3.0]])), nonfinite=("z",)),
    # data may hold gaps (None, NaN, inf: skipped, as in a line broken by NaN) and be empty (an empty axis)
    "nbcode.plot.quantize.Quantizer.for_axis": S(lambda: dict(data=[0.0, 0.5, 2.0], log=False), kinds={"data": "array", "lim": "pair"},
                                                 nonfinite=("data",), empty=("data",), shapes={"data": "any"}),
    # ---- quadratic
    "nbcode.quadratic.Quadratic1D": S(lambda: dict(a=2.0, b=1.0)),
    "nbcode.quadratic.Quadratic1D.grad": S(lambda: dict(w=1.5), kinds={"w": "real"},
                                           instance=lambda: __import__("nbcode.quadratic", fromlist=["x"]).Quadratic1D(2.0, 1.0)),
    "nbcode.quadratic.Quadratic1D.__call__": S(lambda: dict(w=1.5), kinds={"w": "real"},
                                               instance=lambda: __import__("nbcode.quadratic", fromlist=["x"]).Quadratic1D(2.0, 1.0)),
    "nbcode.quadratic.contraction_factor": S(lambda: dict(lr=0.25, a=2.0)),
    "nbcode.quadratic.regime": S(lambda: dict(lr=0.25, a=2.0)),
    "nbcode.quadratic.steps_to_tolerance": S(lambda: dict(lr=0.25, a=2.0, distance0=1.0, tol=0.01),
                                             nonfinite_result=True),  # documented: inf when |1 - lr a| >= 1 (lr = 0)
    "nbcode.quadratic.QuadraticND": S(lambda: dict(H=np.array([[2.0, 1.0], [1.0, 3.0]]), b=np.array([1.0, -1.0])),
                                      shapes={"b": "tied"}),
    "nbcode.quadratic.QuadraticND.grad": S(lambda: dict(w=np.array([1.0, -2.0])), instance=_quad, shapes={"w": "tied"}),
    "nbcode.quadratic.QuadraticND.__call__": S(lambda: dict(w=np.array([1.0, -2.0])), instance=_quad, shapes={"w": "tied"}),
    "nbcode.quadratic.quadratic_from_eigs": S(lambda: dict(eigvals=np.array([1.0, 4.0]), Q=np.array([[0.0, 1.0], [1.0, 0.0]]),
                                                           w_star=np.array([1.0, -1.0])), shapes={"Q": "tied", "w_star": "tied"}),
    "nbcode.quadratic.quadratic_2d": S(lambda: dict(kappa=4.0), kinds={"w_star": "pair"}),
    "nbcode.quadratic.eigen_contractions": S(lambda: dict(lr=0.25, eigvals=np.array([1.0, 4.0]))),
    "nbcode.quadratic.eigen_regimes": S(lambda: dict(lr=0.25, eigvals=np.array([1.0, 4.0]))),
    "nbcode.quadratic.rate": S(lambda: dict(lr=0.25, eigvals=np.array([1.0, 4.0]))),
    "nbcode.quadratic.max_stable_lr": S(lambda: dict(eigvals=np.array([1.0, 4.0]))),
    "nbcode.quadratic.best_fixed_lr": S(lambda: dict(eigvals=np.array([1.0, 4.0]))),
    "nbcode.quadratic.optimal_rate": S(lambda: dict(kappa=4.0)),
    "nbcode.quadratic.preconditioned_path": S(lambda: dict(q=_quad(), w0=np.array([1.0, -2.0]), lr=0.25, steps=3,
                                                           P=np.eye(2)), shapes={"w0": "tied", "P": "tied"}),
    "nbcode.quadratic.iterations_to_tolerance": S(lambda: dict(lr=0.25, eigvals=np.array([1.0, 4.0]), tol=0.01),
                                                  nonfinite_result=True),
    "nbcode.quadratic.predicted_iterations": S(lambda: dict(kappa=4.0, tol=0.01)),
    "nbcode.quadratic.measured_iterations": S(lambda: dict(path=np.array([[2.0, 2.0], [1.0, 1.0], [0.5, 0.5], [0.0, 0.0]]),
                                                           w_star=np.array([0.0, 0.0]), tol=0.75), shapes={"w_star": "tied"},
                                              nonfinite_result=True,
                                              nonfinite=("path",)),  # NaN rows: a diverged path's padding (gd_path)
    "nbcode.quadratic.local_eta_opt": S(lambda: dict(hess=lambda w: 2.0 + w * w, w=1.0), nonfinite_result=True),
    "nbcode.quadratic.convergence_ratios": S(lambda: dict(errors=np.array([1.0, 0.5, 0.25, 0.125]))),
    # ---- regularize
    "nbcode.regularize.l2_penalty": S(lambda: dict(w=np.array([1.0, -2.0])), shapes={"w": "any"}),
    "nbcode.regularize.l1_penalty": S(lambda: dict(w=np.array([1.0, -2.0])), shapes={"w": "any"}),
    "nbcode.regularize.elastic_net_penalty": S(lambda: dict(w=np.array([1.0, -2.0])), shapes={"w": "any"}),
    "nbcode.regularize.l2_grad": S(lambda: dict(w=np.array([1.0, -2.0])), shapes={"w": "any"}),
    "nbcode.regularize.l1_subgrad": S(lambda: dict(w=np.array([1.0, -2.0])), shapes={"w": "any"}),
    "nbcode.regularize.soft_threshold": S(lambda: dict(z=np.array([1.0, -2.0]), t=0.5), shapes={"z": "any"}),
    "nbcode.regularize.prox_l2": S(lambda: dict(z=np.array([1.0, -2.0]), t=0.5), shapes={"z": "any"}),
    "nbcode.regularize.prox_elastic_net": S(lambda: dict(z=np.array([1.0, -2.0]), t=0.5), shapes={"z": "any"}),
    "nbcode.regularize.ridge": S(lambda: dict(X=nX(6, 2), y=ny(6), alpha=0.5), shapes={"y": "tied"}),
    "nbcode.regularize.l2_optimum": S(lambda: dict(H=np.array([[2.0, 1.0], [1.0, 3.0]]), w_star=np.array([1.0, -1.0]), alpha=0.5),
                                      shapes={"w_star": "tied"}),
    "nbcode.regularize.l1_optimum_diagonal": S(lambda: dict(lams=np.array([1.0, 4.0]), w_star=np.array([1.0, -1.0]), alpha=0.5),
                                               shapes={"w_star": "tied"}),
    "nbcode.regularize.ista": S(lambda: dict(X=nX(6, 2), y=ny(6), alpha=0.5, steps=3), shapes={"y": "tied", "w0": "tied"}),
    "nbcode.regularize.subgradient_descent": S(lambda: dict(X=nX(6, 2), y=ny(6), alpha=0.5, lr=0.01, steps=3),
                                               shapes={"y": "tied", "w0": "tied"}),
    "nbcode.regularize.lipschitz": S(lambda: dict(X=nX(6, 2))),
    # shape () is NumPy's (and torch's) 0-d shape: a valid mask of one entry
    "nbcode.regularize.dropout_mask": S(lambda: dict(shape=(3, 4), p=0.5, seed=0), accept={"shape": ("empty",)}),
    # as torch.nn.functional.dropout: any input, empty or with NaN/inf entries (they propagate, as in torch)
    "nbcode.regularize.dropout": S(lambda: dict(x=nX(3, 4), p=0.5, seed=0), shapes={"x": "any"}, nonfinite=("x",), empty=("x",)),
    "nbcode.regularize.dropout_keep": S(lambda: dict(x=nX(3, 4), keep=0.5, seed=0), shapes={"x": "any"}, nonfinite=("x",),
                                        empty=("x",)),
    "nbcode.regularize.dropconnect": S(lambda: dict(x=nX(5, 3), W=nX(2, 3), b=np.array([0.5, -0.5]), seed=0),
                                       shapes={"W": "tied", "b": "tied"}),
    "nbcode.regularize.mask_average": S(lambda: dict(f=np.tanh, x=np.array([1.0, -2.0]), keep=0.5), shapes={"x": "any"}),
    "nbcode.regularize.weight_scaling_gap": S(lambda: dict(f=np.tanh, x=np.array([1.0, -2.0]), keep=0.5), shapes={"x": "any"}),
    # monitor: any key of a History (checked when the callback reads it), not a fixed set of options
    "nbcode.regularize.EarlyStopping": S(lambda: dict(model=tiny_model(2)), kinds={"model": "module"},
                                         accept={"model": ("None",), "monitor": ("unknown",)}),
    "nbcode.regularize.EarlyStopping.__call__": S(lambda: dict(epoch=1, history=_history()), kinds={"history": "object"},
                                                  instance=lambda: __import__("nbcode.regularize", fromlist=["x"]).EarlyStopping(
                                                      patience=2, monitor="val_loss")),
    "nbcode.regularize.EarlyStopping.restore": S(instance=lambda: __import__("nbcode.regularize", fromlist=["x"]).EarlyStopping(
        tiny_model(2))),
    "nbcode.regularize.gd_quadratic_factors": S(lambda: dict(lams=np.array([1.0, 4.0]), lr=0.1, steps=3)),
    "nbcode.regularize.l2_factors": S(lambda: dict(lams=np.array([1.0, 4.0]), alpha=0.5)),
    "nbcode.regularize.matching_alpha": S(lambda: dict(lams=np.array([1.0, 4.0]), lr=0.1, steps=3)),
    "nbcode.regularize.clip_by_value": S(lambda: dict(g=np.array([1.0, -2.0]), clip_value=0.5), shapes={"g": "any"},
                                         nonfinite=("g",), empty=("g",)),  # as torch's clip_grad_value_: empty is fine
    "nbcode.regularize.clip_by_norm": S(lambda: dict(grads=[np.array([1.0, -2.0]), np.array([[3.0]])], max_norm=1.0),
                                        kinds={"grads": "arrays"}, nonfinite=("grads",), nonfinite_result=True),
    "nbcode.regularize.clipped_descent": S(lambda: dict(grad=lambda w: 2 * w, w0=np.array([1.0, -2.0]), lr=0.1, steps=3,
                                                        clip="norm")),
    "nbcode.regularize.shift_images": S(lambda: dict(X=nX(2, 64), dx=1, dy=-1)),
    "nbcode.regularize.augment_shifts": S(lambda: dict(X=nX(2, 64), y=np.array([0, 1])), shapes={"y": "tied"},
                                          kinds={"shifts": "shifts"}),
    "nbcode.regularize.noisy_least_squares": S(lambda: dict(X=nX(6, 2), y=ny(6), sigma=0.5, copies=3), shapes={"y": "tied"}),
    "nbcode.regularize.dropout_penalty": S(lambda: dict(X=nX(6, 2), w=np.array([1.0, -1.0]), p=0.5), shapes={"w": "tied"}),
    "nbcode.regularize.dropout_ridge": S(lambda: dict(X=nX(6, 2), y=ny(6), p=0.5), shapes={"y": "tied"}),
    "nbcode.regularize.dropout_logistic": S(lambda: dict(X=nX(6, 2), y=np.array([0.0, 1.0, 1.0, 0.0, 1.0, 0.0]), p=0.5),
                                            shapes={"y": "tied"}),
    "nbcode.regularize.dropout_sgd": S(lambda: dict(X=nX(6, 2), y=ny(6), p=0.5, lr=0.1, steps=20), shapes={"y": "tied"}),
    "nbcode.regularize.mask_geometric_mean": S(lambda: dict(logits=lambda z: np.stack([z.sum(axis=-1), -z.sum(axis=-1)], axis=-1),
                                                            x=np.array([[1.0, -2.0]]), keep=0.5), shapes={"x": "any"}),
    "nbcode.regularize.mc_average": S(lambda: dict(f=np.tanh, x=np.array([1.0, -2.0]), keep=0.5, samples=3), shapes={"x": "any"}),
    # class labels are integers (as torch's cross_entropy targets): the "ints" kind, not a float array
    "nbcode.regularize.smoothed_targets": S(lambda: dict(y=[0, 2, 1], n_classes=3, smoothing=0.1), kinds={"y": "ints"}),
    "nbcode.regularize.label_smoothing_cross_entropy": S(lambda: dict(logits=nX(3, 3), y=[0, 2, 1], smoothing=0.1),
                                                         kinds={"y": "ints"}),
    "nbcode.regularize.smoothed_logit_gap": S(lambda: dict(n_classes=10, smoothing=0.1), nonfinite_result=True),  # inf at 0
    "nbcode.regularize.weight_noise_descent": S(lambda: dict(grad=lambda w: 2 * w, w0=np.array([1.0, -2.0]), lr=0.1, steps=3,
                                                             sigma=0.1)),
    # ---- schedules
    "nbcode.schedules.constant_lr": S(lambda: dict(lr=0.5)),
    "nbcode.schedules.step_lr": S(lambda: dict(lr=0.5, step_size=2)),
    "nbcode.schedules.multistep_lr": S(lambda: dict(lr=0.5, milestones=[2, 4]), empty=("milestones",)),
    "nbcode.schedules.exponential_lr": S(lambda: dict(lr=0.5, gamma=0.5)),
    "nbcode.schedules.inverse_time_lr": S(lambda: dict(lr=0.5)),
    "nbcode.schedules.inverse_power_lr": S(lambda: dict(lr=0.5, power=0.5)),
    "nbcode.schedules.linear_lr": S(lambda: dict(lr=0.5)),
    "nbcode.schedules.linear_decay": S(lambda: dict(lr=0.5, end_lr=0.125, tau=4)),
    "nbcode.schedules.warmup": S(lambda: dict(schedule=lambda k: 0.5, warmup_iters=2)),
    "nbcode.schedules.cosine_annealing_lr": S(lambda: dict(lr=0.5, T_max=4)),
    "nbcode.schedules.cosine_annealing_warm_restarts": S(lambda: dict(lr=0.5, T_0=4)),
    "nbcode.schedules.cyclic_lr": S(lambda: dict(base_lr=0.125, max_lr=0.5, step_size_up=2)),
    "nbcode.schedules.one_cycle_lr": S(lambda: dict(max_lr=0.5, total_steps=8)),
    "nbcode.schedules.schedule_values": S(lambda: dict(schedule=lambda k: 0.5 / (k + 1), steps=4)),
    "nbcode.schedules.robbins_monro_sums": S(lambda: dict(schedule=lambda k: 0.5 / (k + 1), steps=4)),
    # ---- stochastic
    "nbcode.stochastic.batch_indices": S(lambda: dict(n=6, batch_size=2, steps=4)),
    "nbcode.stochastic.minibatch_sgd": S(lambda: dict(problem=_lsq(), w0=np.zeros(3), lr=0.1, batch_size=4, steps=3),
                                         shapes={"w0": "tied"},
                                         nonfinite_result=True),  # documented: avg_excess is NaN before averaging starts
    "nbcode.stochastic.per_example_gradients": S(lambda: dict(problem=_lsq(), w=np.zeros(3)), shapes={"w": "tied"}),
    "nbcode.stochastic.gradient_noise_variance": S(lambda: dict(problem=_lsq(), w=np.zeros(3)), shapes={"w": "tied"}),
    "nbcode.stochastic.predicted_minibatch_variance": S(lambda: dict(problem=_lsq(), w=np.zeros(3), batch_size=4),
                                                        shapes={"w": "tied"}),
    "nbcode.stochastic.minibatch_gradient_variance": S(lambda: dict(problem=_lsq(), w=np.zeros(3), batch_size=4, draws=20),
                                                       shapes={"w": "tied"}),
    "nbcode.stochastic.stationary_excess_loss": S(lambda: dict(problem=_lsq(), lr=0.05, batch_size=4)),
    "nbcode.stochastic.noise_floor_small_lr": S(lambda: dict(problem=_lsq(), lr=0.05, batch_size=4)),
    # ---- surfaces
    "nbcode.surfaces.Surface.__call__": S(lambda: dict(w=np.array([1.0, -2.0])), instance=_surface, shapes={"w": "tied"}),
    "nbcode.surfaces.Surface.grad": S(lambda: dict(w=np.array([1.0, -2.0])), instance=_surface, shapes={"w": "tied"}),
    "nbcode.surfaces.Surface.hess": S(lambda: dict(w=np.array([1.0, -2.0])), instance=_surface, shapes={"w": "tied"}),
    "nbcode.surfaces.Surface.hessp": S(lambda: dict(w=np.array([1.0, -2.0]), v=np.array([1.0, 0.0])), instance=_surface,
                                       shapes={"w": "tied", "v": "tied"}),
    "nbcode.surfaces.Surface.grid": S(lambda: dict(num=5), instance=_surface),
    "nbcode.surfaces.get_surface": S(lambda: dict(name="rosenbrock")),
    "nbcode.surfaces.quadratic_bowl": S(lambda: dict(eigenvalues=np.array([1.0, 4.0]))),
    "nbcode.surfaces.classify": S(lambda: dict(H=np.array([[2.0, 1.0], [1.0, 3.0]]))),
    "nbcode.surfaces.hessian_index": S(lambda: dict(H=np.array([[2.0, 1.0], [1.0, 3.0]]))),
    "nbcode.surfaces.newton_critical_point": S(lambda: dict(grad=lambda w: 2 * w - 1.0, hess=lambda w: 2 * np.eye(2),
                                                            w0=np.array([1.0, -2.0]))),
    "nbcode.surfaces.escape_steps": S(lambda: dict(path=np.array([[0.0, 0.0], [0.5, 0.0], [1.0, 0.0], [2.0, 0.0]]),
                                                   center=np.array([0.0, 0.0]), radius=0.75), shapes={"center": "tied"},
                                      nonfinite_result=True,
                                      nonfinite=("path",)),  # NaN rows: a diverged path's padding, documented as out
    "nbcode.surfaces.predicted_escape_steps": S(lambda: dict(offset=0.01, lam_min=-1.0, lr=0.1, radius=1.0), nonfinite_result=True),
    "nbcode.surfaces.rnn_loss": S(lambda: dict(w=np.array([0.5, 1.0]), b=np.array([0.0, 0.5]), T=5), shapes={"w": "any", "b": "any"},
                                  kinds={"w": "array", "b": "array"}),
    "nbcode.surfaces.LogisticRegression": S(lambda: dict(X=nX(6, 2), y=[0, 1, 0, 1, 0, 1], alpha=0.1), kinds={"y": "ints"}),
    "nbcode.surfaces.LogisticRegression.__call__": S(lambda: dict(w=np.linspace(-1.0, 1.0, 6)), instance=_logistic,
                                                     shapes={"w": "tied"}),
    "nbcode.surfaces.LogisticRegression.grad": S(lambda: dict(w=np.linspace(-1.0, 1.0, 6)), instance=_logistic,
                                                 shapes={"w": "tied"}),
    "nbcode.surfaces.LogisticRegression.value_and_grad": S(lambda: dict(w=np.linspace(-1.0, 1.0, 6)), instance=_logistic,
                                                 shapes={"w": "tied"}),
    "nbcode.surfaces.LogisticRegression.hess": S(lambda: dict(w=np.linspace(-1.0, 1.0, 6)), instance=_logistic,
                                                 shapes={"w": "tied"}),
    "nbcode.surfaces.LogisticRegression.hessp": S(lambda: dict(w=np.linspace(-1.0, 1.0, 6), u=np.array([1.0, 0.0, 0.5, 0.0, 0.0, 2.0])),
                                                  instance=_logistic, shapes={"w": "tied", "u": "tied"}),
    "nbcode.surfaces.LogisticRegression.minimizer": S(lambda: dict(), instance=_logistic, shapes={"w0": "tied"}),
    "nbcode.surfaces.guaranteed_decrease": S(lambda: dict(lr=0.5, M=2.0)),
    "nbcode.surfaces.nonconvex_bound": S(lambda: dict(k=[1, 10], gap0=1.0, lr=0.5, M=1.0), kinds={"k": "ints"}),
    "nbcode.surfaces.convex_bound": S(lambda: dict(k=[1, 4], dist0=2.0, lr=0.5, M=2.0), kinds={"k": "ints"}),
    "nbcode.surfaces.pl_bound": S(lambda: dict(k=[0, 1, 2], gap0=1.0, lr=1.0, M=1.0, mu=0.25), kinds={"k": "ints"}),
    "nbcode.surfaces.pl_constant": S(lambda: dict(values=np.linspace(-3.0, 3.0, 7) ** 2, grad_norms_sq=(2 * np.linspace(-3.0, 3.0, 7)) ** 2,
                                                  f_star=0.0), shapes={"grad_norms_sq": "tied"}),
    "nbcode.surfaces.rnn_loss_grad": S(lambda: dict(w=np.array([0.5, 1.0]), b=np.array([0.0, 0.5]), T=5),
                                       shapes={"w": "any", "b": "any"}),
    # ---- sweep
    "nbcode.sweep.sweep": S(lambda: dict(draw=_draw, a=__import__("nbcode.sweep", fromlist=["x"]).Slider(0.0, 1.0, 3))),
    "nbcode.sweep.Sweep": S(lambda: dict(draw=_draw, controls={"a": __import__("nbcode.sweep", fromlist=["x"]).Slider(0.0, 1.0, 3)}),
                            kinds={"controls": "object"}),
    "nbcode.sweep.Sweep.params_at": S(lambda: dict(indices=(1,)), instance=_sweep, kinds={"indices": "ints"}),
    "nbcode.sweep.Sweep.frame": S(lambda: dict(a=0.5), instance=_sweep, kinds={"a": "object"}),
    "nbcode.sweep.Sweep.render_png": S(lambda: dict(a=0.5), instance=_sweep, kinds={"a": "object"}, heavy=True),
    "nbcode.sweep.Sweep.frame_json": S(lambda: dict(a=0.5), instance=_sweep, kinds={"a": "object"}),
    "nbcode.sweep.Sweep.to_json": S(instance=_sweep),
    "nbcode.sweep.Sweep.to_html": S(instance=_sweep),
    "nbcode.sweep.Sweep.grid": S(instance=_sweep),
    "nbcode.sweep.Sweep.initial": S(instance=_sweep),
    "nbcode.sweep.Slider": S(lambda: dict(start=0.0, stop=1.0, num=3), accept={"start": ("None",), "stop": ("None",)}),
    "nbcode.sweep.Slider.python_value": S(lambda: dict(i=1),
                                          instance=lambda: __import__("nbcode.sweep", fromlist=["x"]).Slider(0.0, 1.0, 3)),
    "nbcode.sweep.Choice": S(lambda: dict(options=["a", "b"]), kinds={"options": "object"}),
    "nbcode.sweep.Choice.python_value": S(lambda: dict(i=1),
                                          instance=lambda: __import__("nbcode.sweep", fromlist=["x"]).Choice(["a", "b"])),
    "nbcode.sweep.Plot": S(lambda: dict(ncols=1)),
    "nbcode.sweep.Plot.to_matplotlib": S(instance=lambda: _draw(), heavy=True),
    # a column vector (n, 1) is a line, as in matplotlib (a model's outputs are often shaped so)
    "nbcode.sweep.Axes.plot": S(lambda: dict(x=np.array([0.0, 1.0]), y=np.array([1.0, 2.0])), instance=_axes,
                                shapes={"y": "tied"}, nonfinite=("x", "y"), kinds={"color": "object"},
                                accept={"x": ("extra dim",), "y": ("extra dim",)}),
    "nbcode.sweep.Axes.scatter": S(lambda: dict(x=np.array([0.0, 1.0]), y=np.array([1.0, 2.0])), instance=_axes,
                                   shapes={"y": "tied"}, nonfinite=("x", "y"), kinds={"color": "object"},
                                   accept={"x": ("extra dim",), "y": ("extra dim",)}),
    "nbcode.sweep.Axes.axhline": S(lambda: dict(y=0.5), instance=_axes, kinds={"color": "object"}),
    "nbcode.sweep.Axes.axvline": S(lambda: dict(x=0.5), instance=_axes, kinds={"color": "object"}),
    "nbcode.sweep.Axes.text": S(lambda: dict(x=0.5, y=0.5, s="a"), instance=_axes, kinds={"color": "object"}),
    "nbcode.sweep.Axes.contour": S(lambda: dict(x=np.array([0.0, 1.0]), y=np.array([0.0, 1.0, 2.0]),
                                                z=np.array([[0.0, 1.0], [1.0, 2.0], [2.0, 3.0]])), instance=_axes,
                                   # z may be NaN or inf where the surface is undefined (log of 0): gaps
                                   # in the contours; levels=3 is a number of levels (matplotlib's meaning)
                                   shapes={"z": "tied"}, kinds={"levels": "object"}, nonfinite=("z",),
                                   accept={"x": ("extra dim",), "y": ("extra dim",), "levels": ("int",)}),
    "nbcode.sweep.Axes.set": S(lambda: dict(xlim=(0.0, 1.0)), instance=_axes, kinds={"xlim": "pair", "ylim": "pair"}),
    "nbcode.sweep.Axes.legend": S(instance=_axes),
    "nbcode.sweep.Axes.draw": S(lambda: dict(ax=_matplotlib_axes()), instance=_axes, kinds={"ax": "object"}, heavy=True),
    "nbcode.sweep.encode.FramePool.add": S(lambda: dict(plot=_draw()), kinds={"plot": "object"},
                                           instance=lambda: __import__("nbcode.sweep.encode", fromlist=["x"]).FramePool()),
    "nbcode.sweep.encode.FramePool.to_json": S(lambda: dict(controls=[]), kinds={"controls": "object"},
                                               instance=lambda: (lambda p: (p.add(_draw()), p)[1])(
                                                   __import__("nbcode.sweep.encode", fromlist=["x"]).FramePool())),
    "nbcode.sweep.encode.encode_array": S(lambda: dict(a=np.array([0.5, 1.0])), nonfinite=("a",), shapes={"a": "any"},
                                          kinds={"lim": "pair"}, empty=("a",)),
    "nbcode.sweep.encode.decode_array": S(lambda: dict(item=json.loads(
        __import__("nbcode.sweep.encode", fromlist=["x"]).encode_array(np.array([0.5, 1.0])))), kinds={"item": "object"}),
    "nbcode.sweep.encode.decode_sweep": S(lambda: dict(doc=_sweep().to_json()), kinds={"doc": "object"}),
    "nbcode.sweep.figure.Background.draw": S(lambda: dict(ax=_matplotlib_axes()), kinds={"ax": "object"}, heavy=True,
                                             instance=lambda: __import__("nbcode.sweep.figure", fromlist=["x"]).Background(
                                                 np.array([0.0, 1.0]), np.array([0.0, 1.0]), np.array([[0.0, 1.0], [1.0, 2.0]]))),
    "nbcode.sweep.figure.Background.to_png_data_uri": S(lambda: dict(width_px=4, height_px=4), heavy=True,
                                                        instance=lambda: __import__("nbcode.sweep.figure", fromlist=["x"]).Background(
                                                            np.array([0.0, 1.0]), np.array([0.0, 1.0]),
                                                            np.array([[0.0, 1.0], [1.0, 2.0]]))),
    # ---- train
    "nbcode.train.fit": S(lambda: (lambda m: dict(model=m, optimizer=torch_sgd(m), X=tX(), y=ty(), epochs=1, batch_size=4,
                                                  progress=False))(tiny_model(2)),
                          shapes={"y": "tied"}, kinds={"optimizer": "object", "val": "tensors", "scheduler": "object"}),
    "nbcode.train.History.log": S(lambda: dict(), instance=_history),
    "nbcode.train.History.last": S(lambda: dict(key="val_loss"), instance=_history),
    "nbcode.train.evaluate": S(lambda: dict(model=tiny_model(2), X=tX(), y=ty(), loss_fn=ce()), shapes={"y": "tied"}),
    "nbcode.train.accuracy": S(lambda: dict(logits=tX(8, 2), y=ty()), shapes={"y": "tied"}),
    "nbcode.train.mlp": S(lambda: dict(sizes=[3, 4, 2], seed=0), kinds={"activation": "callable", "dtype": "object"}),
    "nbcode.train.seed_everything": S(lambda: dict(seed=0)),
    "nbcode.train.NumpyOptimizer": S(lambda: dict(params=list(tiny_model(2).parameters()), optimizer=_opt_sgd()),
                                     kinds={"params": "object", "optimizer": "object"}),
    "nbcode.train.NumpyOptimizer.zero_grad": S(instance=lambda: __import__("nbcode.train", fromlist=["x"]).NumpyOptimizer(
        list(tiny_model(2).parameters()), _opt_sgd())),
    "nbcode.train.NumpyOptimizer.step": S(instance=lambda: __import__("nbcode.train", fromlist=["x"]).NumpyOptimizer(
        list(tiny_model(2).parameters()), _opt_sgd()), kinds={"closure": "callable"}),
    "nbcode.train.lr_range_test": S(lambda: (lambda m: dict(model=m, optimizer=torch_sgd(m), X=tX(), y=ty(), num_steps=4,
                                                            batch_size=4))(tiny_model(2)),
                                    shapes={"y": "tied"}, kinds={"optimizer": "object"}),
}

#: Arguments deliberately not battered, and why (``Spec.skip`` refers to these).
SKIP_REASONS = {
    "answer": "an exercise's answer may be anything: the judge decides (its refusals are verdicts, not errors)",
    "ex": "register takes an Exercise; its construction is battered instead",
    "path": "a file to write: any string is a valid (relative) file name, so a battered string would leave a file "
            "in the working directory; paths that are not str/PathLike are refused (unit test)",
}

#: Entry points the battery does not call, and why.
EXCLUDED = {
    "nbcode.sweep.live.FrameView": "an anywidget front-end widget (needs a Jupyter kernel and anywidget)",
    "nbcode.sweep.Sweep.widget": "builds Jupyter widgets (needs a front-end); its controls are battered through Sweep",
    "nbcode.plot.use_book_style": "no arguments; changes matplotlib's global style",
}

#: Instances of records whose methods are battered (a record's constructor is not).
RECORDS: dict[str, Callable[[], Any]] = {
    "nbcode.checkup.Report": _report,
    "nbcode.checkup.Section": lambda: _report().sections[0],
    "nbcode.checkup.Quantity": lambda: _report().sections[0].quantities[0],
    "nbcode.checkup.Cost": lambda: __import__("nbcode.checkup", fromlist=["x"]).Cost(1.0, 2.0, 3, 0.5),
    "nbcode.checkup.Link": lambda: __import__("nbcode.checkup", fromlist=["x"]).Link("a", "b", "c"),
    "nbcode.data.Split": _tensor_split,
    "nbcode.data.Regression": _lsq,
    "nbcode.exercises.Exercise": lambda: __import__("nbcode.exercises", fromlist=["x"]).Exercise("battery.x", "q",
                                                                                              lambda a: (True, "ok")),
    "nbcode.surfaces.Surface": _surface,
    "nbcode.sweep.Axes": _axes,
    "nbcode.train.History": _history,
    "nbcode.optim.Optimizer": _opt_sgd,
}

#: Defaults by argument name for arguments that neither the spec nor the signature gives.
BY_NAME: dict[str, Callable[[], Any]] = {
    "lr": lambda: 0.1, "momentum": lambda: 0.5, "steps": lambda: 3, "epochs": lambda: 1, "seed": lambda: 0,
    "rng": rng, "model": lambda: tiny_model(2), "loss_fn": ce, "tol": lambda: 1e-3,
}


# ---------------------------------------------------------------------------------------------
# Enumeration
# ---------------------------------------------------------------------------------------------

@dataclasses.dataclass
class Entry:
    """One public callable: ``name`` (its public path), ``target()`` the callable to call (a fresh
    bound method for methods), ``spec``, ``params`` (name -> inspect.Parameter)."""

    name: str
    target: Callable[[], Callable[..., Any]]
    spec: Spec
    params: dict[str, inspect.Parameter]
    kind: str  # function | constructor | method | derived
    alias_check: bool = False


def _is_record(cls: type) -> bool:
    """A plain record (dataclass or NamedTuple) that only holds what a function returned."""
    if hasattr(cls, "_fields") and issubclass(cls, tuple):  # NamedTuple
        return True
    if not dataclasses.is_dataclass(cls):
        return False
    init = vars(cls).get("__init__")
    generated = init is None or getattr(getattr(init, "__code__", None), "co_filename", "") == "<string>"
    return generated and "__post_init__" not in vars(cls)


def _public_modules() -> list[Any]:
    import nbcode

    mods = [nbcode]
    for m in pkgutil.walk_packages(nbcode.__path__, "nbcode."):
        if any(p.startswith("_") for p in m.name.split(".")[1:]):
            continue
        try:
            mods.append(importlib.import_module(m.name))
        except Exception:  # a module that does not import is reported by the test suite, not here
            continue
    return mods


def _signature(fn: Any) -> dict[str, inspect.Parameter] | None:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    return {k: p for k, p in sig.parameters.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and k != "self"}


def _spec_for(name: str, params: dict[str, inspect.Parameter] | None) -> Spec:
    if name in SPECS:
        return SPECS[name]
    # a function that moved keeps its spec when its arguments are the same (other checkouts)
    bare = name.rsplit(".", 1)[-1]
    if "." in name and bare not in ("__call__",):
        owner = name.rsplit(".", 2)
        for key, spec in SPECS.items():
            if key.endswith("." + bare) and (len(owner) < 3 or not owner[-2][:1].isupper() or key.split(".")[-2] == owner[-2]):
                try:
                    given = set(spec.args()) if spec.instance is None else set()
                except Exception:
                    continue
                if params is not None and given <= set(params) and all(
                        p.default is not inspect.Parameter.empty or k in given or k in BY_NAME for k, p in params.items()):
                    return spec
    return Spec()


def entries() -> tuple[list[Entry], dict[str, str]]:
    """Every public callable of nbcode, and the ones excluded (name -> reason)."""
    seen: set[int] = set()
    out: list[Entry] = []
    excluded: dict[str, str] = {}
    for mod in _public_modules():
        for n in getattr(mod, "__all__", []):
            obj = getattr(mod, n, None)
            if obj is None or not callable(obj) or id(obj) in seen:
                continue
            seen.add(id(obj))
            name = f"{mod.__name__}.{n}"
            if not str(getattr(obj, "__module__", "")).startswith("nbcode"):
                continue  # a re-exported alias of a typing construct or a third-party object
            if name in EXCLUDED:
                excluded[name] = EXCLUDED[name]
                continue
            if inspect.isclass(obj):
                _class_entries(obj, name, out, excluded)
                continue
            params = _signature(obj)
            if params is None:
                excluded[name] = "no signature"
                continue
            out.append(Entry(name, (lambda o=obj: o), _spec_for(name, params), params, "function"))
    return out, excluded


def _class_entries(cls: type, name: str, out: list[Entry], excluded: dict[str, str]) -> None:
    record = _is_record(cls)
    if getattr(cls, "_is_protocol", False):
        excluded[name] = "a typing Protocol (a type for annotations, not a class to instantiate)"
        return
    if record:
        excluded[name] = "a plain record (dataclass or NamedTuple) returned by functions; its methods are battered"
    else:
        params = _signature(cls)
        if params is not None:
            out.append(Entry(name, (lambda c=cls: c), _spec_for(name, params), params, "constructor", alias_check=True))
    for an in sorted(set(dir(cls))):
        if an.startswith("_") and an != "__call__":
            continue
        raw = inspect.getattr_static(cls, an, None)
        bound_first = isinstance(raw, classmethod)  # cls is supplied by the call, not by the battery
        if isinstance(raw, (staticmethod, classmethod)):
            raw = raw.__func__
        if not inspect.isfunction(raw) or not str(getattr(raw, "__module__", "")).startswith("nbcode"):
            continue
        if cls.__module__.startswith("nbcode") and raw.__qualname__.split(".")[0] not in {c.__name__ for c in cls.__mro__}:
            continue
        mname = f"{name}.{an}"
        if mname in EXCLUDED:
            excluded[mname] = EXCLUDED[mname]
            continue
        params = _signature(raw)
        if bound_first and params:
            params = dict(list(params.items())[1:])
        spec = _spec_for(mname, params)
        if spec.instance is None and name in RECORDS:
            spec = dataclasses.replace(spec, instance=RECORDS[name])
        if spec.instance is None and not record:
            cspec = _spec_for(name, _signature(cls))
            spec = dataclasses.replace(spec, instance=(lambda c=cls, s=cspec: c(**_baseline_args(c, s, _signature(c) or {}))))
        if spec.instance is None:
            excluded[mname] = "a method of a record without an instance in SPECS"
            continue
        out.append(Entry(mname, (lambda s=spec, a=an: getattr(s.instance(), a)), spec, params or {}, "method"))


def derived_entries(entry: Entry, result: Any) -> list[Entry]:
    """Entry points returned by a factory: an optimizer's ``init``/``update``, a schedule, a
    plateau rule."""
    out: list[Entry] = []
    cls_name = type(result).__name__
    spec_args = entry.spec.args
    target = entry.target

    def remake() -> Any:
        return target()(**_baseline_args(target(), entry.spec, entry.params))

    if cls_name == "Optimizer" and hasattr(result, "init") and hasattr(result, "update"):
        w = lambda: np.array([1.0, -2.0, 3.0])  # noqa: E731
        g = lambda: np.array([0.5, 1.0, -1.0])  # noqa: E731
        init_spec = Spec(lambda: dict(params=w()), shapes={"params": "any"})
        out.append(Entry(f"{entry.name}().init", lambda: remake().init, init_spec,
                         _signature(result.init) or {}, "derived", alias_check=True))

        def upd_args() -> dict[str, Any]:
            opt = remake()
            return dict(grads=g(), state=opt.init(w()), params=w())

        upd_spec = Spec(upd_args, nonfinite=("grads",), shapes={"grads": "tied", "params": "tied"}, kinds={"state": "object"},
                        nonfinite_result=True)
        out.append(Entry(f"{entry.name}().update", lambda: remake().update, upd_spec,
                         _signature(result.update) or {}, "derived"))
    elif cls_name == "Plateau" and hasattr(result, "init"):
        out.append(Entry(f"{entry.name}().init", lambda: remake().init, Spec(lambda: dict(lr=0.5)),
                         _signature(result.init) or {}, "derived"))
        out.append(Entry(f"{entry.name}().update", lambda: remake().update,
                         Spec(lambda: dict(metric=1.0, state=remake().init(0.5)), kinds={"state": "object"}),
                         _signature(result.update) or {}, "derived"))
    elif inspect.isfunction(result) and str(inspect.signature(target()).return_annotation) in ("Schedule", "'Schedule'"):
        params = _signature(result) or {}
        if len(params) == 1:
            pname = next(iter(params))
            out.append(Entry(f"{entry.name}()", lambda: remake(), Spec(lambda: {pname: 3}, kinds={pname: "count"}),
                             params, "derived"))
    del spec_args
    return out


# ---------------------------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------------------------

@dataclasses.dataclass
class Case:
    param: str
    label: str
    role: str  # bad | probe | valid | alias
    make: Callable[[Any], Any]  # baseline value -> input


def _baseline_args(fn: Any, spec: Spec, params: dict[str, inspect.Parameter]) -> dict[str, Any]:
    given = spec.args()
    out: dict[str, Any] = {}
    for k, p in params.items():
        if k in given:
            out[k] = given[k]
        elif p.default is not inspect.Parameter.empty:
            continue
        elif k in BY_NAME:
            out[k] = BY_NAME[k]()
        else:
            raise LookupError(f"no baseline value for argument {k!r}")
    for k in given:  # **controls of sweep(), **params of Sweep.frame()
        if k not in out:
            out[k] = given[k]
    return out


def _annotation(p: inspect.Parameter | None) -> str:
    if p is None or p.annotation is inspect.Parameter.empty:
        return ""
    return p.annotation if isinstance(p.annotation, str) else str(p.annotation)


def _optional(p: inspect.Parameter | None) -> bool:
    return p is not None and ("None" in _annotation(p) or p.default is None)


def infer_kind(name: str, base: Any, p: inspect.Parameter | None, spec: Spec) -> str:
    if name in spec.kinds:
        return spec.kinds[name]
    if name in TEXT:
        return "text"
    ann = _annotation(p)
    torch = sys.modules.get("torch")
    if isinstance(base, (bool, np.bool_)):
        return "flag"
    if isinstance(base, (numbers.Integral, np.integer)):
        if "float" in ann and "int" not in ann.replace("float", ""):
            return "real"
        return "int" if name in SIGNED else ("seed" if name == "seed" else "count")
    if isinstance(base, (float, np.floating)):
        return "real"
    if isinstance(base, str):
        return "choice"
    if torch is not None and isinstance(base, torch.Tensor):
        return "tensor"
    if torch is not None and isinstance(base, torch.nn.Module):
        return "module"
    if isinstance(base, np.random.Generator):
        return "rng"
    if isinstance(base, np.ndarray):
        return "array"
    if isinstance(base, (tuple, list)) and base and all(isinstance(x, (numbers.Integral, np.integer)) and not isinstance(x, bool)
                                                        for x in base):
        return "ints" if "float" not in ann else "array"
    if isinstance(base, (tuple, list)) and base and all(isinstance(x, str) for x in base):
        return "choices"
    if isinstance(base, (tuple, list)) and len(base) == 2 and "tuple[float, float]" in ann:
        return "pair"
    if isinstance(base, (tuple, list)) and base and all(isinstance(x, (numbers.Real, np.floating)) for x in base):
        return "array"
    if callable(base):
        return "callable"
    if base is None:
        if "Callable" in ann:
            return "callable"
        if "float" in ann:
            return "real"
        if "int" in ann:
            return "count"
        if "bool" in ann:
            return "flag"
        if "Tensor" in ann:
            return "tensor"
        if "ndarray" in ann or "Any" in ann:
            return "array"
        return "object"
    return "object"


def _exact(x: Any, dtype: Any) -> bool:
    try:
        a = np.asarray(x, dtype=float)
        return bool(np.all(a.astype(dtype).astype(float) == a)) and bool(np.all(np.isfinite(a.astype(dtype))))
    except Exception:
        return False


def _integral(x: Any) -> bool:
    try:
        a = np.asarray(x, dtype=float)
        return bool(np.all(np.isfinite(a))) and bool(np.all(a == np.round(a)))
    except Exception:
        return False


def _with_entry(a: Any, value: float) -> Any:
    b = np.array(a, dtype=float, copy=True)
    b.reshape(-1)[-1] = value
    return b


def cases_for(name: str, base: Any, p: inspect.Parameter | None, spec: Spec) -> list[Case]:
    """The inputs tried for argument ``name`` whose baseline value is ``base``."""
    kind = infer_kind(name, base, p, spec)
    opt = _optional(p)
    c: list[Case] = []

    def add(label: str, role: str, make: Callable[[Any], Any]) -> None:
        if label in spec.accept.get(name, ()):
            role = "valid_any"  # accepted by design: must not raise, result not compared
        c.append(Case(name, label, role, make))

    if kind == "text" or name in spec.skip:
        return c
    if not opt and kind != "seed":  # seed=None means fresh randomness (nbcode._validate.generator)
        add("None", "bad", lambda b: None)
    if kind == "real":
        add("str", "bad", lambda b: "0.5")
        add("bool", "bad", lambda b: True)
        add("list", "bad", lambda b: [0.5])
        add("complex", "bad", lambda b: 0.5 + 1j)
        add("nan", "bad", lambda b: float("nan"))
        add("inf", "probe", lambda b: float("inf"))
        add("-inf", "probe", lambda b: float("-inf"))
        add("-1", "probe", lambda b: -1.0)
        add("0", "probe", lambda b: 0.0)
        if isinstance(base, (numbers.Real, np.floating)) and not isinstance(base, bool) and math.isfinite(float(base)):
            add("np.float64", "valid", lambda b: np.float64(b))
            if _exact(base, np.float32):
                add("np.float32", "valid", lambda b: np.float32(b))
            if float(base).is_integer():
                add("np.int64", "valid", lambda b: np.int64(b))
                add("int", "valid", lambda b: int(b))
    elif kind in ("count", "int", "seed"):
        add("str", "bad", lambda b: "3")
        add("bool", "bad", lambda b: True)
        add("float", "bad", lambda b: 2.5)
        add("integral float", "bad", lambda b: float(b if b is not None else 3))
        add("complex", "bad", lambda b: 1 + 1j)
        if kind in ("count", "seed"):
            add("-1", "bad", lambda b: -1)
        if kind == "count":
            add("0", "probe", lambda b: 0)
        if base is not None:
            add("np.int64", "valid", lambda b: np.int64(b))
            add("np.int32", "valid", lambda b: np.int32(b))
    elif kind == "flag":
        add("str", "bad", lambda b: "yes")
        add("float", "bad", lambda b: 0.5)
        if base is not None:
            add("np.bool_", "valid", lambda b: np.bool_(b))
    elif kind == "choice":
        add("unknown", "bad", lambda b: "no-such-option")
        add("int", "bad", lambda b: 3)
    elif kind == "choices":
        add("unknown", "bad", lambda b: ["no-such-option"])
        add("int", "bad", lambda b: [3])
        add("str", "bad", lambda b: "tanh")
    elif kind == "array":
        shape = spec.shapes.get(name, "ndim")
        add("str", "bad", lambda b: "abc")
        add("list of str", "bad", lambda b: ["a", "b"])
        if base is not None:
            add("complex", "bad", lambda b: np.asarray(b) + 1j)
            if name not in spec.nonfinite:
                add("nan entry", "bad", lambda b: _with_entry(b, float("nan")))
                add("inf entry", "bad", lambda b: _with_entry(b, float("inf")))
            if name not in spec.empty:
                add("empty", "bad", lambda b: np.zeros((0,) + np.shape(b)[1:]))
            if shape != "any":
                add("extra dim", "bad", lambda b: np.asarray(b, dtype=float)[..., None])
            if shape == "tied" and np.ndim(base) >= 1 and np.shape(base)[-1] > 1:
                add("short", "bad", lambda b: np.asarray(b, dtype=float)[..., :-1])
            if name in spec.inplace:  # updated in place: only a float32/float64 array can be
                add("list", "bad", lambda b: np.asarray(b).tolist())
                add("int array", "bad", lambda b: np.asarray(b).astype(np.int64))
                add("float16 array", "bad", lambda b: np.asarray(b).astype(np.float16))
                return c
            add("list", "valid", lambda b: np.asarray(b).tolist())
            if _integral(base):
                add("int array", "valid", lambda b: np.asarray(b).astype(np.int64))
            if _exact(base, np.float16):
                add("float16 array", "valid", lambda b: np.asarray(b).astype(np.float16))
            if _exact(base, np.float32):
                add("float32 array", "valid", lambda b: np.asarray(b).astype(np.float32))
    elif kind == "arrays":
        add("str", "bad", lambda b: "abc")
        add("list of str", "bad", lambda b: ["a", "b"])
        if base:
            add("str element", "bad", lambda b: [*b[:-1], "abc"])
            if name not in spec.nonfinite:
                add("nan entry", "bad", lambda b: [*b[:-1], _with_entry(b[-1], float("nan"))])
            add("int arrays", "valid", lambda b: [np.asarray(x).astype(np.int64) for x in b] if all(_integral(x) for x in b)
                else [np.asarray(x) for x in b])
    elif kind == "reals":
        add("str", "bad", lambda b: "abc")
        add("str element", "bad", lambda b: [*b[:-1], "abc"])
        add("nan element", "bad", lambda b: [*b[:-1], float("nan")])
        add("np.float64 elements", "valid", lambda b: tuple(np.float64(x) for x in b))
    elif kind == "tensor":
        add("str", "bad", lambda b: "X")
        add("list of str", "bad", lambda b: ["a", "b"])
        if base is not None:
            add("numpy array", "bad", lambda b: b.detach().numpy().copy())
            if name not in spec.empty:
                add("empty", "bad", lambda b: b[:0].clone())
            if b_is_float(base) and name not in spec.nonfinite:
                add("nan entry", "bad", lambda b: _tensor_with_nan(b))
            if spec.shapes.get(name) == "tied" and base.ndim >= 1 and base.shape[0] > 1:
                add("short", "bad", lambda b: b[:-1].clone())
    elif kind == "tensors":
        add("str", "bad", lambda b: "X")
        if base is not None:
            add("numpy arrays", "bad", lambda b: type(b)(x.detach().numpy().copy() for x in b))
            add("short", "bad", lambda b: type(b)(b[:-1]))
            add("nan entry", "bad", lambda b: type(b)([_tensor_with_nan(b[0]), *b[1:]]) if b_is_float(b[0]) else b)
    elif kind == "module":
        add("str", "bad", lambda b: "model")
        add("function", "bad", lambda b: (lambda x: x))
        add("no parameters", "bad", lambda b: _torch().nn.Identity())
    elif kind == "callable":
        add("int", "bad", lambda b: 3)
        add("str", "bad", lambda b: "f")
    elif kind == "rng":
        add("str", "bad", lambda b: "rng")
        add("int", "probe", lambda b: 0)
    elif kind == "pair":
        add("scalar", "bad", lambda b: 0.5)
        add("length 1", "bad", lambda b: (0.5,))
        add("length 3", "bad", lambda b: (0.0, 0.5, 1.0))
        add("str element", "bad", lambda b: ("a", 1.0))
        add("nan element", "bad", lambda b: (float("nan"), 1.0))
        if base is not None:
            add("list", "valid", lambda b: list(b))
            if _exact(base[0], np.float32):
                add("np.float32 element", "valid", lambda b: (np.float32(b[0]), b[1]))
    elif kind == "ints":
        add("str", "bad", lambda b: "abc")
        if base is not None:
            if name not in spec.empty:
                add("empty", "bad", lambda b: type(b)())
            add("str element", "bad", lambda b: [*b[:-1], "a"])
            add("float element", "bad", lambda b: [*b[:-1], 2.5])
            add("negative element", "bad", lambda b: [*b[:-1], -1])
            add("np.int64 elements", "valid", lambda b: type(b)(np.int64(x) for x in b))
            add("array", "valid", lambda b: np.asarray(b, dtype=np.int64))
    elif kind == "axes":
        add("str", "bad", lambda b: "abc")
        add("out of range", "bad", lambda b: (5,))
        add("float element", "bad", lambda b: (0.5,))
    elif kind == "shifts":
        add("str", "bad", lambda b: "abc")
        add("float element", "bad", lambda b: [(0.5, 0)])
        add("length 3 element", "bad", lambda b: [(1, 0, 0)])
    elif kind == "object":
        add("str", "bad", lambda b: "no-such-value")
        if "int" not in _annotation(p):  # a color may be a palette index
            add("int", "bad", lambda b: 3)
    return c


def b_is_float(t: Any) -> bool:
    return bool(getattr(t, "is_floating_point", lambda: False)())


def _tensor_with_nan(t: Any) -> Any:
    u = t.detach().clone()
    u.reshape(-1)[-1] = float("nan")
    return u


# ---------------------------------------------------------------------------------------------
# Running and judging one call
# ---------------------------------------------------------------------------------------------

def names_argument(param: str, message: str) -> bool:
    names = {param, param.replace("_", " "), *ALIASES.get(param, ())}
    return any(re.search(r"(?<![A-Za-z0-9_])" + re.escape(n) + r"(?![A-Za-z0-9_])", message) for n in names)


def _leaves(x: Any, depth: int = 0) -> Iterable[Any]:
    """Numbers and arrays inside a result (for NaN checks and comparisons)."""
    torch = sys.modules.get("torch")
    if depth > 4:
        return
    if isinstance(x, (bool, np.bool_, str, bytes)) or x is None:
        yield x
    elif isinstance(x, (numbers.Number, np.number)):
        yield x
    elif isinstance(x, np.ndarray):
        yield x
    elif torch is not None and isinstance(x, torch.Tensor):
        yield x.detach().cpu().numpy()
    elif torch is not None and isinstance(x, torch.nn.Module):
        yield type(x).__name__
    elif isinstance(x, dict):
        for k in sorted(x, key=repr):
            yield repr(k)
            yield from _leaves(x[k], depth + 1)
    elif isinstance(x, (list, tuple)):
        yield len(x)
        for y in x:
            yield from _leaves(y, depth + 1)
    elif dataclasses.is_dataclass(x) and not isinstance(x, type):
        for f in dataclasses.fields(x):
            yield from _leaves(getattr(x, f.name), depth + 1)
    else:
        yield type(x).__name__


def nonfinite(result: Any) -> bool:
    for leaf in _leaves(result):
        if isinstance(leaf, np.ndarray) and leaf.dtype.kind in "fc" and not np.all(np.isfinite(leaf)):
            return True
        if isinstance(leaf, (float, np.floating, complex)) and not np.isfinite(leaf):
            return True
    return False


def same(a: Any, b: Any, *, values: bool = True) -> bool:
    la, lb = list(_leaves(a)), list(_leaves(b))
    if len(la) != len(lb):
        return False
    for x, y in zip(la, lb):
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            x, y = np.asarray(x), np.asarray(y)
            if x.shape != y.shape:
                return False
            if values and x.dtype.kind in "biufc" and y.dtype.kind in "biufc":
                if not np.allclose(x.astype(complex), y.astype(complex), rtol=1e-9, atol=1e-12, equal_nan=True):
                    return False
            elif values and not np.array_equal(x, y):
                return False
        elif isinstance(x, (numbers.Number, np.number)) and isinstance(y, (numbers.Number, np.number)) and \
                not isinstance(x, (bool, np.bool_)):
            if values and not (x == y or (np.isnan(x) and np.isnan(y)) or abs(complex(x) - complex(y)) <= 1e-9 * abs(complex(y)) + 1e-12):
                return False
        elif values and x != y:
            return False
    return True


def _fingerprint(x: Any, depth: int = 0) -> list[Any]:
    """Arrays and lists an object keeps (its attributes, a few levels down)."""
    if depth > 3:
        return []
    if isinstance(x, np.ndarray):
        return [x.copy()]
    if isinstance(x, list) and all(isinstance(y, (numbers.Number, str)) for y in x):
        return [list(x)]
    out: list[Any] = []
    if isinstance(x, (list, tuple)):
        for y in x:
            out += _fingerprint(y, depth + 1)
        return out
    if isinstance(x, dict):
        for y in x.values():
            out += _fingerprint(y, depth + 1)
        return out
    if hasattr(x, "__dict__") and type(x).__module__.startswith("nbcode"):
        for k, y in sorted(vars(x).items()):
            if not k.startswith("__"):
                out += _fingerprint(y, depth + 1)
    return out


def _mutate(x: Any) -> bool:
    if isinstance(x, np.ndarray) and x.flags.writeable and x.size:
        x += 1.0 if x.dtype.kind == "f" else 1
        return True
    if isinstance(x, list) and x and all(isinstance(y, numbers.Number) for y in x):
        x[0] = x[0] + 1
        return True
    return False


@dataclasses.dataclass
class Outcome:
    entry: str
    param: str
    label: str
    role: str
    outcome: str
    detail: str = ""
    seconds: float = 0.0


class Runner:
    """Runs the battery's calls in this process (the worker, or the test)."""

    def __init__(self) -> None:
        warnings.simplefilter("ignore")
        os.environ.setdefault("TQDM_DISABLE", "1")
        os.environ.setdefault("NBCODE_SWEEP", "static")
        self.entries, self.excluded = entries()
        self.by_name = {e.name: e for e in self.entries}
        self.baselines: dict[str, tuple[bool, Any, str, bool]] = {}

    # -- the baseline
    def baseline(self, e: Entry) -> tuple[bool, Any, str, bool]:
        """(ok, result, message, deterministic)"""
        if e.name not in self.baselines:
            try:
                r1 = self.call(e, {})
                try:
                    r2 = self.call(e, {})
                    det = e.spec.deterministic and same(r1, r2)
                except Exception:
                    det = False
                self.baselines[e.name] = (True, r1, "", det)
                if not any(d.name == e.name for d in self.entries if d.kind == "derived"):
                    for d in derived_entries(e, r1):
                        if d.name not in self.by_name:
                            self.entries.append(d)
                            self.by_name[d.name] = d
            except Exception as exc:
                self.baselines[e.name] = (False, None, f"{type(exc).__name__}: {exc}", False)
        return self.baselines[e.name]

    def call(self, e: Entry, override: dict[str, Any], *, keep: list[Any] | None = None) -> Any:
        fn = e.target()
        args = _baseline_args(fn, e.spec, e.params)
        args.update(override)
        if keep is not None:
            keep.append(args)
        pos = [args.pop(k) for k, p in e.params.items() if p.kind == p.POSITIONAL_ONLY and k in args]
        result = fn(*pos, **args)
        if inspect.isgenerator(result):
            result = [x for _, x in zip(range(3), result)]
        return result

    def cases(self, e: Entry) -> list[Case]:
        try:
            args = _baseline_args(e.target(), e.spec, e.params)
        except Exception:
            return []
        out: list[Case] = []
        for k, p in e.params.items():
            out += cases_for(k, args.get(k, p.default if p.default is not inspect.Parameter.empty else None), p, e.spec)
            if e.alias_check and isinstance(args.get(k), (np.ndarray, list)) and k not in e.spec.skip:
                out.append(Case(k, "edited after the call", "alias", lambda b: b))
        return out

    # -- one call
    def run(self, e: Entry, case: Case) -> Outcome:
        ok, base_result, msg, det = self.baseline(e)
        o = Outcome(e.name, case.param, case.label, case.role, "ok")
        if not ok:
            o.outcome, o.detail = "baseline", msg
            return o
        args = _baseline_args(e.target(), e.spec, e.params)
        if case.role == "alias":
            return self._alias(e, case, o)
        t0 = time.perf_counter()
        try:
            return self._judge(e, case, o, args, base_result, det)
        finally:
            o.seconds = time.perf_counter() - t0

    def _judge(self, e: Entry, case: Case, o: Outcome, args: dict[str, Any], base_result: Any, det: bool) -> Outcome:
        try:
            value = case.make(args.get(case.param, e.params[case.param].default if case.param in e.params else None))
            result = self.call(e, {case.param: value})
        except BaseException as exc:  # noqa: BLE001 - every failure is judged
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            text = f"{type(exc).__name__}: {exc}".strip()
            where = _where(exc)
            o.detail = text[:300] + (f" [{where}]" if where else "")
            if case.role in ("valid", "valid_any"):
                o.outcome = "refused"
            elif isinstance(exc, (ValueError, TypeError)) and names_argument(case.param, str(exc)):
                o.outcome = "clear"
            else:
                o.outcome = "unclear"
            return o
        if case.role == "bad":
            o.outcome, o.detail = "silent", "accepted: " + _short(result)
        elif case.role == "probe":
            if nonfinite(result) and not e.spec.nonfinite_result:
                o.outcome, o.detail = "silent", "NaN or inf in the result: " + _short(result)
        elif case.role == "valid":
            if not same(result, base_result, values=det):
                o.outcome, o.detail = "silent", f"differs from the baseline: {_short(result)} vs {_short(base_result)}"
        return o

    def _alias(self, e: Entry, case: Case, o: Outcome) -> Outcome:
        kept: list[Any] = []
        try:
            result = self.call(e, {}, keep=kept)
        except Exception as exc:
            o.outcome, o.detail = "refused", f"{type(exc).__name__}: {exc}"
            return o
        before = _fingerprint(result)
        if not before or not _mutate(kept[0][case.param]):
            o.role = "skip"
            return o
        after = _fingerprint(result)
        if not same(before, after):
            o.outcome, o.detail = "silent", f"keeps the caller's {case.param}: editing it afterwards changes the result"
        return o


def _short(x: Any) -> str:
    try:
        text = repr(x)
    except Exception:
        text = type(x).__name__
    text = " ".join(text.split())
    return text[:120] + ("..." if len(text) > 120 else "")


def _where(exc: BaseException) -> str:
    tb = traceback.extract_tb(exc.__traceback__)
    for frame in reversed(tb):
        if "/nbcode/" in frame.filename:
            return f"{frame.filename.split('/nbcode/')[-1]}:{frame.lineno}"
    return tb[-1].filename.split("/")[-1] + f":{tb[-1].lineno}" if tb else ""


# ---------------------------------------------------------------------------------------------
# The worker protocol (one process runs calls; the parent restarts it after a crash)
# ---------------------------------------------------------------------------------------------

def selected(name: str, names: Iterable[str], derived: bool = True) -> bool:
    """Whether entry ``name`` is one of ``names``: an exact name, a prefix ending in ``.``
    (``nbcode.norm.`` selects a whole package) or, with ``derived``, a factory whose returned
    object's methods are entries (``nbcode.optim.sgd`` selects ``nbcode.optim.sgd(...).update``)."""
    return any(name == n or (n.endswith(".") and name.startswith(n)) or (derived and name.startswith(n + "("))
               for n in names)


def _case_ids(runner: Runner, names: Iterable[str] | None = None) -> list[tuple[str, int]]:
    ids = []
    for e in list(runner.entries):
        if names is not None and not selected(e.name, names, derived=False):
            continue
        runner.baseline(e)
    for e in runner.entries:
        if names is not None and not selected(e.name, names):
            continue
        ids.append((e.name, -1))
        if runner.baseline(e)[0]:
            ids += [(e.name, i) for i in range(len(runner.cases(e)))]
    return ids


def worker() -> None:
    runner = Runner()
    todo = json.loads(sys.stdin.readline())
    for name, i in todo:
        print("S", json.dumps([name, i]), flush=True)
        if name not in runner.by_name:
            for e in list(runner.entries):
                runner.baseline(e)
        e = runner.by_name.get(name)
        if e is None:
            print("R", json.dumps(dataclasses.asdict(Outcome(name, "", "", "baseline", "baseline", "missing"))), flush=True)
            continue
        if i < 0:
            ok, _, msg, _ = runner.baseline(e)
            out = Outcome(name, "", "baseline", "baseline", "ok" if ok else "baseline", msg)
        else:
            cs = runner.cases(e)
            out = runner.run(e, cs[i])
        print("R", json.dumps(dataclasses.asdict(out)), flush=True)


def run_all(timeout: float, names: list[str] | None = None) -> tuple[list[Outcome], dict[str, str], int]:
    env = dict(os.environ, TQDM_DISABLE="1", NBCODE_SWEEP="static", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1")
    runner = Runner()  # enumerates here too: the list of calls
    todo = [list(t) for t in _case_ids(runner, names)]
    n_entries = len({n for n, _ in todo})
    results: list[Outcome] = []
    pos = 0
    while pos < len(todo):
        proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps(todo[pos:]) + "\n")
        proc.stdin.flush()
        current: list[Any] | None = None
        started = time.monotonic()
        while pos < len(todo):
            limit = timeout if current is not None else 300.0
            ready, _, _ = select.select([proc.stdout], [], [], max(0.0, limit - (time.monotonic() - started)))
            line = proc.stdout.readline() if ready else None
            if not line:
                why = f"no answer within {limit:.0f} s (hang)" if line is None else f"the interpreter died (exit code {proc.poll()})"
                if current is None:
                    raise RuntimeError(f"the battery's worker failed before its first call: {why}")
                results.append(_crash(runner, current, why))
                pos += 1
                break
            tag, payload = line[:1], line[2:]
            if tag == "S":
                current = json.loads(payload)
                started = time.monotonic()
            elif tag == "R":
                results.append(Outcome(**json.loads(payload)))
                pos += 1
                current = None
                started = time.monotonic()
        proc.kill()
        proc.wait()
    return results, runner.excluded, n_entries


def run_inprocess(names: list[str] | None = None) -> tuple[list[Outcome], dict[str, str], int]:
    runner = Runner()
    todo = _case_ids(runner, names)
    results = []
    for name, i in todo:
        e = runner.by_name[name]
        if i < 0:
            ok, _, msg, _ = runner.baseline(e)
            results.append(Outcome(name, "", "baseline", "baseline", "ok" if ok else "baseline", msg))
        else:
            results.append(runner.run(e, runner.cases(e)[i]))
    return results, runner.excluded, len({n for n, _ in todo})


def _crash(runner: Runner, current: list[Any], why: str) -> Outcome:
    name, i = current
    e = runner.by_name.get(name)
    if e is None or i < 0:
        return Outcome(name, "", "baseline", "baseline", "crash", why)
    c = runner.cases(e)[i]
    return Outcome(name, c.param, c.label, c.role, "crash", why)


# ---------------------------------------------------------------------------------------------
# The allow-list: unclear errors that cannot be avoided, with the reason
# ---------------------------------------------------------------------------------------------

#: (entry pattern, argument, input label pattern) -> reason. Patterns are regular expressions.
ALLOW: dict[tuple[str, str, str], str] = {
    # ---- optim, schedules (group E)
    (r"nbcode\.(optim\.\w+|experiments\.optim\.race_optimizer)\(\)\.update", "params", r"(nan|inf) entry"):
        "a diverged run's parameters are NaN/inf: like torch.optim, an update takes them (init refuses them); "
        "refusing would stop a training sweep at a diverged learning rate and cost a pass over every parameter per step",
    (r"nbcode\.schedules\.reduce_lr_on_plateau\(\)\.init", "lr", "0"):
        "the result's inf is the state's best, which starts at +inf (mode 'min'), as torch's ReduceLROnPlateau",
    (r"nbcode\.schedules\.reduce_lr_on_plateau\(\)\.update", "metric", r"nan|-?inf"):
        "a diverged run's loss: NaN counts as a bad epoch and an infinite metric is compared, as in torch's "
        "ReduceLROnPlateau (the inf in the result is the state's best)",
}


def allowed(o: Outcome) -> str | None:
    for (ep, param, label), reason in ALLOW.items():
        if re.fullmatch(ep, o.entry) and re.fullmatch(param, o.param) and re.fullmatch(label, o.label):
            return reason
    return None


#: Where the defects that remain are listed (one per line: entry | argument | input | outcome).
KNOWN_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "battery_known.txt")


def key(o: Outcome) -> str:
    return f"{o.entry} | {o.param} | {o.label} | {o.outcome}"


def load_known(path: str = KNOWN_PATH) -> set[str]:
    """The defects that remain (and are reported in the issue's note), one key a line."""
    if not os.path.exists(path):
        return set()
    with open(path) as f:
        return {line.strip() for line in f if line.strip() and not line.startswith("#")}


def write_known(results: list[Outcome], path: str = KNOWN_PATH, names: list[str] | None = None) -> int:
    """Write the defects found; with ``names`` (a partial run) the lines of other entries are kept."""
    lines = sorted({key(o) for o in results if o.outcome in (*DEFECTS, "baseline") and not allowed(o)})
    if names is not None:
        kept = {k for k in load_known(path) if not selected(k.split(" | ")[0], names)}
        lines = sorted(kept | set(lines))
    with open(path, "w") as f:
        f.write("# Defects the battery (scripts/battery.py) still finds: entry | argument | input | outcome.\n"
                "# tests/test_battery.py fails on any other defect, and on a line here that no longer fails.\n"
                "# Regenerate with: python scripts/battery.py --inprocess --write-known\n")
        f.writelines(line + "\n" for line in lines)
    return len(lines)


def tally(results: list[Outcome]) -> dict[str, int]:
    counts = collections.Counter()
    for o in results:
        if o.role in ("baseline", "skip") and o.outcome in ("ok",):
            continue
        if o.role == "skip":
            continue
        counts[o.outcome] += 1
    return {k: counts.get(k, 0) for k in (*OUTCOMES, "baseline")}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--json", help="write every call's outcome here")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds before a call counts as hung")
    ap.add_argument("--only", nargs="*", help="entry points to run (default: all); a name ending in '.' is a prefix: "
                                                 "--only nbcode.norm. runs the whole package")
    ap.add_argument("--quiet", action="store_true", help="the table only")
    ap.add_argument("--inprocess", action="store_true", help="no worker processes (faster; a crash ends the run)")
    ap.add_argument("--write-known", action="store_true", help=f"write the defects found to {KNOWN_PATH}")
    args = ap.parse_args(argv)
    if args.worker:
        worker()
        return 0
    t0 = time.monotonic()
    if args.inprocess:
        results, excluded, n_entries = run_inprocess(args.only)
    else:
        results, excluded, n_entries = run_all(args.timeout, args.only)
    counts = tally(results)
    calls = sum(counts[k] for k in OUTCOMES)
    import nbcode

    print(f"nbcode at {os.path.dirname(nbcode.__file__)}: {n_entries} entry points, {calls} calls, "
          f"{time.monotonic() - t0:.0f} s; {len(excluded)} excluded")
    width = max(len(k) for k in counts)
    for k in (*OUTCOMES, "baseline"):
        print(f"  {k:<{width}}  {counts[k]:5d}")
    allowed_n = 0
    if not args.quiet:
        for o in results:
            if o.outcome in DEFECTS or o.outcome == "baseline":
                reason = allowed(o)
                if reason:
                    allowed_n += 1
                    continue
                print(f"{o.outcome:8s} {o.entry}({o.param}={o.label}) [{o.role}] {o.detail}")
        print(f"(allow-listed: {allowed_n})")
        for name, why in sorted(excluded.items()):
            print(f"excluded {name}: {why}")
    if args.write_known:
        n = write_known(results, names=args.only)
        print(f"{n} defects written to {KNOWN_PATH}" + (" (other entries' lines kept)" if args.only else ""))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"entries": n_entries, "counts": counts, "excluded": excluded,
                       "results": [dataclasses.asdict(o) for o in results]}, f, indent=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
