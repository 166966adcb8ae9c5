"""Checks at the door of nbcode.quadratic, nbcode.stochastic and nbcode.surfaces: one test per
message format, and the documented exceptions (NaN rows of a diverged path) that the battery
(scripts/battery.py) is told about in SPECS."""

from __future__ import annotations

import math

import numpy as np
import pytest

import nbcode.quadratic as Q
import nbcode.stochastic as st
from nbcode.data import conditioned_regression
from nbcode.optim import gd_path
from nbcode.surfaces import (LogisticRegression, classify, escape_steps, get_surface, hessian_index, narrow_valley,
                             newton_critical_point, quadratic_bowl)


@pytest.fixture(scope="module")
def prob():
    return conditioned_regression(12, 3, seed=0)


# -- quadratic ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call,exc,match",
    [
        (lambda q: q("0.5"), TypeError, r"Invalid w: '0.5' \(need a real number\)"),
        (lambda q: q(True), TypeError, r"Invalid w: True \(need a real number\)"),
        (lambda q: q.grad(0.5 + 1j), TypeError, r"Invalid w: \(0.5\+1j\) \(need a real number\)"),
        (lambda q: q.grad([0.5]), TypeError, r"Invalid w: \[0.5\] \(need a number or a NumPy array, not a list\)"),
        (lambda q: q(float("nan")), ValueError, r"Invalid w: nan \(need a finite number\)"),
        (lambda q: q.grad(np.float64("inf")), ValueError, r"Invalid w: inf \(need a finite number\)"),
        (lambda q: q(np.array(["a"])), TypeError, r"Invalid w: array of shape \(1,\) and dtype <U1"),
    ],
)
def test_quadratic1d_point(call, exc, match):
    with pytest.raises(exc, match=match):
        call(Q.Quadratic1D(2.0, 1.0))


def test_quadratic1d_arrays_and_numpy_scalars():
    q = Q.Quadratic1D(a=2.0, b=-2.0)
    path = gd_path(q, 3.0, 1.5, 40)  # diverges: padded with NaN, and the loss of the padding is NaN
    assert np.isnan(path[-1]) and np.isnan(q(path)[-1]) and np.isfinite(q(path)[0])
    assert q(np.float32(1.5)) == q(1.5) == q(np.float64(1.5)) and q(3) == q(3.0)
    w16 = np.array([0.5, 1.25], dtype=np.float16)
    assert q(w16).dtype == np.float64 and np.array_equal(q(w16), q(np.array([0.5, 1.25])))
    assert q.grad(np.array([1, 2])).dtype == np.float64
    q32 = Q.Quadratic1D(np.float32(3.0), np.float32(1.0))  # stored as floats: float64 arithmetic
    assert type(q32.a) is float and q32.w_star == -1.0 / 3.0


def test_steps_to_tolerance_messages():
    with pytest.raises(ValueError, match=r"Invalid tolerance: 0 \(need tol > 0\)"):
        Q.steps_to_tolerance(0.1, 1.0, 1.0, 0)
    with pytest.raises(ValueError, match=r"Invalid distance0: -1.0 \(need distance0 >= 0\)"):
        Q.steps_to_tolerance(0.1, 1.0, -1.0, 1e-3)
    with pytest.raises(TypeError, match=r"Invalid distance0: None \(need a real number\)"):
        Q.steps_to_tolerance(0.1, 1.0, None, 1e-3)
    assert Q.steps_to_tolerance(0.0, 1.0, 1.0, 1e-3) == math.inf  # documented: no convergence for |r| >= 1


