"""nbcode.schedules against torch.optim.lr_scheduler, step by step, in float64."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler as tls

from nbcode import schedules as S

STEPS = 400


def _optimizer(lr: float = 0.1, momentum: float = 0.0) -> torch.optim.Optimizer:
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    return torch.optim.SGD([p], lr=lr, momentum=momentum)


def _torch_lrs(make, steps: int = STEPS, lr: float = 0.1, momentum: float = 0.0) -> np.ndarray:
    """Learning rates that torch's scheduler sets at steps 0..steps-1 (one optimizer step between)."""
    opt = _optimizer(lr, momentum)
    sched = make(opt)
    out = [opt.param_groups[0]["lr"]]
    for _ in range(steps - 1):
        opt.step()
        sched.step()
        out.append(opt.param_groups[0]["lr"])
    return np.array(out, dtype=float)


CASES = [
    ("step", lambda o: tls.StepLR(o, step_size=30, gamma=0.5), S.step_lr(0.1, step_size=30, gamma=0.5)),
    ("multistep", lambda o: tls.MultiStepLR(o, milestones=[50, 120, 300], gamma=0.3), S.multistep_lr(0.1, [50, 120, 300], 0.3)),
    ("exponential", lambda o: tls.ExponentialLR(o, gamma=0.99), S.exponential_lr(0.1, 0.99)),
    ("inverse_time", lambda o: tls.LambdaLR(o, lambda k: 1.0 / (1.0 + 0.05 * k)), S.inverse_time_lr(0.1, 0.05)),
    ("inverse_square", lambda o: tls.LambdaLR(o, lambda k: 1.0 / (1.0 + 0.01 * k) ** 2), S.inverse_power_lr(0.1, 2.0, 0.01)),
    ("linear_warmup", lambda o: tls.LinearLR(o, start_factor=0.1, end_factor=1.0, total_iters=37), S.linear_lr(0.1, 0.1, 1.0, 37)),
    ("linear_lr_down", lambda o: tls.LinearLR(o, start_factor=1.0, end_factor=0.01, total_iters=250), S.linear_lr(0.1, 1.0, 0.01, 250)),
    ("linear_decay", lambda o: tls.LinearLR(o, start_factor=1.0, end_factor=0.01, total_iters=250), S.linear_decay(0.1, 0.001, 250)),
    ("cosine", lambda o: tls.CosineAnnealingLR(o, T_max=150, eta_min=0.001), S.cosine_annealing_lr(0.1, 150, 0.001)),
    ("cosine_periodic", lambda o: tls.CosineAnnealingLR(o, T_max=60), S.cosine_annealing_lr(0.1, 60)),
    ("sgdr", lambda o: tls.CosineAnnealingWarmRestarts(o, T_0=10, T_mult=2, eta_min=1e-4), S.cosine_annealing_warm_restarts(0.1, 10, 2, 1e-4)),
    ("sgdr_mult1", lambda o: tls.CosineAnnealingWarmRestarts(o, T_0=33), S.cosine_annealing_warm_restarts(0.1, 33)),
    (
        "cyclic_triangular",
        lambda o: tls.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=25, cycle_momentum=False),
        S.cyclic_lr(0.01, 0.1, step_size_up=25),
    ),
    (
        "cyclic_triangular2",
        lambda o: tls.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=20, step_size_down=30, mode="triangular2", cycle_momentum=False),
        S.cyclic_lr(0.01, 0.1, 20, 30, mode="triangular2"),
    ),
    (
        "cyclic_exp_range",
        lambda o: tls.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=15, mode="exp_range", gamma=0.995, cycle_momentum=False),
        S.cyclic_lr(0.01, 0.1, 15, mode="exp_range", gamma=0.995),
    ),
    ("one_cycle", lambda o: tls.OneCycleLR(o, max_lr=0.5, total_steps=STEPS, cycle_momentum=False), S.one_cycle_lr(0.5, STEPS)),
    (
        "one_cycle_linear_3phase",
        lambda o: tls.OneCycleLR(o, max_lr=0.5, total_steps=STEPS, pct_start=0.25, anneal_strategy="linear", div_factor=10.0,
                                 final_div_factor=100.0, three_phase=True, cycle_momentum=False),
        S.one_cycle_lr(0.5, STEPS, pct_start=0.25, anneal_strategy="linear", div_factor=10.0, final_div_factor=100.0, three_phase=True),
    ),
    (
        "warmup_exponential",
        lambda o: tls.ChainedScheduler([tls.LinearLR(o, start_factor=0.05, total_iters=40), tls.ExponentialLR(o, gamma=0.995)]),
        S.warmup(S.exponential_lr(0.1, 0.995), 40, 0.05),
    ),
]


