"""Look at a real model on one mini-batch: per-layer activation and gradient statistics, and
LSUV, the data-dependent initialization built on them.

Goodfellow et al. (2016, §8.4) give the rule of thumb: choose the initial scales by looking at
the range or standard deviation of activations and gradients on a single mini-batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from nbcode import _validate
from nbcode._torch import check_fit, stateless
from nbcode.init.initializers import orthogonal

__all__ = ["LayerStats", "forward_stats", "layer_stats", "format_stats", "lsuv", "LSUVResult"]

_WEIGHTED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
_ZERO_KINDS = {"ReLU", "ReLU6"}
_SAT_KINDS = {"Tanh", "Sigmoid", "Hardtanh", "Softsign"}


@dataclass
class LayerStats:
    """Statistics of one leaf module's output on one mini-batch.

    ``grad_std`` is the std of :math:`\\partial L/\\partial(\\text{output})`; ``weight_grad_std`` that of
    the module's weight gradient (NaN for modules without a weight); ``frac_zero`` the fraction of
    exactly-zero outputs (dead or inactive ReLUs); ``saturated`` the fraction with
    :math:`|h| > 0.99` (a saturated tanh).
    """

    name: str
    kind: str
    mean: float
    std: float
    grad_std: float = math.nan
    weight_grad_std: float = math.nan
    frac_zero: float = math.nan
    saturated: float = math.nan


def _leaves(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(name, m) for name, m in model.named_modules() if not list(m.children()) and name]


def _check_X(X: torch.Tensor) -> torch.Tensor:
    return _validate.tensor(X, "X", nonempty=True, finite=True)


def _one_tensor(out: Any) -> torch.Tensor:
    """The model's output, refused unless it is one tensor (an ``nn.LSTM`` returns a tuple)."""
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"Invalid model: it returns a {type(out).__name__} (need a model whose output is one tensor, "
                        "e.g. wrap an LSTM in a module that returns its output sequence)")
    return out


def _row(name: str, module: nn.Module, out: torch.Tensor) -> LayerStats:
    o = out.detach().double()
    return LayerStats(
        name, type(module).__name__, float(o.mean()), float(o.std()),
        frac_zero=float((o == 0).double().mean()), saturated=float((o.abs() > 0.99).double().mean()),
    )


def forward_stats(model: nn.Module, X: torch.Tensor) -> list[LayerStats]:
    """Mean and std of every leaf module's output on ``X`` (one forward pass, no gradients).

    The model is left unchanged (parameters, buffers, modes, ``requires_grad`` flags, the global
    random state): it is called through :func:`nbcode._torch.stateless`, so a BatchNorm layer in
    training mode normalizes with the batch statistics without updating its running statistics,
    and the hooks are removed afterwards.

    Examples
    --------
    >>> torch.manual_seed(0) and None
    >>> net = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
    >>> [s.kind for s in forward_stats(net, torch.randn(8, 4))]
    ['Linear', 'ReLU']
    """
    _validate.module(model)
    _check_X(X)
    check_fit(model, X)
    rows: list[LayerStats] = []
    handles = []

    def hook(name: str) -> Callable[..., None]:
        def fn(module: nn.Module, inputs: Any, out: Any) -> None:
            if isinstance(out, torch.Tensor):
                rows.append(_row(name, module, out))

        return fn

    try:
        for name, m in _leaves(model):
            handles.append(m.register_forward_hook(hook(name)))
        with torch.no_grad():
            _one_tensor(stateless(model)(dict(model.named_parameters()), X))
    finally:
        for h in handles:
            h.remove()
    return rows


