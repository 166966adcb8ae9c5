"""nbcode.stochastic: the SGD loop against torch.optim.SGD, gradient variance and noise floors
against their closed forms, and the O(1/k) rate of SGD with an inverse-time schedule."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nbcode import quadratic as Q
from nbcode import schedules as S
from nbcode import stochastic as st
from nbcode.data import conditioned_regression
from nbcode.optim import gd_path


@pytest.fixture(scope="module")
def prob():
    return conditioned_regression(500, 10, kappa=10.0, noise=0.5, seed=0)


# -- batches ----------------------------------------------------------------------------------


def test_batch_indices_orders():
    n, B = 20, 4
    rs = st.batch_indices(n, B, 15, "reshuffle", seed=3)
    fx = st.batch_indices(n, B, 15, "fixed", seed=3)
    wr = st.batch_indices(n, B, 15, "replacement", seed=3)
    assert rs.shape == fx.shape == wr.shape == (15, B)
    for e in range(3):  # every epoch is a permutation of the data
        assert sorted(rs[5 * e : 5 * e + 5].ravel()) == list(range(n))
        assert sorted(fx[5 * e : 5 * e + 5].ravel()) == list(range(n))
    assert not np.array_equal(rs[:5], rs[5:10])  # reshuffled
    np.testing.assert_array_equal(fx[:5], fx[5:10])  # same order every epoch
    assert wr.min() >= 0 and wr.max() < n
    np.testing.assert_array_equal(st.batch_indices(n, B, 10, "given"), np.tile(np.arange(n).reshape(5, B), (2, 1)))
    assert any(len(set(b)) < B for b in st.batch_indices(n, B, 200, "replacement"))  # repeats happen
    # n not divisible by B: the last partial batch is dropped, each epoch has n // B batches
    odd = st.batch_indices(10, 3, 6, "reshuffle")
    assert len(set(odd[:3].ravel())) == 9


# -- the loop against torch -------------------------------------------------------------------


@pytest.mark.parametrize("order", st.ORDERS)
def test_sgd_matches_torch_step_by_step(prob, order):
    sched = S.cosine_annealing_lr(0.05, T_max=40, eta_min=0.005)
    run = st.minibatch_sgd(prob, np.zeros(10), sched, batch_size=7, steps=120, order=order, seed=5)
    X, y = torch.tensor(prob.X), torch.tensor(prob.y)
    w = torch.zeros(10, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([w], lr=0.05)
    tsched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=40, eta_min=0.005)
    for k, idx in enumerate(st.batch_indices(500, 7, 120, order, seed=5)):
        idx_t = torch.as_tensor(idx)
        opt.zero_grad()
        loss = 0.5 * torch.mean((X[idx_t] @ w - y[idx_t]) ** 2)
        loss.backward()
        assert run.lrs[k] == pytest.approx(opt.param_groups[0]["lr"], rel=1e-11)
        opt.step()
        tsched.step()
        np.testing.assert_allclose(run.path[k + 1], w.detach().numpy(), rtol=1e-10, atol=1e-13)


def test_full_batch_sgd_is_gradient_descent(prob):
    q = Q.QuadraticND(prob.hessian, -prob.X.T @ prob.y / 500)
    run = st.minibatch_sgd(prob, np.ones(10), 0.3, batch_size=500, steps=50)
    np.testing.assert_allclose(run.path, gd_path(q, np.ones(10), 0.3, 50), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(run.excess, [prob.loss(w) - prob.loss(prob.w_star) for w in run.path], rtol=1e-6, atol=1e-12)


def test_iterate_average(prob):
    run = st.minibatch_sgd(prob, np.zeros(10), 0.05, batch_size=1, steps=600, average_from=100, seed=1)
    np.testing.assert_allclose(run.w_avg, run.path[100:].mean(axis=0), rtol=1e-12)
    assert np.isnan(run.avg_excess[99]) and not np.isnan(run.avg_excess[100])
    # Averaging cancels the noise: far below the last iterate's noise floor.
    long = st.minibatch_sgd(prob, np.zeros(10), 0.05, batch_size=1, steps=20000, average_from=2000, order="replacement", seed=2)
    assert long.avg_excess[-1] < 0.1 * long.excess[2000:].mean()


# -- gradient variance --------------------------------------------------------------------------


@pytest.mark.parametrize("replace", [True, False])
def test_minibatch_variance_matches_prediction(prob, replace):
    w = np.zeros(10)
    for B in (1, 3, 10, 40, 150, 400, 499):
        measured = st.minibatch_gradient_variance(prob, w, B, replace=replace, draws=3000, seed=B)
        assert measured == pytest.approx(st.predicted_minibatch_variance(prob, w, B, replace=replace), rel=0.1)
    assert st.minibatch_gradient_variance(prob, w, 500, replace=False) < 1e-20  # the full batch


def test_variance_slope_minus_one(prob):
    Bs = np.array([1, 2, 4, 8, 16, 32, 64])
    v = [st.minibatch_gradient_variance(prob, np.zeros(10), int(B), replace=True, draws=3000, seed=1) for B in Bs]
    slope = np.polyfit(np.log(Bs), np.log(v), 1)[0]
    assert slope == pytest.approx(-1.0, abs=0.05)


def test_per_example_gradients_against_autograd(prob):
    w = np.linspace(-1, 1, 10)
    X, y = torch.tensor(prob.X[:5]), torch.tensor(prob.y[:5])
    wt = torch.tensor(w)
    jac = torch.autograd.functional.jacobian(lambda v: 0.5 * (X @ v - y) ** 2, wt)
    np.testing.assert_allclose(st.per_example_gradients(prob, w)[:5], jac.detach().numpy(), rtol=1e-12)


# -- noise floor and rates ----------------------------------------------------------------------


def test_noise_floor_matches_exact_prediction_and_grows_with_lr(prob):
    floors = []
    for lr in (0.005, 0.02, 0.08):
        run = st.minibatch_sgd(prob, prob.w_star, lr, batch_size=1, steps=30000, order="replacement", seed=4)
        measured = run.excess[5000:].mean()
        assert measured == pytest.approx(st.stationary_excess_loss(prob, lr, 1), rel=0.15)
        floors.append(measured)
    assert floors[0] < floors[1] < floors[2]
    assert floors[2] / floors[0] == pytest.approx(16.0, rel=0.3)  # ~ proportional to eta
    # The exact prediction tends to the first-order eta tr(S) / (4B) as eta -> 0, and it halves with 2B.
    assert st.stationary_excess_loss(prob, 1e-4, 1) == pytest.approx(st.noise_floor_small_lr(prob, 1e-4, 1), rel=1e-3)
    assert st.stationary_excess_loss(prob, 1e-3, 8) == pytest.approx(st.stationary_excess_loss(prob, 1e-3, 4) / 2, rel=1e-2)
    assert st.stationary_excess_loss(prob, 5.0, 1) == float("inf")


def test_sgd_inverse_time_rate_is_one_over_k():
    p = conditioned_regression(200, 4, kappa=4.0, lam_max=1.0, noise=0.5, seed=1)
    lam_min = 0.25
    # eta_k = c / (k + k0) with c * lam_min = 2 > 1: excess loss ~ 1/k
    k0, c = 40, 2.0 / lam_min
    sched = S.inverse_time_lr(c / k0, decay_rate=1.0 / k0)
    runs = np.array([st.minibatch_sgd(p, np.zeros(4), sched, batch_size=1, steps=8000, order="replacement", seed=s).excess
                     for s in range(12)])
    k = np.unique(np.geomspace(500, 8000, 12).astype(int))
    slope = np.polyfit(np.log(k), np.log(runs.mean(axis=0)[k]), 1)[0]
    assert slope == pytest.approx(-1.0, abs=0.15)


def test_fixed_order_cycles_reshuffling_does_not(prob):
    per_epoch = 500 // 50
    fixed = st.minibatch_sgd(prob, np.zeros(10), 0.5, batch_size=50, steps=300 * per_epoch, order="fixed")
    last, prev = fixed.path[-1], fixed.path[-1 - per_epoch]
    np.testing.assert_allclose(last, prev, atol=1e-10)  # a limit cycle with period one epoch ...
    assert np.linalg.norm(last - prob.w_star) > 1e-3  # ... that does not pass through w*
    rr = st.minibatch_sgd(prob, np.zeros(10), 0.5, batch_size=50, steps=300 * per_epoch, order="reshuffle")
    assert np.linalg.norm(rr.path[-1] - rr.path[-1 - per_epoch]) > 1e-4


# -- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda p: st.minibatch_sgd(p, np.zeros(10), 0.1, batch_size=501, steps=5), "Invalid batch size: 501"),
        (lambda p: st.minibatch_sgd(p, np.zeros(10), 0.1, batch_size=0, steps=5), "Invalid batch size: 0"),
        (lambda p: st.minibatch_sgd(p, np.zeros(10), -0.1, batch_size=5, steps=5), "Invalid learning rate: -0.1"),
        (lambda p: st.minibatch_sgd(p, np.zeros(10), float("nan"), batch_size=5, steps=5), "Invalid learning rate: nan"),
        (lambda p: st.minibatch_sgd(p, np.zeros(3), 0.1, batch_size=5, steps=5), r"Invalid shape of starting point: \(3,\)"),
        (lambda p: st.minibatch_sgd(p, np.zeros(10), 0.1, batch_size=5, steps=5, order="sorted"), "Invalid order: 'sorted'"),
        (lambda p: st.minibatch_sgd(p, np.zeros(10), 0.1, batch_size=5, steps=5, average_from=-1), "Invalid average_from: -1"),
        (lambda p: st.batch_indices(10, 5, -1), "Invalid number of steps: -1"),
        (lambda p: st.minibatch_gradient_variance(p, np.zeros(10), 600), "Invalid batch size: 600"),
        (lambda p: st.minibatch_gradient_variance(p, np.zeros(10), 5, draws=1), "Invalid number of draws: 1"),
        (lambda p: st.predicted_minibatch_variance(p, np.zeros(10), 1000), "Invalid batch size: 1000"),
        (lambda p: st.stationary_excess_loss(p, -1.0, 1), "Invalid learning rate: -1.0"),
        (lambda p: st.noise_floor_small_lr(p, float("inf"), 1), "Invalid learning rate: inf"),
    ],
)
def test_bad_input(prob, call, match):
    with pytest.raises(ValueError, match=match):
        call(prob)


def test_exercise_floor_ratio(prob):
    from nbcode.exercises import check

    ratio = st.stationary_excess_loss(prob, 1e-3, 8) / st.stationary_excess_loss(prob, 1e-3, 32)
    assert ratio == pytest.approx(4.0, rel=0.02)
    assert check("convergence.floor_ratio", ratio)
    assert not check("convergence.floor_ratio", 2.0)  # the square root of the right answer
