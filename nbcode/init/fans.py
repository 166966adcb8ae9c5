"""Fan-in, fan-out and the recommended gain of a nonlinearity, as ``torch.nn.init`` computes them."""

from __future__ import annotations

import math
import numbers
from typing import Any, Sequence

from nbcode import _validate

__all__ = ["check_shape", "calculate_fan_in_and_fan_out", "calculate_correct_fan", "calculate_gain", "NONLINEARITIES"]

_LINEAR = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"]
#: Names :func:`calculate_gain` knows (``torch.nn.functional`` names, as in torch).
NONLINEARITIES = (*_LINEAR, "sigmoid", "tanh", "relu", "leaky_relu", "selu")


def check_shape(shape: Sequence[int] | int) -> tuple[int, ...]:
    """``shape`` as a tuple of non-negative ints, or ``ValueError("Invalid shape: ...")``."""
    raw: Any = shape
    try:
        dims = (raw,) if isinstance(raw, numbers.Integral) else tuple(raw)
    except TypeError:
        raise TypeError(f"Invalid shape: {shape!r} (need an integer or a sequence of integers)") from None
    if not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and int(s) >= 0 for s in dims):
        raise ValueError(f"Invalid shape: {shape} (need non-negative integers)")
    return tuple(int(s) for s in dims)


def check_mode(mode: str) -> str:
    """``mode`` lower-cased, if it is ``'fan_in'`` or ``'fan_out'`` (as torch, case-insensitive)."""
    return str(_validate.choice(mode.lower() if isinstance(mode, str) else mode, "mode", ["fan_in", "fan_out"]))


def calculate_fan_in_and_fan_out(shape: Sequence[int]) -> tuple[int, int]:
    r"""Fan-in and fan-out of a weight of shape ``(out, in, *kernel)``.

    .. math::

        n_{\text{in}} = \text{in}\cdot\prod \text{kernel},\qquad
        n_{\text{out}} = \text{out}\cdot\prod \text{kernel}.

    A ``Linear`` weight has shape ``(out_features, in_features)``; a ``Conv2d`` weight
    ``(out_channels, in_channels, kh, kw)``: every output is a sum over ``in * kh * kw`` inputs.

    Examples
    --------
    >>> calculate_fan_in_and_fan_out((10, 64))
    (64, 10)
    >>> calculate_fan_in_and_fan_out((16, 3, 5, 5))
    (75, 400)
    """
    dims = check_shape(shape)
    if len(dims) < 2:
        raise ValueError(f"Invalid shape: {dims} (need 2 or more dimensions: fan in and fan out can not be computed "
                         "for a tensor with fewer)")
    receptive = math.prod(dims[2:])
    return dims[1] * receptive, dims[0] * receptive


def calculate_correct_fan(shape: Sequence[int], mode: str) -> int:
    """The fan ``mode`` (``'fan_in'`` or ``'fan_out'``) of a weight of shape ``shape``.

    Examples
    --------
    >>> calculate_correct_fan((10, 64), "fan_out")
    10
    """
    mode = check_mode(mode)
    fan_in, fan_out = calculate_fan_in_and_fan_out(shape)
    return fan_in if mode == "fan_in" else fan_out


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    r"""The gain :math:`g` that scales a unit-variance initialization for ``nonlinearity``.

    With :math:`\operatorname{Var}(W) = g^2/n_{\text{in}}` the second moment of the
    pre-activations is preserved from layer to layer, :math:`g^2\,\mathbb{E}[\phi(z)^2] =
    \mathbb{E}[z^2]`:

    ========================  =========================================
    linear, conv, sigmoid     :math:`1`
    tanh                      :math:`5/3`
    relu                      :math:`\sqrt 2` (ReLU keeps half the second moment)
    leaky_relu (slope a)      :math:`\sqrt{2/(1 + a^2)}` (default :math:`a = 0.01`)
    selu                      :math:`3/4`
    ========================  =========================================

    The ReLU and leaky-ReLU values are exact (He et al. 2015); tanh's 5/3 and sigmoid's 1 are
    conventions (tanh's is chosen so that the variance settles near 1 instead of decaying), and
    selu's 3/4 was found empirically by the PyTorch developers.

    References
    ----------
    He, Zhang, Ren & Sun, "Delving deep into rectifiers", ICCV 2015; ``torch.nn.init.calculate_gain``.

    Examples
    --------
    >>> calculate_gain("relu") == math.sqrt(2)
    True
    >>> round(calculate_gain("leaky_relu", 0.2), 6)
    1.38675
    >>> calculate_gain("swish")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    ValueError: Invalid nonlinearity: 'swish' (use one of ['linear', ..., 'selu'])
    """
    _validate.choice(nonlinearity, "nonlinearity", NONLINEARITIES)
    negative_slope = 0.01 if param is None else _validate.real(param, "param", symbol="negative_slope")
    if nonlinearity in _LINEAR or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        try:
            return math.sqrt(2.0 / (1 + negative_slope**2))
        except OverflowError:   # torch.nn.init.calculate_gain raises OverflowError here
            raise ValueError(f"Invalid negative_slope: {param} (need |negative_slope| < 1e154: its square "
                             "overflows float64)") from None
    if nonlinearity == "selu":
        return 3.0 / 4
    raise AssertionError(nonlinearity)  # unreachable: checked above
