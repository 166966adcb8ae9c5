"""Second round of edge fixes for optim / schedules / stochastic / quadratic / surfaces (issue #16)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from nbcode import optim, schedules as S


# --- 1. the divergence rule: only an overflow or a singular Hessian ends a path -----------------

def test_run_propagates_a_bug_in_the_gradient():
    buggy = lambda w: 2 * w if w[0] > 0.85 else np.array([1 / 0])  # noqa: E731
    with pytest.raises(ZeroDivisionError) as info:
        optim.run(optim.sgd(lr=0.1), buggy, [1.0], 4)
    assert "step 1" in str(info.value.__notes__)
    with pytest.raises(TypeError):
        optim.gd_path(lambda w: "not a gradient" + w, 1.0, 0.1, 3)


def test_run_still_pads_overflow_and_singular_newton_with_nan():
    # the book's log cosh example: the Hessian 1 / cosh(w)**2 overflows in Python floats
    lc = optim.newton_path(math.tanh, 1.2, 4, hess=lambda w: 1 / math.cosh(w) ** 2)
    assert np.isnan(lc[-1]) and np.isfinite(lc[:2]).all()
    assert np.isnan(optim.newton_path(lambda w: 2 * w, 0.0, 2, hess=lambda w: 0.0)[1:]).all()   # L'' = 0
    assert np.isnan(optim.gd_path(lambda w: float(w[0]) ** 5 * np.ones(1), [10.0], 1.0, 10)[-1, 0])  # ** overflows


def test_run_with_an_exponentially_growing_schedule():
    assert optim.run(optim.sgd(lr=S.exponential_lr(1e-300, 2.0)), lambda w: 0 * w, [1.0], 1100)[-1].tolist() == [1.0]


# --- 2. closed-form schedules: no intermediate overflow -----------------------------------------

def _torch_lrs(make, lr, steps):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    sched = make(opt)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return np.array(out)


def test_exponential_lr_past_the_overflow_of_the_power_matches_torch():
    ours = S.schedule_values(S.exponential_lr(1e-300, 2.0), 1100)
    ref = _torch_lrs(lambda o: torch.optim.lr_scheduler.ExponentialLR(o, 2.0), 1e-300, 1100)
    np.testing.assert_allclose(ours, ref, rtol=1e-12)
    assert ours[-1] > 1e30
    assert S.exponential_lr(1.0, 10.0)(400) == math.inf          # a true overflow
    ours = S.schedule_values(S.exponential_lr(1e300, 0.5), 1100)  # the power alone underflows
    ref = _torch_lrs(lambda o: torch.optim.lr_scheduler.ExponentialLR(o, 0.5), 1e300, 1100)
    np.testing.assert_allclose(ours, ref, rtol=1e-12)


def test_schedules_bit_identical_where_the_power_is_finite():
    for k in range(0, 300, 7):
        assert S.exponential_lr(0.1, 0.99)(k) == 0.1 * 0.99**k
        assert S.step_lr(0.1, 3, 0.5)(k) == 0.1 * 0.5 ** (k // 3)
        assert S.inverse_power_lr(1.0, 2.0)(k) == 1.0 / (1.0 + k) ** 2.0
        assert S.cyclic_lr(0.0, 1.0, 2, mode="triangular2")(k) == S.cyclic_lr(0.0, 1.0, 2, mode="triangular")(k) * (
            1 / 2.0 ** math.floor(k / 4))


def test_other_closed_forms_do_not_overflow():
    assert S.step_lr(1.0, 1, 10.0)(400) == math.inf
    assert S.multistep_lr(1e-300, list(range(1, 1101)), 2.0)(1100) > 1e30
    assert S.inverse_power_lr(1.0, 200.0)(10**6) == 0.0
    assert S.cyclic_lr(0.0, 1.0, 1, mode="triangular2")(5001) == 0.0
    assert S.cyclic_lr(1e-300, 2e-300, 1, mode="exp_range", gamma=2.0)(1101) > 0


# --- 3. custom schedules: the optimizers' check of every value ----------------------------------

@pytest.mark.parametrize("bad, kind", [(lambda k: math.nan, ValueError), (lambda k: -1.0, ValueError),
                                       (lambda k: "0.1", TypeError)])
def test_schedule_helpers_check_custom_values(bad, kind):
    for call in (lambda: S.schedule_values(bad, 3), lambda: S.robbins_monro_sums(bad, 3), lambda: S.warmup(bad, 2)(0)):
        with pytest.raises(kind, match="Invalid learning rate at step 0"):
            call()
    # the optimizers say the same
    opt = optim.sgd(lr=bad)
    with pytest.raises(kind, match="Invalid learning rate at step 0"):
        opt.update(np.ones(1), opt.init(np.ones(1)), np.ones(1))


def test_schedule_helpers_keep_valid_custom_values():
    assert S.schedule_values(lambda k: np.float64(0.5) / (k + 1), 3).tolist() == [0.5, 0.25, 0.5 / 3]
    assert S.robbins_monro_sums(lambda k: 1, 4) == (4.0, 4.0)
    assert S.schedule_values(S.exponential_lr(1.0, 10.0), 400)[-1] == math.inf   # a true overflow is kept


# --- 4. shapes and values the optimizers' own arithmetic would trip over ------------------------

@pytest.mark.parametrize("make", [optim.adam, optim.adamax, optim.nadam, optim.adagrad, optim.rmsprop, optim.adadelta,
                                  optim.rprop, optim.rprop_backtrack, optim.quickprop,
                                  lambda: optim.momentum_ma(lr=0.1, momentum=0.5),
                                  lambda: optim.momentum_velocity(lr=0.1, momentum=0.5)])
def test_update_refuses_grads_of_another_shape_than_the_state(make):
    opt = make()
    with pytest.raises(ValueError, match=r"Invalid shape of grads: \(3,\) \(the state was made by init for parameters of shape \(2,\)"):
        opt.update(np.ones(3), opt.init(np.ones(2)), np.ones(3))


def test_sgd_momentum_buffer_shape_checked():
    opt = optim.sgd(lr=0.1, momentum=0.9)
    _, s = opt.update(np.ones(2), opt.init(np.ones(2)), np.ones(2))
    with pytest.raises(ValueError, match="Invalid shape of grads"):
        opt.update(np.ones(3), s, np.ones(3))


def test_minimize_lbfgs_refuses_bad_fun_and_grad():
    with pytest.raises(ValueError, match="Invalid fun: it returned array of shape"):
        optim.minimize_lbfgs(lambda w: w, lambda w: w, np.ones(3))
    with pytest.raises(ValueError, match="Invalid grad: it returned 2 values"):
        optim.minimize_lbfgs(lambda w: w @ w, lambda w: w[:2], np.ones(3))
    with pytest.raises(ValueError, match=r"Invalid fun\(x0\): nan"):
        optim.minimize_lbfgs(lambda w: math.nan, lambda w: w, np.ones(3))
    res = optim.minimize_lbfgs(lambda w: np.float64(w @ w), lambda w: 2 * w, np.ones(3))   # a NumPy scalar is fine
    assert res.fun < 1e-20


def test_nesterov_lookahead_path_refuses_a_wrong_shape_gradient():
    with pytest.raises(ValueError, match=r"Invalid grad: it returned shape \(3,\) at step 0"):
        optim.nesterov_lookahead_path(lambda w: np.ones(3), [1.0, 2.0], 0.1, 0.9, 3)


# --- 5-7. stochastic: the problem's minimizer, average_from, one example -----------------------

def _small():
    from nbcode.data import conditioned_regression
    return conditioned_regression(200, 4, kappa=4.0, lam_max=1.0, noise=0.5, seed=1)


def test_least_squares_is_a_protocol_with_documented_construction():
    from nbcode.data import Regression
    from nbcode import stochastic as st
    assert "not a class to instantiate" in st.LeastSquares.__doc__
    p = _small()
    mine = Regression(p.X, p.y, np.linalg.lstsq(p.X, p.y, rcond=None)[0], 0.5)   # what the docstring suggests
    run = st.minibatch_sgd(mine, np.zeros(4), 0.5, batch_size=200, steps=400)
    assert run.excess[-1] < 1e-12


def test_a_wrong_w_star_is_refused():
    from nbcode.data import Regression
    from nbcode import stochastic as st
    p = _small()
    w_true = p.w_star + 0.01   # e.g. the generating weights instead of the least-squares fit
    bad = Regression(p.X, p.y, w_true, 0.5)
    for call in (lambda: st.minibatch_sgd(bad, np.zeros(4), 0.05, batch_size=1, steps=10),
                 lambda: st.stationary_excess_loss(bad, 0.05, 1), lambda: st.noise_floor_small_lr(bad, 0.05, 1)):
        with pytest.raises(ValueError, match="Invalid problem.w_star: .* is not the least-squares solution"):
            call()
    # round-off of an ill-conditioned lstsq solution passes
    from nbcode.data import conditioned_regression
    st.minibatch_sgd(conditioned_regression(300, 6, kappa=1e6, noise=0.5, seed=2), np.zeros(6), 0.01, batch_size=1, steps=2)


def test_average_from_past_the_steps_is_refused():
    from nbcode import stochastic as st
    with pytest.raises(ValueError, match=r"Invalid average_from: 10 \(need average_from <= steps = 3"):
        st.minibatch_sgd(_small(), np.zeros(4), 0.05, batch_size=1, steps=3, average_from=10)
    assert st.minibatch_sgd(_small(), np.zeros(4), 0.05, batch_size=1, steps=3, average_from=3).w_avg is not None
    assert st.minibatch_sgd(_small(), np.zeros(4), 0.05, batch_size=1, steps=3).w_avg is None


def test_predicted_minibatch_variance_of_the_full_batch_is_zero():
    from nbcode.data import Regression
    from nbcode import stochastic as st
    one = Regression(np.array([[1.0, 2.0]]), np.array([1.0]), np.linalg.lstsq(np.array([[1.0, 2.0]]), np.array([1.0]), rcond=None)[0], 0.0)
    assert st.predicted_minibatch_variance(one, np.zeros(2), 1) == 0.0
    assert st.predicted_minibatch_variance(one, np.zeros(2), 1, replace=True) == 0.0
    p = _small()
    s2 = st.gradient_noise_variance(p, np.zeros(4))
    assert st.predicted_minibatch_variance(p, np.zeros(4), 5) == s2 / 5 * 195 / 199   # bit-identical elsewhere


# --- 8. preconditioned_path: P symmetric positive definite --------------------------------------

@pytest.mark.parametrize("P, what", [(np.zeros((2, 2)), "smallest eigenvalue 0"), (np.diag([1.0, -1.0]), "smallest eigenvalue -1"),
                                     (np.array([[1.0, 0.5], [0.0, 1.0]]), "not symmetric")])
def test_preconditioned_path_refuses_a_non_spd_preconditioner(P, what):
    from nbcode import quadratic as Q
    with pytest.raises(ValueError, match=f"Invalid preconditioner: {what}"):
        Q.preconditioned_path(Q.quadratic_2d(10.0, 0.3), [1.0, 1.0], 0.1, 3, P)


def test_preconditioned_path_keeps_inverse_hessian_and_jacobi():
    from nbcode import quadratic as Q
    q = Q.quadratic_2d(100.0, 0.3)
    Hinv = np.linalg.inv(q.H)
    assert np.allclose(Q.preconditioned_path(q, [1.0, 1.0], 1.0, 1, Hinv)[1], q.w_star)
    P = np.diag(1 / np.diag(q.H))
    path = Q.preconditioned_path(q, [1.0, 1.0], 0.5, 5, P)
    assert np.array_equal(path, optim.gd_path(lambda x: P @ q.grad(x), np.array([1.0, 1.0]), 0.5, 5))


# --- 9. huge weights: the logistic loss without inf - inf; a starting point whose loss overflows --

def test_logistic_regression_with_overflowing_logits_matches_torch():
    from nbcode.surfaces import LogisticRegression
    X = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array([0, 0, 1, 1])
    f = LogisticRegression(X, y)
    assert f(np.full(f.dim, 1e300)) == pytest.approx(math.log(2), rel=1e-15)
    w = np.array([1e300, -1e300, 1e300, 1e300])
    ref = torch.nn.functional.cross_entropy(torch.tensor(f.X @ w.reshape(2, 2)), torch.tensor(y)).item()
    assert f(w) == pytest.approx(ref, rel=1e-12) and np.isfinite(f.grad(w)).all()
    w = np.array([0.3, -1.2, 0.5, 2.0])   # ordinary weights: the same numbers as before
    Z = f.X @ w.reshape(2, 2)
    assert f(w) == float(-np.mean((Z - Z.max(1, keepdims=True) - np.log(np.exp(Z - Z.max(1, keepdims=True)).sum(1, keepdims=True)))[np.arange(4), y]) + 0.0)


def test_minibatch_sgd_refuses_a_start_whose_loss_overflows():
    from nbcode import stochastic as st
    with pytest.raises(ValueError, match=r"Invalid starting point: .* \(the excess loss"):
        st.minibatch_sgd(_small(), np.full(4, 1e300), 0.05, batch_size=1, steps=3)
