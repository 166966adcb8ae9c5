"""Issue #16, second round (group X): defects an independent audit found, one test each."""

import numpy as np
import pytest
import torch
from torch import nn

from nbcode.experiments.init import train_with_init
from nbcode.experiments.norm import batch_stat_accuracy, gd_train, lr_scan, rescaled_sharpness, scale_invariance, train_norms
from nbcode.experiments.regularize import mc_dropout_predict
from nbcode.init import forward_stats, layer_stats, lsuv
from nbcode.train import mlp


# --- 1. model/data mismatches refused at the door, by name
def _data(n=40, d=5, k=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64), torch.randint(0, k, (n,), generator=g)


def test_lr_scan_refuses_float32_and_labels_past_outputs():
    X, y = _data()
    with pytest.raises(TypeError, match="Invalid X: dtype torch.float32"):
        lr_scan([5, 4, 3], X.float(), y, [0.1], bn=False, steps=2)
    with pytest.raises(ValueError, match=r"Invalid y: labels 0 \.\. 2 for a model with 2 outputs"):
        lr_scan([5, 4, 2], X, y, [0.1], bn=False, steps=2)
    with pytest.raises(ValueError, match=r"Invalid shape of X: \(40, 5\) for a model with 6 inputs"):
        lr_scan([6, 4, 3], X, y, [0.1], bn=False, steps=2)
    with pytest.raises(TypeError, match="Invalid y: a tensor of dtype torch.bool"):
        lr_scan([5, 4, 3], X, y.bool(), [0.1], bn=False, steps=2)
    with pytest.raises(TypeError, match="Invalid y: a tensor of dtype torch.float64"):
        lr_scan([5, 4, 3], X, y.double(), [0.1], bn=False, steps=2)
    with pytest.raises(TypeError, match="Invalid y: a tensor of dtype torch.float64"):
        gd_train(mlp([5, 3], seed=0), X, torch.nn.functional.one_hot(y, 3).double(), 0.1, 2)


def test_train_norms_checks_validation_data_too():
    X, y = _data()
    with pytest.raises(ValueError, match="Invalid yv: labels"):
        train_norms([5, 4, 3], X, y, X, y + 1, norms=["none"], batch_sizes=[8], epochs=1, lr_per_example=0.01)


def test_model_experiments_refuse_mismatched_data():
    X, y = _data()
    net = mlp([5, 4, 3], batch_norm=True, seed=0)
    with pytest.raises(ValueError, match=r"Invalid y: labels -1 \.\. 1"):
        gd_train(net, X, y - 1, 0.1, 2)
    with pytest.raises(TypeError, match="Invalid X: dtype torch.float32"):
        scale_invariance(net, X.float(), y, 2.0)
    with pytest.raises(ValueError, match="Invalid X: the model cannot take it"):
        rescaled_sharpness(net, X[:, :4], y, 2.0)
    with pytest.raises(ValueError, match="Invalid y: labels"):
        batch_stat_accuracy(net, X, y + 3, 8)
    with pytest.raises(ValueError, match="Invalid X: the model cannot take it"):
        mc_dropout_predict(mlp([4, 8, 3], dropout=0.5, seed=0), X, 2)


def test_train_with_init_refuses_labels_past_ten_and_float32():
    X, y = _data(d=64)
    with pytest.raises(ValueError, match="Invalid data y_val: labels"):
        train_with_init((X, y, X, y + 10), "kaiming", depth=2, epochs=1)
    with pytest.raises(TypeError, match="Invalid data X_train: dtype torch.float32"):
        train_with_init((X.float(), y, X, y), "kaiming", depth=2, epochs=1)


def test_probes_refuse_data_and_tuple_outputs():
    with pytest.raises(ValueError, match="Invalid X: the model cannot take it"):
        forward_stats(mlp([4, 8, 3], seed=0), torch.randn(5, 7, dtype=torch.float64))
    with pytest.raises(ValueError, match="Invalid X: the model cannot take it"):
        lsuv(mlp([4, 8, 3], seed=0), torch.randn(5, 7, dtype=torch.float64))
    with pytest.raises(TypeError, match="Invalid model: it returns a tuple"):
        layer_stats(nn.LSTM(3, 4), torch.randn(2, 5, 3))
    with pytest.raises(TypeError, match="Invalid model: it returns a tuple"):
        forward_stats(nn.LSTM(3, 4), torch.randn(2, 5, 3))
    per_example = lambda o, t: nn.functional.cross_entropy(o, t, reduction="none")  # noqa: E731
    with pytest.raises(TypeError, match="Invalid loss_fn: it returned"):
        layer_stats(nn.Linear(3, 2), torch.randn(4, 3), torch.tensor([0, 1, 0, 1]), per_example)