def test_quadratic_nd_messages():
    H = np.array([[2.0, 1.0], [1.0, 3.0]])
    with pytest.raises(ValueError, match=r"Invalid c: nan \(need a finite number\)"):
        Q.QuadraticND(H, np.zeros(2), float("nan"))
    with pytest.raises(TypeError, match=r"Invalid c: '0' \(need a real number\)"):
        Q.QuadraticND(H, np.zeros(2), "0")
    with pytest.raises(ValueError, match=r"Invalid shapes: H \(2, 2\), b \(2, 1\)"):
        Q.QuadraticND(H, np.zeros((2, 1)))
    with pytest.raises(TypeError, match=r"Invalid b: array of shape \(2,\) and dtype complex128"):
        Q.QuadraticND(H, np.zeros(2) + 1j)
    with pytest.raises(ValueError, match=r"Invalid b: it contains NaN or infinity"):
        Q.QuadraticND(H, np.array([0.0, np.nan]))
    q = Q.QuadraticND(H, np.zeros(2), np.float32(0.5))
    assert type(q.c) is float and q.c == 0.5
    with pytest.raises(ValueError, match=r"Invalid shape of w: \(2, 1\) \(need \(\.\.\., 2\)\)"):
        q(np.zeros((2, 1)))
    with pytest.raises(ValueError, match=r"Invalid shape of w: \(1,\) \(need \(\.\.\., 2\)\)"):
        q.grad(np.zeros(1))
    assert q(np.zeros((5, 4, 2))).shape == (5, 4)


def test_quadratic_factories_messages():
    with pytest.raises(ValueError, match=r"Invalid shape of w_star: \(1,\) \(need \(2,\)\)"):
        Q.quadratic_from_eigs([1.0, 4.0], w_star=[1.0])
    with pytest.raises(ValueError, match=r"Invalid shape of w_star: \(2, 1\) \(need \(2,\)\)"):
        Q.quadratic_from_eigs([1.0, 4.0], w_star=np.zeros((2, 1)))
    with pytest.raises(ValueError, match=r"Invalid shape of eigenvalues: \(2, 1\) \(need a vector\)"):
        Q.rate(0.1, np.ones((2, 1)))
    assert Q.max_stable_lr(4.0) == 0.5  # a single eigenvalue stays valid
    with pytest.raises(TypeError, match=r"Invalid angle: '0' \(need a real number\)"):
        Q.quadratic_2d(4.0, "0")
    with pytest.raises(ValueError, match=r"Invalid lam_max: 0 \(need lam_max > 0\)"):
        Q.quadratic_2d(4.0, lam_max=0)
    with pytest.raises(TypeError, match=r"Invalid w_star: \('a', 1.0\)"):
        Q.quadratic_2d(4.0, w_star=("a", 1.0))
    with pytest.raises(TypeError, match=r"Invalid q: 3 \(need a QuadraticND\)"):
        Q.preconditioned_path(3, [0.0, 0.0], 0.1, 3)


def test_measured_iterations_diverged_path():
    q2 = Q.quadratic_2d(10.0, 0.3)
    path = gd_path(q2, [1.0, 1.0], 2.5, 200)  # diverges: NaN rows never count as arrived
    assert np.isnan(path[-1]).all()
    assert Q.measured_iterations(path, q2.w_star, 1e-3) == math.inf
    with pytest.raises(ValueError, match=r"Invalid path: its first point \[nan, 1.0\] is not finite"):
        Q.measured_iterations(np.array([[np.nan, 1.0], [0.0, 0.0]]), np.zeros(2), 0.5)
    with pytest.raises(TypeError, match=r"Invalid w_star: None"):
        Q.measured_iterations(path, None, 1e-3)
    with pytest.raises(ValueError, match=r"Invalid shape of w_star: \(1,\) \(need \(2,\)\)"):
        Q.measured_iterations(path, [0.0], 1e-3)
    with pytest.raises(ValueError, match=r"Invalid shape of path: \(4,\) \(need 2 dimensions\)"):
        Q.measured_iterations(np.ones(4), np.zeros(1), 0.5)


