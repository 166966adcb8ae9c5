"""Initialization for depth: the finite-width random walk (against exact moments and an
independent loop), the mean-field maps (against scipy quadrature), fan_in against fan_out (against
the telescoping product and autograd), residual streams, SELU, and the LSTM forget-gate bias."""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import pytest
import torch
from scipy import integrate, special, stats
from torch import nn

from nbcode.experiments.init import lstm_memory, train_residual
from nbcode.init import (
    correlation_map,
    correlation_walk,
    input_variance,
    jacobian_singular_values,
    log_norm_walk,
    lstm_forget_bias_,
    mean_field,
    predict_residual_variance,
    predict_variance,
    predict_widths,
    relu_log_step,
    residual_mlp,
    residual_variance,
    simulate_widths,
    variance_map,
    weight_std,
)
from nbcode.init.propagation import SELU_ALPHA, SELU_SCALE, activation
from nbcode.init.residual import ResidualBlock


# --- finite width -------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [4, 16, 96])
def test_relu_log_step_against_monte_carlo(n: int) -> None:
    """Exact moments of log((2/n) chi2_K), K ~ Bin(n, 1/2), against 4e5 direct ReLU layers."""
    rng = np.random.default_rng(n)
    g = rng.normal(size=(400_000, n))
    x = 2.0 / n * np.sum(np.maximum(g, 0.0) ** 2, axis=1)
    logs = np.log(x[x > 0])
    s = relu_log_step(n)
    se_mean = logs.std() / math.sqrt(logs.size)
    assert abs(logs.mean() - s.mean) < 5 * se_mean
    assert logs.var() == pytest.approx(s.var, rel=0.02)


def test_relu_log_step_large_width_limit() -> None:
    s = relu_log_step(4000)
    assert 4000 * s.mean == pytest.approx(-2.5, rel=0.01)
    assert 4000 * s.var == pytest.approx(5.0, rel=0.01)
    # the digamma identity it rests on: E log chi2_k = psi(k/2) + log 2
    k = 7
    want = integrate.quad(lambda t: math.log(t) * stats.chi2.pdf(t, k), 0, np.inf)[0]
    assert want == pytest.approx(special.digamma(k / 2) + math.log(2), rel=1e-8)


def test_log_norm_walk_matches_a_plain_loop() -> None:
    """Replay the same random numbers network by network with torch."""
    depth, width, nets = 5, 7, 3
    got = log_norm_walk(depth, width, nets, rng=np.random.default_rng(4))
    rng = np.random.default_rng(4)
    h = rng.normal(size=(nets, width, 1))
    ws = [rng.normal(0.0, math.sqrt(2.0 / width), size=(nets, width, width)) for _ in range(depth)]
    for k in range(nets):
        x = torch.tensor(h[k, :, 0])
        v = x.clone()
        for l in range(depth):
            v = torch.relu(torch.tensor(ws[l][k]) @ v)
            assert got[k, l] == pytest.approx(math.log(float(v @ v) / float(x @ x)), rel=1e-12)


def test_log_norm_walk_steps_are_the_predicted_random_walk() -> None:
    w = log_norm_walk(8, 32, 3000, rng=np.random.default_rng(0))
    steps = np.diff(np.concatenate([np.zeros((3000, 1)), w], axis=1), axis=1).ravel()
    s = relu_log_step(32)
    assert abs(steps.mean() - s.mean) < 5 * steps.std() / math.sqrt(steps.size)
    assert steps.var() == pytest.approx(s.var, rel=0.05)
    # linear network, Var(W) = 1/n: steps are log(chi2_n / n)
    lin = log_norm_walk(1, 32, 20000, act="linear", init="lecun", rng=np.random.default_rng(1))[:, 0]
    assert abs(lin.mean() - (special.digamma(16) + math.log(2 / 32))) < 5 * lin.std() / math.sqrt(lin.size)


