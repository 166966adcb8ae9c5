"""Exercises and augmentation of the regularization chapter (its torch experiments are tested in
tests/test_experiments_regularize.py)."""

from __future__ import annotations

import numpy as np
import pytest

from nbcode.exercises import check
from nbcode.regularize import augment_shifts, l2_optimum, ridge, shift_images, soft_threshold


def test_exercises_right_and_wrong() -> None:
    assert check("regularization.l2_shrink", float(l2_optimum(np.diag([3.0, 1.0]), [2.0, 2.0], 1.0)[0]))
    assert not check("regularization.l2_shrink", 2.0)
    assert check("regularization.dropout_scale", 1.25) and not check("regularization.dropout_scale", 0.8)
    assert check("regularization.noise_alpha", 0.25) and not check("regularization.noise_alpha", 0.125)
    assert check("regularization.soft_threshold", soft_threshold)
    assert not check("regularization.soft_threshold", lambda z, t: np.maximum(z - t, 0.0))
    assert check("regularization.ridge", ridge)
    assert not check("regularization.ridge", lambda X, y, a: np.linalg.solve(X.T @ X + a * np.eye(X.shape[1]), X.T @ y))
    assert check("regularization.clip_direction", "value") and not check("regularization.clip_direction", "norm")
    from nbcode.regularize import dropout_ridge as _dr

    # keep convention: (1 - p) w_keep is the inverted-dropout solution, so the test-time predictions agree
    assert check("regularization.dropout_keep_ridge", lambda X, y, p: _dr(X, y, p) / (1 - p))
    assert not check("regularization.dropout_keep_ridge", _dr)
    assert check("regularization.map_alpha", 1 / (200 * 0.1**2)) and not check("regularization.map_alpha", 0.1**2)


def test_augment_shifts_blocks() -> None:
    rng = np.random.default_rng(0)
    X, y = rng.random((3, 64)), np.array([1, 2, 3])
    Xa, ya = augment_shifts(X, y, [(1, 0), (0, -2)])
    np.testing.assert_array_equal(Xa[:3], X)
    np.testing.assert_array_equal(Xa[3:6], shift_images(X, 1, 0))
    np.testing.assert_array_equal(Xa[6:], shift_images(X, 0, -2))
    assert ya.tolist() == [1, 2, 3] * 3
    with pytest.raises(ValueError, match=r"Invalid shape of y: \(2,\) \(need \(3,\)\)"):
        augment_shifts(X, y[:2])
