"""Checks at the door shared by the experiments (built on :mod:`nbcode._validate`, same message
format): training data given as torch tensors, and lists of numbers swept over.

Examples
--------
>>> import torch
>>> X, y = torch.zeros(4, 2, dtype=torch.float64), torch.arange(4) % 2
>>> inputs_targets(X, y[:3])
Traceback (most recent call last):
    ...
ValueError: Invalid y: 3 rows for 4 rows of X (need the same number)
>>> reals([0.1, "a"], "lrs", what="learning rate in lrs")
Traceback (most recent call last):
    ...
TypeError: Invalid learning rate in lrs: 'a' (need a real number)
>>> sized_fit([2, 3, 2], X.float(), y)
Traceback (most recent call last):
    ...
TypeError: Invalid X: dtype torch.float32 (the model built from sizes is torch.float64; convert it, e.g. X.double())
>>> sized_fit([2, 3, 2], X, y + 1)
Traceback (most recent call last):
    ...
ValueError: Invalid y: labels 1 .. 2 for a model with 2 outputs (need 0 <= y < 2)
>>> split4((X, y, X), "data")
Traceback (most recent call last):
    ...
ValueError: Invalid data: a tuple of length 3 (need (X_train, y_train, X_val, y_val))
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from nbcode import _validate as v
from nbcode._torch import check_fit


def inputs_targets(X: Any, y: Any, x_name: str = "X", y_name: str = "y", *, x_ndim: int | None = 2
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """``X``: a floating-point tensor with at least one row, finite entries and ``x_ndim``
    dimensions (rows of features: 2, the default); ``y``: a tensor with as many rows (finite if
    floating). Returned as they are (no copy)."""
    X = v.tensor(X, x_name, floating=True, finite=True, nonempty=True, ndim=x_ndim)
    if X.dim() < 1:
        raise ValueError(f"Invalid shape of {x_name}: {tuple(X.shape)} (need rows)")
    y = v.tensor(y, y_name, finite=True, nonempty=True)
    if y.dim() < 1 or y.shape[0] != X.shape[0]:
        rows = "no rows" if y.dim() < 1 else f"{y.shape[0]} rows"
        raise ValueError(f"Invalid {y_name}: {rows} for {X.shape[0]} rows of {x_name} (need the same number)")
    return X, y


def split4(data: Any, name: str = "data") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(X_train, y_train, X_val, y_val)``: four tensors, each pair checked by
    :func:`inputs_targets`, with the same number of input features."""
    if not isinstance(data, (tuple, list)):
        raise TypeError(f"Invalid {name}: {v.show(data)} (need a tuple (X_train, y_train, X_val, y_val) of tensors)")
    if len(data) != 4:
        raise ValueError(f"Invalid {name}: a {type(data).__name__} of length {len(data)} (need (X_train, y_train, X_val, y_val))")
    X, y, Xv, yv = data
    inputs_targets(X, y, f"{name} X_train", f"{name} y_train")
    inputs_targets(Xv, yv, f"{name} X_val", f"{name} y_val")
    if X.shape[1:] != Xv.shape[1:]:
        raise ValueError(f"Invalid {name}: X_train has rows of shape {tuple(X.shape[1:])}, X_val {tuple(Xv.shape[1:])} "
                         "(need the same)")
    return X, y, Xv, yv


def reals(values: Any, name: str, *, what: str | None = None, nonempty: bool = True, **bounds: Any) -> list[float]:
    """A sequence (list, tuple, 1-D array) of real numbers, each checked by
    :func:`nbcode._validate.real` under the name ``what`` (default ``name``) with ``bounds``;
    returned as a list of floats."""
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
        raise TypeError(f"Invalid {name}: {v.show(values)} (need a sequence of real numbers)")
    items = list(values)
    if nonempty and not items:
        raise ValueError(f"Invalid {name}: {v.show(values)} (need at least one value)")
    return [v.real(x, what or name, **bounds) for x in items]


def counts(values: Any, name: str, *, low: int = 1, high: int | None = None) -> tuple[int, ...]:
    """A non-empty sequence of integers in ``[low, high]`` (batch sizes, seeds), as a tuple."""
    out = v.sizes(values, name, low=low)
    if high is not None and any(c > high for c in out):
        raise ValueError(f"Invalid {name}: {v.show(values)} (need integers <= {high})")
    return out


def class_labels(y: Any, name: str = "y") -> np.ndarray:
    """Integer class labels as a 1-D float64 copy (an integer, float or list input; NaN, infinite
    and fractional entries refused)."""
    a = v.array(y, name, ndim=1)
    if not np.all(a == np.round(a)):
        raise ValueError(f"Invalid {name}: it contains entries that are not integers (need class labels)")
    return a


def class_targets(y: torch.Tensor, K: int, name: str = "y") -> None:
    """``y``: integer class labels (not bool) in ``0 .. K-1``, as the cross-entropy of a model
    with ``K`` outputs takes them (float class probabilities are refused: the training loop
    measures accuracy against labels)."""
    if y.dtype == torch.bool or y.is_floating_point() or y.is_complex():
        raise TypeError(f"Invalid {name}: a tensor of dtype {y.dtype} (need integer class labels, e.g. {name}.long())")
    if y.dim() != 1:
        raise ValueError(f"Invalid shape of {name}: {tuple(y.shape)} (need one label per row)")
    lo, hi = int(y.min()), int(y.max())
    if lo < 0 or hi >= K:
        raise ValueError(f"Invalid {name}: labels {lo} .. {hi} for a model with {K} outputs (need 0 <= {name} < {K})")


def sized_fit(sizes: Sequence[int], X: torch.Tensor, y: torch.Tensor, x_name: str = "X", y_name: str = "y",
              dtype: torch.dtype = torch.float64) -> None:
    """Data (checked by :func:`inputs_targets`) that fits the MLP built from ``sizes`` (float64
    parameters by default) with cross-entropy: ``X`` of that dtype with ``sizes[0]`` features,
    ``y`` integer labels below ``sizes[-1]``; checked before the model is built."""
    inputs_targets(X, y, x_name, y_name)
    if X.dtype != dtype:
        raise TypeError(f"Invalid {x_name}: dtype {X.dtype} (the model built from sizes is {dtype}; convert it, "
                        f"e.g. {x_name}.{'double' if dtype == torch.float64 else 'to(' + str(dtype) + ')'}())")
    if X.shape[1] != sizes[0]:
        raise ValueError(f"Invalid shape of {x_name}: {tuple(X.shape)} for a model with {sizes[0]} inputs "
                         f"(need ({X.shape[0]}, {sizes[0]}))")
    class_targets(y, int(sizes[-1]), y_name)


def model_fit(model: Any, X: torch.Tensor, y: torch.Tensor, x_name: str = "X", y_name: str = "y") -> None:
    """Data (checked by :func:`inputs_targets`) that fits ``model`` with cross-entropy
    (:func:`nbcode._torch.check_fit`; integer labels, not bool), checked before anything is computed."""
    inputs_targets(X, y, x_name, y_name)
    if y.dtype == torch.bool or y.is_floating_point() or y.is_complex():
        raise TypeError(f"Invalid {y_name}: a tensor of dtype {y.dtype} (need integer class labels, e.g. {y_name}.long())")
    check_fit(model, X, y, torch.nn.functional.cross_entropy, x_name=x_name, y_name=y_name)