def test_newton_tools_messages():
    with pytest.raises(TypeError, match=r"Invalid hess: 3 \(need a callable\)"):
        Q.local_eta_opt(3, 1.0)
    with pytest.raises(TypeError, match=r"Invalid w: True \(need a real number, not|Invalid w: True \(need a real number\)"):
        Q.local_eta_opt(lambda w: 1.0, True)
    with pytest.raises(TypeError, match=r"Invalid hess: it returned array of shape \(3,\) and dtype float64 at w=1.0"):
        Q.local_eta_opt(lambda w: np.ones(3), 1.0)
    with pytest.raises(ValueError, match=r"Invalid errors: \[1.0\] \(need at least 2 of them\)"):
        Q.convergence_ratios([1.0])
    with pytest.raises(ValueError, match=r"Invalid errors: it contains NaN or infinity"):
        Q.convergence_ratios([1.0, 0.5, np.nan])
    with pytest.raises(ValueError, match=r"Invalid shape of errors: \(3, 1\) \(need 1 dimension\)"):
        Q.convergence_ratios(np.ones((3, 1)))
    with pytest.raises(ValueError, match=r"Invalid power: 0 \(need power > 0\)"):
        Q.convergence_ratios([1.0, 0.5], power=0)
    assert Q.convergence_ratios([1, 2, 4], power=np.int64(1)).tolist() == [2.0, 2.0]


# -- stochastic -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call,exc,match",
    [
        (lambda p: st.minibatch_sgd("p", np.zeros(3), 0.1, batch_size=4, steps=3), TypeError,
         r"Invalid problem: 'p' \(need a least-squares problem with X, y and w_star"),
        (lambda p: st.per_example_gradients(None, np.zeros(3)), TypeError, r"Invalid problem: None"),
        (lambda p: st.per_example_gradients(p, np.zeros(2)), ValueError, r"Invalid shape of w: \(2,\) \(need \(3,\)\)"),
        (lambda p: st.gradient_noise_variance(p, np.array([0.0, 0.0, np.nan])), ValueError, r"Invalid w: it contains NaN"),
        (lambda p: st.minibatch_sgd(p, np.zeros((3, 1)), 0.1, batch_size=4, steps=3), ValueError,
         r"Invalid shape of starting point: \(3, 1\) \(need \(3,\)\)"),
        (lambda p: st.minibatch_sgd(p, np.zeros(3), 0.1, batch_size=4, steps=True), TypeError,
         r"Invalid number of steps: True \(need an integer, not a bool\)"),
        (lambda p: st.minibatch_sgd(p, np.zeros(3), 0.1, batch_size=4, steps=3, seed=-1), ValueError,
         r"Invalid seed: -1 \(need seed >= 0\)"),
        (lambda p: st.minibatch_sgd(p, np.zeros(3), 0.1, batch_size=4, steps=3, average_from=1.0), TypeError,
         r"Invalid average_from: 1.0 \(need an integer\)"),
        (lambda p: st.batch_indices(6, "2", 3), TypeError, r"Invalid batch size: '2' \(need an integer\)"),
        (lambda p: st.batch_indices(0, 1, 3), ValueError, r"Invalid number of examples: 0 \(need number of examples >= 1\)"),
        (lambda p: st.predicted_minibatch_variance(p, np.zeros(3), 4, replace="yes"), TypeError,
         r"Invalid replace: 'yes' \(need True or False\)"),
        (lambda p: st.minibatch_gradient_variance(p, np.zeros(3), 4, seed=2.5), TypeError, r"Invalid seed: 2.5 \(need an integer\)"),
        (lambda p: st.stationary_excess_loss(p, 0.0, 4), ValueError, r"Invalid learning rate: 0.0 \(need lr > 0\)"),
        (lambda p: st.noise_floor_small_lr(p, True, 4), TypeError, r"Invalid learning rate: True \(need a real number\)"),
    ],
)
def test_stochastic_messages(prob, call, exc, match):
    with pytest.raises(exc, match=match):
        call(prob)


def test_stochastic_numpy_integers_and_lists(prob):
    a = st.minibatch_sgd(prob, np.zeros(3), 0.1, batch_size=4, steps=6, average_from=2)
    b = st.minibatch_sgd(prob, [0, 0, 0], 0.1, batch_size=np.int32(4), steps=np.int64(6), seed=np.int64(0),
                         average_from=np.int64(2))
    assert np.array_equal(a.path, b.path) and np.array_equal(a.avg_excess, b.avg_excess, equal_nan=True)
    assert np.array_equal(st.per_example_gradients(prob, [1, 2, 3]), st.per_example_gradients(prob, np.array([1.0, 2.0, 3.0])))
    assert st.noise_floor_small_lr(prob, 0.0, 4) == 0.0  # no step, no noise floor


