"""nbcode.quadratic: closed forms against iteration, torch autograd, scipy and Newton identities."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.optimize import minimize_scalar

from nbcode import quadratic as Q
from nbcode.optim import gd_path, newton_path


# -- 1-D ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("lr", [0.05, 0.3, 0.45, 0.7, 0.95, 1.2])
def test_measured_contraction_equals_one_minus_eta_a(lr):
    q = Q.Quadratic1D(a=2.0, b=-3.0, c=1.0)
    path = gd_path(q, w0=4.0, lr=lr, steps=12)
    e = path - q.w_star
    keep = np.abs(e[:-1]) > 1e-6  # ratios of errors near machine precision are rounding noise
    measured = e[1:][keep] / e[:-1][keep]
    assert keep.sum() >= 5
    np.testing.assert_allclose(measured, Q.contraction_factor(lr, q.a), rtol=1e-8)
    # The notes' rate R on the loss gap is the square of the contraction factor.
    gap = np.asarray(q(path) - q(q.w_star))[:6]
    np.testing.assert_allclose(Q.convergence_ratios(gap), (1 - lr * q.a) ** 2, rtol=1e-6)


def test_regimes_and_steps_to_tolerance_match_iteration():
    q = Q.Quadratic1D(a=4.0)
    assert [Q.regime(lr, 4.0) for lr in (0.1, 0.25, 0.4, 0.5, 0.6)] == ["monotone", "one step", "oscillating", "cycling", "divergent"]
    for lr in (0.05, 0.1, 0.3, 0.45):
        path = gd_path(q, 1.0, lr, 400)
        k = Q.steps_to_tolerance(lr, 4.0, 1.0, 1e-6)
        assert abs(path[k]) <= 1e-6 < abs(path[k - 1])


# -- N-D quadratics -------------------------------------------------------------------------------


def _random_quadratic(d: int = 4, seed: int = 0) -> Q.QuadraticND:
    rng = np.random.default_rng(seed)
    R, _ = np.linalg.qr(rng.standard_normal((d, d)))
    return Q.quadratic_from_eigs(np.geomspace(0.1, 3.0, d), R, rng.standard_normal(d))


def test_loss_grad_hessian_against_autograd():
    q = _random_quadratic()
    H, b, c = (torch.tensor(v, dtype=torch.float64) for v in (q.H, q.b, q.c))

    def loss(w: torch.Tensor) -> torch.Tensor:
        return 0.5 * w @ H @ w + b @ w + c

    w = np.array([0.3, -1.0, 2.0, 0.5])
    wt = torch.tensor(w, dtype=torch.float64)
    assert float(q(w)) == pytest.approx(float(loss(wt)), rel=1e-13)
    np.testing.assert_allclose(q.grad(w), torch.autograd.functional.jacobian(loss, wt).numpy(), rtol=1e-12)
    np.testing.assert_allclose(q.H, torch.autograd.functional.hessian(loss, wt).numpy(), rtol=1e-12)
    np.testing.assert_allclose(q.grad(q.w_star), 0.0, atol=1e-12)


def test_gd_path_matches_eigenbasis_closed_form():
    q = _random_quadratic(seed=1)
    lr, w0 = 0.5, np.array([1.0, 2.0, -1.0, 0.0])
    path = gd_path(q, w0, lr, 30)
    z0 = q.eigvecs.T @ (w0 - q.w_star)
    r = Q.eigen_contractions(lr, q.eigvals)
    for k in (0, 1, 7, 30):
        np.testing.assert_allclose(path[k], q.w_star + q.eigvecs @ (r**k * z0), rtol=1e-10, atol=1e-12)


def test_quadratic_2d_eigen_and_rotation():
    q = Q.quadratic_2d(25.0, math.pi / 6, lam_max=2.0, w_star=(1.0, -1.0))
    np.testing.assert_allclose(q.eigvals, [0.08, 2.0], rtol=1e-12)
    assert q.kappa == pytest.approx(25.0)
    np.testing.assert_allclose(np.abs(q.eigvecs[:, 0]), [math.cos(math.pi / 6), math.sin(math.pi / 6)], rtol=1e-12)
    np.testing.assert_allclose(q.w_star, [1.0, -1.0], atol=1e-12)
    assert Q.quadratic_2d(25.0, 0.0).H[0, 1] == 0.0  # decoupled


@pytest.mark.parametrize("kappa", [1.5, 4.0, 10.0, 50.0])
def test_best_fixed_lr_minimizes_rate(kappa):
    lam = [1.0 / kappa, 1.0]
    res = minimize_scalar(lambda eta: Q.rate(eta, lam), bounds=(1e-6, Q.max_stable_lr(lam)), method="bounded",
                          options={"xatol": 1e-10})
    assert res.x == pytest.approx(Q.best_fixed_lr(lam), rel=1e-6)
    assert Q.rate(Q.best_fixed_lr(lam), lam) == pytest.approx(Q.optimal_rate(kappa), rel=1e-12)


def test_eigen_regimes_match_one_d_paths():
    q = Q.quadratic_from_eigs([0.2, 1.0, 1.6], w_star=np.zeros(3))
    lr = 1.5  # 1 - lr * lambda = 0.7, -0.5, -1.4
    assert Q.eigen_regimes(lr, q.eigvals) == ["monotone", "oscillating", "divergent"]
    path = gd_path(q, [1.0, 1.0, 1.0], lr, 6)
    for i, lam in enumerate(q.eigvals):
        np.testing.assert_allclose(path[:, i], gd_path(Q.Quadratic1D(lam), 1.0, lr, 6), rtol=1e-12)


def test_max_stable_lr_separates_convergence_from_divergence():
    q = _random_quadratic(seed=2)
    eta_max = Q.max_stable_lr(q.eigvals)
    w0 = np.ones(4)
    ok = gd_path(q, w0, 0.98 * eta_max, 2000)
    bad = gd_path(q, w0, 1.02 * eta_max, 2000)
    assert np.linalg.norm(ok[-1] - q.w_star) < 1e-6
    assert not np.all(np.isfinite(bad[-1])) or np.linalg.norm(bad[-1] - q.w_star) > 1e6


@pytest.mark.parametrize("kappa", [2.0, 10.0, 100.0])
@pytest.mark.parametrize("angle", [0.0, 0.7])
def test_iterations_to_tolerance_best_step_exact(kappa, angle):
    """At the best fixed step both eigen-directions shrink by exactly rho per step, so the
    prediction from kappa alone is exact for any start that is not on an eigenvector."""
    q = Q.quadratic_2d(kappa, angle)
    tol = 1e-6
    path = gd_path(q, [1.0, 0.3], Q.best_fixed_lr(q.eigvals), 20 * int(kappa) + 50)
    assert Q.measured_iterations(path, q.w_star, tol) == Q.predicted_iterations(kappa, tol)


def test_iterations_bound_and_kappa_scaling():
    q = Q.quadratic_2d(30.0, 0.4)
    for lr in (0.2, 0.8, 1.5, 1.9):
        path = gd_path(q, [1.0, 1.0], lr, 5000)
        assert Q.measured_iterations(path, q.w_star, 1e-4) <= Q.iterations_to_tolerance(lr, q.eigvals, 1e-4)
    # iterations ~ (kappa / 2) ln(1/eps) for large kappa
    for kappa in (100.0, 1000.0):
        assert Q.predicted_iterations(kappa, 1e-6) == pytest.approx(kappa / 2 * math.log(1e6), rel=0.01)
    assert Q.iterations_to_tolerance(2.5, [1.0], 0.1) == math.inf


def test_preconditioning_newton_and_jacobi():
    q = Q.quadratic_2d(1000.0, 0.5)
    newton = Q.preconditioned_path(q, [1.0, -2.0], 1.0, 1, np.linalg.inv(q.H))
    np.testing.assert_allclose(newton[1], q.w_star, atol=1e-9)
    # Jacobi preconditioning solves a diagonal (decoupled) quadratic in one step too
    d = Q.quadratic_from_eigs([0.001, 1.0], w_star=np.array([2.0, 3.0]))
    jac = Q.preconditioned_path(d, [0.0, 0.0], 1.0, 1, np.diag(1 / np.diag(d.H)))
    np.testing.assert_allclose(jac[1], d.w_star, rtol=1e-12)
    # ... but on a rotated one it only improves the conditioning of P H
    P = np.diag(1 / np.diag(q.H))
    ev = np.sort(np.linalg.eigvals(P @ q.H).real)
    assert 1 < ev[-1] / ev[0] < q.kappa


def test_quadratic_nd_keeps_its_own_copy_of_h():
    """Editing the caller's H afterwards changes nothing (it used to change q.H, not q.kappa)."""
    H = np.diag([1.0, 4.0])
    q = Q.QuadraticND(H, np.zeros(2))
    H[1, 1] = 100.0
    assert q.H[1, 1] == 4.0 and q.kappa == 4.0
    with pytest.raises(ValueError, match="read-only"):
        q.H[0, 0] = 2.0