def layer_stats(
    model: nn.Module, X: torch.Tensor, y: torch.Tensor | None = None, loss_fn: Callable[..., torch.Tensor] | None = None
) -> list[LayerStats]:
    """Per-leaf-module output mean/std, output-gradient std and weight-gradient std on one batch.

    One forward and one backward pass of ``loss_fn(model(X), y)`` (default: cross-entropy for
    integer ``y``, mean squared error for float ``y``, half the mean square of the output when
    ``y`` is None). The model is left unchanged: it is called through
    :func:`nbcode._torch.stateless` (buffers and the global random state untouched, a BatchNorm
    layer in training mode using the batch statistics without tracking them; dropout draws its
    masks from the current random state, which is then restored), on detached copies of its
    parameters, so no ``.grad`` field or ``requires_grad`` flag changes; hooks are removed.
    Weight gradients are reported for every weight, trainable or not.

    Examples
    --------
    >>> torch.manual_seed(0) and None
    >>> net = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    >>> stats = layer_stats(net, torch.randn(16, 4), torch.tensor([0, 1] * 8))
    >>> [s.name for s in stats], all(s.grad_std > 0 for s in stats), net[0].weight.grad is None
    (['0', '1', '2'], True, True)
    """
    _validate.module(model)
    _check_X(X)
    if y is not None:
        _validate.tensor(y, "y", nonempty=True, finite=True)
        if X.dim() > 0 and (y.dim() == 0 or y.shape[0] != X.shape[0]):
            raise ValueError(f"Invalid shape of y: {tuple(y.shape)} (need {X.shape[0]} rows, as many as X)")
    if loss_fn is not None:
        _validate.function(loss_fn, "loss_fn")
    if y is None:
        check_fit(model, X)
    else:
        default = nn.functional.mse_loss if torch.is_floating_point(y) else nn.functional.cross_entropy
        check_fit(model, X, y, loss_fn if loss_fn is not None else default)
    rows: dict[str, LayerStats] = {}
    order: list[str] = []
    handles = []
    modules = dict(_leaves(model))

    def hook(name: str) -> Callable[..., None]:
        def fn(module: nn.Module, inputs: Any, out: Any) -> None:
            if not isinstance(out, torch.Tensor):
                return
            rows[name] = _row(name, module, out)
            order.append(name)
            if out.requires_grad:
                out.register_hook(lambda g: setattr(rows[name], "grad_std", float(g.double().std())))

        return fn

    params = {k: p.detach().requires_grad_(True) for k, p in model.named_parameters()}
    try:
        for name, m in modules.items():
            handles.append(m.register_forward_hook(hook(name)))
        with torch.enable_grad():
            out = _one_tensor(stateless(model)(params, X))
            if y is None:
                loss = 0.5 * out.pow(2).mean()
            elif loss_fn is not None:
                loss = loss_fn(out, y)
            elif torch.is_floating_point(y):
                loss = nn.functional.mse_loss(out, y)
            else:
                loss = nn.functional.cross_entropy(out, y)
            grads = dict(zip(params, torch.autograd.grad(loss, list(params.values()), allow_unused=True)))
    finally:
        for h in handles:
            h.remove()
    for name in order:
        g = grads.get(f"{name}.weight")
        if g is not None and isinstance(getattr(modules[name], "weight", None), torch.Tensor):
            rows[name].weight_grad_std = float(g.double().std())
    return [rows[n] for n in order]


def format_stats(stats: Sequence[LayerStats], *, digits: int = 3) -> str:
    """A fixed-width table of :func:`layer_stats` (numbers to ``digits`` significant digits).

    The "zero" column (fraction of exactly-zero outputs) is shown for ReLU layers and the "sat."
    column (fraction with :math:`|h| > 0.99`) for squashing ones; elsewhere they read "-".

    Examples
    --------
    >>> print(format_stats([LayerStats("0", "Linear", 0.0, 1.0, 0.5, 0.25, 0.0, 0.3), LayerStats("1", "ReLU", 0.4, 0.6, 0.5, math.nan, 0.5, 0.1)]))
    layer  kind          mean       std  grad std  W-grad std  zero  sat.
    0      Linear           0         1       0.5        0.25     -     -
    1      ReLU           0.4       0.6       0.5           -  0.50     -
    """
    if isinstance(stats, (str, bytes)) or not isinstance(stats, Sequence) or not all(isinstance(s, LayerStats) for s in stats):
        raise TypeError(f"Invalid stats: {_validate.show(stats)} (need a list of LayerStats, as layer_stats returns)")
    digits = _validate.count(digits, "digits", low=1)

    def g(x: float) -> str:
        return "-" if math.isnan(x) else f"{x:.{digits}g}"

    def frac(x: float, show: bool) -> str:
        return f"{x:.2f}" if show and not math.isnan(x) else "-"

    lines = [f"{'layer':<6} {'kind':<10} {'mean':>7} {'std':>9} {'grad std':>9} {'W-grad std':>11} {'zero':>5} {'sat.':>5}"]
    for s in stats:
        lines.append(
            f"{s.name:<6} {s.kind:<10} {g(s.mean):>7} {g(s.std):>9} {g(s.grad_std):>9} {g(s.weight_grad_std):>11} "
            f"{frac(s.frac_zero, s.kind in _ZERO_KINDS):>5} {frac(s.saturated, s.kind in _SAT_KINDS):>5}"
        )
    return "\n".join(lines)


