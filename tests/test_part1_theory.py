"""Tests of the part-I theory code: logistic regression (against torch and sklearn), the rates of
gradient descent on smooth / convex / PL functions, the PL but non-convex function, Himmelblau's
saddles, the Gauss-Newton decomposition, the parameter symmetries of an MLP, Lanczos's warm start
and the convergence chapter's experiments."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize as so
import torch
from sklearn.linear_model import LogisticRegression as SkLogReg
from torch import nn
from torch.func import functional_call
from torch.func import hessian as thessian

from nbcode.data import load_digits
from nbcode.experiments.convergence import edge_summary, full_batch_run, logistic_run
from nbcode.hessian import HessianOperator, exact_hessian, flat_params, gauss_newton, lanczos_topk, unflatten
from nbcode.landscape import permute_hidden, rescale_hidden, rescaling_directions
from nbcode.optim import gd_path
from nbcode.surfaces import (
    LogisticRegression,
    classify,
    convex_bound,
    get_surface,
    guaranteed_decrease,
    nonconvex_bound,
    pl_bound,
    pl_constant,
    pl_nonconvex,
)


def _logreg_problem(seed: int = 0, n: int = 40, p: int = 3, K: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, p)), rng.integers(0, K, n)


def _torch_loss(X: np.ndarray, y: np.ndarray, alpha: float, K: int):  # noqa: ANN202
    Xa = torch.as_tensor(np.concatenate([X, np.ones((X.shape[0], 1))], axis=1))
    yt = torch.as_tensor(y)

    def f(w: torch.Tensor) -> torch.Tensor:
        W = w.reshape(Xa.shape[1], K)
        return nn.functional.cross_entropy(Xa @ W, yt) + 0.5 * alpha * (w * w).sum()

    return f


def test_logistic_loss_grad_hess_hvp_match_torch() -> None:
    X, y = _logreg_problem()
    f = LogisticRegression(X, y, alpha=0.05)
    tf = _torch_loss(X, y, 0.05, 3)
    w = np.random.default_rng(1).standard_normal(f.dim)
    u = np.random.default_rng(2).standard_normal(f.dim)
    wt = torch.tensor(w, requires_grad=True)
    assert f(w) == pytest.approx(float(tf(wt).detach()), rel=1e-13)
    g = torch.autograd.grad(tf(wt), wt)[0].numpy()
    np.testing.assert_allclose(f.grad(w), g, rtol=1e-11, atol=1e-14)
    H = thessian(tf)(torch.tensor(w)).numpy()
    np.testing.assert_allclose(f.hess(w), H, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(f.hessp(w, u), H @ u, rtol=1e-10, atol=1e-13)


def test_logistic_smoothness_bounds_every_hessian_and_mu_is_attained() -> None:
    X, y = _logreg_problem(3)
    f = LogisticRegression(X, y, alpha=0.1)
    rng = np.random.default_rng(0)
    for _ in range(5):
        lam = np.linalg.eigvalsh(f.hess(3 * rng.standard_normal(f.dim)))
        assert lam[-1] <= f.smoothness + 1e-12
        assert lam[0] == pytest.approx(f.strong_convexity, abs=1e-10)   # the softmax-invariant direction


def test_logistic_minimizer_matches_sklearn() -> None:
    X, y = _logreg_problem(4, n=60)
    alpha = 0.05
    f = LogisticRegression(X, y, alpha=alpha)
    w = f.minimizer()
    # sklearn minimizes C * sum_i CE_i + |W|^2 / 2; with the ones column as a feature and no
    # separate intercept, C = 1 / (n alpha) gives the same minimizer.
    Xa = np.concatenate([X, np.ones((60, 1))], axis=1)
    sk = SkLogReg(C=1 / (60 * alpha), fit_intercept=False, tol=1e-12, max_iter=10_000).fit(Xa, y)
    np.testing.assert_allclose(w.reshape(f.p1, f.K), sk.coef_.T, atol=1e-6)
    assert np.linalg.norm(f.grad(w)) < 1e-9


def test_logistic_validation() -> None:
    X, y = _logreg_problem()
    with pytest.raises(ValueError, match="Invalid y"):
        LogisticRegression(X, y.astype(float))
    with pytest.raises(ValueError, match="Invalid alpha"):
        LogisticRegression(X, y, alpha=-1.0)
    with pytest.raises(ValueError, match="Invalid alpha"):
        LogisticRegression(X, y).minimizer()


def test_pl_nonconvex_derivatives_and_pl_constant() -> None:
    s = pl_nonconvex()
    x = np.linspace(-6, 6, 24001)
    xt = torch.tensor(x, requires_grad=True)
    L = xt**2 + 3 * torch.sin(xt) ** 2
    g = torch.autograd.grad(L.sum(), xt, create_graph=True)[0]
    h = torch.autograd.grad(g.sum(), xt)[0]
    np.testing.assert_allclose([s([v]) for v in x[::500]], L.detach().numpy()[::500], rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose([s.grad([v])[0] for v in x[::500]], g.detach().numpy()[::500], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose([s.hess([v])[0, 0] for v in x[::500]], h.numpy()[::500], rtol=1e-12, atol=1e-14)
    hv = h.numpy()
    assert hv.min() == pytest.approx(-4.0, abs=1e-6) and hv.max() == pytest.approx(8.0, abs=1e-6)   # 8-smooth, not convex
    mu = pl_constant(L.detach().numpy(), g.detach().numpy() ** 2, 0.0)
    assert 1 / 32 <= mu < 0.2
    assert np.all(np.abs(g.detach().numpy()[np.abs(x) > 1e-3]) > 0)   # the only critical point is 0


def test_rate_bounds_hold_on_gd_runs() -> None:
    s = pl_nonconvex()
    k = np.arange(0, 61)
    for lr in (1 / 8, 0.2):
        path = gd_path(s, [2.0], lr, 60)
        gaps = np.array([s(w) for w in path])
        assert np.all(gaps <= pl_bound(k, gap0=gaps[0], lr=lr, M=8.0, mu=1 / 32) * (1 + 1e-12) + 1e-300)
        g2 = np.array([float(s.grad(w) @ s.grad(w)) for w in path])
        best = np.minimum.accumulate(g2)[:-1]
        assert np.all(best <= nonconvex_bound(k[1:], gap0=gaps[0], lr=lr, M=8.0) * (1 + 1e-12))
    X, y = _logreg_problem(5)
    f = LogisticRegression(X, y, alpha=1e-3)
    ws = f.minimizer()
    M = f.smoothness
    path = gd_path(f, np.zeros(f.dim), 1 / M, 200)
    gaps = np.array([f(w) for w in path]) - f(ws)
    assert np.all(gaps[1:] <= convex_bound(np.arange(1, 201), dist0=float(np.linalg.norm(ws)), lr=1 / M, M=M) + 1e-14)
    assert np.all(gaps <= pl_bound(np.arange(201), gap0=gaps[0], lr=1 / M, M=M, mu=1e-3) * (1 + 1e-12))


def test_rate_functions_closed_forms_and_validation() -> None:
    assert guaranteed_decrease(0.25, 2.0) == pytest.approx(0.25 * 0.75)
    assert pl_bound(np.array([3]), gap0=2.0, lr=0.5, M=1.0, mu=0.5)[0] == pytest.approx(2.0 * (1 - 2 * 0.5 * 0.375) ** 3)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        guaranteed_decrease(1.0, 2.0 + 1e-6)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        convex_bound(np.array([1]), dist0=1.0, lr=0.6, M=2.0)
    with pytest.raises(ValueError, match="Invalid k"):
        nonconvex_bound(np.array([0]), gap0=1.0, lr=0.1, M=1.0)
    with pytest.raises(ValueError, match="Invalid PL constant"):
        pl_bound(np.array([1]), gap0=1.0, lr=0.1, M=1.0, mu=2.0)


def test_himmelblau_saddles_are_saddles() -> None:
    s = get_surface("himmelblau")
    saddles = [p for p, kind in s.critical_points if kind == "saddle"]
    assert len(saddles) == 4
    for p in saddles:
        root = so.root(s.grad, p, jac=s.hess, tol=1e-14).x
        np.testing.assert_allclose(root, p, atol=2e-6)
        assert classify(s.hess(root)) == "saddle"


def _tanh_net(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()


@pytest.mark.parametrize("kind", ["mse", "ce"])
def test_gauss_newton_matches_jacobian_formula_and_residual_part(kind: str) -> None:
    net = _tanh_net()
    X = torch.randn(7, 3, dtype=torch.float64)
    if kind == "mse":
        y = torch.randn(7, 2, dtype=torch.float64)
        loss_fn = nn.functional.mse_loss
    else:
        y = torch.randint(0, 2, (7,))
        loss_fn = nn.functional.cross_entropy
    G = gauss_newton(net, loss_fn, X, y)
    theta = flat_params(net)

    def outputs(th: torch.Tensor) -> torch.Tensor:
        return functional_call(net, unflatten(net, th), (X,))

    F = outputs(theta).detach()
    J = torch.autograd.functional.jacobian(outputs, theta).reshape(-1, theta.numel())
    HF = torch.autograd.functional.hessian(lambda o: loss_fn(o.reshape(F.shape), y), F.reshape(-1))
    np.testing.assert_allclose(G, (J.T @ HF @ J).numpy(), rtol=1e-10, atol=1e-13)
    assert np.linalg.eigvalsh(G)[0] > -1e-12
    # the residual part: sum_ic dl/dF_ic * Hessian of F_ic, by torch.func.hessian of a weighted sum
    Fr = F.clone().requires_grad_(True)
    dl = torch.autograd.grad(loss_fn(Fr, y), Fr)[0]
    R = thessian(lambda th: (outputs(th) * dl).sum())(theta).numpy()
    np.testing.assert_allclose(exact_hessian(net, loss_fn, X, y) - G, R, rtol=1e-9, atol=1e-12)


def test_symmetries_keep_the_function_and_rescaling_tangents() -> None:
    torch.manual_seed(0)
    relu = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 2)).double()
    X = torch.randn(20, 3, dtype=torch.float64)
    y = torch.randn(20, 2, dtype=torch.float64)
    out = relu(X)
    torch.testing.assert_close(permute_hidden(relu, 1, [3, 1, 0, 2])(X), out, rtol=1e-13, atol=1e-14)
    torch.testing.assert_close(rescale_hidden(relu, 0, [0.3, 2.0, 1.0, 5.0, 0.7])(X), out, rtol=1e-12, atol=1e-13)
    tanh = _tanh_net()
    Xt = torch.randn(5, 3, dtype=torch.float64)
    assert not torch.allclose(rescale_hidden(tanh, 0, 2.0)(Xt), tanh(Xt))
    # tangents against a central difference of the rescaling curve
    V = rescaling_directions(relu, 1)
    for j in range(4):
        c = np.ones(4)
        c[j] = 1 + 1e-6
        up = flat_params(rescale_hidden(relu, 1, c)).numpy()
        c[j] = 1 - 1e-6
        down = flat_params(rescale_hidden(relu, 1, c)).numpy()
        np.testing.assert_allclose((up - down) / 2e-6, V[j], atol=1e-8)
    g = HessianOperator(relu, nn.functional.mse_loss, X, y).gradient()
    assert np.max(np.abs(V @ g)) < 1e-13 * max(1.0, float(np.abs(g).max()) * float(np.abs(V).max()))
    with pytest.raises(ValueError, match="Invalid perm"):
        permute_hidden(relu, 0, [0, 0, 1, 2, 3])
    with pytest.raises(ValueError, match="Invalid c"):
        rescale_hidden(relu, 0, -1.0)


def test_lanczos_warm_start() -> None:
    rng = np.random.default_rng(0)
    Qm = np.linalg.qr(rng.standard_normal((60, 60)))[0]
    lam = np.linspace(-3.0, 2.0, 60)
    A = Qm @ np.diag(lam) @ Qm.T
    cold = lanczos_topk(A, 1, tol=1e-10)
    warm = lanczos_topk(A, 1, tol=1e-10, v0=Qm[:, -1] + 1e-3 * rng.standard_normal(60))
    assert cold.eigenvalues[0] == pytest.approx(2.0, abs=1e-9) and warm.eigenvalues[0] == pytest.approx(2.0, abs=1e-9)
    assert warm.n_matvec < cold.n_matvec
    with pytest.raises(ValueError, match="Invalid v0"):
        lanczos_topk(A, 1, v0=np.zeros(60))


def test_full_batch_run_against_direct_computation() -> None:
    r = full_batch_run(0.05, 3, n=30, width=3, every=3, tol=1e-10)
    from nbcode.experiments.convergence import _data, half_mse
    from nbcode.train import mlp

    X, Y = _data(30)
    net = mlp([64, 3, 10], nn.Tanh, seed=0)
    lam = np.linalg.eigvalsh(exact_hessian(net, half_mse, X, Y))[-1]
    assert r.sharpness[0] == pytest.approx(lam, rel=1e-8)
    assert r.losses[0] == pytest.approx(float(half_mse(net(X), Y)), rel=1e-14)
    s = edge_summary(r, 0, band=10.0)
    assert s.total == 2


def test_logistic_run_rates() -> None:
    r = logistic_run(0.01, 30)
    k = np.arange(31)
    assert np.all(r.gaps <= pl_bound(k, gap0=r.gaps[0], lr=1 / r.M, M=r.M, mu=r.mu) * (1 + 1e-12))
    assert np.all(r.gaps[1:] <= convex_bound(k[1:], dist0=r.dist0, lr=1 / r.M, M=r.M))
    assert r.lam_min_excited > r.mu
    # the linear rate on the excited directions, near the end of the run
    d = load_digits()
    f = LogisticRegression(d.X_train, d.y_train, alpha=0.01)
    lam = np.linalg.eigvalsh(f.hess(f.minimizer()))
    # the frozen directions are eigenvectors with eigenvalue alpha; the rest of the spectrum is the excited one
    assert r.lam_min_excited == pytest.approx(lam[lam > 0.01 * (1 + 1e-8)][0], rel=1e-8)


def test_plateau_exercise_reference_matches_torch() -> None:
    from nbcode.exercises.convergence import _plateau_lrs

    for losses, lr, factor, patience in [([1.0, 0.9, 0.9, 0.9, 0.9, 0.9], 0.1, 0.5, 2), ([1.0] * 8, 1.0, 0.1, 1),
                                         ([3.0, 2.0, 1.99999, 1.9999, 1.5, 1.6, 1.7, 1.8, 1.9, 1.4], 0.2, 0.5, 2)]:
        p = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.SGD([p], lr=lr)
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=factor, patience=patience)
        want = []
        for loss in losses:
            sched.step(loss)
            want.append(opt.param_groups[0]["lr"])
        np.testing.assert_allclose(_plateau_lrs(losses, lr, factor, patience), want, rtol=1e-15)
