"""nbcode.experiments.regularize: dropout on the digits, the playground, shift augmentation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nbcode.experiments.regularize import augmentation_digits, dropout_digits, playground_run
from nbcode.train import mlp


def test_mlp_with_dropout_layers_and_eval_identity() -> None:
    torch.manual_seed(0)
    net = mlp([4, 8, 2], dropout=0.5)
    assert [type(m).__name__ for m in net] == ["Linear", "ReLU", "Dropout", "Linear"]
    x = torch.randn(3, 4, dtype=torch.float64)
    net.eval()
    a, b = net(x), net(x)
    assert torch.equal(a, b)
    net.train()
    assert not torch.equal(net(x), net(x))
    with pytest.raises(ValueError, match=r"Invalid dropout: 1.5 \(need 0 <= dropout < 1\)"):
        mlp([4, 2, 2], dropout=1.5)


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
    with pytest.raises(ValueError, match=r"Invalid weight_decay: -1.0 \(need weight_decay >= 0\)"):
        playground_run("moons", weight_decay=-1.0)


def test_shift_augmentation_helps_on_shifted_digits() -> None:
    torch.set_num_threads(1)
    r = augmentation_digits(n_train=200, hidden=64, epochs=40)
    assert r["augmented"]["shifted_test_acc"] > r["plain"]["shifted_test_acc"] + 0.2
    assert r["plain"]["train_acc"] > 0.95
