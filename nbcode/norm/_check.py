"""Input validation shared by the normalization layers (PyTorch-style messages, through
:mod:`nbcode._validate`).

Inputs, parameters and upstream gradients are float64 copies with finite entries: a NaN or an
infinity in them would only come out as a NaN output, so it is refused at the door with the name
of the argument.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nbcode import _validate


def as_float_array(x: Any, name: str = "input") -> np.ndarray:
    """``x`` as a new float64 array of at least one dimension, non-empty, with finite entries."""
    a = _validate.array(x, name)
    if a.ndim == 0:
        raise ValueError(f"Invalid {name}: expected at least 1 dimension, got a scalar")
    return a


def check_eps(eps: float) -> float:
    """``eps`` must be a finite number > 0 (it keeps the square root away from zero)."""
    return _validate.real(eps, "eps", low=0, low_open=True)


def check_momentum(momentum: float) -> float:
    """PyTorch's BatchNorm ``momentum`` must lie in [0, 1]."""
    return _validate.real(momentum, "momentum", low=0, high=1)


def check_param(p: Any, shape: tuple[int, ...], name: str) -> np.ndarray:
    """A per-channel parameter (weight, bias, running statistic) of the expected ``shape``."""
    a = _validate.array(p, name, nonempty=False)
    if a.shape != shape:
        raise ValueError(f"Invalid {name} shape: expected {shape}, got {a.shape}")
    return a


def check_grad(d: Any, shape: tuple[int, ...], name: str = "dout") -> np.ndarray:
    """An upstream gradient with the shape of the forward pass's output (finite float64 copy)."""
    a = _validate.array(d, name, nonempty=False)
    if a.shape != shape:
        raise ValueError(f"Invalid {name} shape: expected {shape}, got {a.shape}")
    return a


def check_cache(cache: Any, cls: type, producer: str) -> Any:
    """The cache a forward pass returned (an instance of the NamedTuple ``cls``)."""
    if not isinstance(cache, cls):
        raise TypeError(f"Invalid cache: {_validate.show(cache)} (need the {cls.__name__} returned by {producer})")
    return cache
