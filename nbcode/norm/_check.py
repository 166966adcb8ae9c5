"""Input validation shared by the normalization layers (PyTorch-style messages, through
:mod:`nbcode._validate`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from nbcode import _validate


def as_float_array(x: Any, name: str = "input") -> np.ndarray:
    """``x`` as a new float64 array of at least one dimension (NaN passes through, as in torch)."""
    a = _validate.array(x, name, finite=False, nonempty=False)
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
    a = _validate.array(p, name, finite=False, nonempty=False)
    if a.shape != shape:
        raise ValueError(f"Invalid {name} shape: expected {shape}, got {a.shape}")
    return a
