"""The book's data sets: shapes, splits, seeding, and the promised condition numbers."""

from __future__ import annotations

import numpy as np
import torch
import pytest
from sklearn.datasets import load_digits as sk_digits

from nbcode.data import TOY_SETS, conditioned_regression, load_digits, toy2d


def test_digits_split_is_fixed_stratified_and_standardized() -> None:
    d = load_digits()
    assert d.X_train.shape == (1257, 64) and d.X_val.shape == (270, 64) and d.X_test.shape == (270, 64)
    assert d.n_classes == 10 and d.n_features == 64
    # every image is used exactly once
    X, _ = sk_digits(return_X_y=True)
    restored = np.vstack([d.X_train, d.X_val, d.X_test]) * d.std + d.mean
    key = lambda A: sorted(map(tuple, np.round(A, 6)))  # noqa: E731
    assert key(restored) == key(X)
    # standardized with the training statistics only
    np.testing.assert_allclose(d.X_train.mean(axis=0), 0.0, atol=1e-12)
    used = d.X_train.std(axis=0) > 0
    np.testing.assert_allclose(d.X_train.std(axis=0)[used], 1.0)
    # stratified: every class has 9 to 11 % of each part
    for y in (d.y_train, d.y_val, d.y_test):
        frac = np.bincount(y, minlength=10) / y.size
        assert frac.min() > 0.09 and frac.max() < 0.11
    # fixed: the same split every time, another with another seed
    np.testing.assert_array_equal(load_digits().y_test, d.y_test)
    assert not np.array_equal(load_digits(seed=1).y_test, d.y_test)


def test_digits_tensors() -> None:
    t = load_digits().as_tensors()
    assert str(t["X_train"].dtype) == "torch.float64" and str(t["y_train"].dtype) == "torch.int64"
    assert load_digits().as_tensors("float32")["X_val"].dtype == torch.float32


def test_digits_bad_split() -> None:
    with pytest.raises(ValueError, match=r"Invalid val_size: 0.6 with test_size=0.5 \(need val_size \+ test_size < 1\)"):
        load_digits(val_size=0.6, test_size=0.5)
    with pytest.raises(ValueError, match=r"Invalid test_size: 0.0 \(need 0 < test_size < 1\)"):
        load_digits(test_size=0.0)
    with pytest.raises(TypeError, match="Invalid standardize: 'yes'"):
        load_digits(standardize="yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Invalid seed: -1 \(need 0 <= seed <= 4294967295\)"):
        load_digits(seed=-1)
    with pytest.raises(ValueError, match="Invalid dtype: 'int64'"):
        load_digits().as_tensors("int64")


def test_digits_numpy_scalars_give_the_same_split() -> None:
    a, b = load_digits(), load_digits(val_size=np.float64(0.15), seed=np.int64(0))
    np.testing.assert_array_equal(a.X_val, b.X_val)


@pytest.mark.parametrize("name", TOY_SETS)
def test_toy_sets(name: str) -> None:
    X, y = toy2d(name, 300, noise=0.05, seed=3)
    assert X.shape == (300, 2) and y.shape == (300,) and X.dtype == np.float64
    assert set(np.unique(y)) == ({0, 1, 2} if name == "blobs" else {0, 1})
    assert np.all(np.abs(X) < 3.0)
    X2, y2 = toy2d(name, 300, noise=0.05, seed=3)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)


def test_xor_labels_follow_the_quadrants_without_noise() -> None:
    X, y = toy2d("xor", 200, noise=0.0)
    np.testing.assert_array_equal(y, (X[:, 0] * X[:, 1] < 0).astype(int))


def test_toy_bad_input() -> None:
    with pytest.raises(ValueError, match="Invalid name: 'swiss roll' \\(use one of"):
        toy2d("swiss roll")
    with pytest.raises(ValueError, match=r"Invalid noise: -0.1 \(need noise >= 0\)"):
        toy2d("moons", noise=-0.1)
    with pytest.raises(ValueError, match="Invalid number of points: 2"):
        toy2d("moons", 2)
    with pytest.raises(TypeError, match="Invalid seed: 2.0 \\(need an integer\\)"):
        toy2d("moons", seed=2.0)  # type: ignore[arg-type]


@pytest.mark.parametrize("kappa", [1.0, 10.0, 1e4])
def test_regression_has_the_promised_spectrum(kappa: float) -> None:
    r = conditioned_regression(300, 8, kappa=kappa, lam_max=2.0, seed=1)
    ev = np.linalg.eigvalsh(r.hessian)
    np.testing.assert_allclose(ev, np.geomspace(2.0 / kappa, 2.0, 8), rtol=1e-9)
    # w_star is the least-squares solution: the gradient vanishes there
    assert np.linalg.norm(r.grad(r.w_star)) < 1e-10
    # the gradient is the derivative of the loss
    w = np.random.default_rng(0).standard_normal(8)
    e = np.eye(8)[3] * 1e-6
    assert (r.loss(w + e) - r.loss(w - e)) / 2e-6 == pytest.approx(r.grad(w)[3], rel=1e-6)


def test_regression_bad_input() -> None:
    with pytest.raises(ValueError, match="Invalid condition number: 0.5"):
        conditioned_regression(kappa=0.5)
    with pytest.raises(ValueError, match=r"Invalid n: 5 with d=10 \(need n >= d\)"):
        conditioned_regression(5, 10)
    with pytest.raises(ValueError, match=r"Invalid lam_max: 0.0 \(need lam_max > 0\)"):
        conditioned_regression(lam_max=0.0)
    with pytest.raises(ValueError, match=r"Invalid noise: nan"):
        conditioned_regression(noise=float("nan"))
    r = conditioned_regression(12, 3)
    with pytest.raises(ValueError, match=r"Invalid shape of w: \(2,\) \(need \(3,\)\)"):
        r.loss(np.zeros(2))
    with pytest.raises(ValueError, match="Invalid w: it contains NaN"):
        r.grad(np.array([0.0, np.nan, 0.0]))


def test_regression_float32_hyperparameters_give_the_float64_problem() -> None:
    a = conditioned_regression(12, 3, kappa=100.0, lam_max=1.0)
    b = conditioned_regression(12, 3, kappa=np.float32(100.0), lam_max=np.float32(1.0))
    np.testing.assert_array_equal(a.X, b.X)
    assert b.X.dtype == np.float64
