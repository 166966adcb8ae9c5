"""Edges of nbcode.optim and nbcode.schedules: one test per message introduced at the door, and
the semantics kept where a bad-looking input is valid (checked against torch where it has the
same thing)."""

from __future__ import annotations

import itertools
from typing import Any, Callable

import numpy as np
import pytest
import torch

from nbcode import optim
from nbcode import schedules as S

W = np.array([1.0, -2.0, 3.0])
G = np.array([0.5, 1.0, -1.0])

FACTORIES: list[Callable[[], optim.Optimizer]] = [
    lambda: optim.sgd(lr=0.1), lambda: optim.sgd(lr=0.1, momentum=0.9, engine="numpy"), lambda: optim.momentum_ma(0.1, 0.5),
    lambda: optim.momentum_velocity(0.1, 0.5), lambda: optim.adagrad(), lambda: optim.rmsprop(),
    lambda: optim.rmsprop(engine="numpy"), lambda: optim.adadelta(), lambda: optim.adam(), lambda: optim.adam(engine="numpy"),
    lambda: optim.adamw(), lambda: optim.adamax(), lambda: optim.nadam(), lambda: optim.rprop(), lambda: optim.rprop_backtrack(),
    lambda: optim.newton(lambda w: np.eye(w.size)), lambda: optim.quickprop(), lambda: optim.lbfgs(),
]


# -- optimizers: the state, the step ----------------------------------------------------------

@pytest.mark.parametrize("make", FACTORIES)
@pytest.mark.parametrize("state", [None, "state", 3, ()])
def test_update_refuses_a_state_that_init_did_not_return(make: Callable[[], optim.Optimizer], state: Any) -> None:
    opt = make()
    with pytest.raises(TypeError, match=r"Invalid state: .* \(need the \w+State returned by this optimizer's init\)"):
        opt.update(G, state, W)
    with pytest.raises(TypeError, match=r"Invalid state: "):
        opt.update_(G, state, W.copy())


def test_a_state_of_another_optimizer_is_refused() -> None:
    with pytest.raises(TypeError, match=r"Invalid state: SGDState.*need the AdamState"):
        optim.adam().update(G, optim.sgd(lr=0.1).init(W), W)


def test_update_takes_nan_parameters_like_torch() -> None:
    """A diverged run's parameters are NaN: the update goes on (torch.optim does the same)."""
    w = np.array([np.nan, 1.0])
    u, _ = optim.sgd(lr=0.1).update(np.array([1.0, 1.0]), optim.sgd(lr=0.1).init(np.array([0.0, 1.0])), w)
    p = torch.tensor(w, requires_grad=True)
    p.grad = torch.ones(2, dtype=torch.float64)
    torch.optim.SGD([p], lr=0.1).step()
    np.testing.assert_array_equal(w + u, p.detach().numpy())


@pytest.mark.parametrize("lr", [0.1, S.cosine_annealing_lr(0.1, 10)])
def test_learning_rate_checks_the_step(lr: Any) -> None:
    at = optim.learning_rate(lr)
    assert at(np.int64(3)) == at(3)
    with pytest.raises(ValueError, match=r"Invalid step: -1 \(need step >= 0\)"):
        at(-1)
    with pytest.raises(TypeError, match=r"Invalid step: 2.5 \(need an integer\)"):
        at(2.5)
    with pytest.raises(TypeError, match=r"Invalid step: True \(need an integer, not a bool\)"):
        at(True)


def test_learning_rate_name_is_text() -> None:
    with pytest.raises(TypeError, match=r"Invalid name: 3 \(need a string\)"):
        optim.learning_rate(0.1, name=3)  # type: ignore[arg-type]


def test_apply_updates_checks_both_arrays() -> None:
    assert optim.apply_updates([1, 2], np.array([0.5, -1.0])).tolist() == [1.5, 1.0]
    with pytest.raises(ValueError, match=r"Invalid shape of updates: \(1,\) \(need the shape of params, \(2,\)\)"):
        optim.apply_updates(np.array([1.0, 2.0]), np.array([1.0]))
    with pytest.raises(ValueError, match=r"Invalid updates: it contains NaN or infinity"):
        optim.apply_updates(np.array([1.0, 2.0]), np.array([1.0, np.nan]))
    with pytest.raises(TypeError, match=r"Invalid params: None"):
        optim.apply_updates(None, np.array([1.0]))  # type: ignore[arg-type]


def test_stepper_keeps_going_through_a_nan_gradient() -> None:
    s = optim.Stepper(optim.sgd(lr=0.5), [1.0, 2.0])
    assert np.isnan(s.step(np.array([np.nan, 0.0]))[0])


# -- paths ------------------------------------------------------------------------------------