# --- 2. dropout: the same masks in both passes, the global random state untouched
def _dropout_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 3)).double()


def test_scale_invariance_with_dropout_is_invariant_and_keeps_rng():
    net = _dropout_net()
    X, y = _data(30, 4)
    state = torch.get_rng_state()
    change, ratio = scale_invariance(net, X, y, 3.0)
    assert torch.equal(torch.get_rng_state(), state)
    assert change < 1e-3 and ratio == pytest.approx(1 / 3, rel=1e-3)   # BatchNorm's eps only


def test_rescaled_sharpness_and_batch_stat_accuracy_with_dropout_keep_rng():
    net = _dropout_net()
    X, y = _data(30, 4)
    state = torch.get_rng_state()
    change, lam = rescaled_sharpness(net, X, y, 3.0)
    assert torch.equal(torch.get_rng_state(), state) and change < 1e-3
    assert batch_stat_accuracy(net, X, y, 10) == batch_stat_accuracy(net, X, y, 10)
    assert torch.equal(torch.get_rng_state(), state)


# --- 3. Split.as_tensors hands out copies
def test_as_tensors_copies():
    from nbcode.data import load_digits
    d = load_digits()
    t = d.as_tensors()
    before = d.X_train[0, 0]
    t["X_train"][0, 0] = 123.0
    t["y_train"][0] = 7 if d.y_train[0] != 7 else 3
    assert d.X_train[0, 0] == before and d.y_train[0] != int(t["y_train"][0])
    assert np.array_equal(d.as_tensors("float32")["X_val"].numpy(), d.X_val.astype(np.float32))


# --- 8. load_digits: every split has at least one image per class, checked at the door
@pytest.mark.parametrize("kw, msg", [(dict(val_size=0.5, test_size=0.4999), "Invalid val_size: 0.5 with test_size=0.4999: a training set of 0"),
                                     (dict(val_size=1e-9), "Invalid val_size: 1e-09 .* a validation set of 1 "),
                                     (dict(test_size=1e-9), "Invalid test_size: 1e-09 .* a test set of 1 ")])
def test_load_digits_refuses_too_small_splits(kw, msg):
    from nbcode.data import load_digits
    with pytest.raises(ValueError, match=msg):
        load_digits(**kw)
    assert len(load_digits(val_size=0.006).y_val) == 11   # ceil(0.006 / 0.85 * 1527) = 11: still fine


# --- 4. dropout with p = 1 as torch: zeros (eval mode: the input)
def test_dropout_p_one_matches_torch():
    from nbcode.regularize import dropconnect, dropout, dropout_keep, dropout_mask
    x = np.array([1.0, np.nan, np.inf, -2.0])
    ref = torch.nn.functional.dropout(torch.tensor(x), 1.0).numpy()
    np.testing.assert_array_equal(dropout(x, 1.0, seed=0), ref)
    assert np.array_equal(np.signbit(dropout(x, 1.0)), np.signbit(ref))
    np.testing.assert_array_equal(dropout(x, 1.0, training=False), x)
    assert dropout_mask((2, 3), 1.0, seed=0).tolist() == [[0.0] * 3] * 2
    np.testing.assert_array_equal(dropout_keep([1.0, 2.0], 0.0, seed=0), [0.0, 0.0])
    np.testing.assert_array_equal(dropconnect([[1.0, 2.0]], [[1.0, 1.0], [2.0, 0.5]], [0.5, -1.0], 1.0, seed=0), [[0.5, -1.0]])
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        dropout(x, 1.5, training=False)


