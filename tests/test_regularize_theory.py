"""Dropout as a penalty (Wager et al. 2013), the test-time rules of dropout, label smoothing and
weight noise: against enumeration over every mask, torch, finite differences and closed forms."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from nbcode.regularize import (
    dropout_logistic,
    dropout_penalty,
    dropout_ridge,
    dropout_sgd,
    label_smoothing_cross_entropy,
    mask_average,
    mask_geometric_mean,
    mc_average,
    ridge,
    smoothed_logit_gap,
    smoothed_targets,
    weight_noise_descent,
)
from nbcode.surfaces import get_surface


def _data(n: int = 6, d: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * np.array([0.5, 1.0, 2.0])[:d]
    return X, X @ np.array([1.0, -2.0, 0.5])[:d] + 0.3 * rng.standard_normal(n)


def _expected_dropout_loss(X: np.ndarray, y: np.ndarray, w: np.ndarray, p: float, loss: str) -> float:
    """E over every input mask (n*d Bernoulli(1-p) entries, enumerated one row at a time) of the mean loss."""
    n, d = X.shape
    total = 0.0
    for i in range(n):
        for bits in itertools.product((0, 1), repeat=d):
            m = np.array(bits, dtype=float)
            prob = (1 - p) ** m.sum() * p ** (d - m.sum())
            z = (X[i] * m / (1 - p)) @ w
            total += prob * (0.5 * (y[i] - z) ** 2 if loss == "linear" else np.logaddexp(0.0, z) - y[i] * z)
    return total / n


def test_dropout_penalty_is_exact_for_least_squares() -> None:
    X, y = _data()
    w = np.array([0.7, -0.3, 1.1])
    for p in (0.2, 0.5):
        plain = 0.5 * np.mean((y - X @ w) ** 2)
        assert _expected_dropout_loss(X, y, w, p, "linear") == pytest.approx(plain + dropout_penalty(X, w, p), rel=1e-12)
    assert dropout_penalty(X, w, 0.0) == 0.0


def test_dropout_penalty_approximates_the_expected_logistic_loss() -> None:
    """Enumerating every mask: the exact increase of the expected logistic loss is R(w) within a
    few percent, for small and large p (the rest comes from the third and higher cumulants of the
    Bernoulli noise, which are of the same order in p as its variance)."""
    X, _ = _data()
    y = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 0.0])
    w = np.array([0.4, -0.3, 0.2])
    plain = np.mean(np.logaddexp(0.0, X @ w) - y * (X @ w))
    for p in (0.01, 0.1, 0.5):
        exact = _expected_dropout_loss(X, y, w, p, "logistic") - plain
        approx = dropout_penalty(X, w, p, model="logistic")
        assert abs(exact - approx) < 0.05 * approx


def test_dropout_ridge_minimizes_the_expected_loss_and_scales_with_the_features() -> None:
    X, y = _data(40)
    p = 0.3
    w = dropout_ridge(X, y, p)
    # the gradient of L + R vanishes
    H = X.T @ X / 40
    g = H @ w - X.T @ y / 40 + p / (1 - p) * np.diag(H) * w
    np.testing.assert_allclose(g, 0.0, atol=1e-12)
    # rescaling a feature rescales its weight inversely (not so for the plain ridge)
    S = np.array([1.0, 10.0, 0.1])
    np.testing.assert_allclose(dropout_ridge(X * S, y, p) * S, w, rtol=1e-10)
    assert not np.allclose(ridge(X * S, y, 0.5) * S, ridge(X, y, 0.5), rtol=1e-3)


def test_monte_carlo_dropout_training_converges_to_the_closed_form() -> None:
    X, y = _data(40)
    lam = np.linalg.eigvalsh(X.T @ X / 40).max()
    w = dropout_sgd(X, y, 0.5, lr=0.3 / lam, steps=20_000, seed=0)
    ref = dropout_ridge(X, y, 0.5)
    assert np.abs(w - ref).max() < 0.02 * np.abs(ref).max()
    # logistic: close to Wager et al.'s approximate minimizer, far from the maximum-likelihood fit
    rng = np.random.default_rng(3)
    Xl = rng.standard_normal((200, 3)) * np.array([0.5, 1.0, 2.0])
    yl = (rng.random(200) < 1 / (1 + np.exp(-Xl @ np.array([1.5, -1.0, 0.5])))).astype(float)
    mle, wag = dropout_logistic(Xl, yl, 0.0), dropout_logistic(Xl, yl, 0.3)
    mc = dropout_sgd(Xl, yl, 0.3, model="logistic", lr=2.0, steps=10_000, seed=0)
    assert np.abs(mc - wag).max() < 0.1 * np.abs(mle - wag).max()


def test_dropout_logistic_gradient_and_mle() -> None:
    """p = 0 is sklearn's unpenalized logistic regression; p > 0 is a stationary point of L + R."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(4)
    X = rng.standard_normal((100, 3))
    y = (rng.random(100) < 1 / (1 + np.exp(-X @ np.array([1.0, -0.5, 0.2])))).astype(float)
    sk = LogisticRegression(C=np.inf, fit_intercept=False, tol=1e-12, max_iter=10_000).fit(X, y).coef_[0]
    np.testing.assert_allclose(dropout_logistic(X, y, 0.0), sk, atol=1e-6)
    w = dropout_logistic(X, y, 0.4)

    def objective(v: np.ndarray) -> float:
        return float(np.mean(np.logaddexp(0.0, X @ v) - y * (X @ v)) + dropout_penalty(X, v, 0.4, model="logistic"))

    num = np.array([(objective(w + 1e-6 * e) - objective(w - 1e-6 * e)) / 2e-6 for e in np.eye(3)])
    np.testing.assert_allclose(num, 0.0, atol=1e-7)
    with pytest.raises(ValueError, match="labels must be 0 or 1"):
        dropout_logistic(X, 2 * y, 0.1)


