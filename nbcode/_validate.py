"""Checks at the door, with one message format for the whole package.

Every public function of nbcode checks its arguments before it computes anything, and refuses
bad input with a ``ValueError`` (a bad value) or a ``TypeError`` (a value of the wrong kind) that
names the argument and shows the value, in PyTorch's style::

    ValueError: Invalid learning rate: -1 (need lr >= 0)
    TypeError: Invalid steps: 2.5 (need an integer)

Numbers may be Python or NumPy scalars (``np.float32(1e-5)`` is a valid ``eps``); ``bool`` and
strings are never numbers. Arrays come back as float64 copies: integer and lower-precision
inputs are converted, so a computation never runs in int or float16 arithmetic by accident.
This module imports NumPy only (torch is imported by :func:`module` when it is called).

Examples
--------
>>> real(np.float32(0.5), "lr", low=0)
0.5
>>> real(-1, "learning rate", low=0)
Traceback (most recent call last):
    ...
ValueError: Invalid learning rate: -1 (need learning rate >= 0)
>>> count(True, "steps")
Traceback (most recent call last):
    ...
TypeError: Invalid steps: True (need an integer, not a bool)
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Callable, Sequence

import numpy as np

__all__ = ["real", "count", "probability", "array", "vector", "square_matrix", "function", "choice", "flag", "module",
           "tensor", "generator", "show", "text", "sizes", "optional"]


def show(value: Any) -> str:
    """A short, readable form of ``value`` for an error message."""
    if isinstance(value, (np.floating, np.integer)):
        value = value.item()
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape} and dtype {value.dtype}"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _is_number(value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return np.issubdtype(value.dtype, np.integer) or np.issubdtype(value.dtype, np.floating)
    return isinstance(value, numbers.Real)


def real(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    finite: bool = True,
    symbol: str | None = None,
) -> float:
    """``value`` as a float, checked to lie in ``[low, high]`` (open ends with ``low_open`` /
    ``high_open``); NaN is always refused, infinities unless ``finite=False``.

    ``symbol`` names the value inside the bound (default: ``name``), so that a message can
    start as PyTorch's does and still read well: ``real(-1, "momentum value", low=0,
    symbol="momentum")`` says ``Invalid momentum value: -1 (need momentum >= 0)``.

    Examples
    --------
    >>> real(3, "momentum", low=0, high=1)
    Traceback (most recent call last):
        ...
    ValueError: Invalid momentum: 3 (need 0 <= momentum <= 1)
    >>> real("0.1", "learning rate")
    Traceback (most recent call last):
        ...
    TypeError: Invalid learning rate: '0.1' (need a real number)
    """
    if not _is_number(value):
        raise TypeError(f"Invalid {name}: {show(value)} (need a real number)")
    try:
        v = float(value)
    except OverflowError:  # an integer beyond the float range, e.g. 10**400
        raise ValueError(f"Invalid {name}: {show(value)} (need a finite number)") from None
    if math.isnan(v) or (finite and math.isinf(v)):
        raise ValueError(f"Invalid {name}: {show(value)} (need a finite number)")
    below = low is not None and (v <= low if low_open else v < low)
    above = high is not None and (v >= high if high_open else v > high)
    if below or above:
        name_in_bound = name if symbol is None else symbol
        left = "" if low is None else f"{_fmt(low)} {'<' if low_open else '<='} "
        right = "" if high is None else f" {'<' if high_open else '<='} {_fmt(high)}"
        if low is not None and high is None:
            need = f"{name_in_bound} {'>' if low_open else '>='} {_fmt(low)}"
        elif high is not None and low is None:
            need = f"{name_in_bound} {'<' if high_open else '<='} {_fmt(high)}"
        else:
            need = f"{left}{name_in_bound}{right}"
        raise ValueError(f"Invalid {name}: {show(value)} (need {need})")
    return v


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else format(x, "g")


def probability(value: Any, name: str, *, allow_zero: bool = True, allow_one: bool = True) -> float:
    """A probability in [0, 1] (either end excluded on request).

    Examples
    --------
    >>> probability(1.0, "p", allow_one=False)
    Traceback (most recent call last):
        ...
    ValueError: Invalid p: 1.0 (need 0 <= p < 1)
    """
    return real(value, name, low=0.0, high=1.0, low_open=not allow_zero, high_open=not allow_one)


def count(value: Any, name: str, *, low: int = 0, high: int | None = None) -> int:
    """An integer count (Python or NumPy integer, not a bool or a float) in ``[low, high]``.

    Examples
    --------
    >>> count(np.int64(3), "width", low=1)
    3
    >>> count(0, "width", low=1)
    Traceback (most recent call last):
        ...
    ValueError: Invalid width: 0 (need width >= 1)
    """
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"Invalid {name}: {show(value)} (need an integer, not a bool)")
    if not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"Invalid {name}: {show(value)} (need an integer)")
    v = int(value)
    if v < low or (high is not None and v > high):
        need = f"{name} >= {low}" if high is None else f"{low} <= {name} <= {high}"
        raise ValueError(f"Invalid {name}: {v} (need {need})")
    return v


def array(
    value: Any,
    name: str,
    *,
    ndim: int | None = None,
    shape: Sequence[int | None] | None = None,
    finite: bool = True,
    nonempty: bool = True,
    copy: bool = True,
) -> np.ndarray:
    """``value`` as a new float64 array, checked for its number of dimensions, its shape (None
    in ``shape`` matches any length) and finiteness.

    Integers, booleans and float16/32 become float64; complex numbers, strings and objects are
    refused. With ``copy=False`` a float64 array is returned as it is (no copy: for inputs that
    are only read, such as the gradients of an optimizer step); others are still converted.

    Examples
    --------
    >>> array([[1, 2]], "X", ndim=2).dtype
    dtype('float64')
    >>> array([1.0, float("nan")], "w")
    Traceback (most recent call last):
        ...
    ValueError: Invalid w: it contains NaN or infinity
    >>> array(np.zeros((2, 3)), "H", shape=(3, 3))
    Traceback (most recent call last):
        ...
    ValueError: Invalid shape of H: (2, 3) (need (3, 3))
    >>> import torch
    >>> array(torch.ones(2, requires_grad=True), "w")
    Traceback (most recent call last):
        ...
    TypeError: Invalid w: a torch tensor that requires grad (need an array of numbers: pass w.detach())
    >>> array(torch.ones(2, dtype=torch.bfloat16), "w")
    Traceback (most recent call last):
        ...
    TypeError: Invalid w: a torch tensor of dtype torch.bfloat16, which NumPy has no type for (need an array of numbers: pass w.double())
    """
    try:
        raw = np.asarray(value)
    except Exception as e:  # ragged lists and the like
        if type(value).__module__.startswith("torch") and getattr(value, "requires_grad", False):
            raise TypeError(f"Invalid {name}: a torch tensor that requires grad (need an array of numbers: "
                            f"pass {name}.detach())") from None
        if type(value).__module__.startswith("torch") and hasattr(value, "dtype"):
            raise TypeError(f"Invalid {name}: a torch tensor of dtype {value.dtype}, which NumPy has no type for "
                            f"(need an array of numbers: pass {name}.double())") from None
        raise TypeError(f"Invalid {name}: {show(value)} (need an array of numbers)") from e
    if raw.dtype.kind not in "biuf":
        raise TypeError(f"Invalid {name}: {show(value)} (need real numbers, got dtype {raw.dtype})")
    a = np.array(raw, dtype=np.float64, copy=True) if copy else np.asarray(raw, dtype=np.float64)
    if nonempty and a.size == 0:
        raise ValueError(f"Invalid {name}: it is empty")
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"Invalid shape of {name}: {a.shape} (need {ndim} dimension{'s' if ndim != 1 else ''})")
    if shape is not None:
        want = tuple(shape)
        if a.ndim != len(want) or any(w is not None and s != w for s, w in zip(a.shape, want)):
            shown = "(" + ", ".join("n" if w is None else str(w) for w in want) + ("," if len(want) == 1 else "") + ")"
            raise ValueError(f"Invalid shape of {name}: {a.shape} (need {shown})")
    if finite and not np.all(np.isfinite(a)):
        raise ValueError(f"Invalid {name}: it contains NaN or infinity")
    return a


def vector(value: Any, name: str, *, size: int | None = None, finite: bool = True) -> np.ndarray:
    """A 1-D float64 copy (of length ``size`` if given)."""
    return array(value, name, shape=(size,), finite=finite)


def square_matrix(value: Any, name: str, *, symmetric: bool = False, size: int | None = None) -> np.ndarray:
    """A square float64 matrix; ``symmetric`` also checks :math:`H = H^\\top` to round-off.

    Examples
    --------
    >>> square_matrix([[1.0, 2.0], [0.0, 1.0]], "H", symmetric=True)
    Traceback (most recent call last):
        ...
    ValueError: Invalid H: it is not symmetric (largest |H - H^T| = 2)
    """
    a = array(value, name, shape=(size, size))
    if a.shape[0] != a.shape[1]:
        raise ValueError(f"Invalid shape of {name}: {a.shape} (need a square matrix)")
    if symmetric:
        gap = float(np.max(np.abs(a - a.T)))
        if gap > 1e-10 * float(np.max(np.abs(a))):  # relative: the same verdict for H and 1e-13 H
            raise ValueError(f"Invalid {name}: it is not symmetric (largest |{name} - {name}^T| = {gap:.3g})")
    return a


def function(value: Any, name: str) -> Callable[..., Any]:
    """A callable.

    >>> function(3, "loss_fn")
    Traceback (most recent call last):
        ...
    TypeError: Invalid loss_fn: 3 (need a callable)
    """
    if not callable(value):
        raise TypeError(f"Invalid {name}: {show(value)} (need a callable)")
    return value


def choice(value: Any, name: str, options: Sequence[Any]) -> Any:
    """One of ``options``.

    >>> choice("tanhh", "activation", ["relu", "tanh"])
    Traceback (most recent call last):
        ...
    ValueError: Invalid activation: 'tanhh' (use one of ['relu', 'tanh'])
    """
    try:
        ok = value in options
    except TypeError:
        ok = False
    if not ok:
        raise ValueError(f"Invalid {name}: {show(value)} (use one of {list(options)})")
    return value


def flag(value: Any, name: str) -> bool:
    """A bool (Python or NumPy)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"Invalid {name}: {show(value)} (need True or False)")
    return bool(value)


