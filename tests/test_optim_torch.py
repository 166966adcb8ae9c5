"""Every NumPy optimizer of nbcode.optim against its torch.optim twin, step by step, in float64.

Parameters AND optimizer state are compared at every one of 30 steps, for several
hyper-parameter settings (weight decay included), with torch's single-tensor loop
(foreach=False, the ground truth) and its multi-tensor version (foreach=True).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest
import torch

from nbcode import optim

STEPS = 30
LAM = np.geomspace(0.1, 10.0, 7)


def grad_fn(w: np.ndarray) -> np.ndarray:
    """Gradient of sum(lam w^2 / 2 + 0.5 sin(3 w)): non-convex, gradients change sign."""
    return LAM * w + 1.5 * np.cos(3.0 * w)


W0 = np.array([1.0, -2.0, 0.5, 3.0, -0.7, 0.2, -1.5])


@pytest.fixture(autouse=True)
def float64_default() -> Any:
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # torch keeps scalar state (mu_product) in the default dtype
    yield
    torch.set_default_dtype(old)


CASES: list[tuple[str, Callable[..., optim.Optimizer], type, dict[str, Any]]] = [
    ("sgd plain", optim.sgd, torch.optim.SGD, dict(lr=0.05)),
    ("sgd momentum", optim.sgd, torch.optim.SGD, dict(lr=0.05, momentum=0.9)),
    ("sgd dampening wd", optim.sgd, torch.optim.SGD, dict(lr=0.03, momentum=0.8, dampening=0.3, weight_decay=0.1)),
    ("sgd nesterov wd", optim.sgd, torch.optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.05)),
    ("adagrad", optim.adagrad, torch.optim.Adagrad, dict(lr=0.5)),
    ("adagrad decay init wd", optim.adagrad, torch.optim.Adagrad,
     dict(lr=0.3, lr_decay=0.05, initial_accumulator_value=0.2, eps=1e-6, weight_decay=0.1)),
    ("rmsprop", optim.rmsprop, torch.optim.RMSprop, dict(lr=0.01)),
    ("rmsprop centered momentum wd", optim.rmsprop, torch.optim.RMSprop,
     dict(lr=0.01, alpha=0.9, eps=1e-6, centered=True, momentum=0.5, weight_decay=0.1)),
    ("rmsprop momentum", optim.rmsprop, torch.optim.RMSprop, dict(lr=0.02, alpha=0.95, momentum=0.9)),
    ("adadelta", optim.adadelta, torch.optim.Adadelta, dict()),
    ("adadelta lr rho wd", optim.adadelta, torch.optim.Adadelta, dict(lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.2)),
    ("adam", optim.adam, torch.optim.Adam, dict(lr=0.1)),
    ("adam betas eps wd", optim.adam, torch.optim.Adam, dict(lr=0.05, betas=(0.5, 0.9), eps=1e-3, weight_decay=0.3)),
    ("adam amsgrad", optim.adam, torch.optim.Adam, dict(lr=0.1, amsgrad=True, weight_decay=0.01)),
    ("adamw", optim.adamw, torch.optim.AdamW, dict(lr=0.1)),
    ("adamw wd amsgrad", optim.adamw, torch.optim.AdamW, dict(lr=0.1, weight_decay=0.5, betas=(0.8, 0.99), amsgrad=True)),
    ("adamax", optim.adamax, torch.optim.Adamax, dict(lr=0.1)),
    ("adamax betas wd", optim.adamax, torch.optim.Adamax, dict(lr=0.05, betas=(0.7, 0.9), eps=1e-4, weight_decay=0.2)),
    ("nadam", optim.nadam, torch.optim.NAdam, dict(lr=0.1)),
    ("nadam decay wd", optim.nadam, torch.optim.NAdam, dict(lr=0.05, betas=(0.8, 0.95), momentum_decay=0.01, weight_decay=0.2)),
    ("nadam decoupled", optim.nadam, torch.optim.NAdam, dict(lr=0.05, weight_decay=0.2, decoupled_weight_decay=True)),
    ("rprop", optim.rprop, torch.optim.Rprop, dict(lr=0.1)),
    ("rprop etas sizes", optim.rprop, torch.optim.Rprop, dict(lr=0.3, etas=(0.3, 1.5), step_sizes=(1e-3, 0.5))),
]


def torch_state(opt: torch.optim.Optimizer, p: torch.Tensor) -> dict[str, Any]:
    return opt.state[p]


def run_pair(ours: optim.Optimizer, torch_cls: type, kwargs: dict[str, Any], foreach: bool) -> int:
    """Run both for STEPS steps, comparing params and every shared state field; returns fields compared."""
    p = torch.tensor(W0, dtype=torch.float64, requires_grad=True)
    topt = torch_cls([p], foreach=foreach, **kwargs)
    w = W0.copy()
    state = ours.init(w)
    compared = 0
    for k in range(1, STEPS + 1):
        updates, state = ours.update(grad_fn(w), state, w)
        w = w + updates
        p.grad = torch.tensor(grad_fn(p.detach().numpy()))
        topt.step()
        np.testing.assert_allclose(w, p.detach().numpy(), rtol=1e-10, atol=1e-12)
        ts = torch_state(topt, p)
        for name, value in state._asdict().items():
            if name == "step" and "step" not in ts:  # torch's SGD keeps no count; ours counts every step
                assert value == k
                continue
            if value is None:
                assert name not in ts or ts[name] is None, name
                continue
            assert name in ts, f"{name} missing from torch's state {sorted(ts)}"
            tv = ts[name]
            tv = tv.detach().numpy() if isinstance(tv, torch.Tensor) else np.asarray(tv)
            np.testing.assert_allclose(np.asarray(value, dtype=float), tv, rtol=1e-10, atol=1e-12, err_msg=name)
            compared += 1
    return compared


@pytest.mark.parametrize("name,make,torch_cls,kwargs", CASES, ids=[c[0] for c in CASES])
def test_matches_torch_step_by_step(name: str, make: Callable[..., optim.Optimizer], torch_cls: type, kwargs: dict[str, Any]) -> None:
    compared = run_pair(make(**kwargs), torch_cls, kwargs, foreach=False)
    stateless = make is optim.sgd and not kwargs.get("momentum")
    assert compared >= (0 if stateless else STEPS)  # at least one state field per step (counters, buffers)


@pytest.mark.parametrize("name,make,torch_cls,kwargs", CASES, ids=[c[0] for c in CASES])
def test_matches_torch_foreach(name: str, make: Callable[..., optim.Optimizer], torch_cls: type, kwargs: dict[str, Any]) -> None:
    run_pair(make(**kwargs), torch_cls, kwargs, foreach=True)


def test_rprop_sees_sign_changes() -> None:
    """The Rprop cases exercise all three branches (grow, shrink, hold) of the step-size rule."""
    opt = optim.rprop(lr=0.1)
    w, s = W0.copy(), opt.init(W0)
    factors = set()
    for _ in range(STEPS):
        old = s.step_size
        u, s = opt.update(grad_fn(w), s, w)
        w = w + u
        factors |= set(np.round(s.step_size / old, 6).tolist())
    assert {0.5, 1.2, 1.0} <= factors


def test_sgd_plain_has_no_buffer() -> None:
    opt = optim.sgd(lr=0.1)
    _, s = opt.update(np.ones(2), opt.init(np.zeros(2)), np.zeros(2))
    assert s.momentum_buffer is None


# ---- L-BFGS -------------------------------------------------------------------------------------

def rosen_t(x: torch.Tensor) -> torch.Tensor:
    return ((1 - x[:-1]) ** 2).sum() + 100 * ((x[1:] - x[:-1] ** 2) ** 2).sum()


def rosen_grad(x: np.ndarray) -> np.ndarray:
    xt = torch.tensor(x, requires_grad=True)
    rosen_t(xt).backward()
    assert xt.grad is not None
    return xt.grad.numpy()


@pytest.mark.parametrize("lr,history_size", [(0.01, 100), (0.05, 3), (0.002, 1)])
def test_lbfgs_matches_torch_step_by_step(lr: float, history_size: int) -> None:
    x0 = np.array([-1.2, 1.0, 0.5, -0.3])
    p = torch.tensor(x0, requires_grad=True)
    topt = torch.optim.LBFGS([p], lr=lr, max_iter=1, history_size=history_size, line_search_fn=None)
    ours = optim.lbfgs(lr=lr, history_size=history_size)
    w, s = x0.copy(), ours.init(x0)

    def closure() -> torch.Tensor:
        topt.zero_grad()
        loss = rosen_t(p)
        loss.backward()
        return loss

    for _ in range(40):
        u, s = ours.update(rosen_grad(w), s, w)
        w = w + u
        topt.step(closure)
        np.testing.assert_allclose(w, p.detach().numpy(), rtol=1e-9, atol=1e-12)
        ts = topt.state[p]
        assert s.n_iter == ts["n_iter"]
        assert len(s.old_dirs) == len(ts["old_dirs"]) <= history_size
        for ours_y, their_y in zip(s.old_dirs, ts["old_dirs"]):
            np.testing.assert_allclose(ours_y, their_y.numpy(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(s.H_diag, float(ts["H_diag"]), rtol=1e-9)
        np.testing.assert_allclose(s.d, ts["d"].numpy(), rtol=1e-9, atol=1e-12)
    assert rosen_t(p).item() < rosen_t(torch.tensor(x0)).item()  # it made progress


def test_lbfgs_finds_scipys_minimizer_on_rosenbrock() -> None:
    from scipy.optimize import minimize, rosen, rosen_der

    x0 = np.array([-1.2, 1.0, -0.5, 0.8])
    ref = minimize(rosen, x0, jac=rosen_der, method="L-BFGS-B", options=dict(gtol=1e-10, ftol=1e-15))
    res = optim.minimize_lbfgs(rosen, rosen_der, x0, history_size=10, max_iter=1000, tolerance_grad=1e-9)
    np.testing.assert_allclose(res.x, ref.x, atol=1e-6)
    np.testing.assert_allclose(res.x, np.ones(4), atol=1e-6)
    assert res.nit < 200


def test_lbfgs_fixed_step_converges_on_quadratic() -> None:
    A = np.diag([1.0, 3.0, 10.0])
    res = optim.minimize_lbfgs(lambda w: 0.5 * w @ A @ w, lambda w: A @ w, [1.0, -1.0, 2.0], line_search_fn=None, max_iter=100)
    np.testing.assert_allclose(res.x, 0.0, atol=1e-6)


def test_two_loop_equals_bfgs_inverse_hessian() -> None:
    """With m pairs, the two-loop result equals m dense BFGS inverse updates of H0 = gamma I."""
    rng = np.random.default_rng(0)
    d = 5
    M = rng.normal(size=(d, d))
    A = M @ M.T + d * np.eye(d)
    S = [rng.normal(size=d) for _ in range(3)]
    Y = [A @ s for s in S]
    ro = [1 / float(y @ s) for y, s in zip(Y, S)]
    gamma = float(S[-1] @ Y[-1] / (Y[-1] @ Y[-1]))
    Hinv = gamma * np.eye(d)
    for s, y, r in zip(S, Y, ro):
        V = np.eye(d) - r * np.outer(y, s)
        Hinv = V.T @ Hinv @ V + r * np.outer(s, s)
    g = rng.normal(size=d)
    np.testing.assert_allclose(optim.two_loop(g, tuple(S), tuple(Y), tuple(ro), gamma), -Hinv @ g, rtol=1e-10)