def test_weight_scaling_is_the_geometric_mean_for_softmax_regression_only() -> None:
    rng = np.random.default_rng(0)
    W, b = rng.standard_normal((3, 5)), rng.standard_normal(3)
    x = rng.standard_normal((4, 5))
    lin = lambda z: z @ W.T + b  # noqa: E731
    softmax = lambda z: np.exp(z - z.max(-1, keepdims=True)) / np.exp(z - z.max(-1, keepdims=True)).sum(-1, keepdims=True)  # noqa: E731
    for keep in (0.5, 0.8):
        gm = mask_geometric_mean(lin, x, keep)
        np.testing.assert_allclose(gm, softmax(lin(keep * x)), rtol=1e-12)
        # by brute force: the weighted product of the probabilities, renormalized
        logp = sum((keep ** sum(m) * (1 - keep) ** (5 - sum(m))) * np.log(softmax(lin(np.array(m) * x)))
                   for m in itertools.product((0, 1), repeat=5))
        np.testing.assert_allclose(gm, np.exp(logp) / np.exp(logp).sum(-1, keepdims=True), rtol=1e-12)
        # the arithmetic mean is something else
        assert np.abs(mask_average(lambda z: softmax(lin(z)), x, keep) - gm).max() > 0.01
    V = rng.standard_normal((6, 5))
    tanh_net = lambda z: np.tanh(z @ V.T) @ rng.standard_normal((3, 6)).T * 0 + np.tanh(z @ V.T)[:, :3]  # noqa: E731
    assert np.abs(mask_geometric_mean(tanh_net, x, 0.5) - softmax(tanh_net(0.5 * x))).max() > 1e-3


def test_monte_carlo_average_converges_to_the_mask_average() -> None:
    rng = np.random.default_rng(1)
    W = rng.standard_normal((2, 6))
    f = lambda z: np.tanh(z @ W.T)  # noqa: E731
    x = rng.standard_normal((3, 6))
    exact = mask_average(f, x, 0.7)
    errs = [np.abs(mc_average(f, x, 0.7, k, seed=2) - exact).max() for k in (10, 1000)]
    assert errs[1] < errs[0] / 3 and errs[1] < 0.05
    np.testing.assert_array_equal(mc_average(f, x, 0.7, 5, seed=3), mc_average(f, x, 0.7, 5, seed=3))


def test_label_smoothing_matches_torch_and_its_minimum() -> None:
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((7, 4)) * 3
    y = rng.integers(0, 4, 7)
    for eps in (0.0, 0.1, 0.3):
        ref = float(torch.nn.functional.cross_entropy(torch.tensor(Z), torch.tensor(y), label_smoothing=eps))
        assert label_smoothing_cross_entropy(Z, y, eps) == pytest.approx(ref, rel=1e-12)
    np.testing.assert_allclose(smoothed_targets(y, 4, 0.2).sum(axis=1), 1.0)
    # minimize over the logits of one example: the gap to every other logit is the predicted one
    z = torch.zeros(1, 10, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([z], lr=1, max_iter=200, tolerance_grad=1e-12, tolerance_change=1e-15)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(z, torch.tensor([3]), label_smoothing=0.1)
        loss.backward()
        return loss

    opt.step(closure)
    zz = z.detach().numpy()[0]
    np.testing.assert_allclose(zz[3] - np.delete(zz, 3), smoothed_logit_gap(10, 0.1), rtol=1e-6)
    assert smoothed_logit_gap(10, 0.0) == float("inf")
    with pytest.raises(ValueError, match=r"Invalid y: labels from \d+ to \d+ \(need 0 <= label < \d+\)"):
        label_smoothing_cross_entropy(Z, y + 4, 0.1)
    with pytest.raises(ValueError, match="Invalid label smoothing"):
        smoothed_targets(y, 4, 1.5)


def test_weight_noise_descends_the_smoothed_loss_to_a_flat_minimum() -> None:
    """On L = (1 - w1 w2)^2, E L(w + sigma xi) = L(w) + sigma^2 |w|^2 + sigma^4, minimal at
    w1 = w2 = sqrt(1 - sigma^2): the flattest point of the valley w1 w2 = 1 (shrunk)."""
    S = get_surface("two-weight net")
    rng = np.random.default_rng(0)
    w = np.array([2.0, 0.5])
    xi = rng.standard_normal((200_000, 2)) * 0.3
    mc = np.mean((1 - (w[0] + xi[:, 0]) * (w[1] + xi[:, 1])) ** 2)
    assert mc == pytest.approx(S(w) + 0.09 * (w @ w) + 0.3**4, rel=0.01)
    path = weight_noise_descent(S.grad, [2.0, 0.5], 0.02, 10_000, 0.3, seed=0)
    avg = path[5000:].mean(axis=0)
    np.testing.assert_allclose(avg, np.sqrt(1 - 0.09), atol=0.02)
    plain = weight_noise_descent(S.grad, [2.0, 0.5], 0.02, 100, 0.0)
    np.testing.assert_allclose(plain[-1], [2.0, 0.5])  # already a minimum: plain descent stays
    assert np.linalg.eigvalsh(S.hess(avg)).max() < 0.5 * np.linalg.eigvalsh(S.hess(plain[-1])).max()
    with pytest.raises(ValueError, match="Invalid sigma"):
        weight_noise_descent(S.grad, [2.0, 0.5], 0.02, 10, -1.0)
