"""The package's one validator module: every check, its message, and what it accepts."""

from __future__ import annotations

import numpy as np
import pytest

from nbcode import _validate as v


@pytest.mark.parametrize("ok", [0.5, 1, np.float32(0.25), np.float64(0.5), np.int64(1), np.array(0.5)])
def test_real_accepts_python_and_numpy_scalars(ok: object) -> None:
    assert v.real(ok, "lr", low=0) == float(ok)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("bad", "kind", "match"),
    [
        (True, TypeError, r"Invalid lr: True \(need a real number\)"),
        ("0.1", TypeError, r"Invalid lr: '0.1' \(need a real number\)"),
        (1 + 2j, TypeError, r"need a real number"),
        (None, TypeError, r"Invalid lr: None"),
        (float("nan"), ValueError, r"Invalid lr: nan \(need a finite number\)"),
        (float("inf"), ValueError, r"Invalid lr: inf \(need a finite number\)"),
        (-1, ValueError, r"Invalid lr: -1 \(need lr >= 0\)"),
        (np.array([0.1]), TypeError, r"need a real number"),
    ],
)
def test_real_refuses(bad: object, kind: type, match: str) -> None:
    with pytest.raises(kind, match=match):
        v.real(bad, "lr", low=0)


def test_real_bounds_and_messages() -> None:
    assert v.real(float("inf"), "x", finite=False) == float("inf")
    with pytest.raises(ValueError, match=r"Invalid eps: 0.0 \(need eps > 0\)"):
        v.real(0.0, "eps", low=0, low_open=True)
    with pytest.raises(ValueError, match=r"Invalid beta: 1.0 \(need 0 <= beta < 1\)"):
        v.real(1.0, "beta", low=0, high=1, high_open=True)
    with pytest.raises(ValueError, match=r"Invalid tol: 2 \(need tol <= 1\)"):
        v.real(2, "tol", high=1)
    with pytest.raises(ValueError, match=r"Invalid p: 0 \(need 0 < p <= 1\)"):
        v.probability(0, "p", allow_zero=False)
    with pytest.raises(ValueError, match=r"^Invalid beta parameter at index 1: 1.0 \(need 0 <= betas\[1\] < 1\)$"):
        v.real(1.0, "beta parameter at index 1", low=0, high=1, high_open=True, symbol="betas[1]")
    with pytest.raises(ValueError, match=r"^Invalid momentum value: -1 \(need momentum >= 0\)$"):
        v.real(-1, "momentum value", low=0, symbol="momentum")


@pytest.mark.parametrize(
    ("bad", "kind", "match"),
    [
        (2.0, TypeError, r"Invalid steps: 2.0 \(need an integer\)"),
        (np.bool_(True), TypeError, r"need an integer, not a bool"),
        (-1, ValueError, r"Invalid steps: -1 \(need steps >= 0\)"),
        ("3", TypeError, r"need an integer"),
    ],
)
def test_count_refuses(bad: object, kind: type, match: str) -> None:
    with pytest.raises(kind, match=match):
        v.count(bad, "steps")


def test_count_range() -> None:
    assert v.count(np.int32(4), "width", low=1, high=4) == 4
    with pytest.raises(ValueError, match=r"Invalid groups: 5 \(need 1 <= groups <= 4\)"):
        v.count(5, "groups", low=1, high=4)


def test_arrays_are_float64_copies() -> None:
    src = np.arange(3, dtype=np.int64)
    a = v.array(src, "w")
    assert a.dtype == np.float64 and a is not src
    a[0] = 7
    assert src[0] == 0  # a copy: the caller's array is never kept or changed
    assert v.array(np.ones(2, dtype=np.float16), "w").dtype == np.float64
    assert v.array([True, False], "mask").tolist() == [1.0, 0.0]
    with pytest.raises(TypeError, match=r"Invalid w: .* \(need real numbers, got dtype complex128\)"):
        v.array([1j], "w")
    with pytest.raises(TypeError, match=r"need real numbers, got dtype <U1"):
        v.array(["a"], "w")
    with pytest.raises(ValueError, match=r"Invalid w: it is empty"):
        v.array([], "w")
    with pytest.raises(ValueError, match=r"Invalid shape of X: \(3,\) \(need 2 dimensions\)"):
        v.array([1, 2, 3], "X", ndim=2)
    with pytest.raises(ValueError, match=r"Invalid shape of w: \(3,\) \(need \(2,\)\)"):
        v.vector([1, 2, 3], "w", size=2)
    with pytest.raises(ValueError, match=r"Invalid X: it contains NaN or infinity"):
        v.array([[1.0, np.inf]], "X")
    assert np.isnan(v.array([np.nan], "g", finite=False)[0])


def test_arrays_without_copy() -> None:
    """copy=False returns a float64 array itself and still converts anything else."""
    g = np.arange(3.0)
    assert v.array(g, "g", copy=False) is g
    assert v.array(g, "g") is not g
    half = np.ones(2, dtype=np.float16)
    out = v.array(half, "g", copy=False)
    assert out.dtype == np.float64 and out is not half
    with pytest.raises(ValueError, match="Invalid g: it contains NaN"):
        v.array(np.array([np.nan]), "g", copy=False)


def test_matrices() -> None:
    with pytest.raises(ValueError, match=r"Invalid shape of H: \(2, 3\) \(need a square matrix\)"):
        v.square_matrix(np.zeros((2, 3)), "H")
    with pytest.raises(ValueError, match=r"Invalid H: it is not symmetric"):
        v.square_matrix([[0.0, 1.0], [0.0, 0.0]], "H", symmetric=True)
    assert v.square_matrix([[2.0, 1.0], [1.0, 2.0]], "H", symmetric=True).shape == (2, 2)


def test_functions_choices_flags_modules() -> None:
    import torch

    assert v.function(len, "f") is len
    with pytest.raises(TypeError, match=r"Invalid loss_fn: 'mse' \(need a callable\)"):
        v.function("mse", "loss_fn")
    with pytest.raises(ValueError, match=r"Invalid order: 'sorted' \(use one of \['fixed', 'reshuffle'\]\)"):
        v.choice("sorted", "order", ["fixed", "reshuffle"])
    with pytest.raises(ValueError, match=r"use one of"):
        v.choice([1], "order", ["fixed"])  # unhashable: still a clear error
    assert v.flag(np.bool_(True), "nesterov") is True
    with pytest.raises(TypeError, match=r"Invalid nesterov: 1 \(need True or False\)"):
        v.flag(1, "nesterov")
    with pytest.raises(TypeError, match=r"Invalid model: 3 \(need a torch.nn.Module\)"):
        v.module(3)
    with pytest.raises(ValueError, match=r"Invalid model: ReLU has no parameters"):
        v.module(torch.nn.ReLU())


def test_long_values_are_shortened() -> None:
    with pytest.raises(TypeError) as e:
        v.real("x" * 500, "lr")
    assert len(str(e.value)) < 140
