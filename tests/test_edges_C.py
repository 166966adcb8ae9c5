"""Refusals at the door of nbcode.experiments: one test per message format introduced for issue 16
(the battery, scripts/battery.py, covers the bad inputs of every argument; these pin the words).
Every call here fails before any training starts."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from nbcode.experiments import convergence as cv
from nbcode.experiments import init as ei
from nbcode.experiments import norm as en
from nbcode.experiments import optim as eo
from nbcode.experiments import regularize as er
from nbcode.experiments._checks import class_labels, counts, inputs_targets, reals, split4
from nbcode.train import mlp


def _X(n: int = 8, d: int = 3) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


def _y(n: int = 8) -> torch.Tensor:
    return torch.arange(n) % 2


def _data() -> tuple[torch.Tensor, ...]:
    return (_X(), _y(), _X(4), _y(4))


# ---- the shared checks


def test_inputs_targets_messages() -> None:
    X, y = _X(), _y()
    assert inputs_targets(X, y)[0] is X  # returned as they are
    with pytest.raises(TypeError, match=r"Invalid X: array of shape \(8, 3\) and dtype float64 \(need a torch.Tensor\)"):
        inputs_targets(X.numpy(), y)
    with pytest.raises(TypeError, match=r"Invalid X: a tensor of dtype torch.int64 \(need a floating-point tensor\)"):
        inputs_targets(y.reshape(4, 2), y[:4])
    with pytest.raises(ValueError, match=r"Invalid shape of X: \(8,\) \(need 2 dimensions\)"):
        inputs_targets(X[:, 0], y)
    with pytest.raises(ValueError, match="Invalid X: it is empty"):
        inputs_targets(X[:0], y)
    bad = X.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="Invalid X: it contains NaN or infinity"):
        inputs_targets(bad, y)
    with pytest.raises(ValueError, match=r"Invalid y: 7 rows for 8 rows of X \(need the same number\)"):
        inputs_targets(X, y[:7])
    with pytest.raises(ValueError, match="Invalid y: it contains NaN or infinity"):
        inputs_targets(X, torch.full((8,), float("inf"), dtype=torch.float64))


def test_split4_messages() -> None:
    with pytest.raises(TypeError, match=r"Invalid data: 'X' \(need a tuple \(X_train, y_train, X_val, y_val\) of tensors\)"):
        split4("X")
    with pytest.raises(ValueError, match=r"Invalid data: a tuple of length 3 \(need \(X_train, y_train, X_val, y_val\)\)"):
        split4(_data()[:3])
    X, y, Xv, yv = _data()
    with pytest.raises(ValueError, match=r"Invalid data y_val: 3 rows for 4 rows of data X_val"):
        split4((X, y, Xv, yv[:3]))
    with pytest.raises(ValueError, match=r"Invalid data: X_train has rows of shape \(3,\), X_val \(2,\) \(need the same\)"):
        split4((X, y, Xv[:, :2], yv))


def test_reals_counts_and_labels() -> None:
    assert reals((np.float32(0.5), 1), "lrs") == [0.5, 1.0]
    assert reals((), "noise_at", nonempty=False) == []
    with pytest.raises(TypeError, match=r"Invalid lrs: 0.1 \(need a sequence of real numbers\)"):
        reals(0.1, "lrs")
    with pytest.raises(ValueError, match=r"Invalid lrs: \[\] \(need at least one value\)"):
        reals([], "lrs")
    with pytest.raises(ValueError, match=r"Invalid learning rate in lrs: -1 \(need lr > 0\)"):
        reals([0.1, -1], "lrs", what="learning rate in lrs", low=0, low_open=True, symbol="lr")
    assert counts([np.int64(4), 8], "batch_sizes") == (4, 8)
    with pytest.raises(ValueError, match=r"Invalid batch_sizes: \[4, 9\] \(need integers <= 8\)"):
        counts([4, 9], "batch_sizes", high=8)
    np.testing.assert_array_equal(class_labels([0, 1.0, 2]), [0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match=r"Invalid y: it contains entries that are not integers \(need class labels\)"):
        class_labels([0, 0.5])


# ---- the experiments


def test_half_mse_checks_types_and_shapes_not_values() -> None:
    out, t = _X(4, 2), _X(4, 2) + 1.0
    assert torch.equal(cv.half_mse(out, t), 0.5 * ((out - t) ** 2).sum(dim=1).mean())
    nan = out.clone()
    nan[0, 0] = float("nan")
    assert torch.isnan(cv.half_mse(nan, t))  # as torch's mse_loss: a diverged network's loss is NaN
    with pytest.raises(TypeError, match=r"Invalid target: array of shape \(4, 2\) and dtype float64 \(need a torch.Tensor\)"):
        cv.half_mse(out, t.numpy())
    with pytest.raises(TypeError, match=r"Invalid out: None \(need a torch.Tensor\)"):
        cv.half_mse(None, t)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Invalid out: a tensor of shape \(0, 2\) \(need \(n, k\) with n >= 1\)"):
        cv.half_mse(out[:0], t[:0])
    with pytest.raises(ValueError, match=r"Invalid target: a tensor of shape \(3, 2\) \(need the shape of out, \(4, 2\)\)"):
        cv.half_mse(out, t[:3])


def test_init_experiments_refuse_at_the_door() -> None:
    with pytest.raises(ValueError, match=r"Invalid data: a tuple of length 3"):
        ei.train_with_init(_data()[:3], "kaiming", depth=2, width=4, epochs=1)
    with pytest.raises(TypeError, match=r"Invalid width: 2.5 \(need an integer\)"):
        ei.train_with_init(_data(), "kaiming", depth=2, width=2.5, epochs=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"Invalid learning rate: True \(need a real number\)"):
        ei.symmetry_run(_data(), "kaiming", hidden=4, epochs=1, lr=True)
    with pytest.raises(ValueError, match=r"Invalid seed: -1 \(need seed >= 0\)"):
        ei.symmetry_run(_data(), "kaiming", hidden=4, epochs=1, seed=-1)
    with pytest.raises(TypeError, match=r"Invalid zero_init: 'yes' \(need True or False\)"):
        ei.train_residual(_data(), depth=1, width=4, zero_init="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"Invalid forget_bias: '1' \(need a real number\)"):
        ei.lstm_memory(3, 3, forget_bias="1")  # type: ignore[arg-type]


def test_norm_experiments_refuse_at_the_door() -> None:
    X, y = _X(), _y()
    with pytest.raises(TypeError, match=r"Invalid model: 'model' \(need a torch.nn.Module\)"):
        en.gd_train("model", X, y, 0.1, 2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Invalid model: Identity has no parameters"):
        en.he_init_(nn.Identity())
    with pytest.raises(ValueError, match=r"Invalid steps: 0 \(need steps >= 1\)"):
        en.lr_scan([3, 4, 2], X, y, [0.1], bn=False, steps=0)
    with pytest.raises(TypeError, match=r"Invalid learning rate in lrs: 'a' \(need a real number\)"):
        en.compare_bn([3, 4, 2], X, y, ["a"], steps=2)
    with pytest.raises(TypeError, match=r"Invalid y: 'abc' \(need real numbers, got dtype <U3\)"):
        en.class_skewed_batches("abc", 2, 0.5, 2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Invalid batch size: 9 \(need 1 <= batch size <= 8\)"):
        en.class_skewed_batches(np.arange(8) % 2, 9, 0.5, 2)
    with pytest.raises(ValueError, match=r"Invalid n_batches: 0 \(need n_batches >= 1\)"):
        en.batch_stat_accuracy(mlp([3, 4, 2], batch_norm=True, seed=0), X, y, 4, n_batches=0)
    with pytest.raises(ValueError, match=r"Invalid a: 0 \(need a > 0\)"):
        en.scale_invariance(mlp([3, 4, 2], batch_norm=True, seed=0), X, y, 0)
    with pytest.raises(ValueError, match="Invalid model: it has no Linear layer"):
        en.scale_invariance(nn.Sequential(nn.BatchNorm1d(3)), X, y, 2.0)
    with pytest.raises(ValueError, match=r"Invalid groups: 3 \(need a divisor of every hidden width, got \[4\]\)"):
        en.norm_mlp([3, 4, 2], "group", groups=3)
    with pytest.raises(ValueError, match=r"Invalid norms: 'weight' \(use one of"):
        en.train_norms([3, 4, 2], X, y, X, y, norms=["weight"], batch_sizes=[4], epochs=1, lr_per_example=0.01)


def test_optim_experiments_refuse_at_the_door() -> None:
    with pytest.raises(TypeError, match=r"Invalid surface: 'saddle' \(need an nbcode.surfaces.Surface\)"):
        eo.race_optimizer("Adam", "saddle", 0.1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Invalid batch_sizes: \(\) \(need at least 1 entry\)"):
        eo.batch_size_study((), max_epochs=1)
    with pytest.raises(TypeError, match=r"Invalid noise_at: 3 \(need a sequence of real numbers\)"):
        eo.batch_size_study((256,), noise_at=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"Invalid seeds: None \(need a sequence of integers\)"):
        eo.tuned_comparison(("SGD",), seeds=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Invalid X: it contains NaN or infinity"):
        eo.gradient_noise_scale(mlp([3, 2], seed=0), torch.full((4, 3), float("nan"), dtype=torch.float64), _y(4))


def test_regularize_experiments_refuse_at_the_door() -> None:
    with pytest.raises(ValueError, match=r"Invalid ps: \[\] \(need at least one value\)"):
        er.dropout_digits([])
    with pytest.raises(ValueError, match=r"Invalid n_train: 20 \(need 50 <= n_train <= 1257\)"):
        er.label_smoothing_digits([0.1], n_train=20)
    with pytest.raises(ValueError, match=r"Invalid label smoothing in smoothings: 1.5 \(need 0 <= label smoothing <= 1\)"):
        er.label_smoothing_digits([1.5])
    with pytest.raises(ValueError, match=r"Invalid name: 'moon' \(use one of"):
        er.playground_run("moon")
    with pytest.raises(TypeError, match=r"Invalid noise: True \(need a real number\)"):
        er.playground_run("moons", noise=True)
    with pytest.raises(ValueError, match=r"Invalid n_train: -1"):
        er.augmentation_digits(n_train=-1)
    with pytest.raises(ValueError, match="Invalid X: it is empty"):
        er.mc_dropout_predict(mlp([3, 2], dropout=0.5, seed=0), _X()[:0], 2)


def test_tuned_comparison_methods_check_name_rate_and_metric() -> None:
    from nbcode.train import History

    def hist(*losses: float) -> History:
        h = History()
        for x in losses:
            h.log(val_loss=x, val_acc=1.0 / (1.0 + x))
        return h

    tc = eo.TunedComparison({"SGD": {0.5: [hist(2.0, 1.0), hist(2.0, 1.5)], 2.0: [hist(2.0, 0.5), hist(2.0, 0.75)]}}, (0, 1), 4)
    np.testing.assert_array_equal(tc.final("SGD", np.float32(0.5)), [1.0, 1.5])
    assert tc.best_lr("SGD") == 2.0 and tc.best_lr("SGD", "val_acc") == 2.0
    assert tc.curves("SGD", 2.0).shape == (2, 2)
    with pytest.raises(ValueError, match=r"Invalid optimizer name: 'Adam' \(use one of \['SGD'\]\)"):
        tc.final("Adam", 0.5)
    with pytest.raises(ValueError, match=r"Invalid learning rate: 1.0 \(use one of \[0.5, 2.0\]\)"):
        tc.curves("SGD", 1.0)
    with pytest.raises(TypeError, match=r"Invalid learning rate: None \(need a real number\)"):
        tc.final("SGD", None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Invalid metric: 'train_loss' \(use one of \['val_acc', 'val_loss'\]\)"):
        tc.best_lr("SGD", "train_loss")


def test_mc_dropout_leaves_batch_norm_alone() -> None:
    """Only the dropout layers go to training mode: BatchNorm normalizes with its running
    statistics (which do not move), every module's mode is restored; the same average as by hand
    with the dropout layers alone in training mode."""
    net = mlp([3, 8, 2], batch_norm=True, dropout=0.5, seed=0)
    net.train()
    net[0].training = False  # a mixed state is restored as it was, module by module
    X = _X(6, 3)
    buffers = {k: b.clone() for k, b in net.named_buffers()}
    modes = [m.training for m in net.modules()]
    P = er.mc_dropout_predict(net, X, 7, seed=2)
    assert [m.training for m in net.modules()] == modes
    assert all(torch.equal(b, buffers[k]) for k, b in net.named_buffers())
    net.eval()
    net[3].train()  # the Dropout layer
    torch.manual_seed(2)
    with torch.no_grad():
        ref = sum(torch.softmax(net(X), dim=1) for _ in range(7)).numpy() / 7
    np.testing.assert_allclose(P, ref, rtol=1e-12)
    with pytest.raises(ValueError, match=r"Invalid model: it has no dropout layer"):
        er.mc_dropout_predict(mlp([3, 4, 2], seed=0), X, 2)


def test_gradient_noise_scale_refuses_batch_statistics_and_leaves_the_model() -> None:
    net = mlp([3, 4, 2], batch_norm=True, seed=0)
    X, y = _X(), _y()
    with pytest.raises(ValueError, match=r"Invalid model: a BatchNorm1d layer in training mode .*call model.eval\(\) first"):
        eo.gradient_noise_scale(net, X, y)
    with pytest.raises(ValueError, match=r"Invalid model: a Dropout layer in training mode"):
        eo.gradient_noise_scale(mlp([3, 4, 2], dropout=0.5, seed=0), X, y)
    net.eval()
    state = {k: t.clone() for k, t in net.state_dict().items()}
    s = eo.gradient_noise_scale(net, X, y)
    assert s.trace_sigma > 0 and all(torch.equal(t, state[k]) for k, t in net.state_dict().items())
