"""Exercises and the torch experiments of the regularization chapter."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nbcode.exercises import check
from nbcode.regularize import (
    augment_shifts,
    augmentation_digits,
    dropout_digits,
    dropout_mlp,
    l2_optimum,
    playground_run,
    ridge,
    shift_images,
    soft_threshold,
)


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


def test_dropout_mlp_layers_and_eval_identity() -> None:
    torch.manual_seed(0)
    net = dropout_mlp([4, 8, 2], 0.5)
    x = torch.randn(3, 4, dtype=torch.float64)
    net.eval()
    a, b = net(x), net(x)
    assert torch.equal(a, b)
    net.train()
    assert not torch.equal(net(x), net(x))
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        dropout_mlp([4, 2, 2], 1.5)


def test_dropout_digits_overfits_without_dropout() -> None:
    torch.set_num_threads(1)
    r = dropout_digits([0.0], n_train=100, hidden=64, epochs=30, lr=3e-3)
    h = r[0.0]
    assert len(h["train_loss"]) == 31
    assert h["train_acc"][-1] > 0.99 and h["test_acc"][-1] < h["train_acc"][-1] - 0.05


def test_playground_learns_moons_and_l2_smooths() -> None:
    torch.set_num_threads(1)
    free = playground_run("moons", epochs=200, grid=11)
    assert free.train_acc > 0.95 and free.test_acc > 0.85
    assert free.prob.shape == (11, 11) and np.all((free.prob > 0) & (free.prob < 1))
    strong = playground_run("moons", weight_decay=0.1, epochs=200, grid=11)
    assert strong.train_loss > free.train_loss
    with pytest.raises(ValueError, match="Invalid regularization strength: -1"):
        playground_run("moons", weight_decay=-1.0)


def test_shift_augmentation_helps_on_shifted_digits() -> None:
    torch.set_num_threads(1)
    r = augmentation_digits(n_train=200, hidden=64, epochs=40)
    assert r["augmented"]["shifted_test_acc"] > r["plain"]["shifted_test_acc"] + 0.2
    assert r["plain"]["train_acc"] > 0.95


def test_augment_shifts_blocks() -> None:
    rng = np.random.default_rng(0)
    X, y = rng.random((3, 64)), np.array([1, 2, 3])
    Xa, ya = augment_shifts(X, y, [(1, 0), (0, -2)])
    np.testing.assert_array_equal(Xa[:3], X)
    np.testing.assert_array_equal(Xa[3:6], shift_images(X, 1, 0))
    np.testing.assert_array_equal(Xa[6:], shift_images(X, 0, -2))
    assert ya.tolist() == [1, 2, 3] * 3
    with pytest.raises(ValueError, match="X and y have different numbers of rows: 3 and 2"):
        augment_shifts(X, y[:2])