def test_iterate_checks_at_the_call_not_at_the_first_iterate() -> None:
    with pytest.raises(ValueError, match=r"Invalid seed: -1 \(need seed >= 0\)"):
        optim.iterate(optim.sgd(lr=0.1), lambda w: w, [1.0], seed=-1)  # no noise: the seed is checked all the same
    with pytest.raises(TypeError, match=r"Invalid seed: 0.5 \(need an integer\)"):
        optim.gd_path(lambda w: w, [1.0], 0.1, 3, seed=0.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Invalid starting point: it is empty"):
        optim.run(optim.sgd(lr=0.1), lambda w: w, [], 3)


def test_run_takes_parameters_of_any_shape() -> None:
    w0 = np.array([[1.0, -2.0], [0.5, 4.0]])
    path = optim.run(optim.adam(lr=0.1), lambda w: 2 * w, w0, 5)
    flat = optim.run(optim.adam(lr=0.1), lambda w: 2 * w, w0.ravel(), 5)
    assert path.shape == (6, 2, 2)
    np.testing.assert_array_equal(path.reshape(6, 4), flat)
    ws = list(itertools.islice(optim.iterate(optim.sgd(lr=0.5), lambda w: w, w0), 3))
    np.testing.assert_array_equal(ws[2], w0 / 4)


def test_nesterov_lookahead_path_refuses_an_empty_start() -> None:
    with pytest.raises(ValueError, match=r"Invalid w0: it is empty"):
        optim.nesterov_lookahead_path(lambda w: w, [], 0.1, 0.5, 3)


# -- L-BFGS -----------------------------------------------------------------------------------

def _history() -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...], tuple[float, ...]]:
    H = np.diag([1.0, 4.0])
    s = (np.array([1.0, 0.0]), np.array([0.0, 1.0]))
    y = tuple(H @ si for si in s)
    return s, y, tuple(1 / float(yi @ si) for yi, si in zip(y, s))


def test_two_loop_refuses_bad_histories() -> None:
    s, y, ro = _history()
    g = np.array([2.0, 8.0])
    with pytest.raises(ValueError, match=r"Invalid shape of g: \(1,\) does not match old_stps\[0\]: \(2,\)"):
        optim.two_loop(g[:1], s, y, ro, 0.25)
    with pytest.raises(ValueError, match=r"Invalid old_dirs and ro: 2 steps, 1 gradient changes and 2 values of ro"):
        optim.two_loop(g, s, y[:1], ro, 0.25)
    with pytest.raises(TypeError, match=r"Invalid old_stps: None \(need a sequence of arrays\)"):
        optim.two_loop(g, None, y, ro, 0.25)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Invalid ro\[1\]: nan \(need a finite number\)"):
        optim.two_loop(g, s, y, (ro[0], float("nan")), 0.25)
    with pytest.raises(ValueError, match=r"Invalid H_diag: inf \(need a finite number\)"):
        optim.two_loop(g, s, y, ro, float("inf"))
    # lists and integer arrays are read as float64: the same direction
    ref = optim.two_loop(g, s, y, ro, 0.25)
    np.testing.assert_array_equal(optim.two_loop([2, 8], [x.astype(int) for x in s], list(y), list(ro), 0.25), ref)


def test_minimize_lbfgs_refuses_a_start_that_is_not_a_vector() -> None:
    with pytest.raises(ValueError, match=r"Invalid shape of x0: \(2, 1\) \(need a vector\)"):
        optim.minimize_lbfgs(lambda w: float(w @ w), lambda w: 2 * w, np.ones((2, 1)))
    with pytest.raises(ValueError, match=r"Invalid x0: it is empty"):
        optim.minimize_lbfgs(lambda w: float(w @ w), lambda w: 2 * w, [])


# -- heavy ball, Nesterov ---------------------------------------------------------------------

def test_eigenvalues_are_a_vector() -> None:
    with pytest.raises(ValueError, match=r"Invalid shape of lams: \(2, 1\) \(need a vector of eigenvalues\)"):
        optim.heavy_ball_rate(0.1, 0.5, np.ones((2, 1)))
    with pytest.raises(ValueError, match=r"Invalid shape of lams"):
        optim.rate_grid([0.1], [0.5], np.ones((2, 1)))
    with pytest.raises(ValueError, match=r"Invalid lams: it is empty"):
        optim.nesterov_rate(0.1, 0.5, [])
    with pytest.raises(ValueError, match=r"Invalid lams: it contains NaN or infinity"):
        optim.nesterov_rate(0.1, 0.5, [1.0, float("nan")])
    assert optim.heavy_ball_rate(0.5, 0.0, 1.0) == optim.heavy_ball_rate(0.5, 0.0, [1.0])  # a number is one eigenvalue


