"""Input validation shared by the normalization layers (PyTorch-style messages)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def as_float_array(x: Any, name: str = "input") -> np.ndarray:
    """``x`` as a float64 array (a copy is not forced)."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 0:
        raise ValueError(f"Invalid {name}: expected at least 1 dimension, got a scalar")
    return a


def check_eps(eps: float) -> float:
    """``eps`` must be a finite number > 0 (it keeps the square root away from zero)."""
    if not (isinstance(eps, (int, float)) and math.isfinite(eps) and eps > 0):
        raise ValueError(f"Invalid eps: {eps} (must be > 0)")
    return float(eps)


def check_momentum(momentum: float) -> float:
    """PyTorch's BatchNorm ``momentum`` must lie in [0, 1]."""
    if not (isinstance(momentum, (int, float)) and 0.0 <= momentum <= 1.0):
        raise ValueError(f"Invalid momentum: {momentum} (must be in [0, 1])")
    return float(momentum)


def check_param(p: Any, shape: tuple[int, ...], name: str) -> np.ndarray:
    """A per-channel parameter (weight, bias, running statistic) of the expected ``shape``."""
    a = np.asarray(p, dtype=np.float64)
    if a.shape != shape:
        raise ValueError(f"Invalid {name} shape: expected {shape}, got {a.shape}")
    return a
