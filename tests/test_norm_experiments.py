"""Input standardization as preconditioning (theory against experiment), and the exercises of
"Normalization". The BatchNorm experiments are tested in tests/test_experiments_norm.py."""

from __future__ import annotations

import numpy as np
import pytest

from nbcode.exercises import check
from nbcode.norm import (
    batch_norm,
    batch_norm_backward_stepwise,
    condition_number,
    design,
    ls_gradient,
    ls_hessian,
    predicted_kappa_standardized,
    standardize,
    steps_to_converge,
    two_feature_regression,
)
from nbcode.optim import gd_path
from nbcode.quadratic import predicted_iterations


@pytest.mark.parametrize("rho,scale,mean", [(0.0, 10.0, (5.0, -3.0)), (0.5, 30.0, (2.0, 100.0)), (-0.8, 1.0, (0.0, 0.0))])
def test_kappa_after_standardization_as_predicted(rho: float, scale: float, mean: tuple[float, float]) -> None:
    d = two_feature_regression(300, scale=scale, mean=mean, rho=rho, seed=1)
    k_std = condition_number(ls_hessian(design(standardize(d.X))))
    assert k_std == pytest.approx(predicted_kappa_standardized(d.rho), rel=1e-9)
    assert condition_number(ls_hessian(design(d.X))) > k_std


def test_steps_to_converge_within_the_contraction_bound() -> None:
    for scale in (1.0, 3.0, 10.0):
        d = two_feature_regression(200, scale=scale, rho=0.3, seed=2)
        A = standardize(d.X) if scale == 1.0 else d.X - d.X.mean(0)
        lam = np.linalg.eigvalsh(ls_hessian(A))
        lr = 2 / (lam[0] + lam[-1])
        k = steps_to_converge(A, d.y - d.y.mean(), lr, tol=1e-6)
        kp = predicted_iterations(lam[-1] / lam[0], 1e-6)
        assert 0.5 * kp <= k <= kp


def test_gd_path_matches_closed_form() -> None:
    d = two_feature_regression(50, scale=2.0, seed=3)
    A = design(d.X)
    H, b = ls_hessian(A), A.T @ d.y / len(A)
    w_star = np.linalg.solve(H, b)
    path = gd_path(ls_gradient(A, d.y), np.zeros(3), 0.1, 7)
    for k, w in enumerate(path):
        np.testing.assert_allclose(w, w_star + np.linalg.matrix_power(np.eye(3) - 0.1 * H, k) @ (-w_star), rtol=1e-10, atol=1e-12)


def test_conditioning_errors() -> None:
    with pytest.raises(ValueError, match="Invalid learning rate: -0.1"):
        gd_path(ls_gradient(np.ones((3, 1)), np.ones(3)), np.zeros(1), -0.1, 2)
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


def test_new_exercises() -> None:
    import torch

    def rms(x: np.ndarray, w: np.ndarray, eps: float) -> np.ndarray:
        layer = torch.nn.RMSNorm(x.shape[-1], eps=eps, dtype=torch.float64)
        with torch.no_grad():
            layer.weight.copy_(torch.tensor(w))
            return layer(torch.tensor(x)).numpy()

    assert check("norm.rms_norm", rms).correct
    assert not check("norm.rms_norm", lambda x, w, eps: w * (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + eps)).correct
    assert check("norm.keras_momentum", 0.01).correct and not check("norm.keras_momentum", 0.99).correct
    assert check("norm.rescaled_curvature", 0.25).correct and not check("norm.rescaled_curvature", 0.5).correct