def module(value: Any, name: str = "model") -> Any:
    """A ``torch.nn.Module`` with at least one parameter."""
    import torch

    if not isinstance(value, torch.nn.Module):
        raise TypeError(f"Invalid {name}: {show(value)} (need a torch.nn.Module)")
    if next(iter(value.parameters()), None) is None:
        raise ValueError(f"Invalid {name}: {type(value).__name__} has no parameters")
    return value


def tensor(
    value: Any,
    name: str,
    *,
    ndim: int | None = None,
    floating: bool = False,
    finite: bool = False,
    nonempty: bool = False,
) -> Any:
    """A ``torch.Tensor`` (returned as it is), optionally checked for its number of dimensions,
    a floating-point dtype, finite entries and at least one entry.

    >>> tensor([1.0], "X")
    Traceback (most recent call last):
        ...
    TypeError: Invalid X: [1.0] (need a torch.Tensor)
    """
    import torch

    if not isinstance(value, torch.Tensor):
        raise TypeError(f"Invalid {name}: {show(value)} (need a torch.Tensor)")
    if floating and not value.is_floating_point():
        raise TypeError(f"Invalid {name}: a tensor of dtype {value.dtype} (need a floating-point tensor)")
    if ndim is not None and value.dim() != ndim:
        raise ValueError(f"Invalid shape of {name}: {tuple(value.shape)} "
                         f"(need {ndim} dimension{'s' if ndim != 1 else ''})")
    if nonempty and value.numel() == 0:
        raise ValueError(f"Invalid {name}: it is empty")
    if finite and (value.is_floating_point() or value.is_complex()) and not bool(torch.isfinite(value).all()):
        raise ValueError(f"Invalid {name}: it contains NaN or infinity")
    return value


