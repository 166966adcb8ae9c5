"""The checks added to nbcode._validate for issue #16: tensors, random generators, and a
symmetry test relative to the matrix's size."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nbcode import _validate as v


def test_tensor() -> None:
    t = torch.zeros(2)
    assert v.tensor(t, "X") is t
    for bad in ([1.0], np.zeros(2), None, 1.0):
        with pytest.raises(TypeError, match=r"Invalid X: .* \(need a torch.Tensor\)"):
            v.tensor(bad, "X")


def test_generator() -> None:
    g = np.random.default_rng(0)
    assert v.generator(g) is g
    a, b = v.generator(5).random(4), v.generator(np.int64(5)).random(4)
    assert np.array_equal(a, b)
    assert not np.array_equal(v.generator(None).random(8), v.generator(None).random(8))  # fresh each time
    with pytest.raises(ValueError, match=r"Invalid seed: -1 \(need seed >= 0\)"):
        v.generator(-1)
    for bad in (True, 0.5, "3", [1, 2]):
        with pytest.raises(TypeError, match=r"Invalid seed: .* \(need None, an integer >= 0 or a numpy.random.Generator\)"):
            v.generator(bad)


@pytest.mark.parametrize("scale", [1e-13, 1.0, 1e13])
def test_square_matrix_symmetry_is_relative(scale: float) -> None:
    """The tolerance used to be 1e-10 * max(1, max|H|): any matrix with entries below 1e-10 passed."""
    S = scale * np.array([[2.0, 1.0], [1.0 + 1e-13, 2.0]])  # symmetric to round-off
    np.testing.assert_array_equal(v.square_matrix(S, "H", symmetric=True), S)
    with pytest.raises(ValueError, match="Invalid H: it is not symmetric"):
        v.square_matrix(scale * np.array([[1.0, 2.0], [0.0, 1.0]]), "H", symmetric=True)
    assert v.square_matrix(np.zeros((2, 2)), "H", symmetric=True).tolist() == [[0.0, 0.0], [0.0, 0.0]]


def test_an_integer_beyond_the_float_range_is_refused_clearly() -> None:
    from nbcode._validate import real

    with pytest.raises(ValueError, match=r"Invalid lr: .*\(need a finite number\)"):
        real(10**400, "lr")