# --- 5. no silent NaN/inf from finite accepted input
def test_l2_optimum_refuses_indefinite_H_and_has_a_limit_at_zero():
    from nbcode.regularize import l2_factors, l2_optimum
    with pytest.raises(ValueError, match="Invalid H: an eigenvalue -1 < 0"):
        l2_optimum([[-1.0, 0.0], [0.0, 1.0]], [1.0, 1.0], 1.0)
    np.testing.assert_array_equal(l2_optimum([[0.0, 0.0], [0.0, 1.0]], [1.0, 1.0], 0.0), [0.0, 1.0])
    np.testing.assert_array_equal(l2_factors([0.0, 1.0], 0.0), [0.0, 1.0])
    with pytest.raises(ValueError, match="Invalid lams: an entry -1 < 0"):
        l2_factors([-1.0, 1.0], 2.0)
    # valid calls: the same numbers as the closed form (scipy's eigh-free check)
    H = np.array([[2.0, 0.5], [0.5, 1.0]])
    np.testing.assert_allclose(l2_optimum(H, [1.0, -1.0], 0.3), np.linalg.solve(H + 0.3 * np.eye(2), H @ [1.0, -1.0]), rtol=1e-12)
    lam = np.geomspace(1e-3, 1.0, 7)
    assert np.array_equal(l2_factors(lam, 0.1), lam / (lam + 0.1))


def test_simulate_variance_and_fixed_point_refuse_overflow():
    from nbcode.init import simulate_variance
    from nbcode.init.isometry import fixed_point_variance
    with pytest.raises(ValueError, match="Invalid scale: 1e\\+200 .* overflows float64 at layer 1 of 3"):
        simulate_variance(3, 8, scale=1e200, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="Invalid sigma_w: 3.0 for relu: .* no fixed point"):
        fixed_point_variance("relu", 3.0)
    assert fixed_point_variance("relu", 2.0**0.5) == pytest.approx(1.0, rel=1e-12)


# --- 6. ValueError, not OverflowError
@pytest.mark.parametrize("call", ["calculate_gain('leaky_relu', 1e300)", "mean_field(1e200)", "mean_field(1.0, 1e200)",
                                  "fixed_point_variance('tanh', 1e200)"])
def test_overflowing_scales_are_value_errors(call):
    from nbcode.init.fans import calculate_gain  # noqa: F401
    from nbcode.init.isometry import fixed_point_variance  # noqa: F401
    from nbcode.init.meanfield import mean_field  # noqa: F401
    with pytest.raises(ValueError, match="Invalid (negative_slope|sigma_w|sigma_b): 1e\\+(300|200) \\(need"):
        eval(call)


# --- 7. a singular system refused by name, not numpy's LinAlgError
def test_ridge_and_dropout_ridge_refuse_singular_systems():
    from nbcode.regularize import ridge
    from nbcode.regularize.dropout_theory import dropout_ridge
    with pytest.raises(ValueError, match="Invalid X: XᵀX is singular \\(need alpha > 0 or X of full column rank\\)"):
        ridge(np.ones((6, 3)), np.arange(6.0), 0.0)
    with pytest.raises(ValueError, match="Invalid X: .* is singular"):
        dropout_ridge(np.ones((6, 3)), np.arange(6.0), 0.0)
    with pytest.raises(ValueError, match="Invalid X: .* is singular"):
        dropout_ridge(np.c_[np.ones(6), np.zeros(6)], np.arange(6.0), 0.5)
    X = np.random.default_rng(0).normal(size=(6, 3))
    np.testing.assert_allclose(ridge(X, np.arange(6.0), 0.0), np.linalg.lstsq(X, np.arange(6.0), rcond=None)[0], rtol=1e-10)


# --- 9. torch tensors that requires grad, or bfloat16: say what to do
def test_penalties_name_detach_and_dtype():
    from nbcode.regularize import l2_penalty
    with pytest.raises(TypeError, match=r"Invalid w: a torch tensor that requires grad .*pass w.detach\(\)"):
        l2_penalty(torch.ones(3, requires_grad=True))
    with pytest.raises(TypeError, match=r"Invalid w: a torch tensor of dtype torch.bfloat16.*pass w.double\(\)"):
        l2_penalty(torch.ones(3, dtype=torch.bfloat16))
    assert l2_penalty(torch.ones(3, requires_grad=True).detach()) == 1.5