@pytest.mark.parametrize("name,make,ours", CASES, ids=[c[0] for c in CASES])
def test_matches_torch_step_by_step(name, make, ours):
    want = _torch_lrs(make)
    got = S.schedule_values(ours, STEPS)
    # Torch's recursive updates (lr *= gamma, cosine ratios) accumulate rounding errors; the
    # closed form does not. Agreement to ~1e-12 relative over 400 steps.
    np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-15)
    assert np.ptp(want) > 0  # the schedule actually moves over the tested range


def test_cyclic_with_momentum_cycling_gives_same_lr():
    want = _torch_lrs(lambda o: tls.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=25), momentum=0.9)
    np.testing.assert_allclose(S.schedule_values(S.cyclic_lr(0.01, 0.1, 25), STEPS), want, rtol=1e-12)


def test_one_cycle_end_and_past_end():
    s = S.one_cycle_lr(0.5, 100)
    assert s(0) == pytest.approx(0.5 / 25) and s(99) == pytest.approx(0.5 / 25 / 1e4)
    assert max(s(k) for k in range(101)) == pytest.approx(0.5, rel=1e-3)
    with pytest.raises(ValueError, match="Invalid step: 101"):
        s(101)


def test_linear_decay_is_goodfellow_formula():
    s = S.linear_decay(1.0, 0.01, 100)
    for k in (0, 10, 50, 99, 100, 150):
        a = min(k / 100, 1)
        assert s(k) == pytest.approx((1 - a) * 1.0 + a * 0.01, rel=1e-14)


def test_sgdr_restarts_at_right_steps():
    s = S.cosine_annealing_warm_restarts(1.0, T_0=5, T_mult=3)
    restarts = [k for k in range(1, 200) if s(k) == 1.0]
    assert restarts == [5, 20, 65]  # 5, 5 + 15, 5 + 15 + 45


def test_robbins_monro_sums():
    s1, s2 = S.robbins_monro_sums(S.inverse_time_lr(1.0), 100_000)
    assert s1 == pytest.approx(math.log(100_000) + 0.5772156649, abs=1e-4)
    assert s2 == pytest.approx(math.pi**2 / 6, abs=2e-5)
    c1, c2 = S.robbins_monro_sums(S.constant_lr(0.1), 1000)
    assert c1 == pytest.approx(100.0) and c2 == pytest.approx(10.0)
    e1, _ = S.robbins_monro_sums(S.exponential_lr(1.0, 0.5), 200)
    assert e1 == pytest.approx(2.0)  # geometric series: bounded total distance


# -- ReduceLROnPlateau ------------------------------------------------------------------------