def test_optimal_nesterov_checks_its_numbers() -> None:
    with pytest.raises(TypeError, match=r"Invalid lam_min: '1' \(need a real number\)"):
        optim.optimal_nesterov("1", 4.0)  # type: ignore[arg-type]
    assert optim.optimal_nesterov(np.float32(1.0), 4) == optim.optimal_nesterov(1.0, 4.0)


def test_heavy_ball_path_start_is_a_number_or_one_entry_per_eigenvalue() -> None:
    a = optim.heavy_ball_path(0.1, 0.5, [1.0, 4.0], 1.0, 3)
    np.testing.assert_array_equal(a, optim.heavy_ball_path(0.1, 0.5, [1.0, 4.0], [1.0, 1.0], 3))
    with pytest.raises(ValueError, match=r"Invalid shape of w0: \(1,\) \(need a number, or one entry per eigenvalue: \(2,\)\)"):
        optim.heavy_ball_path(0.1, 0.5, [1.0, 4.0], [1.0], 3)


# -- schedules --------------------------------------------------------------------------------

def test_schedule_arguments_checked() -> None:
    with pytest.raises(TypeError, match=r"Invalid milestones: None \(need a sequence of integers\)"):
        S.multistep_lr(0.1, None)  # type: ignore[arg-type]
    assert S.multistep_lr(0.1, [])(5) == 0.1  # no milestone: a constant rate, as torch's MultiStepLR
    with pytest.raises(TypeError, match=r"Invalid schedule: 3 \(need a callable\)"):
        S.warmup(3, 2)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"Invalid warmup_iters: 2.5 \(need an integer\)"):
        S.warmup(S.constant_lr(0.1), 2.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"Invalid three_phase: None \(need True or False\)"):
        S.one_cycle_lr(0.1, 10, three_phase=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Invalid pct_start: 1.5 \(need 0 <= pct_start <= 1\)"):
        S.one_cycle_lr(0.1, 10, pct_start=1.5)
    assert S.one_cycle_lr(0.1, 10, pct_start=np.float32(0.25))(3) == S.one_cycle_lr(0.1, 10, pct_start=0.25)(3)
    for f in (S.schedule_values, S.robbins_monro_sums):
        with pytest.raises(TypeError, match=r"Invalid schedule: 'f' \(need a callable\)"):
            f("f", 4)  # type: ignore[arg-type]


def test_plateau_arguments_checked() -> None:
    with pytest.raises(TypeError, match=r"Invalid factor: '0.5' \(need a real number\)"):
        S.reduce_lr_on_plateau(factor="0.5")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Invalid threshold: nan \(need a finite number\)"):
        S.reduce_lr_on_plateau(threshold=float("nan"))
    with pytest.raises(ValueError, match=r"Invalid eps: -1 \(need eps >= 0\)"):
        S.reduce_lr_on_plateau(eps=-1)
    with pytest.raises(TypeError, match=r"Invalid min_lr: True \(need a real number\)"):
        S.reduce_lr_on_plateau(min_lr=True)
    rule = S.reduce_lr_on_plateau()
    with pytest.raises(TypeError, match=r"Invalid learning rate: True \(need a real number\)"):
        rule.init(True)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"Invalid metric: '0.5' \(need a real number\)"):
        rule.update("0.5", rule.init(0.1))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"Invalid state: None \(need the PlateauState returned by init or update\)"):
        rule.update(1.0, None)  # type: ignore[arg-type]


def test_plateau_takes_nan_and_infinite_metrics_like_torch() -> None:
    metrics = [1.0, float("nan"), float("nan"), float("inf"), 0.5, float("nan"), float("-inf"), 2.0, 2.0, np.float64("nan")]
    rule = S.reduce_lr_on_plateau(factor=0.5, patience=1)
    state = rule.init(1.0)
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1.0)
    ref = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=1)
    for m in metrics:
        state = rule.update(m, state)
        ref.step(float(m))
        assert state.lr == opt.param_groups[0]["lr"]
        assert state.num_bad_epochs == ref.num_bad_epochs
        assert state.best == ref.best


def test_a_schedule_value_is_checked_on_the_fast_path_too() -> None:
    at = optim.learning_rate(lambda k: 0.1 - 0.1 * k)
    assert at(0) == 0.1 and at(1) == 0.0
    with pytest.raises(ValueError, match=r"Invalid learning rate at step 2: -0.1 \(need lr >= 0\)"):
        at(2)
    for bad, kind in ((float("nan"), ValueError), (float("inf"), ValueError), ("0.1", TypeError), (True, TypeError)):
        with pytest.raises(kind, match=r"Invalid learning rate at step 0"):
            optim.learning_rate(lambda k, b=bad: b)(0)
    assert optim.learning_rate(lambda k: np.float32(0.5))(0) == 0.5