# --- 11. half_mse: floating-point tensors only
def test_half_mse_refuses_integer_tensors():
    from nbcode.experiments.convergence import half_mse
    with pytest.raises(TypeError, match="Invalid out: a tensor of dtype torch.int64"):
        half_mse(torch.zeros(2, 3, dtype=torch.long), torch.ones(2, 3, dtype=torch.long))
    with pytest.raises(TypeError, match="Invalid target: a tensor of dtype torch.int64"):
        half_mse(torch.zeros(2, 3), torch.ones(2, 3, dtype=torch.long))
    out, tgt = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64)
    assert half_mse(out, tgt).item() == pytest.approx(1.5 * torch.nn.functional.mse_loss(out, tgt).item(), rel=1e-14)


# --- 12. ls_gradient's closure checks w's shape (cheaply, per step)
def test_ls_gradient_checks_w():
    from nbcode.norm.conditioning import ls_gradient
    A = np.random.default_rng(0).normal(size=(5, 2))
    g = ls_gradient(A, np.ones(5))
    with pytest.raises(ValueError, match=r"Invalid shape of w: \(3,\) \(need \(2,\)\)"):
        g(np.ones(3))
    w = np.array([0.5, -1.0])
    np.testing.assert_array_equal(g(w), A.T @ (A @ w - np.ones(5)) / 5)
    np.testing.assert_array_equal(g([0.5, -1.0]), g(w))


# --- 13. result objects copy the caller's arrays and cross-check their lengths
def test_result_objects_copy_and_cross_check():
    from nbcode.data import Regression, Split
    from nbcode.init.propagation import VarianceProfile
    with pytest.raises(ValueError, match=r"Invalid shape of y_train: \(2,\) \(need \(3,\)\)"):
        Split(np.ones((3, 2)), np.ones(2), np.ones((3, 2)), np.ones(3), np.ones((3, 2)), np.ones(3), np.zeros(2), np.ones(2))
    with pytest.raises(ValueError, match=r"Invalid shape of y: \(4,\) \(need \(3,\)\)"):
        Regression(np.ones((3, 2)), np.ones(4), np.ones(5), 0.0)
    with pytest.raises(ValueError, match=r"Invalid shape of backward: \(2,\) \(need \(3,\)\)"):
        VarianceProfile(np.ones(3), np.ones(2))
    f, X, a = np.ones(3), np.ones((3, 2)), np.ones((4, 2))
    p, r = VarianceProfile(f, np.ones(3)), Regression(X, np.ones(3), np.ones(2), 0.0)
    s = Split(a, np.arange(4) % 2, a, np.arange(4) % 2, a, np.arange(4) % 2, np.zeros(2), np.ones(2))
    f[0] = X[0, 0] = a[0, 0] = 5.0
    assert p.forward[0] == r.X[0, 0] == s.X_train[0, 0] == 1.0 and s.y_train.dtype == np.arange(4).dtype


# --- 14. minor: clear messages
def test_minor_messages():
    from nbcode.experiments.convergence import FullBatchRun, edge_summary
    from nbcode.init.fans import calculate_fan_in_and_fan_out
    from nbcode.norm.batchnorm import batch_norm_backward_stepwise
    from nbcode.regularize import EarlyStopping
    with pytest.raises(TypeError, match="Invalid history: its 'val_loss' entry holds 'a' \\(need a list of numbers\\)"):
        EarlyStopping(patience=2)(1, {"val_loss": ["a", "b"]})
    assert EarlyStopping(patience=2)(1, {"val_loss": [2.0, np.float64(1.0)]}) is False
    with pytest.raises(ValueError, match="Invalid run: checkpoints of shape \\(3,\\) and sharpness of shape \\(2,\\)"):
        edge_summary(FullBatchRun(1.0, np.ones(4), np.ones(4), np.array([0, 2, 3]), np.ones(2), 9), 1)
    with pytest.raises(ValueError, match=r"Invalid shape: \(3.0, 4\) \(need non-negative integers\)"):
        calculate_fan_in_and_fan_out((3.0, 4))
    x1 = np.ones((1, 3))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        batch_norm_backward_stepwise(x1, x1, np.ones(3))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        torch.nn.functional.batch_norm(torch.tensor(x1), None, None, training=True)