# -- Newton in 1-D --------------------------------------------------------------------------------


def test_newton_quadratic_convergence():
    # L(w) = exp(w) - 2w, minimum at ln 2, L''' / (2 L'') = 1/2 at the minimum
    w = newton_path(lambda w: math.exp(w) - 2, 2.0, 6, hess=math.exp)
    e = np.abs(w - math.log(2))
    ratios = Q.convergence_ratios(e[:6], power=2)
    assert ratios[-1] == pytest.approx(0.5, rel=1e-3)
    assert e[5] < 1e-9 and e[6] < 1e-15


def test_newton_linear_on_flat_minimum_and_divergence():
    w4 = newton_path(lambda w: w**3, 1.0, 10, hess=lambda w: 3 * w * w)  # L = w^4/4: e -> 2e/3
    np.testing.assert_allclose(Q.convergence_ratios(w4), 2 / 3, rtol=1e-12)
    lc = newton_path(math.tanh, 1.2, 5, hess=lambda w: 1 / math.cosh(w) ** 2)  # L = log cosh w
    assert np.all(np.diff(np.abs(lc[:4])) > 0) and abs(lc[3]) > 100 and np.isnan(lc[-1])
    ok = newton_path(math.tanh, 1.0, 6, hess=lambda w: 1 / math.cosh(w) ** 2)
    assert abs(ok[-1]) < 1e-10
    assert Q.local_eta_opt(lambda w: 3 * w * w, 2.0) == pytest.approx(1 / 12)