class LSUVResult(list[float]):
    """What :func:`lsuv` returns: the output std of each weighted layer as measured after its last
    rescaling (a list of floats), with ``converged[i]`` (did layer ``i`` reach
    :math:`|s^2 - 1| <` ``tol``?) and ``iterations[i]`` (how many rescalings it took). A std is NaN
    when it is undefined (a layer with a single output entry on the batch)."""

    def __init__(self, stds: list[float], converged: list[bool], iterations: list[int]) -> None:
        values = _validate.vector(stds, "stds", finite=False).tolist()  # a layer whose output is NaN reports NaN
        if isinstance(converged, (str, bytes)) or not isinstance(converged, Sequence) or len(converged) != len(values) \
                or not all(isinstance(c, (bool, np.bool_)) for c in converged):
            raise TypeError(f"Invalid converged: {_validate.show(converged)} (need {len(values)} bools, one per std)")
        iterations = list(_validate.sizes(iterations, "iterations", low=0, min_len=len(values)))
        if len(iterations) != len(values):
            raise ValueError(f"Invalid iterations: {_validate.show(iterations)} (need {len(values)} counts, one per std)")
        super().__init__(values)
        self.converged = [bool(c) for c in converged]
        self.iterations = iterations


def lsuv(
    model: nn.Module, X: torch.Tensor, *, tol: float = 0.01, max_iter: int = 10, rng: np.random.Generator | None = None
) -> LSUVResult:
    r"""Layer-sequential unit-variance initialization (Mishkin & Matas 2016), in place.

    1. Every ``Linear``/``Conv`` weight is set to an orthogonal matrix (if ``rng`` is given) and
       its bias to 0.
    2. Layer by layer, from the input: forward the batch ``X``, measure the std :math:`s` of the
       layer's output (with :func:`forward_stats`), divide the weight by :math:`s`, and measure
       again; stop when :math:`|s^2 - 1| <` ``tol`` or after ``max_iter`` rescalings.

    Returns the std of each weighted layer's output measured *after* its last rescaling (so the
    value describes the weights as they are, whether or not ``max_iter`` ran out), as an
    :class:`LSUVResult`: a list of floats that also says which layers converged. The output std
    is the data's, not a theory's, so it accounts for the nonlinearities, the biases and the
    input's real statistics. Only the weights and biases change: the measurements leave every
    buffer (BatchNorm running statistics) and the random state as they were.

    References
    ----------
    Mishkin & Matas, "All you need is a good init", ICLR 2016.

    Examples
    --------
    >>> torch.manual_seed(0) and None
    >>> net = nn.Sequential(*[m for _ in range(5) for m in (nn.Linear(32, 32), nn.ReLU())])
    >>> stds = lsuv(net, torch.randn(256, 32), rng=np.random.default_rng(0))
    >>> all(abs(s**2 - 1) < 0.01 for s in stds), all(stds.converged)
    (True, True)
    """
    _validate.module(model)
    _check_X(X)
    check_fit(model, X)
    tol = _validate.real(tol, "tolerance", low=0, low_open=True)
    max_iter = _validate.count(max_iter, "max_iter", low=1)
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise TypeError(f"Invalid rng: {_validate.show(rng)} (need None or a numpy.random.Generator)")
    named = [(name, m) for name, m in _leaves(model) if isinstance(m, _WEIGHTED)]
    if not named:
        raise ValueError("LSUV needs at least one Linear or Conv layer")

    def measure(name: str) -> float:
        return next(r.std for r in forward_stats(model, X) if r.name == name)

    def done(s: float) -> bool:
        return abs(s**2 - 1) < tol or s == 0 or not math.isfinite(s)

    with torch.no_grad():
        for _, m in named:
            if rng is not None:
                w = orthogonal(tuple(m.weight.shape), rng=rng)
                m.weight.copy_(torch.as_tensor(w, dtype=m.weight.dtype))
            if m.bias is not None:
                m.bias.zero_()
        stds, converged, iterations = [], [], []
        for name, m in named:
            s, it = measure(name), 0
            while not done(s) and it < max_iter:
                m.weight.div_(s)
                it += 1
                s = measure(name)
            stds.append(s)
            converged.append(abs(s**2 - 1) < tol)
            iterations.append(it)
    return LSUVResult(stds, converged, iterations)