def text(value: Any, name: str, *, nonempty: bool = False) -> str:
    """A string.

    >>> text(3, "title")
    Traceback (most recent call last):
        ...
    TypeError: Invalid title: 3 (need a string)
    """
    if not isinstance(value, str):
        raise TypeError(f"Invalid {name}: {show(value)} (need a string)")
    if nonempty and not value:
        raise ValueError(f"Invalid {name}: '' (need a non-empty string)")
    return value


def sizes(value: Any, name: str, *, low: int = 1, min_len: int = 1) -> tuple[int, ...]:
    """A sequence of integer counts (layer widths, a shape), each ``>= low``, at least
    ``min_len`` of them; returned as a tuple.

    >>> sizes([64, 32], "sizes")
    (64, 32)
    >>> sizes([64, 0], "sizes")
    Traceback (most recent call last):
        ...
    ValueError: Invalid sizes: [64, 0] (need integers >= 1)
    """
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        raise TypeError(f"Invalid {name}: {show(value)} (need a sequence of integers)")
    items = list(value)
    if len(items) < min_len:
        raise ValueError(f"Invalid {name}: {show(value)} (need at least {min_len} entr{'y' if min_len == 1 else 'ies'})")
    for v in items:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (numbers.Integral, np.integer)):
            raise TypeError(f"Invalid {name}: {show(value)} (need integers)")
        if int(v) < low:
            raise ValueError(f"Invalid {name}: {show(value)} (need integers >= {low})")
    return tuple(int(v) for v in items)


def optional(check: Callable[..., Any], value: Any, *args: Any, **kwargs: Any) -> Any:
    """``None`` passes; anything else goes through ``check(value, *args, **kwargs)``.

    >>> optional(real, None, "clip") is None
    True
    >>> optional(real, "a", "clip")
    Traceback (most recent call last):
        ...
    TypeError: Invalid clip: 'a' (need a real number)
    """
    return None if value is None else check(value, *args, **kwargs)


def generator(value: Any, name: str = "seed") -> np.random.Generator:
    """A NumPy random generator from a seed: ``None`` gives a fresh one (seeded by the operating
    system, so every call draws new numbers), an integer >= 0 a reproducible one, and a
    ``numpy.random.Generator`` is used as it is (and advanced).

    >>> int(generator(3).integers(100)) == int(generator(3).integers(100))
    True
    >>> generator(-1)
    Traceback (most recent call last):
        ...
    ValueError: Invalid seed: -1 (need seed >= 0)
    """
    if value is None:
        return np.random.default_rng()
    if isinstance(value, np.random.Generator):
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"Invalid {name}: {show(value)} (need None, an integer >= 0 or a numpy.random.Generator)")
    return np.random.default_rng(count(value, name))