def test_log_norm_walk_validates() -> None:
    with pytest.raises(ValueError, match="Invalid networks"):
        log_norm_walk(3, 4, 0, rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match="Invalid rng"):
        log_norm_walk(3, 4, 2, rng=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Invalid width"):
        relu_log_step(0)


# --- mean field ----------------------------------------------------------------------------------

def _gauss(f: Callable[[float], float], q: float) -> float:  # E f(z), z ~ N(0, q), by scipy
    return integrate.quad(lambda z: f(z) * math.exp(-z * z / (2 * q)) / math.sqrt(2 * math.pi * q), -np.inf, np.inf,
                          epsabs=1e-13, epsrel=1e-12)[0]


@pytest.mark.parametrize("sw2,sb2", [(1.0, 0.05), (2.5, 0.05), (3.0, 0.3)])
def test_mean_field_against_scipy(sw2: float, sb2: float) -> None:
    mf = mean_field(math.sqrt(sw2), math.sqrt(sb2))
    q = mf.q_star
    assert q == pytest.approx(sw2 * _gauss(lambda z: math.tanh(z) ** 2, q) + sb2, rel=1e-10)
    assert mf.chi_1 == pytest.approx(sw2 * _gauss(lambda z: (1 - math.tanh(z) ** 2) ** 2, q), rel=1e-9)
    if mf.chi_1 > 1:
        c = mf.c_star
        # correlation map at c* by a 2-D scipy integral: c* is its fixed point
        s = math.sqrt(q)

        def inner(z1: float) -> float:
            return integrate.quad(lambda z2: math.tanh(s * z1) * math.tanh(s * (c * z1 + math.sqrt(1 - c * c) * z2))
                                  * math.exp(-z2 * z2 / 2) / math.sqrt(2 * math.pi), -12, 12, epsabs=1e-13)[0]

        e = integrate.quad(lambda z1: inner(z1) * math.exp(-z1 * z1 / 2) / math.sqrt(2 * math.pi), -12, 12, epsabs=1e-12)[0]
        assert (sw2 * e + sb2) / q == pytest.approx(c, abs=1e-8)
        assert mf.depth_scale == pytest.approx(-1 / math.log(mf.chi_c), rel=1e-12)
    else:
        assert mf.c_star == 1.0 and mf.depth_scale == pytest.approx(-1 / math.log(mf.chi_1))


def test_mean_field_special_cases() -> None:
    # no bias, sigma_w <= 1: q* = 0, chi_1 = sigma_w^2
    mf = mean_field(0.8, 0.0)
    assert mf.q_star == 0.0 and mf.chi_1 == pytest.approx(0.64) and mf.depth_scale == pytest.approx(-1 / math.log(0.64))
    # c = 1 is a fixed point of the correlation map at q*
    mf = mean_field(1.3, 0.2)
    assert correlation_map(1.0, mf.q_star, 1.3, 0.2) == pytest.approx(1.0, abs=1e-12)
    assert variance_map(mf.q_star, 1.3, 0.2) == pytest.approx(mf.q_star, rel=1e-13)
    # the slope of the map at c = 1 (one-sided finite difference) is chi_1
    h = 1e-6
    slope = (1.0 - correlation_map(1.0 - h, mf.q_star, 1.3, 0.2)) / h
    assert slope == pytest.approx(mf.chi_1, rel=1e-4)
    # the critical line: chi_1 crosses 1 between sigma_w^2 = 1.7 and 1.8 at sigma_b^2 = 0.05
    assert mean_field(math.sqrt(1.7), math.sqrt(0.05)).chi_1 < 1 < mean_field(math.sqrt(1.8), math.sqrt(0.05)).chi_1
    with pytest.raises(ValueError, match="Invalid sigma_w"):
        mean_field(0.0)


def test_correlation_walk_rates_follow_chi_1() -> None:
    sws = np.sqrt([0.8, 1.2, 2.5])
    g = correlation_walk(25, 200, sws, math.sqrt(0.05), gap=1e-6, networks=4, rng=np.random.default_rng(0))
    l = np.arange(26)
    for i, sw in enumerate(sws):
        m = np.log(g[i]).mean(0)
        sel = (m > math.log(1e-13)) & (m < math.log(1e-2))
        rate = np.polyfit(l[sel], m[sel], 1)[0]
        assert rate == pytest.approx(math.log(mean_field(float(sw), math.sqrt(0.05)).chi_1), abs=0.04)
    assert g[0, :, 0] == pytest.approx(1e-6, rel=0.3)
    with pytest.raises(ValueError, match="Invalid sigma_ws"):
        correlation_walk(3, 4, [0.0], 0.1, gap=0.1, rng=np.random.default_rng(0))


# --- fan_in and fan_out -------------------------------------------------------------------------

def test_predict_widths_telescopes() -> None:
    ns = [64, 256, 32, 128, 10]
    p = predict_widths(ns, mode="fan_in")
    np.testing.assert_allclose(p.forward, 2.0, rtol=1e-14)
    assert p.backward[0] == pytest.approx(ns[-1] / ns[1], rel=1e-14)
    q = predict_widths(ns, mode="fan_out")
    np.testing.assert_allclose(q.backward, 1.0, rtol=1e-14)
    assert q.forward[-1] / q.forward[0] == pytest.approx(ns[1] / ns[-1], rel=1e-14)
    # constant widths: both modes are predict_variance's He rule
    np.testing.assert_allclose(predict_widths([50] * 6).forward, predict_variance(5, 50, init="kaiming", act="relu").forward)
    with pytest.raises(ValueError, match="Invalid act"):
        predict_widths(ns, act="tanh")
    with pytest.raises(ValueError, match="Invalid widths"):
        predict_widths([64])
    with pytest.raises(ValueError, match="Invalid mode"):
        predict_widths(ns, mode="fan")


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
def test_simulate_widths_against_prediction(mode: str) -> None:
    ns = [64, 256, 32, 128, 10]
    runs = [simulate_widths(ns, mode=mode, batch=256, rng=np.random.default_rng(s)) for s in range(30)]
    p = predict_widths(ns, mode=mode)
    fwd = np.exp(np.mean([np.log(r.forward) for r in runs], axis=0))
    bwd = np.exp(np.mean([np.log(r.backward) for r in runs], axis=0))
    np.testing.assert_allclose(fwd, p.forward, rtol=0.2)
    np.testing.assert_allclose(bwd, p.backward, rtol=0.2)


def test_simulate_widths_backward_is_autograd() -> None:
    ns, batch = [5, 7, 3, 4], 6
    p = simulate_widths(ns, mode="fan_out", batch=batch, rng=np.random.default_rng(2))
    rng = np.random.default_rng(2)
    ws = [torch.tensor(rng.normal(0.0, math.sqrt(2.0 / ns[l + 1]), size=(ns[l + 1], ns[l]))) for l in range(3)]
    x = torch.tensor(rng.normal(size=(batch, ns[0])))
    seed = torch.tensor(rng.normal(size=(batch, ns[-1])))
    zs: list[torch.Tensor] = []
    h = x
    for w in ws:
        z = (h @ w.T).detach().requires_grad_(True) if not zs else h @ w.T
        z.retain_grad()
        zs.append(z)
        h = torch.relu(z)
    (zs[-1] * seed).sum().backward()
    for l in range(3):
        assert p.forward[l] == pytest.approx(float(zs[l].detach().pow(2).mean()), rel=1e-12)
        grad = zs[l].grad
        assert grad is not None
        assert p.backward[l] == pytest.approx(float(grad.pow(2).mean()), rel=1e-12)


# --- residual streams ---------------------------------------------------------------------------

def test_residual_variance_against_prediction() -> None:
    L = 16
    for kw in ({"alpha": 1.0}, {"alpha": 1 / math.sqrt(L)}, {"alpha": 1.0, "prenorm": True}):
        runs = [residual_variance(L, 128, batch=64, rng=np.random.default_rng(s), **kw) for s in range(20)]  # type: ignore[arg-type]
        got = np.exp(np.mean(np.log(runs), axis=0))
        want = predict_residual_variance(L, **kw)  # type: ignore[arg-type]
        np.testing.assert_allclose(got, want, rtol=0.15)
    q = residual_variance(8, 32, zero_init=True, rng=np.random.default_rng(0))
    np.testing.assert_allclose(q, q[0], rtol=0, atol=0)


def test_residual_block_is_its_formula() -> None:
    torch.manual_seed(0)
    x = torch.randn(6, 8, dtype=torch.float64)
    for norm in (None, "layer", "rms", "batch"):
        for placement in ("pre", "post"):
            b = ResidualBlock(8, 5, alpha=0.5, norm=norm, placement=placement)
            N = b.norm
            f = lambda u: b.fc2(torch.relu(b.fc1(u)))  # noqa: E731
            want = x + 0.5 * f(N(x)) if placement == "pre" else N(x + 0.5 * f(x))
            torch.testing.assert_close(b(x), want, rtol=0, atol=0)
    b = ResidualBlock(8, 5)
    assert float(b.fc1.weight.detach().var()) * 8 == pytest.approx(2.0, rel=0.6) and float(b.fc1.bias.detach().abs().max()) == 0.0


def test_residual_mlp_structure_and_init() -> None:
    net = residual_mlp((64, 32, 10), 3, norm="layer", placement="post", seed=0)
    assert [type(m).__name__ for m in net] == ["Linear", "ResidualBlock", "ResidualBlock", "ResidualBlock", "Linear"]
    z = residual_mlp((64, 32, 10), 2, zero_init=True, seed=0)
    x = torch.randn(4, 64, dtype=torch.float64)
    torch.testing.assert_close(z(x), z[-1](z[0](x)), rtol=0, atol=0)
    # same seed, same network
    torch.testing.assert_close(residual_mlp((64, 32, 10), 2, seed=3)(x), residual_mlp((64, 32, 10), 2, seed=3)(x))
    with pytest.raises(ValueError, match="Invalid norm"):
        residual_mlp((64, 32, 10), 2, norm="group")
    with pytest.raises(ValueError, match="Invalid sizes"):
        residual_mlp((64, 10), 2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Invalid placement"):
        residual_mlp((64, 32, 10), 2, placement="middle")


def test_train_residual_scaled_and_unscaled() -> None:
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    X = torch.tensor(rng.normal(size=(256, 64)))
    y = torch.tensor(rng.integers(0, 10, 256))
    data = (X, y, X[:64], y[:64])
    bad = train_residual(data, depth=32, alpha=1.0, epochs=1, lr=0.01)
    good = train_residual(data, depth=32, alpha=1 / math.sqrt(32), epochs=2, lr=0.01)
    assert bad.diverged or bad["train_loss"][0] > 1e3
    assert good["train_loss"][-1] < good["train_loss"][0]
    with pytest.raises(ValueError, match="Invalid optimizer"):
        train_residual(data, depth=2, optimizer="lbfgs")


# --- SELU ---------------------------------------------------------------------------------------

def test_selu_activation_against_torch() -> None:
    z = torch.linspace(-4, 4, 81, dtype=torch.float64, requires_grad=True)
    y = torch.nn.functional.selu(z)
    y.sum().backward()
    phi = activation("selu")
    np.testing.assert_allclose(phi.f(z.detach().numpy()), y.detach().numpy(), rtol=1e-14, atol=1e-15)
    keep = z.detach().numpy() != 0
    assert z.grad is not None
    np.testing.assert_allclose(phi.df(z.detach().numpy())[keep], z.grad.numpy()[keep], rtol=1e-14)
    assert SELU_SCALE == pytest.approx(1.0507009873554805) and SELU_ALPHA == pytest.approx(1.6732632423543772)
    # self-normalizing: with Var(W) = 1/n the variance 1 is a fixed point
    np.testing.assert_allclose(predict_variance(20, 100, init="lecun", act="selu").forward, 1.0, rtol=1e-10)
    assert weight_std("kaiming", 100, "selu") == pytest.approx(0.075)


# --- isometry input ----------------------------------------------------------------------------

def test_isometry_depends_on_the_input_variance_for_tanh_only() -> None:
    assert input_variance("tanh", 1.0) == pytest.approx(1.0e-3, rel=0.01)
    small = jacobian_singular_values(32, 32, act="tanh", q0=1e-3, rng=np.random.default_rng(0))
    unit = jacobian_singular_values(32, 32, act="tanh", q0=1.0, rng=np.random.default_rng(0))
    assert small.min() > 0.5 and unit.max() < 0.5
    a = jacobian_singular_values(8, 16, act="relu", init="gaussian", sigma_w=math.sqrt(2), q0=1e-3, rng=np.random.default_rng(1))
    b = jacobian_singular_values(8, 16, act="relu", init="gaussian", sigma_w=math.sqrt(2), q0=10.0, rng=np.random.default_rng(1))
    np.testing.assert_allclose(a, b, rtol=1e-12)
    with pytest.raises(ValueError, match="Invalid q0"):
        jacobian_singular_values(4, 4, q0=-1.0, rng=np.random.default_rng(0))


# --- LSTM forget bias ---------------------------------------------------------------------------

def test_lstm_forget_bias_sets_the_forget_gate() -> None:
    torch.manual_seed(0)
    lstm = lstm_forget_bias_(nn.LSTM(3, 4, num_layers=2, dtype=torch.float64), 1.0)
    for k in range(2):
        total = getattr(lstm, f"bias_ih_l{k}") + getattr(lstm, f"bias_hh_l{k}")
        torch.testing.assert_close(total[4:8], torch.ones(4, dtype=torch.float64))
    # with zero weights the forget gate is sigmoid(1) exactly: replay one step of a cell
    cell = nn.LSTMCell(3, 4, dtype=torch.float64)
    with torch.no_grad():
        cell.weight_ih.zero_()
        cell.weight_hh.zero_()
        cell.bias_ih.zero_()
        cell.bias_hh.zero_()
    lstm_forget_bias_(cell, 1.0)
    c0 = torch.randn(2, 4, dtype=torch.float64)
    _, c1 = cell(torch.randn(2, 3, dtype=torch.float64), (torch.zeros(2, 4, dtype=torch.float64), c0))
    torch.testing.assert_close(c1, torch.sigmoid(torch.tensor(1.0, dtype=torch.float64)) * c0)  # i*g = 0.5 * 0
    with pytest.raises(TypeError, match="Invalid lstm"):
        lstm_forget_bias_(nn.Linear(2, 2))  # type: ignore[arg-type]


def test_lstm_memory_first_step_is_the_forget_gate() -> None:
    """c_1 = f_1 * c_0 + i_1 * g_1 with gates that do not see c_0: d<r, c_1>/dc_0 = r * f_1."""
    torch.manual_seed(5)
    m = lstm_memory(6, 3, batch=4, seed=5)
    torch.manual_seed(5)
    cell = nn.LSTMCell(6, 6, dtype=torch.float64)
    gen = torch.Generator().manual_seed(5)
    xs = torch.randn(3, 4, 6, generator=gen, dtype=torch.float64)
    r = torch.randn(6, generator=gen, dtype=torch.float64)
    r = r / r.norm()
    f1 = torch.sigmoid((xs[0] @ cell.weight_ih.T + cell.bias_ih + cell.bias_hh)[:, 6:12])
    assert m.grad[0] == pytest.approx(float((r * f1).pow(2).sum(1).mean().sqrt()), rel=1e-12)
    assert m.forget[0] == pytest.approx(float(f1.mean()), rel=1e-12)
    assert m.cell_path[0] == pytest.approx(m.grad[0], rel=1e-12)  # at t = 1 the cell state is the only path


def test_lstm_memory_cell_path_is_the_product_of_forget_gates() -> None:
    """The cell-state path against torch.nn.LSTMCell's own gates (chunked from a forward pass with
    zero cell state, in PyTorch's order i, f, g, o), multiplied step by step."""
    m = lstm_memory(5, 6, batch=3, seed=2, forget_bias=1.0)
    torch.manual_seed(2)
    cell = lstm_forget_bias_(nn.LSTMCell(5, 5, dtype=torch.float64), 1.0)
    gen = torch.Generator().manual_seed(2)
    xs = torch.randn(6, 3, 5, generator=gen, dtype=torch.float64)
    r = torch.randn(5, generator=gen, dtype=torch.float64)
    r = r / r.norm()
    c0 = torch.randn(3, 5, generator=gen, dtype=torch.float64)
    h, c, prod = torch.zeros(3, 5, dtype=torch.float64), c0, torch.ones(3, 5, dtype=torch.float64)
    with torch.no_grad():
        for t in range(6):
            # with c_{t-1} = 0 the new cell state is i*g; with c_{t-1} = 1 it is f + i*g: f is the difference
            _, c_zero = cell(xs[t], (h, torch.zeros_like(c)))
            _, c_one = cell(xs[t], (h, torch.ones_like(c)))
            prod = prod * (c_one - c_zero)
            assert m.cell_path[t] == pytest.approx(float((r * prod).pow(2).sum(1).mean().sqrt()), rel=1e-10)
            h, c = cell(xs[t], (h, c))
    assert lstm_memory(8, 30, forget_bias=1.0).grad[-1] > 100 * lstm_memory(8, 30, forget_bias=0.0).grad[-1]
