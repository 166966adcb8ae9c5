"""Trajectories: an optimizer run from a start point, with one rule for divergence.

* :func:`run` — the ``steps + 1`` iterates of any :class:`~nbcode.optim.Optimizer`;
* :func:`gd_path` — (perturbed) gradient descent, :math:`w \\leftarrow w - \\eta\\nabla L(w)`;
* :func:`newton_path` — Newton's method, :math:`w \\leftarrow w - H(w)^{-1}\\nabla L(w)`;
* :func:`iterate` — the same iterates one at a time, for a measurement that stops on its own
  criterion.

Each takes the loss as an object with a ``grad`` method (a
:class:`~nbcode.surfaces.Surface`, a :class:`~nbcode.quadratic.Quadratic1D` or
:class:`~nbcode.quadratic.QuadraticND`, ...; also ``hess`` for Newton), or as the gradient
function itself.

**The divergence rule**, the same for every path of the book: a run ends when a step cannot be
taken (an ``OverflowError`` while computing it, in the gradient, the Hessian or the step itself;
a singular Hessian, ``numpy.linalg.LinAlgError``) or when it lands on a point that is not finite
or lies outside the ball :math:`\\|w\\|_2 \\le` ``max_norm``. The path is padded with NaN
from there on, so that every run has ``steps + 1`` rows and a divergence is shown, not hidden.
Any other error of the gradient, the Hessian or a schedule (a ``ZeroDivisionError``, a
``TypeError``, ...) is a bug, not a divergence: it propagates, with a note naming the step.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterator

import numpy as np

from nbcode import _validate as v
from nbcode.optim._base import Array, Optimizer, Schedule
from nbcode.optim.second_order import newton
from nbcode.optim.sgd import sgd

__all__ = ["iterate", "run", "gd_path", "newton_path", "MAX_NORM"]

#: Default radius of the ball outside which a run counts as diverged.
MAX_NORM = 1e6

#: What a step may raise when it cannot be taken: an overflow (in the gradient, the Hessian or
#: the step's arithmetic: Python floats raise where NumPy gives inf), a singular linear system.
#: Nothing else: a division by zero or any other error of the user's functions propagates.
_UNDEFINED_STEP = (OverflowError, np.linalg.LinAlgError)


def _gradient(f: Any) -> Callable[[Array], Any]:
    grad = getattr(f, "grad", None)
    if callable(grad):
        return grad
    return v.function(f, "loss (an object with a grad method, or the gradient function)")


def _hessian(f: Any, hess: Any) -> Callable[[Array], Any]:
    if hess is not None:
        return v.function(hess, "hess")
    h = getattr(f, "hess", None)
    if not callable(h):
        raise TypeError(f"Invalid hess: None (the loss {v.show(f)} has no hess method; pass hess=)")
    return h


def iterate(
    opt: Optimizer, grad: Callable[[Array], Any], w0: Any, *, max_norm: float = MAX_NORM, noise: float = 0.0, seed: int = 0
) -> Iterator[Array]:
    """The iterates :math:`w_0, w_1, \\dots` of ``opt`` on a loss with gradient ``grad``, without
    end, until the divergence rule (see the module) stops them.

    ``noise`` :math:`\\sigma > 0` adds :math:`\\sigma\\xi_k`, :math:`\\xi_k \\sim N(0, I)`, to every
    iterate (perturbed gradient descent); ``seed`` seeds it.

    Examples
    --------
    >>> import itertools
    >>> [float(w) for w in itertools.islice(iterate(sgd(lr=0.5), lambda w: w, 1.0), 4)]
    [1.0, 0.5, 0.25, 0.125]
    >>> [float(w) for w in iterate(sgd(lr=3.0), lambda w: w, 1.0, max_norm=10.0)]   # |1 - 3| = 2 per step
    [1.0, -2.0, 4.0, -8.0]
    """
    if not isinstance(opt, Optimizer):
        raise TypeError(f"Invalid optimizer: {v.show(opt)} (need an nbcode.optim.Optimizer)")
    v.function(grad, "grad")
    w = v.array(w0, "starting point")
    max_norm = v.real(max_norm, "max_norm", low=0, low_open=True, finite=False)
    noise = v.real(noise, "noise", low=0)
    seed = v.count(seed, "seed")
    rng = np.random.default_rng(seed) if noise > 0 else None
    return _iterates(opt, grad, w, max_norm, noise, rng)


def _iterates(opt: Optimizer, grad: Callable[[Array], Any], w: Array, max_norm: float, noise: float,
              rng: np.random.Generator | None) -> Iterator[Array]:
    """The loop of :func:`iterate`, on checked arguments (a generator: nothing runs until the
    first iterate is asked for, so the checks stay in :func:`iterate`)."""
    state = opt.init(w)
    yield w
    while True:
        try:
            updates, state = opt.update(np.asarray(grad(w), dtype=np.float64), state, w)
        except _UNDEFINED_STEP:
            return
        except Exception as e:  # a bug in the gradient, Hessian or schedule: say where it happened
            e.add_note(f"(raised while computing step {_step(state)} of the path, from w = {w.tolist() if w.size <= 4 else v.show(w)}; "
                       "only an OverflowError or a singular Hessian counts as a divergence)")
            raise
        w = w + updates  # apply_updates without its checks: the divergence rule below judges w
        if rng is not None:
            w = w + noise * rng.standard_normal(w.shape)
        flat = w.reshape(-1)
        norm = math.sqrt(float(flat.dot(flat)))  # np.linalg.norm's formula, without its overhead
        # the rule: stop on a non-finite entry or outside the ball (an infinite norm with finite
        # entries is an overflow of the sum of squares: outside any finite ball)
        if norm > max_norm or math.isnan(norm) or (math.isinf(norm) and not np.all(np.isfinite(w))):
            return
        yield w


def _step(state: Any) -> str:
    step = getattr(state, "step", None)
    return str(step) if type(step) is int else "?"


def run(
    opt: Optimizer, grad: Callable[[Array], Any], w0: Any, steps: int, *, max_norm: float = MAX_NORM, noise: float = 0.0, seed: int = 0
) -> Array:
    """The ``steps + 1`` iterates of ``opt`` on a function with gradient ``grad``, from ``w0``,
    shape ``(steps + 1,) + w0.shape``; NaN from a divergence on (see the module).

    Examples
    --------
    >>> from nbcode.optim import sgd
    >>> run(sgd(lr=0.25), lambda w: 2 * w, [1.0], 3)[:, 0].tolist()
    [1.0, 0.5, 0.25, 0.125]
    >>> run(sgd(lr=1.5), lambda w: 2 * w, [1.0], 30)[-1].tolist()     # diverged: padded with NaN
    [nan]
    """
    steps = v.count(steps, "steps")
    iterates = iterate(opt, grad, w0, max_norm=max_norm, noise=noise, seed=seed)  # checks the arguments
    path = np.full((steps + 1,) + np.shape(w0), np.nan)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # a diverging run is expected to overflow
        for k, w in zip(range(steps + 1), iterates):
            path[k] = w
    return path


def gd_path(
    loss: Any, w0: Any, lr: float | Schedule, steps: int, *, noise: float = 0.0, seed: int = 0, max_norm: float = MAX_NORM
) -> Array:
    """Iterates of (perturbed) gradient descent, shape ``(steps + 1,) + w0.shape``.

    .. math:: w_{k+1} = w_k - \\eta_k\\, \\nabla L(w_k) + \\sigma \\xi_k, \\qquad \\xi_k \\sim N(0, I)

    This is :func:`run` with :func:`~nbcode.optim.sgd`. With ``noise`` :math:`\\sigma > 0` it is
    perturbed gradient descent (a simple version of :cite:`jin2017`'s). ``lr`` may be a schedule
    ``k -> lr``.

    Parameters
    ----------
    loss : object with a ``grad`` method, or callable
        E.g. a :class:`~nbcode.quadratic.Quadratic1D` or a :class:`~nbcode.surfaces.Surface`;
        a plain function is taken to be the gradient.
    w0 : float or array
        The start.
    lr : float or callable
    steps : int
    noise, seed : float, int
        Perturbation and its seed.
    max_norm : float
        Radius of the divergence rule.

    Examples
    --------
    >>> from nbcode.quadratic import Quadratic1D
    >>> gd_path(Quadratic1D(a=2.0, b=-2.0), 3.0, 0.25, 3).tolist()     # r = 1 - 0.25 * 2 = 0.5
    [3.0, 2.0, 1.5, 1.25]
    >>> gd_path(lambda w: np.array([2.0 * w[0], -2.0 * w[1]]), [1.0, 0.5], 0.25, 2).tolist()   # x² - y²
    [[1.0, 0.5], [0.5, 0.75], [0.25, 1.125]]
    """
    return run(sgd(lr=lr), _gradient(loss), w0, steps, max_norm=max_norm, noise=noise, seed=seed)


def newton_path(loss: Any, w0: Any, steps: int, *, hess: Callable[[Array], Any] | None = None, max_norm: float = MAX_NORM) -> Array:
    """Iterates of the pure Newton step :math:`w \\leftarrow w - H(w)^{-1} \\nabla L(w)`, shape
    ``(steps + 1,) + w0.shape``.

    Newton's step jumps to the critical point of the local quadratic model, whatever its type:
    near a saddle it is attracted to the saddle (:cite:`dauphin2014`). In one dimension it is
    :math:`w - L'(w)/L''(w)`, the local optimal step :math:`1/L''(w)`; a zero :math:`L''` ends
    the run (the divergence rule).

    Parameters
    ----------
    loss : object with ``grad`` and ``hess`` methods, or the gradient function
    w0 : float or array
    steps : int
    hess : callable, optional
        The Hessian (or :math:`L''` in 1-D), when ``loss`` has no ``hess`` method.
    max_norm : float

    Examples
    --------
    >>> newton_path(lambda w: 2 * w - 2, 5.0, 2, hess=lambda w: 2.0).tolist()   # a parabola: one step
    [5.0, 1.0, 1.0]
    >>> newton_path(lambda w: w**3, 1.0, 3, hess=lambda w: 3 * w * w).round(4).tolist()   # L = w^4 / 4
    [1.0, 0.6667, 0.4444, 0.2963]
    """
    return run(newton(_hessian(loss, hess)), _gradient(loss), w0, steps, max_norm=max_norm)

