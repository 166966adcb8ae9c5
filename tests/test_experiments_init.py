"""nbcode.experiments.init: symmetric initializations stay symmetric, He trains a deep ReLU net."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from nbcode.data import load_digits
from nbcode.experiments.init import symmetry_run, train_with_init
from nbcode.init import unit_spread


@pytest.fixture(scope="module")
def digits() -> tuple[torch.Tensor, ...]:
    d = load_digits()
    return tuple(torch.as_tensor(a) for a in (d.X_train, d.y_train, d.X_val, d.y_val))


def test_symmetry(digits: tuple[torch.Tensor, ...]) -> None:
    data = (digits[0][:300], digits[1][:300], digits[2], digits[3])
    hist, spread = symmetry_run(data, "constant", epochs=2)  # type: ignore[arg-type]
    assert spread < 1e-6  # identical units (up to round-off, which grows only slowly)
    hist, spread = symmetry_run(data, "zeros", act="relu", epochs=2)  # type: ignore[arg-type]
    assert spread == 0.0 and hist["train_loss"][-1] == pytest.approx(math.log(10), abs=0.01)
    _, spread = symmetry_run(data, "xavier", epochs=1)  # type: ignore[arg-type]
    assert spread > 0.1
    lin = nn.Linear(3, 4)
    with torch.no_grad():
        lin.weight.fill_(1.0)
        lin.bias.fill_(0.5)
    assert unit_spread(lin) == 0.0


def test_he_trains_a_deep_relu_net_and_tiny_weights_do_not(digits: tuple[torch.Tensor, ...]) -> None:
    he = train_with_init(digits, "kaiming", act="relu", depth=10, epochs=2, lr=0.01)  # type: ignore[arg-type]
    small = train_with_init(digits, "small", act="relu", depth=10, epochs=2, lr=0.01)  # type: ignore[arg-type]
    assert he["train_loss"][-1] < 1.5 and small["train_loss"][-1] > 2.25
