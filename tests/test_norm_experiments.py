"""Input standardization as preconditioning (theory against experiment), and the exercises of
"Normalization". The BatchNorm experiments are tested in tests/test_experiments_norm.py."""

from __future__ import annotations

import numpy as np
import pytest

from nbcode.exercises import check
from nbcode.norm import (
    batch_norm,
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
    import torch

    def ln_backward(dy: np.ndarray, x: np.ndarray, w: np.ndarray, eps: float) -> np.ndarray:
        layer = torch.nn.LayerNorm(x.shape[-1], eps=eps, dtype=torch.float64)
        with torch.no_grad():
            layer.weight.copy_(torch.tensor(w))
        xt = torch.tensor(x, requires_grad=True)
        (layer(xt) * torch.tensor(dy)).sum().backward()
        assert xt.grad is not None
        return xt.grad.numpy()

    assert check("norm.ln_backward", ln_backward).correct

    def bn_formula_transposed(dy: np.ndarray, x: np.ndarray, w: np.ndarray, eps: float) -> np.ndarray:
        # BatchNorm's compact formula per row, with the weight outside the sums: wrong for LayerNorm
        d = x.shape[1]
        s = np.sqrt(x.var(1, keepdims=True) + eps)
        xh = (x - x.mean(1, keepdims=True)) / s
        return w / (d * s) * (d * dy - dy.sum(1, keepdims=True) - xh * (dy * xh).sum(1, keepdims=True))

    assert not check("norm.ln_backward", bn_formula_transposed).correct
    assert check("norm.bn_one_image", "instance").correct
    assert not check("norm.bn_one_image", "batch").correct and not check("norm.bn_one_image", "layer").correct
    # the claim behind it: BatchNorm2d on one image in training mode is InstanceNorm2d
    x1 = torch.randn(1, 3, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    bn2 = torch.nn.BatchNorm2d(3, dtype=torch.float64).train()
    assert torch.allclose(bn2(x1), torch.nn.InstanceNorm2d(3)(x1), atol=1e-12)


def test_new_exercises() -> None:
    import torch

    def gn(x: np.ndarray, g: int, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
        layer = torch.nn.GroupNorm(g, x.shape[1], eps=eps, dtype=torch.float64)
        with torch.no_grad():
            layer.weight.copy_(torch.tensor(w))
            layer.bias.copy_(torch.tensor(b))
            return layer(torch.tensor(x)).numpy()

    assert check("norm.group_norm", gn).correct

    def gn_per_channel(x: np.ndarray, g: int, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
        axes = tuple(range(2, x.ndim))  # InstanceNorm's statistics: wrong unless G = C
        shape = (1, -1) + (1,) * (x.ndim - 2)
        xh = (x - x.mean(axes, keepdims=True)) / np.sqrt(x.var(axes, keepdims=True) + eps)
        return w.reshape(shape) * xh + b.reshape(shape)

    assert not check("norm.group_norm", gn_per_channel).correct
    assert check("norm.keras_port", (0.01, 1e-3)).correct
    assert not check("norm.keras_port", (0.01, 1e-5)).correct and not check("norm.keras_port", (0.99, 1e-3)).correct
    assert not check("norm.keras_port", 0.01).correct and not check("norm.keras_port", (0.01, float("nan"))).correct
    assert check("norm.wd_effective_lr", 2.0).correct
    assert not check("norm.wd_effective_lr", 4.0).correct and not check("norm.wd_effective_lr", 0.25).correct
    # the answer, from the exact recursion of the squared norm: r2 <- (1 - eta lam)^2 r2 + eta^2 G^2 / r2
    def eff(lam: float, eta: float = 0.1, G: float = 1.0) -> float:
        r2 = 1.0
        for _ in range(200_000):
            r2 = (1 - eta * lam) ** 2 * r2 + eta**2 * G**2 / r2
        return eta / r2

    assert eff(4e-4) / eff(1e-4) == pytest.approx(2.0, rel=1e-3)
