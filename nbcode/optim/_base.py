"""The shape every optimizer shares, and the few ideas every optimizer uses once.

An optimizer is an :class:`Optimizer`, i.e. ``init(params) -> state`` and
``update(grads, state, params) -> (updates, state)``; the new parameters are
``params + updates`` (:func:`apply_updates`). The state is a ``NamedTuple`` whose field names
match the keys of ``torch.optim``'s state (``exp_avg``, ``momentum_buffer``, ...), so the two
can be compared field by field; every state carries its step count. ``update_`` does the same
step in place (on a float32 or float64 array), with the readable code or, for SGD, RMSprop and
Adam, with a fast kernel (the ``engine`` argument).

The pieces every factory shares live here, once: :func:`learning_rate` (a number or a schedule
``step -> lr``), :func:`weight_decay` (L2 or decoupled), :func:`betas` and the conversion of
parameters and gradients to float64 (:func:`grads_and_params`), all built on
:mod:`nbcode._validate`.
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple, NoReturn

import numpy as np

from nbcode import _validate as v

__all__ = ["Optimizer", "apply_updates", "Stepper", "Schedule", "learning_rate"]

Array = np.ndarray
#: A learning-rate schedule: the rate used at step ``k = 0, 1, ...`` (see :mod:`nbcode.schedules`).
Schedule = Callable[[int], float]
InitFn = Callable[[Array], Any]
UpdateFn = Callable[[Array, Any, Array], tuple[Array, Any]]
InplaceFn = Callable[[Array, Any, Array], Any]


class Optimizer(NamedTuple):
    """A functional optimizer: ``init(params) -> state``, ``update(grads, state, params) -> (updates, state)``.

    ``inplace`` (optional) is a fast in-place step ``inplace(grads, state, params) -> state``;
    :meth:`update_` uses it, or the readable ``update`` when there is none. ``lr`` (optional)
    is the learning rate as a function of the step, for display (e.g. by
    :class:`nbcode.train.NumpyOptimizer`).
    """

    init: InitFn
    update: UpdateFn
    inplace: InplaceFn | None = None
    lr: Schedule | None = None

    def update_(self, grads: Any, state: Any, params: Array) -> Any:
        """One step in place: ``params`` (a writeable float32 or float64 NumPy array) and the
        state's arrays are overwritten; returns the new state.

        Examples
        --------
        >>> from nbcode.optim import sgd
        >>> w = np.array([1.0, -2.0]); opt = sgd(lr=0.5)
        >>> s = opt.update_(np.array([1.0, -1.0]), opt.init(w), w)
        >>> w.tolist(), s.step
        ([0.5, -1.5], 1)
        """
        writeable(params)
        if self.inplace is not None:
            return self.inplace(grads, state, params)
        updates, state = self.update(grads, state, params)
        params += updates
        return state


def writeable(params: Any, name: str = "params") -> Array:
    """``params`` itself if it is a writeable float32/float64 NumPy array (what an in-place step
    can overwrite), else a clear error."""
    if not isinstance(params, np.ndarray):
        raise TypeError(f"Invalid {name}: {v.show(params)} (need a NumPy array to update in place)")
    if params.dtype not in (np.float32, np.float64):
        raise TypeError(f"Invalid {name}: dtype {params.dtype} (an in-place step needs float32 or float64)")
    if not params.flags.writeable:
        raise ValueError(f"Invalid {name}: the array is read-only")
    return params


def bad_shape(buffer: Array, grads: Array) -> NoReturn:
    """Refuse gradients whose shape is not the one the state was made for (called by the updates
    only after a one-line ``buffer.shape != grads.shape`` test, a tuple comparison)."""
    raise ValueError(f"Invalid shape of grads: {grads.shape} (the state was made by init for parameters of shape "
                     f"{buffer.shape}; need grads and params of that shape, or a new state)")


def check_params(params: Any) -> None:
    """Refuse parameters an optimizer's ``init`` cannot start from (not an array of real
    numbers, empty, NaN or infinite entries); the array itself is left as it is."""
    v.array(params, "params")


def apply_updates(params: Array, updates: Array) -> Array:
    """``params + updates`` (a new float64 array; nothing is modified in place).

    Both must be finite arrays of real numbers of one shape (the path runners add the updates
    themselves, without these checks, and apply their divergence rule instead).

    Examples
    --------
    >>> apply_updates([1.0, 2.0], np.array([0.5, -1.0])).tolist()
    [1.5, 1.0]
    >>> apply_updates([1.0, 2.0], [0.5])
    Traceback (most recent call last):
        ...
    ValueError: Invalid shape of updates: (1,) (need the shape of params, (2,))
    """
    w = v.array(params, "params")
    u = v.array(updates, "updates", copy=False)
    if u.shape != w.shape:
        raise ValueError(f"Invalid shape of updates: {u.shape} (need the shape of params, {w.shape})")
    return w + u


def bad_state(state: Any, kind: type) -> NoReturn:
    """Refuse a ``state`` that is not the ``NamedTuple`` an optimizer's ``init`` returns (called
    by the updates only after a one-line ``type(state) is kind`` test, which costs nothing)."""
    raise TypeError(f"Invalid state: {v.show(state)} (need the {kind.__name__} returned by this optimizer's init)")


def as_params(params: Any, name: str = "parameters") -> Array:
    """Parameters as a finite float64 array (a copy)."""
    return v.array(params, name, nonempty=False)


def floats(x: Any, name: str) -> Array:
    """``x`` as a float64 array without a copy when it already is one: integer and
    lower-precision inputs are computed in float64 (float16 would underflow ``eps``, an integer
    array would truncate Rprop's step sizes)."""
    if type(x) is np.ndarray and x.dtype == np.float64:  # the common case, checked cheaply (every step)
        return x
    return v.array(x, name, finite=False, nonempty=False, copy=False)


def grads_and_params(grads: Any, params: Any) -> tuple[Array, Array]:
    """Both as float64 arrays of one shape (a ``ValueError`` naming the shapes otherwise)."""
    g, w = floats(grads, "grads"), floats(params, "params")
    if g.shape != w.shape:
        raise ValueError(f"Invalid shape of grads: {g.shape} (need the shape of params, {w.shape})")
    return g, w


def learning_rate(lr: Any, name: str = "learning rate") -> Schedule:
    """``lr`` as a function of the step: a number ``>= 0`` (constant), or a schedule
    ``step -> lr`` (e.g. :func:`nbcode.schedules.cosine_annealing_lr`) whose values are checked
    as they are used.

    Examples
    --------
    >>> learning_rate(0.1)(7)
    0.1
    >>> learning_rate(lambda k: 1.0 / (k + 1))(3)
    0.25
    >>> learning_rate(0.1)(-1)
    Traceback (most recent call last):
        ...
    ValueError: Invalid step: -1 (need step >= 0)
    >>> learning_rate(-1)
    Traceback (most recent call last):
        ...
    ValueError: Invalid learning rate: -1 (need lr >= 0)
    """
    v.text(name, "name")
    if callable(lr):
        schedule = lr

        def at(step: int) -> float:
            if type(step) is not int or step < 0:  # the common case costs one test (every step)
                step = v.count(step, "step")
            value = schedule(step)
            if type(value) is float and 0.0 <= value < math.inf:  # the common case, checked cheaply
                return value
            return v.real(value, f"{name} at step {step}", low=0, symbol="lr")

        return at
    value = v.real(lr, name, low=0, symbol="lr")

    def constant(step: int) -> float:
        if type(step) is not int or step < 0:
            v.count(step, "step")
        return value

    return constant


def hyper(value: Any, name: str, symbol: str, **bounds: Any) -> float:
    """A hyper-parameter with PyTorch's message prefix, e.g. ``hyper(m, "momentum value",
    "momentum", low=0)`` refuses ``-1`` as ``Invalid momentum value: -1 (need momentum >= 0)``."""
    return v.real(value, name, symbol=symbol, **bounds)


def betas(value: Any) -> tuple[float, float]:
    """Adam-style ``(beta1, beta2)``, each in :math:`[0, 1)`, with PyTorch's messages."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"Invalid betas: {v.show(value)} (need a pair (beta1, beta2))")
    b1, b2 = (hyper(b, f"beta parameter at index {i}", f"betas[{i}]", low=0, high=1, high_open=True) for i, b in enumerate(value))
    return b1, b2


def pair(value: Any, name: str) -> tuple[float, float]:
    """Two real numbers (for ``etas``, ``step_sizes``)."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"Invalid {name}: {v.show(value)} (need a pair of numbers)")
    a, b = (v.real(x, f"{name}[{i}]") for i, x in enumerate(value))
    return a, b


def weight_decay(grads: Array, params: Array, decay: float, lr: float, decoupled: bool = False) -> tuple[Array, Array | None]:
    r"""Weight decay, once for every optimizer: ``(g, shrink)``.

    * L2 (``decoupled=False``): the gradient of :math:`L + \tfrac{\lambda}{2}\|w\|^2`,
      :math:`g + \lambda w`; an adaptive optimizer then rescales the decay term with everything
      else (a weight with large gradients is barely decayed).
    * decoupled (AdamW, Loshchilov & Hutter 2019): the gradient stays :math:`g`, and the step
      gains :math:`-\eta\lambda w`, the same shrinkage for every weight (``shrink``).

    ``shrink`` is None when there is nothing to add to the step.

    Examples
    --------
    >>> g, s = weight_decay(np.array([1.0]), np.array([2.0]), 0.5, lr=0.1)
    >>> g.tolist(), s
    ([2.0], None)
    >>> g, s = weight_decay(np.array([1.0]), np.array([2.0]), 0.5, lr=0.1, decoupled=True)
    >>> g.tolist(), s.tolist()
    ([1.0], [-0.1])
    """
    if decay == 0:
        return grads, None
    if decoupled:
        return grads, -lr * decay * params
    return grads + decay * params, None


def shrunk(step: Array, shrink: Array | None) -> Array:
    """``shrink + step`` (the decoupled decay added to an optimizer's step), or ``step``."""
    return step if shrink is None else shrink + step


def flag(value: Any, name: str) -> bool:
    """A bool hyper-parameter (``nesterov``, ``amsgrad``, ...)."""
    return v.flag(value, name)


class Stepper:
    """A stateful wrapper for notebooks: ``s = Stepper(adam(lr=0.1), w0); s.step(grad)``.

    Examples
    --------
    >>> from nbcode.optim import sgd
    >>> s = Stepper(sgd(lr=0.5), [2.0])
    >>> s.step(s.params * 2.0).tolist()          # gradient of w^2 is 2w: one step lands on 0
    [0.0]
    """

    def __init__(self, opt: Optimizer, params: Any) -> None:
        if not isinstance(opt, Optimizer):
            raise TypeError(f"Invalid optimizer: {v.show(opt)} (need an nbcode.optim.Optimizer)")
        self.opt = opt
        self.params = as_params(params)
        self.state = opt.init(self.params)

    def step(self, grads: Any) -> Array:
        """Apply one update with ``grads`` and return the new parameters."""
        g = floats(grads, "grads")
        if g.shape != self.params.shape:
            raise ValueError(f"Invalid shape of grads: {g.shape} (need the shape of the parameters, {self.params.shape})")
        updates, self.state = self.opt.update(g, self.state, self.params)
        self.params = self.params + updates  # unchecked: a NaN gradient gives NaN parameters, as in torch
        return self.params

