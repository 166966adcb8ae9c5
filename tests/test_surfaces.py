"""Tests of nbcode.surfaces: derivatives against finite differences, torch.func and scipy; the
second-order test; descent near saddles against the linearized prediction."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.optimize as so
import torch
from torch.func import grad as tgrad
from torch.func import hessian as thessian

from nbcode.optim import gd_path, newton_path
from nbcode.surfaces import (
    SURFACES,
    classify,
    escape_steps,
    get_surface,
    hessian_index,
    newton_critical_point,
    predicted_escape_steps,
    quadratic_bowl,
    rnn_loss,
    rnn_loss_grad,
    rosenbrock,
    two_weight_net,
)

NAMES = sorted(SURFACES)


def _points(s, n=5, seed=0):
    rng = np.random.default_rng(seed)
    lo, hi = np.array(s.box[0::2]), np.array(s.box[1::2])
    return [lo + (hi - lo) * rng.random(2) for _ in range(n)]


@pytest.mark.parametrize("name", NAMES)
def test_derivatives_match_torch_func(name):
    s = get_surface(name)
    for w in _points(s):
        wt = torch.tensor(w, dtype=torch.float64)
        np.testing.assert_allclose(s.grad(w), tgrad(s.value)(wt).numpy(), rtol=1e-12, atol=1e-10)
        np.testing.assert_allclose(s.hess(w), thessian(s.value)(wt).numpy(), rtol=1e-12, atol=1e-10)


@pytest.mark.parametrize("name", NAMES)
def test_derivatives_match_finite_differences(name):
    s = get_surface(name)
    h = 1e-6
    for w in _points(s, 3, seed=1):
        fd_g = np.array([(s(w + h * e) - s(w - h * e)) / (2 * h) for e in np.eye(2)])
        fd_H = np.stack([(s.grad(w + h * e) - s.grad(w - h * e)) / (2 * h) for e in np.eye(2)], axis=1)
        scale = 1.0 + np.abs(s.hess(w)).max()
        np.testing.assert_allclose(s.grad(w), fd_g, atol=1e-6 * scale * (1 + np.abs(w).max() ** 3))
        np.testing.assert_allclose(s.hess(w), fd_H, atol=1e-5 * scale)


@pytest.mark.parametrize("name", NAMES)
def test_hessp_is_hessian_times_vector(name):
    s = get_surface(name)
    v = np.array([0.3, -1.7])
    for w in _points(s, 3, seed=2):
        np.testing.assert_allclose(s.hessp(w, v), s.hess(w) @ v, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dim", [2, 5])
def test_rosenbrock_matches_scipy(dim):
    s = rosenbrock(dim)
    rng = np.random.default_rng(dim)
    for _ in range(4):
        w, v = rng.normal(size=dim), rng.normal(size=dim)
        assert s(w) == pytest.approx(so.rosen(w), rel=1e-13)
        np.testing.assert_allclose(s.grad(w), so.rosen_der(w), rtol=1e-12)
        np.testing.assert_allclose(s.hess(w), so.rosen_hess(w), rtol=1e-12)
        np.testing.assert_allclose(s.hessp(w, v), so.rosen_hess_prod(w, v), rtol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_known_critical_points(name):
    s = get_surface(name)
    assert s.critical_points
    for p, kind in s.critical_points:
        assert np.linalg.norm(s.grad(p)) < 1e-4 * (1 + np.abs(s.hess(p)).max())
        assert classify(s.hess(p), tol=1e-6) == kind


def test_two_weight_net_corrects_the_seed():
    s = two_weight_net()
    H = s.hess([0.0, 0.0])
    np.testing.assert_array_equal(H, [[0.0, -2.0], [-2.0, 0.0]])
    lam, V = np.linalg.eigh(H)
    np.testing.assert_allclose(lam, [-2.0, 2.0])
    np.testing.assert_allclose(np.abs(V[:, 0]), [2**-0.5, 2**-0.5])
    # along the valley w1 w2 = 1 the loss is zero and the zero-curvature direction is its tangent
    for t in (0.5, 1.0, 3.0):
        w = np.array([t, 1.0 / t])
        assert s(w) == 0.0 and np.allclose(s.grad(w), 0.0)
        lam, V = np.linalg.eigh(s.hess(w))
        assert abs(lam[0]) < 1e-12 and lam[1] > 0
        tangent = np.array([1.0, -1.0 / t**2]) / np.hypot(1.0, 1.0 / t**2)
        assert abs(abs(V[:, 0] @ tangent) - 1.0) < 1e-12


def test_classify_cases_and_tolerance():
    assert classify(np.diag([1.0, 2.0])) == "minimum"
    assert classify(np.diag([-1.0, -2.0])) == "maximum"
    assert classify(np.diag([-1.0, 0.0, 2.0])) == "saddle"
    assert classify(np.diag([0.0, 2.0])) == "degenerate"
    assert classify(np.diag([-1e-12, 2.0])) == "degenerate"
    assert classify(np.diag([-1e-3, 2.0]), tol=1e-8) == "saddle"
    assert classify(np.diag([-1e-3, 2.0]), tol=1e-2) == "degenerate"
    assert hessian_index(np.diag([-1.0, -1.0, 1.0, 1.0])) == 0.5


def test_bad_inputs():
    s = get_surface("beale")
    with pytest.raises(ValueError, match="Invalid point"):
        s([np.nan, 1.0])
    with pytest.raises(ValueError, match="Invalid point: expected 2 coordinates"):
        s.grad([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="Invalid point: expected a 1-D vector"):
        s.hess(np.ones((2, 2)))
    with pytest.raises(ValueError, match="Invalid vector"):
        s.hessp([1.0, 1.0], [1.0])
    with pytest.raises(ValueError, match="Invalid surface"):
        get_surface("nope")
    with pytest.raises(ValueError, match="Invalid Hessian"):
        classify(np.ones((2, 3)))
    with pytest.raises(ValueError, match="Invalid Hessian"):
        classify([[np.inf, 0.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match="Invalid tolerance"):
        classify(np.eye(2), tol=-1.0)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        gd_path(s, [1.0, 1.0], -0.1, 3)
    with pytest.raises(ValueError, match="Invalid steps: -3"):
        gd_path(s, [1.0, 1.0], 0.1, -3)
    with pytest.raises(ValueError, match="Invalid noise: -1.0"):
        gd_path(s, [1.0, 1.0], 0.1, 3, noise=-1.0)
    with pytest.raises(ValueError, match="Invalid point: expected 2 coordinates, got 3"):
        gd_path(s, [1.0, 1.0, 1.0], 0.1, 3)
    with pytest.raises(ValueError, match="Invalid lam_min"):
        predicted_escape_steps(0.1, 1.0, 0.1, 1.0)
    with pytest.raises(ValueError, match="Invalid offset or noise"):
        predicted_escape_steps(0.0, -1.0, 0.1, 1.0)
    with pytest.raises(ValueError, match="Invalid radius"):
        escape_steps(np.zeros((3, 2)), [0.0, 0.0], 0.0)
    with pytest.raises(ValueError, match="Invalid eigenvalues"):
        quadratic_bowl([np.nan, 1.0])
    with pytest.raises(ValueError, match=r"Invalid dim: 1 \(need dim >= 2\)"):
        rosenbrock(1)
    with pytest.raises(ValueError, match="Invalid number of time steps"):
        rnn_loss(1.0, 1.0, T=0)
    with pytest.raises(ValueError, match="Invalid starting point"):
        newton_critical_point(s.grad, s.hess, [np.nan, 0.0])


@pytest.mark.parametrize("name", NAMES)
def test_registry_entries_have_a_start_a_window_and_their_minima(name):
    """Every surface of the one registry: a start point inside its window, and minima where the
    gradient vanishes and the second-order test says 'minimum'."""
    s = get_surface(name)
    assert s.w0 is not None and len(s.w0) == s.dim
    x0, x1, y0, y1 = s.box
    assert x0 <= s.w0[0] <= x1 and y0 <= s.w0[1] <= y1
    for m in s.minima:
        np.testing.assert_allclose(s.grad(m), 0.0, atol=1e-4)  # Himmelblau's minima are given to 6 decimals
        assert classify(s.hess(m)) == "minimum"
    x, y, Z = s.grid(7)
    assert Z.shape == (7, 7) and Z[3, 2] == pytest.approx(s([x[2], y[3]]), rel=1e-12, abs=1e-12)


def test_the_two_saddles_have_two_names():
    """x² − y² (no minimum) and ½x² − ½y² + ¼y⁴ (a saddle between two minima) are different surfaces."""
    plain, well = get_surface("saddle"), get_surface("double well")
    assert plain.minima == () and well.minima == ((0.0, 1.0), (0.0, -1.0))
    assert plain.name != well.name
    np.testing.assert_allclose(well.hess([0.0, 0.0]), np.diag([1.0, -1.0]))
    np.testing.assert_allclose(plain.hess([0.0, 0.0]), np.diag([2.0, -2.0]))


def test_gd_converges_on_bowl_and_rosenbrock():
    bowl = quadratic_bowl((1.0, 4.0), angle=0.3)
    path = gd_path(bowl, [2.0, -1.0], 0.2, 200)
    assert np.linalg.norm(path[-1]) < 1e-12
    # one step on the bowl is w - lr H w, exactly
    np.testing.assert_allclose(path[1], path[0] - 0.2 * bowl.hess(path[0]) @ path[0])
    r = rosenbrock()
    path = gd_path(r, [-1.2, 1.0], 1e-3, 20000)
    assert np.linalg.norm(path[-1] - 1.0) < 1e-2


def test_gd_divergence_is_padded_with_nan():
    path = gd_path(quadratic_bowl((1.0, 4.0)), [1.0, 1.0], 1.0, 100, max_norm=1e3)
    assert np.isnan(path[-1]).all() and np.isfinite(path[0]).all()


def test_escape_time_matches_the_linear_prediction_on_the_quadratic_saddle():
    s = get_surface("saddle")  # lambda_min = -2 exactly, linear dynamics
    lr, R = 0.05, 1.0
    for delta in (1e-2, 1e-4, 1e-6):
        k = escape_steps(gd_path(s, [0.0, delta], lr, 400), [0.0, 0.0], R)
        assert k == math.floor(predicted_escape_steps(delta, -2.0, lr, R)) + 1


def test_escape_time_on_the_two_weight_net_follows_log_one_over_delta():
    s = two_weight_net()
    lr, R = 0.05, 0.5
    u = np.array([1.0, 1.0]) / np.sqrt(2.0)
    deltas = np.geomspace(1e-8, 1e-2, 7)
    k = np.array([escape_steps(gd_path(s, d * u, lr, 2000), [0.0, 0.0], R) for d in deltas])
    pred = np.array([predicted_escape_steps(d, -2.0, lr, R) for d in deltas])
    slope = np.polyfit(np.log(1 / deltas), k, 1)[0]
    assert slope == pytest.approx(1.0 / math.log(1.0 + lr * 2.0), rel=0.02)
    assert np.all(np.abs(k - pred) <= 0.1 * pred + 3)


def test_noise_speeds_up_escape_like_predicted():
    s = two_weight_net()
    lr, R, delta = 0.05, 0.5, 1e-8
    u = np.array([1.0, 1.0]) / np.sqrt(2.0)
    quiet = escape_steps(gd_path(s, delta * u, lr, 2000), [0.0, 0.0], R)
    for sigma in (1e-5, 1e-3):
        ks = [escape_steps(gd_path(s, delta * u, lr, 2000, noise=sigma, seed=i), [0.0, 0.0], R) for i in range(20)]
        assert np.mean(ks) < quiet
        assert np.mean(ks) == pytest.approx(predicted_escape_steps(delta, -2.0, lr, R, noise=sigma), rel=0.15)


def test_newton_is_attracted_to_the_saddle():
    s = two_weight_net()
    path = newton_path(s, [0.2, -0.1], 8)
    assert np.linalg.norm(path[-1]) < 1e-10  # Newton goes to the saddle (0, 0) ...
    gd = gd_path(s, [0.2, -0.1], 0.05, 500)
    assert s(gd[-1]) < 1e-6  # ... gradient descent leaves it for the valley of minima


def test_newton_critical_point_finds_himmelblau_points():
    s = get_surface("himmelblau")
    w, it = newton_critical_point(s.grad, s.hess, [-0.3, -0.9])
    np.testing.assert_allclose(w, [-0.270845, -0.923039], atol=1e-5)
    assert classify(s.hess(w)) == "maximum" and it < 50


def test_rnn_cliff_gradient_matches_torch():
    w = torch.tensor([2.0, 8.0, 9.5, 12.0], dtype=torch.float64, requires_grad=True)
    b = torch.tensor([-5.0, -5.0, -3.0, 1.0], dtype=torch.float64, requires_grad=True)
    x = torch.full_like(w, 0.5)
    for _ in range(30):
        x = w * torch.sigmoid(x) + b
    ((x - 0.7) ** 2).sum().backward()
    gw, gb = rnn_loss_grad(w.detach().numpy(), b.detach().numpy(), T=30)
    np.testing.assert_allclose(gw, w.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(gb, b.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(rnn_loss(w.detach().numpy(), b.detach().numpy(), T=30), ((x - 0.7) ** 2).detach().numpy())


def test_rnn_loss_has_a_cliff():
    w = np.linspace(6.0, 11.0, 5001)
    gw, _ = rnn_loss_grad(w, -5.0, T=8)
    assert np.abs(gw).max() > 1000 * np.median(np.abs(gw))
    L = rnn_loss(w, -5.0, T=50)  # for long sequences the wall becomes a jump
    jumps = np.abs(np.diff(L))
    assert jumps.max() > 100 * np.median(jumps)


def test_logistic_value_and_grad_are_the_call_and_the_gradient() -> None:
    from nbcode.surfaces import LogisticRegression

    rng = np.random.default_rng(0)
    f = LogisticRegression(rng.standard_normal((20, 3)), rng.integers(0, 3, 20), alpha=0.1)
    w = rng.standard_normal(f.dim)
    value, g = f.value_and_grad(w)
    assert value == f(w) and np.array_equal(g, f.grad(w))