LOSSES = [1.0, 0.9, 0.85, 0.85, 0.86, 0.849, 0.85, 0.85, 0.85, 0.7, 0.7, 0.7, 0.7, 0.71, 0.72, 0.69, 0.69, 0.69, 0.69,
          0.69, 0.69, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.49999, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(factor=0.5, patience=2),
        dict(factor=0.5, patience=1, cooldown=2),
        dict(factor=0.1, patience=0, min_lr=1e-4),
        dict(factor=0.3, patience=2, threshold=0.05, threshold_mode="abs"),
        dict(mode="max", factor=0.5, patience=1),
        dict(mode="max", factor=0.5, patience=1, threshold=0.01, threshold_mode="abs", cooldown=1),
    ],
)
def test_plateau_matches_torch(kwargs):
    opt = _optimizer(0.1)
    sched = tls.ReduceLROnPlateau(opt, **kwargs)
    plateau = S.reduce_lr_on_plateau(**kwargs)
    state = plateau.init(0.1)
    metrics = LOSSES * 3
    lrs = []
    for m in metrics:
        sched.step(m)
        state = plateau.update(m, state)
        assert state.lr == opt.param_groups[0]["lr"]
        assert state.num_bad_epochs == sched.num_bad_epochs and state.cooldown_counter == sched.cooldown_counter
        assert state.best == sched.best
        lrs.append(state.lr)
    assert len(set(lrs)) > 1  # the sequence does trigger reductions