# -- surfaces -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call,exc,match",
    [
        (lambda: get_surface(3), TypeError, r"Invalid surface name: 3 \(need a string\)"),
        (lambda: get_surface("nope"), ValueError, r"Invalid surface name: 'nope' \(use one of \["),
        (lambda: get_surface("saddle").hessp([0.0, 0.0], [np.nan, 1.0]), ValueError, r"Invalid vector: it contains NaN"),
        (lambda: quadratic_bowl(np.ones((2, 1))), ValueError, r"Invalid shape of eigenvalues: \(2, 1\) \(need a vector\)"),
        (lambda: quadratic_bowl((1.0, 4.0), angle=None), TypeError, r"Invalid angle: None \(need a real number\)"),
        (lambda: narrow_valley(a=0.0), ValueError, r"Invalid valley curvature a: 0.0 \(need a > 0\)"),
        (lambda: narrow_valley(b="5"), TypeError, r"Invalid valley curvature b: '5' \(need a real number\)"),
        (lambda: classify(np.eye(2), tol="0"), TypeError, r"Invalid tolerance: '0' \(need a real number\)"),
        (lambda: hessian_index(np.eye(2), tol=float("nan")), ValueError, r"Invalid tolerance: nan \(need a finite number\)"),
        (lambda: hessian_index(np.eye(2), tol=-1.0), ValueError, r"Invalid tolerance: -1.0 \(need tol >= 0\)"),
        (lambda: newton_critical_point(None, np.eye, [0.0]), TypeError, r"Invalid grad: None \(need a callable\)"),
        (lambda: newton_critical_point(np.sin, 3, [0.0]), TypeError, r"Invalid hess: 3 \(need a callable\)"),
        (lambda: newton_critical_point(np.sin, np.cos, [0.0], damping=0), ValueError, r"Invalid damping: 0 \(need damping > 0\)"),
        (lambda: newton_critical_point(np.sin, np.cos, [0.0], max_iter=-1), ValueError, r"Invalid max_iter: -1 \(need max_iter >= 0\)"),
        (lambda: newton_critical_point(np.sin, np.cos, [0.0], tol=None), TypeError, r"Invalid tolerance: None \(need a real number\)"),
        (lambda: newton_critical_point(lambda w: w[:1], lambda w: np.eye(2), [1.0, 2.0]), ValueError,
         r"Invalid grad: it returned array of shape \(1,\) and dtype float64 at a point of shape \(2,\) \(need the same shape\)"),
        (lambda: newton_critical_point(lambda w: w, lambda w: 2.0, [1.0, 2.0]), ValueError,
         r"Invalid hess: it returned 2.0 at a point of shape \(2,\) \(need shape \(2, 2\)\)"),
    ],
)
def test_surfaces_messages(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_escape_steps_diverged_path_counts_as_out():
    path = np.array([[0.0, 0.0], [0.1, 0.0], [np.nan, np.nan], [np.nan, np.nan]])
    assert escape_steps(path, [0.0, 0.0], 1.0) == 2


def test_logistic_regression_messages():
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    with pytest.raises(ValueError, match=r"Invalid y: \[0, 0, 1, 2.5\] \(need 4 integer labels\)"):
        LogisticRegression(X, [0, 0, 1, 2.5])
    f = LogisticRegression(X, [0, 0, 1, 1], alpha=0.1)
    with pytest.raises(ValueError, match=r"Invalid shape of w: \(3,\) \(need \(4,\)\)"):
        f.grad(np.zeros(3))
    with pytest.raises(ValueError, match=r"Invalid shape of u: \(4, 1\) \(need \(4,\)\)"):
        f.hessp(np.zeros(4), np.zeros((4, 1)))
