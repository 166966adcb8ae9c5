"""Tests of nbcode.hessian: HVPs and exact Hessians against torch.func, spectra against
numpy.linalg.eigvalsh, Hutchinson within its predicted standard error, SLQ against the exact
density, critical points of tiny networks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.func import hessian as thessian

from nbcode.data import load_digits, toy2d
from nbcode.hessian import (
    HessianOperator,
    MatrixOperator,
    curvature_along_gradient,
    exact_hessian,
    find_critical_points,
    flat_loss,
    gaussian_density,
    hutchinson_trace,
    hutchinson_variance,
    lanczos,
    lanczos_topk,
    power_iteration,
    predicted_change,
    slq,
    slq_density,
    tiny_mlp_loss,
)
from nbcode.hessian.critical import tiny_mlp_derivatives
from nbcode.train import mlp


@pytest.fixture(scope="module")
def small():
    """A 64-6-10 tanh network (d = 460) on 100 digits, float64, slightly trained."""
    torch.manual_seed(0)
    d = load_digits()
    X = torch.as_tensor(d.X_train[:100])
    y = torch.as_tensor(d.y_train[:100])
    net = mlp([64, 6, 10], nn.Tanh).double()
    opt = torch.optim.SGD(net.parameters(), lr=0.2)
    for _ in range(30):
        opt.zero_grad()
        nn.functional.cross_entropy(net(X), y).backward()
        opt.step()
    opt.zero_grad(set_to_none=True)
    H = exact_hessian(net, nn.functional.cross_entropy, X, y)
    return net, X, y, H


def test_exact_hessian_matches_torch_autograd_double_loop(small):
    net, X, y, H = small
    f, th = flat_loss(net, nn.functional.cross_entropy, X, y)
    th = th.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(f(th), th, create_graph=True)
    rows = [torch.autograd.grad(g[i], th, retain_graph=True)[0] for i in range(0, th.numel(), 37)]
    np.testing.assert_allclose(H[::37], torch.stack(rows).numpy(), rtol=1e-9, atol=1e-12)


def test_hvp_matches_exact_hessian_mse_and_cross_entropy(small):
    net, X, y, H = small
    op = HessianOperator(net, nn.functional.cross_entropy, X, y)
    rng = np.random.default_rng(0)
    for _ in range(3):
        v = rng.standard_normal(op.dim)
        np.testing.assert_allclose(op.matvec(v), H @ v, rtol=1e-9, atol=1e-12)
    assert op.n_matvec == 3
    # through F.mse_loss too (where jvp(grad(f)) fails)
    lin = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    Xs, ys = torch.randn(10, 3, dtype=torch.float64), torch.randn(10, 2, dtype=torch.float64)
    op2 = HessianOperator(lin, nn.functional.mse_loss, Xs, ys)
    f, th = flat_loss(lin, nn.functional.mse_loss, Xs, ys)
    Ht = thessian(f)(th).numpy()
    np.testing.assert_allclose(op2.dense(), Ht, rtol=1e-10, atol=1e-12)


def test_model_untouched_by_hessian_tools(small):
    net, X, y, _ = small
    before = {k: v.clone() for k, v in net.state_dict().items()}
    op = HessianOperator(net, nn.functional.cross_entropy, X, y)
    lanczos_topk(op, k=2, tol=1e-6)
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k])
    assert all(p.grad is None for p in net.parameters())


def test_lanczos_topk_matches_eigvalsh(small):
    net, X, y, H = small
    exact = np.linalg.eigvalsh(H)[::-1]
    op = HessianOperator(net, nn.functional.cross_entropy, X, y)
    r = lanczos_topk(op, k=3, tol=1e-7, seed=3)
    np.testing.assert_allclose(r.eigenvalues, exact[:3], rtol=1e-6)
    assert np.all(np.diff(r.eigenvalues) < 0)  # distinct, in decreasing order
    assert r.n_matvec == op.n_matvec < 100
    # Ritz vectors are eigenvectors
    for lam, v in zip(r.eigenvalues, r.eigenvectors.T):
        assert np.linalg.norm(H @ v - lam * v) < 1e-5 * lam


def test_lanczos_finds_repeated_and_clustered_eigenvalues_without_ghosts():
    rng = np.random.default_rng(0)
    lam = np.concatenate([[10.0, 9.99, 9.0], rng.uniform(0.0, 1.0, 197)])
    Q, _ = np.linalg.qr(rng.standard_normal((200, 200)))
    A = (Q * lam) @ Q.T
    r = lanczos_topk(A, k=3, tol=1e-10)
    np.testing.assert_allclose(r.eigenvalues, [10.0, 9.99, 9.0], rtol=1e-8)
    # full reorthogonalization: after many steps Q stays orthonormal, no ghost copies of 10
    a, b, Qm = lanczos(A, 120)
    np.testing.assert_allclose(Qm.T @ Qm, np.eye(Qm.shape[1]), atol=1e-10)
    theta = np.linalg.eigvalsh(np.diag(a) + np.diag(b, 1) + np.diag(b, -1))
    assert np.sum(np.abs(theta - 10.0) < 1e-6) == 1


def test_lanczos_needs_fewer_products_than_power_iteration():
    lam = np.linspace(0.5, 0.0, 300)
    lam[:2] = 1.0, 0.95  # a small gap: power iteration converges like 0.95^(2k)
    A = np.diag(lam)
    target = 1e-6
    p = power_iteration(MatrixOperator(A), tol=0.0, max_iter=400, seed=0)
    k_power = next(i + 1 for i, h in enumerate(p.history) if abs(h - 1.0) <= target)
    l = lanczos_topk(A, k=1, tol=1e-12, seed=0)
    k_lanczos = next(i + 1 for i, h in enumerate(l.history) if abs(h - 1.0) <= target)
    assert k_lanczos * 3 < k_power
    # the power method's rate: the Rayleigh quotient error falls like (λ2/λ1)^(2k)
    err = np.abs(np.array(p.history[20:120]) - 1.0)
    rate = np.exp(np.polyfit(np.arange(err.size), np.log(err), 1)[0])
    assert rate == pytest.approx(0.95**2, rel=1e-3)


def test_power_iteration_matches_largest_magnitude(small):
    net, X, y, H = small
    lam = np.linalg.eigvalsh(H)
    r = power_iteration(HessianOperator(net, nn.functional.cross_entropy, X, y), tol=1e-10, max_iter=3000)
    assert r.eigenvalues[0] == pytest.approx(lam[np.argmax(np.abs(lam))], rel=1e-5)
    t = np.linspace(-1.0, 1.0, 5)
    assert np.allclose(slq_density(np.diag([0.0, 0.5]), t, m=2, sigma=0.2), gaussian_density(t, [0.0, 0.5], [0.5, 0.5], 0.2))


def test_hutchinson_within_predicted_standard_error(small):
    net, X, y, H = small
    op = HessianOperator(net, nn.functional.cross_entropy, X, y)
    tr = float(np.trace(H))
    n = 30
    se_pred = math.sqrt(hutchinson_variance(H) / n)
    z = []
    for seed in range(5):
        est, se = hutchinson_trace(op, n, seed=seed)
        assert abs(est - tr) < 3.5 * se_pred
        assert se == pytest.approx(se_pred, rel=0.5)
        z.append((est - tr) / se_pred)
    assert 0.2 < np.std(z) < 2.5


def test_hutchinson_variance_formula_by_monte_carlo():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((6, 6))
    A = A + A.T
    Z = rng.choice([-1.0, 1.0], size=(20000, 6))
    samples = np.einsum("ni,ij,nj->n", Z, A, Z)
    assert samples.var() == pytest.approx(hutchinson_variance(A), rel=0.05)


def test_slq_density_matches_exact_spectrum(small):
    net, X, y, H = small
    lam = np.linalg.eigvalsh(H)
    op = HessianOperator(net, nn.functional.cross_entropy, X, y)
    nodes, w = slq(op, m=30, n_probes=6, seed=0)
    assert w.sum() == pytest.approx(1.0, abs=1e-12)
    # Gauss quadrature is exact for polynomials of degree < 2m: the first moments agree with the
    # probes' own quadratic forms; against the exact moments, up to Monte Carlo error
    hutch, _ = hutchinson_trace(op, 6, seed=0)  # the same probes
    assert w @ nodes == pytest.approx(hutch / lam.size, rel=1e-10)
    se = math.sqrt(hutchinson_variance(H) / 6) / lam.size
    assert abs(w @ nodes - lam.mean()) < 4 * se
    zs = np.random.default_rng(0).choice([-1.0, 1.0], size=(6, lam.size))
    second = np.mean([z @ H @ (H @ z) for z in zs]) / lam.size
    assert w @ nodes**2 == pytest.approx(second, rel=1e-8)
    t = np.linspace(lam.min() - 0.5, lam.max() + 0.5, 400)
    sigma = 0.05 * (lam.max() - lam.min())
    exact = gaussian_density(t, lam, np.full(lam.size, 1.0 / lam.size), sigma)
    est = gaussian_density(t, nodes, w, sigma)
    l1 = np.trapezoid(np.abs(est - exact), t)
    assert l1 < 0.1
    # the extreme Ritz values converge to the extreme eigenvalues
    assert nodes.max() == pytest.approx(lam.max(), rel=1e-4)


def test_slq_is_exact_with_m_equal_dimension():
    lam = np.array([-1.0, 0.5, 2.0, 3.0])
    nodes, w = slq(np.diag(lam), m=4, n_probes=3, seed=1)
    for p in (1, 2, 3, 5):
        assert w @ nodes**p == pytest.approx(np.mean(lam**p), rel=1e-10)


def test_curvature_along_gradient_and_taylor_prediction(small):
    net, X, y, H = small
    op = HessianOperator(net, nn.functional.cross_entropy, X, y)
    g = op.gradient()
    gg, gHg = curvature_along_gradient(net, nn.functional.cross_entropy, X, y)
    assert gg == pytest.approx(g @ g, rel=1e-12)
    assert gHg == pytest.approx(g @ H @ g, rel=1e-9)
    f, th = flat_loss(net, nn.functional.cross_entropy, X, y)
    L0 = float(f(th))
    for lr in (0.01, 0.05):
        actual = float(f(th - lr * torch.as_tensor(g))) - L0
        pred = predicted_change(gg, gHg, lr)
        assert actual == pytest.approx(pred, rel=0.02)


def test_tiny_mlp_derivatives_match_torch_func():
    X, y = toy2d("moons", 30, noise=0.3, seed=1)
    f, d = tiny_mlp_loss(X, 2.0 * y - 1, hidden=3)
    W = np.random.default_rng(0).standard_normal((4, d))
    L, g, H = tiny_mlp_derivatives(X, 2.0 * y - 1, 3, W)
    for r in range(4):
        wt = torch.as_tensor(W[r])
        assert L[r] == pytest.approx(float(f(wt)), rel=1e-13)
        np.testing.assert_allclose(g[r], torch.func.grad(f)(wt).numpy(), rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(H[r], thessian(f)(wt).numpy(), rtol=1e-10, atol=1e-13)


def test_critical_points_of_a_tiny_network():
    X, y = toy2d("moons", 100, noise=0.3, seed=0)
    cps = find_critical_points(X, 2.0 * y - 1, 4, n_inits=6, gd_steps=(0, 100, 1000), lr=0.2, iters=150, seed=0)
    assert len(cps) >= 4
    f, d = tiny_mlp_loss(X, 2.0 * y - 1, hidden=4)
    for c in cps:
        wt = torch.as_tensor(c.w)
        assert np.linalg.norm(torch.func.grad(f)(wt).numpy()) < 1e-7
        np.testing.assert_allclose(c.eigenvalues, np.linalg.eigvalsh(thessian(f)(wt).numpy()), atol=1e-8)
        assert 0.0 <= c.index <= 1.0 and c.index + c.minimum_ratio <= 1.0
    # the recorded starts are gradient-descent stopping points: each is a point of some run,
    # distinct from the critical point it led to
    assert all(c.start is not None and c.start.shape == c.w.shape and np.linalg.norm(c.start - c.w) > 0 for c in cps)
    # higher loss, higher index (Dauphin et al.): a positive rank correlation
    from scipy.stats import spearmanr

    assert spearmanr([c.loss for c in cps], [c.index for c in cps])[0] > 0.5


def test_bad_inputs():
    with pytest.raises(ValueError, match="Invalid model: ReLU has no parameters"):
        HessianOperator(nn.ReLU(), nn.functional.mse_loss, torch.zeros(2, 1), torch.zeros(2, 1))
    A = np.diag([1.0, 2.0])
    with pytest.raises(ValueError, match="Invalid k"):
        lanczos_topk(A, k=3)
    with pytest.raises(ValueError, match="Invalid k"):
        lanczos_topk(A, k=0)
    with pytest.raises(ValueError, match="Invalid number of Lanczos steps"):
        lanczos(A, 5)
    with pytest.raises(ValueError, match="Invalid number of Lanczos steps"):
        slq(A, m=3)
    with pytest.raises(ValueError, match="Invalid which"):
        lanczos_topk(A, which="SA")
    with pytest.raises(ValueError, match="Invalid shape of matrix"):
        MatrixOperator(np.ones((2, 3)))
    with pytest.raises(ValueError, match="Invalid matrix"):
        MatrixOperator([[np.nan, 0.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match=r"Invalid shape of vector: \(3,\) \(need \(2,\)\)"):
        MatrixOperator(A).matvec(np.ones(3))
    with pytest.raises(ValueError, match="Invalid number of samples"):
        hutchinson_trace(A, 1)
    with pytest.raises(ValueError, match="Invalid smoothing width"):
        gaussian_density([0.0], [0.0], [1.0], 0.0)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        predicted_change(1.0, 1.0, -0.1)
    with pytest.raises(ValueError, match="Invalid tolerance"):
        power_iteration(A, tol=-1.0)
    with pytest.raises(ValueError, match="Invalid number of hidden units"):
        tiny_mlp_loss(np.zeros((3, 2)), np.zeros(3), 0)
    with pytest.raises(ValueError, match=r"Invalid shape of y: \(4,\) \(need \(3,\)\)"):
        tiny_mlp_loss(np.zeros((3, 2)), np.zeros(4), 2)
    with pytest.raises(ValueError, match="Invalid parameter vectors"):
        tiny_mlp_derivatives(np.zeros((3, 2)), np.zeros(3), 2, np.zeros((1, 5)))
    with pytest.raises(ValueError, match="Invalid gd_steps"):
        find_critical_points(np.zeros((3, 2)), np.zeros(3), 2, gd_steps=())


# --- issue #16: multiplicities, scale-invariant stopping rules, a convergence flag that means something


def _rotated(lam: np.ndarray, seed: int = 0) -> np.ndarray:
    Q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((lam.size, lam.size)))
    A = (Q * lam) @ Q.T
    return 0.5 * (A + A.T)


def test_lanczos_topk_finds_repeated_top_eigenvalues():
    """One Krylov space sees each eigenspace once: [5, 5, 1, 0.5] used to give top-2 [5, 1]."""
    A = np.diag([5.0, 5.0, 1.0, 0.5])
    for k in (2, 3, 4):
        r = lanczos_topk(A, k=k, tol=1e-10)
        np.testing.assert_allclose(r.eigenvalues, np.linalg.eigvalsh(A)[::-1][:k], rtol=1e-12)
        assert r.converged
    # a rotated 120-dimensional matrix with a triple and a double eigenvalue on top
    lam = np.concatenate([[10.0, 10.0, 10.0, 9.0, 9.0, 8.0], np.random.default_rng(1).uniform(-2.0, 7.0, 114)])
    A = _rotated(lam)
    ref = np.linalg.eigvalsh(A)[::-1]
    r = lanczos_topk(A, k=6, tol=1e-9, seed=2)
    np.testing.assert_allclose(r.eigenvalues, ref[:6], rtol=1e-9)
    V = r.eigenvectors
    np.testing.assert_allclose(V.T @ V, np.eye(6), atol=1e-8)  # independent vectors within each eigenspace
    assert np.all(np.linalg.norm(A @ V - V * r.eigenvalues, axis=0) <= 1e-9 * np.abs(r.eigenvalues))
    # by magnitude: -5 twice and +5 once
    r = lanczos_topk(_rotated(np.array([-5.0, 5.0, -5.0, 1.0, 0.5, -0.2])), k=3, which="LM", tol=1e-10)
    np.testing.assert_allclose(np.sort(r.eigenvalues), [-5.0, -5.0, 5.0], rtol=1e-10)
    # k = 1 needs no restart: a multiplicity does not change the top value
    r1 = lanczos_topk(A, k=1, tol=1e-9, seed=2)
    assert r1.eigenvalues[0] == pytest.approx(10.0, rel=1e-9)


def test_lanczos_topk_on_a_network_with_symmetric_initialization():
    """Five identical hidden units: the Hessian commutes with their permutations, so it has
    eigenvalues of multiplicity 4 (here the 3rd to 6th largest, 0.3104); before the fix Lanczos
    returned the 4-fold eigenvalue once and then the next ones (0.148, 0.085, ...)."""
    net = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2)).double()
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[0.3, -0.2, 0.5]], dtype=torch.float64).repeat(5, 1))
        net[0].bias.fill_(0.1)
        net[2].weight.copy_(torch.tensor([[0.4], [-0.3]], dtype=torch.float64).repeat(1, 5))
        net[2].bias.zero_()
    g = torch.Generator().manual_seed(1)
    X = torch.randn(30, 3, generator=g, dtype=torch.float64)
    y = torch.randint(0, 2, (30,), generator=g)
    ce = nn.functional.cross_entropy
    lam = np.linalg.eigvalsh(exact_hessian(net, ce, X, y))[::-1]
    assert lam[2] - lam[5] < 1e-12 * lam[0] and lam[5] - lam[6] > 0.2 * lam[0]  # the 4-fold eigenvalue
    r = lanczos_topk(HessianOperator(net, ce, X, y), k=6, tol=1e-9)
    np.testing.assert_allclose(r.eigenvalues, lam[:6], rtol=1e-8)
    assert r.converged


@pytest.mark.parametrize("scale", [1e-13, 1.0, 1e13])
def test_stopping_rules_are_relative(scale):
    """The same matrix times 1e-13 or 1e13: the same eigenvalues times the scale, after the same
    number of products. (Before, at 1e-13 Lanczos stopped after one step on the absolute threshold
    1e-10 and returned a Rayleigh quotient that is not an eigenvalue.)"""
    lam = np.concatenate([[3.0, 2.5, 2.0], np.linspace(-1.0, 1.0, 57)])
    A = _rotated(lam, seed=3)
    ref = lanczos_topk(A, k=3, tol=1e-10)
    r = lanczos_topk(scale * A, k=3, tol=1e-10)
    np.testing.assert_allclose(r.eigenvalues / scale, [3.0, 2.5, 2.0], rtol=1e-9)
    assert r.n_matvec == ref.n_matvec and r.converged
    a0, b0, Q0 = lanczos(A, 40)
    a, b, Q = lanczos(scale * A, 40)
    assert Q.shape == Q0.shape == (60, 40)
    np.testing.assert_allclose(a / scale, a0, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(b / scale, b0, rtol=1e-8)
    # an invariant Krylov space is still detected at every scale (4 distinct eigenvalues: 4 steps)
    assert lanczos(scale * np.diag([1.0, 1.0, 2.0, 3.0, 4.0]), 5)[0].size == 4
    nodes0, w0 = slq(A, m=20, n_probes=2, seed=1)
    nodes, w = slq(scale * A, m=20, n_probes=2, seed=1)
    np.testing.assert_allclose(nodes / scale, nodes0, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(w, w0, rtol=1e-8, atol=1e-14)
    p = power_iteration(scale * A, tol=1e-8)
    assert p.converged and p.eigenvalues[0] / scale == pytest.approx(3.0, rel=1e-12)


def test_power_iteration_detects_a_plus_minus_pair():
    """diag(3, -3, 1): the iterates alternate, and the Rayleigh quotient settles at a value that
    is not an eigenvalue; it used to be returned (and reported converged)."""
    for A in (np.diag([3.0, -3.0, 1.0]), _rotated(np.array([3.0, -3.0, 1.0, 0.5, -0.2, 2.0]), seed=4)):
        r = power_iteration(A, tol=1e-8)
        assert r.converged
        np.testing.assert_allclose(r.eigenvalues, [3.0, -3.0], rtol=1e-8)
        V = r.eigenvectors
        assert np.all(np.linalg.norm(A @ V - V * r.eigenvalues, axis=0) <= 1e-8 * 3.0)
    # the two-weight network y = w2 w1 x at the origin, L = (w2 w1 - 1)^2: H = [[0, -2], [-2, 0]], a saddle ±2
    net = nn.Sequential(nn.Linear(1, 1, bias=False), nn.Linear(1, 1, bias=False)).double()
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
    one = torch.ones(1, 1, dtype=torch.float64)
    op = HessianOperator(net, nn.functional.mse_loss, one, one)
    np.testing.assert_allclose(op.dense(), [[0.0, -2.0], [-2.0, 0.0]], atol=1e-15)
    r = power_iteration(op)
    assert r.converged and r.eigenvalues.tolist() == pytest.approx([2.0, -2.0], rel=1e-10)


def test_power_iteration_converged_means_an_eigenvalue_to_the_tolerance():
    rng = np.random.default_rng(5)
    for trial in range(5):
        lam = np.concatenate([[4.0, -3.6], rng.uniform(-3.0, 3.0, 38)])
        A = _rotated(lam, seed=trial)
        exact = np.linalg.eigvalsh(A)
        for tol in (1e-3, 1e-6, 1e-9):
            r = power_iteration(A, tol=tol, max_iter=5000, seed=trial)
            v, l = r.eigenvectors[:, 0], r.eigenvalues[0]
            assert r.converged and np.linalg.norm(A @ v - l * v) <= tol * abs(l)
            assert np.min(np.abs(exact - l)) <= tol * abs(l)  # an eigenvalue within the residual
            assert l == pytest.approx(4.0, rel=max(tol, 1e-12))  # the largest *magnitude*
    # out of iterations: not converged, and the flag says so
    r = power_iteration(_rotated(np.array([4.0, -3.9, 1.0])), tol=1e-12, max_iter=5)
    assert not r.converged and r.n_matvec == 5
    # largest magnitude, not largest: a negative one wins
    assert power_iteration(np.diag([1.0, 2.0, -5.0]), tol=1e-10).eigenvalues[0] == pytest.approx(-5.0, rel=1e-9)


def test_lanczos_topk_reports_running_out_of_products():
    A = _rotated(np.linspace(1.0, 2.0, 80), seed=6)  # no gap: slow convergence
    r = lanczos_topk(A, k=2, tol=1e-12, max_iter=5)
    assert not r.converged and r.n_matvec == 5 and r.eigenvalues.size == 2
    assert lanczos_topk(A, k=2, tol=1e-8).converged


def test_lanczos_topk_on_random_spectra_with_planted_multiplicities():
    """15 rotated matrices with repeated outliers (1 to 3 copies, some just above a dense bulk
    in [-1, 1]), k from 1 to 5, by value and by magnitude: the top k of eigvalsh every time."""
    rng = np.random.default_rng(123)
    for trial in range(15):
        d, k = int(rng.integers(20, 60)), int(rng.integers(1, 6))
        planted = np.concatenate([np.full(int(rng.integers(1, 4)), v) for v in
                                  [rng.uniform(1.0, 3.0), rng.choice([1.001, 1.05, 2.0])]])
        lam = np.concatenate([planted, rng.uniform(-1.0, 1.0, d - planted.size)])
        which = "LM" if trial % 3 == 0 else "LA"
        if which == "LM":
            lam = lam * rng.choice([-1.0, 1.0], size=d)
        r = lanczos_topk(_rotated(lam, seed=trial), k=k, tol=1e-8, which=which, seed=trial)
        key = np.abs if which == "LM" else (lambda x: x)
        np.testing.assert_allclose(np.sort(key(r.eigenvalues)), np.sort(key(lam))[::-1][:k][::-1], rtol=1e-7)
        assert r.converged


class _Diagonal:
    """diag(lam) as an operator (Lanczos with a random start does not care about the basis)."""

    def __init__(self, lam: np.ndarray) -> None:
        self.lam, self.dim, self.n_matvec = lam, lam.size, 0

    def matvec(self, v: np.ndarray) -> np.ndarray:
        self.n_matvec += 1
        return self.lam * v


def test_lanczos_topk_finds_a_hidden_copy_in_high_dimension():
    """In 20,000 dimensions every component of a random start is about 0.007: after one step the
    restart's Rayleigh quotient (0.005) and residual (0.04) say nothing about the second copy of 5.
    A restart must not stop on "small and far below the k-th value" alone (that returned
    [5, 4]); it stops once the copy would have shown (Chebyshev bound) or has converged."""
    lam = np.concatenate([[5.0, 5.0, 4.0], np.random.default_rng(0).uniform(0.0, 0.01, 19_997)])
    r = lanczos_topk(_Diagonal(lam), k=2, tol=1e-8)
    assert r.eigenvalues.tolist() == pytest.approx([5.0, 5.0], rel=1e-10) and r.converged
    assert r.n_matvec < 40
    r = lanczos_topk(_Diagonal(lam), k=3, tol=1e-8)
    assert r.eigenvalues.tolist() == pytest.approx([5.0, 5.0, 4.0], rel=1e-10) and r.converged
    # and without a copy the check is cheap: the restart stops after a few products
    lam[1] = 3.0
    r = lanczos_topk(_Diagonal(lam), k=2, tol=1e-8)
    assert r.eigenvalues.tolist() == pytest.approx([5.0, 4.0], rel=1e-10) and r.converged and r.n_matvec < 30
