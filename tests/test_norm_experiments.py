"""The chapter's theory-versus-experiment claims, and the exercises of "Normalization"."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nbcode.data import load_digits
from nbcode.exercises import check
from nbcode.norm import (
    batch_norm,
    batch_norm_backward_stepwise,
    batch_stat_accuracy,
    bn_mlp,
    class_skewed_batches,
    compare_bn,
    condition_number,
    design,
    gd_path,
    ls_hessian,
    lr_scan,
    predicted_kappa_standardized,
    predicted_steps,
    scale_invariance,
    standardize,
    steps_to_converge,
    train_sgd,
    two_feature_regression,
)

torch.set_num_threads(1)


@pytest.mark.parametrize("rho,scale,mean", [(0.0, 10.0, (5.0, -3.0)), (0.5, 30.0, (2.0, 100.0)), (-0.8, 1.0, (0.0, 0.0))])
def test_kappa_after_standardization_as_predicted(rho: float, scale: float, mean: tuple[float, float]) -> None:
    d = two_feature_regression(300, scale=scale, mean=mean, rho=rho, seed=1)
    k_std = condition_number(ls_hessian(design(standardize(d.X))))
    assert k_std == pytest.approx(predicted_kappa_standardized(d.r), rel=1e-9)
    assert condition_number(ls_hessian(design(d.X))) > k_std


def test_steps_to_converge_within_the_contraction_bound() -> None:
    for scale in (1.0, 3.0, 10.0):
        d = two_feature_regression(200, scale=scale, rho=0.3, seed=2)
        A = standardize(d.X) if scale == 1.0 else d.X - d.X.mean(0)
        lam = np.linalg.eigvalsh(ls_hessian(A))
        lr = 2 / (lam[0] + lam[-1])
        k = steps_to_converge(A, d.y - d.y.mean(), lr, tol=1e-6)
        kp = predicted_steps(lam[-1] / lam[0], 1e-6)
        assert 0.5 * kp <= k <= kp


def test_gd_path_matches_closed_form() -> None:
    d = two_feature_regression(50, scale=2.0, seed=3)
    A = design(d.X)
    H, b = ls_hessian(A), A.T @ d.y / len(A)
    w_star = np.linalg.solve(H, b)
    path = gd_path(A, d.y, 0.1, 7)
    for k, w in enumerate(path):
        np.testing.assert_allclose(w, w_star + np.linalg.matrix_power(np.eye(3) - 0.1 * H, k) @ (-w_star), rtol=1e-10, atol=1e-12)


def test_conditioning_errors() -> None:
    with pytest.raises(ValueError, match="Invalid learning rate: -0.1"):
        gd_path(np.ones((3, 1)), np.ones(3), -0.1, 2)
    with pytest.raises(ValueError, match="Invalid learning rate: 0"):
        steps_to_converge(np.ones((3, 1)), np.ones(3), 0)
    with pytest.raises(ValueError, match="Invalid scale: 0"):
        two_feature_regression(10, scale=0)
    with pytest.raises(ValueError, match="Invalid correlation: 1"):
        two_feature_regression(10, rho=1)
    with pytest.raises(ValueError, match="Invalid number of examples: 2"):
        two_feature_regression(2)
    with pytest.raises(ValueError, match="a column is constant"):
        standardize(np.ones((4, 2)))
    with pytest.raises(ValueError, match="smallest eigenvalue"):
        condition_number(np.zeros((2, 2)))


@pytest.fixture(scope="module")
def digits() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    d = load_digits()
    return torch.tensor(d.X_train), torch.tensor(d.y_train), torch.tensor(d.X_val), torch.tensor(d.y_val)


def test_bn_trains_at_larger_lr_and_ends_below_two_over_eta(digits: tuple[torch.Tensor, ...]) -> None:
    X, y = digits[0][:512], digits[1][:512]
    lrs = [0.5, 2.0, 5.0]
    plain, bn = compare_bn([64, 32, 32, 10], X, y, lrs, steps=50)
    assert bn.scan.lr_max > plain.scan.lr_max
    for r in (plain, bn):
        ok = r.scan.final_loss < 0.5 * r.scan.initial_loss
        assert np.all(r.scan.lam_final[ok] < 2 / r.scan.lrs[ok])
    # BN is sharper at initialization here: curvature at init does not explain the larger lr
    assert bn.lam_init > plain.lam_init
    # ... the weights before each BatchNorm grow at a large lr, shrinking the effective step
    assert bn.scan.weight_growth[-1] > 2.0 > bn.scan.weight_growth[0]


def test_lr_scan_marks_divergence(digits: tuple[torch.Tensor, ...]) -> None:
    s = lr_scan([64, 16, 10], digits[0][:128], digits[1][:128], [1.0, 1e4], bn=False, steps=30)
    assert np.isfinite(s.final_loss[0]) and np.isnan(s.final_loss[1]) and s.lr_max == 1.0


def test_scale_invariance_with_bn_only(digits: tuple[torch.Tensor, ...]) -> None:
    X, y = digits[0][:128], digits[1][:128]
    change, ratio = scale_invariance(bn_mlp([64, 16, 10], bn=True), X, y, 4.0)
    assert change < 1e-3 and ratio == pytest.approx(0.25, rel=1e-3)
    change, ratio = scale_invariance(bn_mlp([64, 16, 10], bn=False), X, y, 4.0)
    assert change > 0.1


def test_batch_statistics_noise_is_one_over_sqrt_b(digits: tuple[torch.Tensor, ...]) -> None:
    X, y, Xv, yv = digits
    m = train_sgd(bn_mlp([64, 32, 10], bn=True), X, y, batch_size=32, epochs=3, lr=0.1)
    rm = m[1].running_mean.clone()
    accs = {}
    for B in (4, 16, 64):
        acc, noise = batch_stat_accuracy(m, Xv, yv, B, 0.0, n_batches=512 // B)
        assert noise == pytest.approx(1 / np.sqrt(B), rel=0.2)
        accs[B] = acc
    assert accs[4] < accs[64]
    acc1, _ = batch_stat_accuracy(m, Xv, yv, 32, 1.0, n_batches=20)
    assert acc1 < 0.3  # single-class batches: batch statistics are not the data's
    torch.testing.assert_close(m[1].running_mean, rm)


def test_skewed_batches_and_errors(digits: tuple[torch.Tensor, ...]) -> None:
    y = np.repeat(np.arange(5), 10)
    for b in class_skewed_batches(y, 8, 0.75, 5, seed=1):
        assert len(b) == 8 and np.bincount(y[b]).max() >= 6
    with pytest.raises(ValueError, match="Invalid skew: 2"):
        class_skewed_batches(y, 8, 2, 5)
    with pytest.raises(ValueError, match="Invalid batch size: 0"):
        class_skewed_batches(y, 0, 0.5, 5)
    with pytest.raises(ValueError, match="Invalid model: it has no BatchNorm layer"):
        batch_stat_accuracy(bn_mlp([64, 10], bn=False), digits[2], digits[3], 8)
    with pytest.raises(ValueError, match=r"Invalid sizes: \[4\]"):
        bn_mlp([4], bn=True)


def test_exercises() -> None:
    assert check("norm.kappa_standardized", 9.0).correct
    assert not check("norm.kappa_standardized", 4.0).correct
    assert check("norm.running_var", 1.3).correct
    assert not check("norm.running_var", 0.9 + 0.1 * 8 / 3).correct  # biased variance: wrong
    x = np.array([[0.0], [2.0], [4.0]])
    r = batch_norm(x, np.ones(1), np.zeros(1), np.zeros(1), np.ones(1), training=True, momentum=0.1)
    assert r.running_var[0] == pytest.approx(1.3)
    assert check("norm.bn_backward", batch_norm_backward_stepwise).correct

    def naive(dy: np.ndarray, x: np.ndarray, gamma: np.ndarray, eps: float) -> np.ndarray:
        return dy * gamma / np.sqrt(x.var(0) + eps)  # forgets the dependence of µ and σ² on x

    assert not check("norm.bn_backward", naive).correct
    assert check("norm.batch_independent", "batch").correct
    assert not check("norm.batch_independent", "layer").correct
