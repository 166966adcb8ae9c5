"""nbcode.regularize against sklearn, torch and closed forms, in float64."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.linear_model import ElasticNet, Lasso, Ridge
from torch import nn

from nbcode.regularize import (
    EarlyStopping,
    clip_by_norm,
    clip_by_value,
    clipped_descent,
    dropconnect,
    dropout,
    dropout_keep,
    dropout_mask,
    elastic_net_penalty,
    gd_quadratic_factors,
    ista,
    l1_optimum_diagonal,
    l1_penalty,
    l2_factors,
    l2_optimum,
    l2_penalty,
    mask_average,
    matching_alpha,
    noisy_least_squares,
    prox_elastic_net,
    ridge,
    shift_images,
    soft_threshold,
    subgradient_descent,
    weight_scaling_gap,
)
from nbcode.surfaces import rnn_loss, rnn_loss_grad
from nbcode.train import History, fit, mlp, seed_everything


def _data(n: int = 60, d: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) @ np.diag(np.linspace(0.3, 2.0, d))
    w = np.array([2.0, -1.5, 0.0, 0.4, 0.0, -0.1])[:d]
    return X, X @ w + 0.3 * rng.standard_normal(n)


# ---------------------------------------------------------------- penalties and proximal maps
def test_penalties_closed_forms() -> None:
    w = np.array([1.0, -2.0, 3.0])
    assert l2_penalty(w, 0.5) == pytest.approx(0.25 * 14)
    assert l1_penalty(w, 0.5) == pytest.approx(3.0)
    assert elastic_net_penalty(w, 0.5, 0.3) == pytest.approx(0.5 * (0.3 * 6 + 0.35 * 14))


def test_prox_is_argmin() -> None:
    # the proximal map minimises t*Omega(w) + 1/2 (w - z)^2, coordinate-wise; compare with a fine grid
    grid = np.linspace(-5, 5, 200001)
    for z in [-3.0, -0.2, 0.0, 0.7, 2.5]:
        for t, rho in [(1.0, 1.0), (0.5, 0.3), (2.0, 0.0)]:
            obj = t * (rho * np.abs(grid) + 0.5 * (1 - rho) * grid**2) + 0.5 * (grid - z) ** 2
            assert prox_elastic_net([z], t, rho)[0] == pytest.approx(grid[np.argmin(obj)], abs=1e-4)


# ---------------------------------------------------------------- L2 against sklearn and the eigen-formula
def test_ridge_matches_sklearn() -> None:
    X, y = _data()
    n = X.shape[0]
    for alpha in [0.01, 0.3, 3.0]:
        sk = Ridge(alpha=n * alpha, fit_intercept=False, solver="cholesky").fit(X, y).coef_
        np.testing.assert_allclose(ridge(X, y, alpha), sk, rtol=1e-10)


def test_l2_optimum_eigen_formula_is_ridge() -> None:
    X, y = _data()
    H = X.T @ X / X.shape[0]
    w_star = np.linalg.solve(H, X.T @ y / X.shape[0])
    for alpha in [0.05, 1.0]:
        np.testing.assert_allclose(l2_optimum(H, w_star, alpha), ridge(X, y, alpha), rtol=1e-10)
        # and shrinks each eigen-component by lambda / (lambda + alpha)
        lam, Q = np.linalg.eigh(H)
        np.testing.assert_allclose(Q.T @ l2_optimum(H, w_star, alpha), lam / (lam + alpha) * (Q.T @ w_star), rtol=1e-10)


# ---------------------------------------------------------------- L1 / elastic net against sklearn
def test_l1_soft_threshold_matches_lasso_for_orthogonal_design() -> None:
    rng = np.random.default_rng(1)
    n, lams = 40, np.array([0.5, 1.0, 2.0, 4.0])
    Q, _ = np.linalg.qr(rng.standard_normal((n, 4)))
    X = Q * np.sqrt(n * lams)  # X^T X / n = diag(lams)
    y = X @ np.array([1.0, -0.2, 0.05, -0.3]) + 0.1 * rng.standard_normal(n)
    w_star = np.linalg.lstsq(X, y, rcond=None)[0]
    for alpha in [0.01, 0.1, 0.4]:
        sk = Lasso(alpha=alpha, fit_intercept=False, tol=1e-14, max_iter=100000).fit(X, y).coef_
        np.testing.assert_allclose(l1_optimum_diagonal(lams, w_star, alpha), sk, atol=1e-9)
    assert np.count_nonzero(l1_optimum_diagonal(lams, w_star, 0.4)) < 4  # sparsity appears


def test_ista_matches_sklearn_lasso_and_elastic_net() -> None:
    X, y = _data()
    for alpha in [0.02, 0.2]:
        sk = Lasso(alpha=alpha, fit_intercept=False, tol=1e-14, max_iter=100000).fit(X, y).coef_
        np.testing.assert_allclose(ista(X, y, alpha, steps=5000)[-1], sk, atol=1e-8)
        sk = ElasticNet(alpha=alpha, l1_ratio=0.4, fit_intercept=False, tol=1e-14, max_iter=100000).fit(X, y).coef_
        np.testing.assert_allclose(ista(X, y, alpha, l1_ratio=0.4, steps=5000)[-1], sk, atol=1e-8)
    # l1_ratio = 0 is ridge
    np.testing.assert_allclose(ista(X, y, 0.3, l1_ratio=0.0, steps=5000)[-1], ridge(X, y, 0.3), atol=1e-10)


def test_ista_exact_zeros_subgradient_not() -> None:
    X, y = _data()
    w_ista = ista(X, y, 0.2, steps=3000)[-1]
    w_sub = subgradient_descent(X, y, 0.2, lr=0.05, steps=3000)[-1]
    zeros = w_ista == 0.0
    assert zeros.sum() >= 2
    assert np.all(w_sub[zeros] != 0.0) and np.all(np.abs(w_sub[zeros]) < 0.05)


def test_soft_threshold_is_identity_minus_shrink() -> None:
    z = np.array([-3.0, -1.0, 0.5, 2.0])
    np.testing.assert_array_equal(soft_threshold(z, 1.0), [-2.0, 0.0, 0.0, 1.0])


# ---------------------------------------------------------------- dropout against torch
def test_dropout_matches_torch_semantics() -> None:
    x = np.linspace(1.0, 2.0, 200000)
    for p in [0.1, 0.5, 0.8]:
        ours = dropout(x, p, seed=3)
        layer = nn.Dropout(p)
        torch.manual_seed(0)
        theirs = layer(torch.tensor(x)).numpy()
        for out in (ours, theirs):
            kept = out != 0
            np.testing.assert_allclose(out[kept], x[kept] / (1 - p), rtol=1e-15)
            assert abs((~kept).mean() - p) < 5 * np.sqrt(p * (1 - p) / x.size)
        layer.eval()
        np.testing.assert_array_equal(layer(torch.tensor(x)).numpy(), dropout(x, p, training=False))
    assert dropout(np.ones(4), 0.0).tolist() == [1.0] * 4


def test_dropout_fresh_mask_per_example_and_call() -> None:
    rng = np.random.default_rng(0)
    a, b = dropout(np.ones((2, 50)), 0.5, seed=rng), dropout(np.ones((2, 50)), 0.5, seed=rng)
    assert not np.array_equal(a[0], a[1]) and not np.array_equal(a, b)


def test_keep_convention_same_expectation_as_inverted() -> None:
    x = np.ones(400000)
    keep = 0.7
    assert dropout_keep(x, keep, seed=1).mean() == pytest.approx(keep, abs=3e-3)  # = test-time value
    assert dropout_keep(x, keep, training=False)[0] == pytest.approx(keep)
    assert dropout(x, 1 - keep, seed=1).mean() == pytest.approx(1.0, abs=4e-3)


def test_weight_scaling_exact_for_linear_layer_not_after_tanh() -> None:
    rng = np.random.default_rng(0)
    W1, W2 = rng.standard_normal((10, 8)) / np.sqrt(8), rng.standard_normal((3, 10))
    x = rng.standard_normal((20, 8))
    # brute force over all 2^8 masks, against W_test = keep * W
    ens = mask_average(lambda z: z @ W1.T, x, 0.6)
    np.testing.assert_allclose(ens, x @ (0.6 * W1).T, rtol=1e-12)
    assert weight_scaling_gap(lambda z: z @ W1.T @ W2.T, x, 0.5) < 1e-12
    gap = weight_scaling_gap(lambda z: np.tanh(z @ W1.T) @ W2.T, x, 0.5)
    assert 0.01 < gap < 0.3


def test_dropconnect_mean_and_eval() -> None:
    rng = np.random.default_rng(0)
    W, x = rng.standard_normal((3, 4)), rng.standard_normal((1, 4))
    xs = np.repeat(x, 100000, axis=0)
    mean = dropconnect(xs, W, p=0.4, seed=2).mean(axis=0)
    np.testing.assert_allclose(mean, (x @ W.T)[0], atol=0.03)
    np.testing.assert_allclose(dropconnect(x, W, np.ones(3), p=0.4, training=False), x @ W.T + 1)
    out = dropconnect(np.repeat(x, 2, axis=0), W, p=0.4, seed=5)
    assert not np.array_equal(out[0], out[1])  # a fresh weight mask per example


def test_dropout_mask_rate() -> None:
    m = dropout_mask((100000,), 0.3, seed=0)
    assert set(np.unique(m)) == {0.0, 1.0} and abs(1 - m.mean() - 0.3) < 0.01


# ---------------------------------------------------------------- early stopping
def test_early_stopping_restores_best_weights() -> None:
    seed_everything(0)
    rng = np.random.default_rng(0)
    X = torch.tensor(rng.standard_normal((40, 10)), dtype=torch.float64)
    y = torch.tensor(rng.standard_normal(40), dtype=torch.float64)
    Xv = torch.tensor(rng.standard_normal((40, 10)), dtype=torch.float64)
    yv = torch.tensor(rng.standard_normal(40), dtype=torch.float64)
    model = mlp([10, 64, 1]).double()
    model = nn.Sequential(*model, nn.Flatten(0))
    es = EarlyStopping(model, patience=3)
    h = fit(model, torch.optim.Adam(model.parameters(), lr=0.01), X, y, epochs=300, val=(Xv, yv), callback=es)
    assert es.stopped_epoch is not None and es.stopped_epoch < 300
    assert es.stopped_epoch == es.best_epoch + 3
    assert es.best_epoch == int(np.argmin(h["val_loss"]))
    with torch.no_grad():
        vl = float(nn.functional.mse_loss(model(Xv), yv))
    assert vl == pytest.approx(h["val_loss"][es.best_epoch], rel=1e-12)
    assert vl < h["val_loss"][-1]


def test_early_stopping_patience_and_min_delta_by_hand() -> None:
    h, es = History(), EarlyStopping(patience=2, min_delta=0.1)
    h.log(val_loss=1.0)
    stops = []
    for epoch, v in enumerate([0.95, 0.8, 0.75, 0.72], start=1):  # 0.95 and 0.75 are not 0.1 better
        h.log(val_loss=v)
        stops.append(es(epoch, h))
    assert stops == [False, False, False, True] and es.best_epoch == 2


def test_early_stopping_is_like_l2_on_a_quadratic() -> None:
    # Goodfellow et al. sec. 7.8: tau steps of GD ~ L2 with alpha = 1/(lr tau); measured constant
    lams = np.geomspace(1e-3, 1.0, 30)
    taus = np.array([10, 30, 100])
    alphas = np.array([matching_alpha(lams, 1.0, int(t)) for t in taus])
    c = alphas * taus
    assert np.all((c > 0.5) & (c < 0.7))
    slope = np.polyfit(np.log(taus), np.log(alphas), 1)[0]
    assert slope == pytest.approx(-1.0, abs=0.05)
    # the factors themselves, iterated GD against the closed form
    H = np.diag(lams[:5])
    w_star, w = np.ones(5), np.zeros(5)
    for _ in range(20):
        w = w - 0.5 * H @ (w - w_star)
    np.testing.assert_allclose(w, gd_quadratic_factors(lams[:5], 0.5, 20), rtol=1e-12)
    assert l2_factors([1.0], 1.0)[0] == 0.5


# ---------------------------------------------------------------- clipping against torch
def test_clip_by_value_matches_torch() -> None:
    g = np.array([[3.0, -0.5], [-7.0, 0.2]])
    t = torch.tensor(g, requires_grad=True)
    t.grad = torch.tensor(g)
    torch.nn.utils.clip_grad_value_([t], 1.0)
    np.testing.assert_array_equal(clip_by_value(g, 1.0), t.grad.numpy())
    assert clip_by_value(g, 1.0).min() == -1.0  # both signs


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_by_norm_matches_torch(norm_type: float, max_norm: float) -> None:
    rng = np.random.default_rng(0)
    gs = [rng.standard_normal((3, 4)), rng.standard_normal(5)]
    ts = []
    for g in gs:
        t = torch.tensor(g, requires_grad=True)
        t.grad = torch.tensor(g)
        ts.append(t)
    total_t = torch.nn.utils.clip_grad_norm_(ts, max_norm, norm_type=norm_type)
    clipped, total = clip_by_norm(gs, max_norm, norm_type)
    assert total == pytest.approx(float(total_t), rel=1e-14)
    for c, t in zip(clipped, ts):
        np.testing.assert_allclose(c, t.grad.numpy(), rtol=1e-14)


def test_clipping_on_the_cliff_bounds_steps_and_loss() -> None:
    T = 8

    def grad(w: np.ndarray) -> np.ndarray:
        return np.array([float(g) for g in rnn_loss_grad(w[0], w[1], T=T)])

    plain = clipped_descent(grad, [8.8, -5.0], 0.2, 300)
    clipped = clipped_descent(grad, [8.8, -5.0], 0.2, 300, clip="norm", threshold=5.0)
    assert np.all(np.linalg.norm(np.diff(clipped, axis=0), axis=1) <= 0.2 * 5.0 + 1e-12)
    loss_plain = rnn_loss(plain[:, 0], plain[:, 1], T=T)
    loss_clip = rnn_loss(clipped[:, 0], clipped[:, 1], T=T)
    assert loss_plain.max() > 100 * loss_clip.max()
    assert loss_clip[-1] < 1e-6


# ---------------------------------------------------------------- augmentation and noise
def test_shift_matches_scipy() -> None:
    from scipy.ndimage import shift

    X = np.arange(128.0).reshape(2, 64) + 1
    for dx, dy in [(1, 0), (0, -2), (-1, 3)]:
        ref = np.stack([shift(x.reshape(8, 8), (dy, dx), order=0, mode="constant", cval=0.0).ravel() for x in X])
        np.testing.assert_array_equal(shift_images(X, dx, dy), ref)


def test_input_noise_is_ridge() -> None:
    # E over noise of 1/(2n)||y - (X+E)w||^2 = L(w) + sigma^2/2 ||w||^2  =>  ridge with alpha = sigma^2
    X, y = _data(n=50)
    for sigma in [0.3, 0.7]:
        w_noise = noisy_least_squares(X, y, sigma, copies=2000, seed=0)
        w_ridge = ridge(X, y, sigma**2)
        w_ols = ridge(X, y, 0.0)
        assert np.linalg.norm(w_noise - w_ridge) < 0.05 * np.linalg.norm(w_ols - w_ridge)


# ---------------------------------------------------------------- bad input
def test_errors() -> None:
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        dropout([1.0], 1.5)   # p = 1 is valid, as in torch (zeros): tests/test_edges_X2.py
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got -0.1"):
        dropconnect([[1.0]], [[1.0]], p=-0.1)
    with pytest.raises(ValueError, match="Invalid keep probability: 1.5"):
        dropout_keep([1.0], 1.5)   # keep = 0 is valid (drop everything), as p = 1
    with pytest.raises(ValueError, match="Invalid regularization strength: -1"):
        ridge([[1.0]], [1.0], -1.0)
    with pytest.raises(ValueError, match=r"Invalid t: -0.5 \(need t >= 0\)"):
        soft_threshold([1.0], -0.5)
    with pytest.raises(ValueError, match="Invalid l1_ratio: 1.5"):
        elastic_net_penalty([1.0], 1.0, 1.5)
    with pytest.raises(ValueError, match="Invalid clip value: 0"):
        clip_by_value([1.0], 0.0)
    with pytest.raises(ValueError, match="Invalid max norm: -1"):
        clip_by_norm([np.ones(2)], -1.0)
    with pytest.raises(ValueError, match="Invalid patience: 0"):
        EarlyStopping(patience=0)
    with pytest.raises(ValueError, match="Invalid clip mode"):
        clipped_descent(lambda w: w, [1.0], 0.1, 1, clip="nrm")
    with pytest.raises(ValueError, match=r"Invalid dx: 8 \(need -7 <= dx <= 7\)"):
        shift_images(np.zeros((1, 64)), 8, 0)
    with pytest.raises(ValueError, match="Invalid shapes"):
        ista(np.ones((3, 2)), np.ones(4), 0.1)


# ---------------------------------------------------------------- issue #16: fresh masks, non-finite norms
@pytest.mark.parametrize("draw", [
    lambda **kw: dropout(np.ones((4, 64)), 0.5, **kw),
    lambda **kw: dropout_mask((4, 64), 0.5, **kw),
    lambda **kw: dropout_keep(np.ones((4, 64)), 0.5, **kw),
    lambda **kw: dropconnect(np.ones((4, 8)), np.ones((3, 8)), p=0.5, **kw),
])
def test_every_call_draws_a_fresh_mask_unless_seeded(draw) -> None:
    """torch.nn.functional.dropout draws a new mask at every call. The default used to be seed=0:
    the same mask every time. Now seed=None (fresh, from the operating system's entropy); an
    integer seed is reproducible, a Generator a reproducible stream. (P(two fresh masks of 256
    fair bits agree) = 2^-256.)"""
    masks = [draw() for _ in range(3)]
    assert not np.array_equal(masks[0], masks[1]) and not np.array_equal(masks[1], masks[2])
    assert np.array_equal(draw(seed=7), draw(seed=7)) and not np.array_equal(draw(seed=7), draw(seed=8))
    g1, g2 = np.random.default_rng(3), np.random.default_rng(3)
    s1, s2 = [draw(seed=g1) for _ in range(2)], [draw(seed=g2) for _ in range(2)]
    assert np.array_equal(s1[0], s2[0]) and np.array_equal(s1[1], s2[1]) and not np.array_equal(s1[0], s1[1])
    # a fresh mask does not touch NumPy's global generator either
    state = np.random.get_state()
    draw()
    assert np.array_equal(np.random.get_state()[1], state[1])
    with pytest.raises(TypeError, match=r"Invalid seed: 0.5 \(need None, an integer >= 0 or a numpy.random.Generator\)"):
        draw(seed=0.5)


def _torch_clip(gs: list[np.ndarray], max_norm: float, norm_type: float, **kw: bool) -> tuple[list[np.ndarray], float]:
    ts = []
    for g in gs:
        t = torch.tensor(g, requires_grad=True)
        t.grad = torch.tensor(g)
        ts.append(t)
    total = torch.nn.utils.clip_grad_norm_(ts, max_norm, norm_type=norm_type, **kw)
    return [t.grad.numpy() for t in ts], float(total)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_clip_by_norm_with_a_non_finite_gradient_matches_torch(norm_type: float, bad: float) -> None:
    """A NaN gradient used to leave the other tensors as they were (min(1.0, nan) = 1.0); torch
    turns them all into NaN. An infinite one makes torch's factor 0: finite entries 0, the
    infinite entry NaN."""
    rng = np.random.default_rng(1)
    gs = [rng.standard_normal((3, 4)), rng.standard_normal(5)]
    gs[1][2] = bad
    want, total_t = _torch_clip([g.copy() for g in gs], 1.0, norm_type)
    clipped, total = clip_by_norm(gs, 1.0, norm_type)
    assert (math.isnan(total) and math.isnan(total_t)) or total == total_t
    for c, w in zip(clipped, want):
        np.testing.assert_array_equal(np.isnan(c), np.isnan(w))
        np.testing.assert_allclose(c[~np.isnan(c)], w[~np.isnan(w)], rtol=1e-14)
    if math.isnan(bad):
        assert np.all(np.isnan(clipped[0]))
    with pytest.raises(RuntimeError, match="is non-finite, so it cannot be clipped") as ours:
        clip_by_norm(gs, 1.0, norm_type, error_if_nonfinite=True)
    with pytest.raises(RuntimeError) as theirs:
        _torch_clip([g.copy() for g in gs], 1.0, norm_type, error_if_nonfinite=True)
    assert str(ours.value) == str(theirs.value)


def test_clip_by_norm_edge_inputs() -> None:
    assert clip_by_norm([], 1.0) == ([], 0.0)
    clipped, total = clip_by_norm([np.zeros(3), np.array([], dtype=float)], 1.0)
    assert total == 0.0 and clipped[0].tolist() == [0.0] * 3
    with pytest.raises(TypeError, match="Invalid grads"):
        clip_by_norm(np.ones(3), 1.0)
    with pytest.raises(TypeError, match="Invalid max norm"):
        clip_by_norm([np.ones(3)], "1")
    with pytest.raises(ValueError, match=r"Invalid norm type: 0 \(need norm type > 0\)"):
        clip_by_norm([np.ones(3)], 1.0, norm_type=0)