# -- bad input --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: Q.eigen_contractions(-0.1, [1.0]), "Invalid learning rate: -0.1"),
        (lambda: Q.rate(float("nan"), [1.0]), "Invalid learning rate: nan"),
        (lambda: Q.rate(float("inf"), [1.0]), "Invalid learning rate: inf"),
        (lambda: gd_path(Q.quadratic_2d(2.0), [0.0, 0.0], -1.0, 3), "Invalid learning rate: -1.0"),
        (lambda: Q.quadratic_2d(0.5), "Invalid condition number: 0.5"),
        (lambda: Q.quadratic_2d(float("nan")), "Invalid condition number: nan"),
        (lambda: Q.optimal_rate(0.9), "Invalid condition number: 0.9"),
        (lambda: Q.predicted_iterations(-2.0, 0.1), "Invalid condition number: -2.0"),
        (lambda: Q.max_stable_lr([1.0, -1.0]), "Invalid eigenvalues"),
        (lambda: Q.iterations_to_tolerance(0.1, [1.0], 0.0), "Invalid tolerance: 0.0"),
        (lambda: Q.iterations_to_tolerance(0.1, [1.0], 1.5), "Invalid tolerance: 1.5"),
        (lambda: Q.QuadraticND(np.array([[1.0, 2.0], [0.0, 1.0]]), np.zeros(2)), "Invalid Hessian: H must be finite and symmetric"),
        (lambda: Q.QuadraticND(np.diag([1.0, -1.0]), np.zeros(2)), "Invalid Hessian: smallest eigenvalue"),
        (lambda: Q.QuadraticND(np.eye(2), np.zeros(3)), "Invalid shapes"),
        (lambda: Q.quadratic_from_eigs([1.0, 2.0], np.ones((2, 2))), "Invalid rotation"),
        (lambda: Q.preconditioned_path(Q.quadratic_2d(2.0), [0.0], 0.1, 3), r"Invalid shape of starting point: \(1,\)"),
        (lambda: gd_path(Q.quadratic_2d(2.0), [0.0, 0.0], 0.1, -1), "Invalid steps: -1"),
        (lambda: Q.preconditioned_path(Q.quadratic_2d(2.0), [0.0, 0.0], 0.1, 3, np.eye(3)), "Invalid shape of preconditioner"),
        (lambda: Q.local_eta_opt(lambda w: -1.0, 0.0), "Invalid curvature: -1.0"),
        (lambda: newton_path(math.tanh, float("nan"), 3, hess=math.cosh), "Invalid starting point: it contains NaN"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# -- exercises of the chapter -------------------------------------------------------------------


def test_exercises_best_lr_and_iterations():
    from nbcode.exercises import check

    assert check("convergence.best_lr", 0.4)
    assert not check("convergence.best_lr", 2 / 4.5)  # the stability limit, not the best step
    # 691 = ceil(ln(1e6) / ln(101/99)), computed by hand; the exercise asks kappa = 50, eps = 1e-8:
    # ln(1e8) / ln(51/49) = 460.5..., so 461
    assert Q.predicted_iterations(100.0, 1e-6) == 691
    assert Q.predicted_iterations(50.0, 1e-8) == 461
    assert check("convergence.iterations", 461)
    assert not check("convergence.iterations", 691)
