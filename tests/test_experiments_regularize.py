"""nbcode.experiments.regularize: dropout on the digits and its test-time rules, label smoothing,
the playground, shift augmentation, the small data sets of the linear sections."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nbcode.experiments.regularize import (
    augmentation_digits,
    correlated_features,
    dropout_digits,
    label_smoothing_digits,
    logistic_data,
    mc_dropout_predict,
    playground_run,
    weight_decay_digits,
)
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
    # the plain run's training set is the originals: both measures agree there
    assert r["plain"]["original_train_acc"] == r["plain"]["train_acc"]
    assert 0 < r["augmented"]["original_train_acc"] <= 1


def test_mc_dropout_averages_training_mode_passes() -> None:
    """The average of K training-mode passes, each with fresh masks (by hand), seeded, leaving the
    model's mode and the global random state alone; one pass in eval mode is weight scaling."""
    net = mlp([4, 16, 3], dropout=0.5, seed=0)
    net.eval()
    X = torch.randn(5, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    state = torch.random.get_rng_state()
    P = mc_dropout_predict(net, X, 20, seed=3)
    assert not net.training and torch.equal(torch.random.get_rng_state(), state)
    torch.manual_seed(3)
    net.train()
    with torch.no_grad():
        ref = sum(torch.softmax(net(X), dim=1) for _ in range(20)).numpy() / 20
    net.eval()
    np.testing.assert_allclose(P, ref, rtol=1e-12)
    with torch.no_grad():
        scaled = torch.softmax(net(X), dim=1).numpy()
    assert np.abs(P - scaled).max() > 1e-4  # an average of thinned networks is not the scaled one


def test_dropout_digits_returns_the_trained_models() -> None:
    r = dropout_digits([0.5], n_train=50, hidden=8, epochs=2)
    assert isinstance(r[0.5].model, torch.nn.Module) and len(r[0.5]["test_loss"]) == 3
    with pytest.raises(ValueError, match="Invalid dropout probability"):
        dropout_digits([1.0], n_train=50, hidden=8, epochs=1)


def test_label_smoothing_brings_the_logit_gap_to_its_target() -> None:
    torch.set_num_threads(1)
    r = label_smoothing_digits([0.0, 0.1], n_train=100, hidden=64, epochs=60)
    assert abs(np.median(r[0.1].gaps) - r[0.1].target_gap) < 0.3
    assert np.median(r[0.0].gaps) > r[0.1].target_gap + 3  # without smoothing the gap keeps growing
    assert r[0.0].target_gap == float("inf")


def test_small_data_sets() -> None:
    X, y = correlated_features(300, correlation=0.9)
    np.testing.assert_allclose(X.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose((X * X).mean(axis=0), 1.0, rtol=1e-12)
    assert abs(np.corrcoef(X[:, 0], X[:, 1])[0, 1] - 0.9) < 0.05 and abs(y.mean()) < 1e-12
    X, y = logistic_data(2000, seed=1)
    np.testing.assert_allclose(X.std(axis=0), [0.25, 0.5, 1.0, 2.0, 4.0], rtol=0.1)
    with pytest.raises(ValueError, match="Invalid correlation"):
        correlated_features(10, correlation=1.0)


def test_weight_decay_digits_alpha_zero_is_the_plain_run() -> None:
    wd = weight_decay_digits([0.0, 0.5], n_train=100, hidden=16, epochs=4)
    plain = dropout_digits([0.0], n_train=100, hidden=16, epochs=4)[0.0]
    # the same seed, optimizer and batches: alpha = 0 reproduces dropout_digits' test curve (its entry 0 is before training)
    np.testing.assert_allclose(wd[0.0]["test_loss"], plain["test_loss"][1:], rtol=1e-12)
    np.testing.assert_allclose(wd[0.0]["test_acc"], plain["test_acc"][1:], rtol=1e-12)
    assert len(wd[0.5]["val_loss"]) == 4 and wd[0.5]["test_loss"] != wd[0.0]["test_loss"]
    with pytest.raises(ValueError, match="Invalid alpha"):
        weight_decay_digits([-1.0], n_train=10, hidden=2, epochs=1)