# -- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: S.step_lr(-0.1, 10), "Invalid learning rate: -0.1"),
        (lambda: S.step_lr(float("nan"), 10), "Invalid learning rate: nan"),
        (lambda: S.step_lr(0.1, 0), "Invalid step_size: 0"),
        (lambda: S.step_lr(0.1, -3), "Invalid step_size: -3"),
        (lambda: S.multistep_lr(0.1, [10, 0]), "Invalid milestone: 0"),
        (lambda: S.exponential_lr(0.1, 0.0), "Invalid gamma: 0.0"),
        (lambda: S.cosine_annealing_lr(0.1, 0), "Invalid T_max: 0"),
        (lambda: S.cosine_annealing_warm_restarts(0.1, 0), "Invalid T_0: 0"),
        (lambda: S.cosine_annealing_warm_restarts(0.1, 10, 0), "Invalid T_mult: 0"),
        (lambda: S.cyclic_lr(0.01, 0.1, step_size_up=0), "Invalid step_size_up: 0"),
        (lambda: S.cyclic_lr(0.01, 0.1, 10, step_size_down=-1), "Invalid step_size_down: -1"),
        (lambda: S.cyclic_lr(0.01, 0.1, 10, mode="sine"), "Invalid mode: 'sine'"),
        (lambda: S.one_cycle_lr(0.1, 0), "Invalid total_steps: 0"),
        (lambda: S.one_cycle_lr(0.1, 100, pct_start=1.5), "Invalid pct_start: 1.5"),
        (lambda: S.one_cycle_lr(0.1, 100, anneal_strategy="exp"), "Invalid anneal_strategy: 'exp'"),
        (lambda: S.linear_lr(0.1, total_iters=0), "Invalid total_iters: 0"),
        (lambda: S.linear_lr(0.1, start_factor=0.0), "Invalid start_factor: 0.0"),
        (lambda: S.linear_lr(0.1, end_factor=2.0), "Invalid end_factor: 2.0"),
        (lambda: S.linear_decay(0.1, 0.001, 0), "Invalid tau: 0"),
        (lambda: S.warmup(S.constant_lr(0.1), 0), "Invalid warmup_iters: 0"),
        (lambda: S.inverse_power_lr(0.1, -1.0), "Invalid power: -1.0"),
        (lambda: S.inverse_time_lr(0.1, 0.0), "Invalid decay_rate: 0.0"),
        (lambda: S.constant_lr(0.1)(-1), "Invalid step: -1"),
        (lambda: S.schedule_values(S.constant_lr(0.1), 0), "Invalid number of steps: 0"),
        (lambda: S.reduce_lr_on_plateau(factor=1.0), "Invalid factor: 1.0"),
        (lambda: S.reduce_lr_on_plateau(patience=-1), "Invalid patience: -1"),
        (lambda: S.reduce_lr_on_plateau(mode="up"), "Invalid mode: 'up'"),
        (lambda: S.reduce_lr_on_plateau(threshold_mode="x"), "Invalid threshold_mode: 'x'"),
        (lambda: S.reduce_lr_on_plateau(min_lr=-1.0), "Invalid min_lr: -1.0"),
        (lambda: S.reduce_lr_on_plateau().init(-0.1), "Invalid learning rate: -0.1"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# -- exercises of the chapter -------------------------------------------------------------------


def test_exercise_warmup_cosine_and_robbins_monro():
    from nbcode.exercises import check
    from nbcode.exercises.convergence import warmup_cosine_reference as ref

    W, T, lr = 10, 100, 0.1
    warm = S.linear_lr(lr, 1.0 / W, 1.0, W - 1)
    cos = S.cosine_annealing_lr(lr, T - W)
    for k in range(T + 1):
        assert ref(k, lr, W, T) == pytest.approx(warm(k) if k < W else cos(k - W), rel=1e-12, abs=1e-15)
    assert check("convergence.warmup_cosine", ref)
    assert not check("convergence.warmup_cosine", lambda k, lr, W, T: lr * min(1.0, k / W))  # off by one step
    # Robbins-Monro: only the inverse-time schedule has a divergent sum and a convergent sum of squares
    s1, s2 = S.robbins_monro_sums(S.inverse_power_lr(1.0, 0.5), 100_000)
    assert s2 > 11  # ~ ln K: diverges
    assert check("convergence.robbins_monro", "k_log_k")
    for wrong in ("inverse_sqrt", "inverse_square", "k_log2_k"):
        assert not check("convergence.robbins_monro", wrong)
    # the partial sums behave as the integral test says: sum 1/((k+2) ln(k+2)) keeps growing like ln ln K,
    # its square and 1/((k+2) ln^2(k+2)) settle
    k = np.arange(1_000_000, dtype=float) + 2
    klk, kl2k = 1 / (k * np.log(k)), 1 / (k * np.log(k) ** 2)
    assert klk.sum() - klk[:1000].sum() > 0.7 * (np.log(np.log(k[-1])) - np.log(np.log(k[999])))
    assert (klk**2)[1000:].sum() < 1e-3 and kl2k[1000:].sum() < 0.2


def test_exercise_c_threshold():
    from nbcode.exercises import check

    # u_{k+1} = (1 - 2 c mu / k) u_k with c = 1.5, mu = 0.2 falls like k^-0.6: check the exponent numerically
    u, ks, us = 1.0, [], []
    for k in range(10, 200_001):
        u *= 1 - 2 * 1.5 * 0.2 / k
        if k in (20_000, 200_000):
            ks.append(k)
            us.append(u)
    p = -np.log(us[1] / us[0]) / np.log(ks[1] / ks[0])
    assert abs(p - 0.6) < 1e-3
    assert check("convergence.c_threshold", 0.6)
    assert not check("convergence.c_threshold", 1.0)  # 1/k: only when 2 c mu > 1
    assert not check("convergence.c_threshold", 0.3)  # c mu, without the factor 2


def test_cycle_momentum_switches_momentum_on():
    # the chapter says: with cycle_momentum=True (the default) CyclicLR and OneCycleLR overwrite the momentum
    # of SGD even when it was created with momentum=0; cycle_momentum=False leaves it alone
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.0)
    cyc = tls.CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=4)
    seen = [opt.param_groups[0]["momentum"]]
    for _ in range(4):
        opt.step()
        cyc.step()
        seen.append(opt.param_groups[0]["momentum"])
    assert seen == pytest.approx([0.9, 0.875, 0.85, 0.825, 0.8])  # from max_momentum 0.9 down to base_momentum 0.8
    opt2 = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    tls.OneCycleLR(opt2, max_lr=0.1, total_steps=10)
    assert opt2.param_groups[0]["momentum"] == pytest.approx(0.95)
    opt3 = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    tls.OneCycleLR(opt3, max_lr=0.1, total_steps=10, cycle_momentum=False)
    assert opt3.param_groups[0]["momentum"] == 0
