"""Theory against experiment for initialization: per-layer variance against the product formula
(within sampling error), the right and wrong pairings over 60 layers, and the Jacobian spectrum."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate
from torch import nn
from torch.func import jacrev

from nbcode.init import (
    fixed_point_variance,
    input_output_jacobian,
    jacobian_product,
    jacobian_singular_values,
    mlp_weights,
    predict_variance,
    simulate_variance,
    spectrum_grid,
    weight_std,
)
from nbcode.init.propagation import activation


def test_product_formula_closed_forms() -> None:
    L = np.arange(1, 11)
    np.testing.assert_allclose(predict_variance(10, 50, init="xavier", act="relu").forward, 0.5 ** (L - 1), rtol=1e-12)
    np.testing.assert_allclose(predict_variance(10, 50, init="kaiming", act="relu").forward, 2.0, rtol=1e-12)
    np.testing.assert_allclose(predict_variance(10, 50, init="xavier", act="linear", scale=1.1).forward, 1.21**L, rtol=1e-12)
    np.testing.assert_allclose(predict_variance(10, 50, init="kaiming", act="linear").backward, 1.0, rtol=1e-12)
    np.testing.assert_allclose(predict_variance(10, 50, init="xavier", act="relu").backward, 0.5 ** (10 - L), rtol=1e-12)
    # leaky ReLU with He's 2/(1 + a^2): constant forward variance 2/(1+a^2) * (1+a^2)/2 * ... = first layer's
    np.testing.assert_allclose(predict_variance(10, 50, init="kaiming", act="leaky_relu").backward, 1.0, rtol=1e-12)


@pytest.mark.parametrize("act", ["tanh", "sigmoid"])
def test_quadrature_against_scipy(act: str) -> None:
    phi = activation(act)
    p = predict_variance(4, 10, init="xavier", act=act, scale=1.3)
    s2n = 1.69
    for q_prev, q_next in zip(p.forward[:-1], p.forward[1:]):
        dens = lambda z: math.exp(-z * z / (2 * q_prev)) / math.sqrt(2 * math.pi * q_prev)  # noqa: E731
        want = s2n * integrate.quad(lambda z: float(phi.f(np.array(z))) ** 2 * dens(z), -np.inf, np.inf)[0]
        assert q_next == pytest.approx(want, rel=1e-7)  # 101-point Gauss-Hermite


def test_simulator_loop_matches_torch_autograd() -> None:
    """The hand-written backward pass is the gradient torch computes for L = sum(z^L * delta^L)."""
    rng = np.random.default_rng(0)
    depth, width, batch = 5, 7, 3
    p = simulate_variance(depth, width, init="kaiming", act="tanh", batch=batch, rng=np.random.default_rng(0))
    # replay the same random numbers with torch
    std = weight_std("kaiming", width, "tanh")
    ws = torch.tensor(rng.normal(0.0, std, size=(depth, width, width)), requires_grad=True)
    x = torch.tensor(rng.normal(size=(batch, width)))
    seed = torch.tensor(rng.normal(size=(batch, width)))
    zs = []
    h = x
    for w in ws:
        z = h @ w.T
        z.retain_grad()
        zs.append(z)
        h = torch.tanh(z)
    (zs[-1] * seed).sum().backward()
    np.testing.assert_allclose(p.forward, [float((z.detach() ** 2).mean()) for z in zs], rtol=1e-12)
    np.testing.assert_allclose(p.backward, [float((z.grad**2).mean()) for z in zs], rtol=1e-12)


EXACT = [("kaiming", "relu"), ("xavier", "relu"), ("kaiming", "linear"), ("kaiming", "leaky_relu"), ("orthogonal", "relu"), ("xavier", "linear")]


@pytest.mark.parametrize("init,act", EXACT)
def test_measured_variance_equals_product_formula_within_sampling_error(init: str, act: str) -> None:
    """For linear and (leaky) ReLU layers the product formula is exact in expectation at any
    width: the mean over R networks is within 4.5 standard errors (of that mean) at every layer."""
    R, depth, width = 24, 15, 48
    runs = [simulate_variance(depth, width, init=init, act=act, scale=1.0, batch=32, rng=np.random.default_rng([7, r])) for r in range(R)]
    pred = predict_variance(depth, width, init=init, act=act)
    for got, want in [(np.array([r.forward for r in runs]), pred.forward), (np.array([r.backward for r in runs])[:, :-1], pred.backward[:-1])]:
        se = got.std(axis=0, ddof=1) / math.sqrt(R)
        z = (got.mean(axis=0) - want) / se
        assert np.all(np.abs(z) < 4.5), z


@pytest.mark.parametrize("init,act", [("xavier", "tanh"), ("kaiming", "tanh"), ("kaiming", "sigmoid")])
def test_mean_field_for_smooth_activations(init: str, act: str) -> None:
    """For tanh and sigmoid the recursion is exact only at infinite width (a bias of order 1/n).
    Over 8 networks of width 128 the mean forward variance is within 4.5 standard errors plus 3%
    of it at all 40 layers, and the backward variance's growth rate within 0.01 per layer."""
    R = 8
    runs = [simulate_variance(40, 128, init=init, act=act, batch=64, rng=np.random.default_rng([3, r])) for r in range(R)]
    q = predict_variance(40, 128, init=init, act=act)
    fwd = np.array([r.forward for r in runs])
    se = fwd.std(axis=0, ddof=1) / math.sqrt(R)
    assert np.all(np.abs(fwd.mean(axis=0) - q.forward) < 4.5 * se + 0.03 * q.forward)
    got = np.mean([r.backward for r in runs], axis=0)
    assert abs(_rate(got[::-1]) - _rate(q.backward[::-1])) < 0.01


def _rate(v: np.ndarray) -> float:
    """Mean per-layer growth of log-variance, (log v_L - log v_1)/(L - 1)."""
    return float((math.log(v[-1]) - math.log(v[0])) / (len(v) - 1))


def test_right_pairings_hold_and_wrong_pairings_explode_or_vanish_at_the_predicted_rate() -> None:
    """60 layers of width 256. The per-layer log-ratio of one network is a random walk with step
    std about sqrt(5/n) = 0.14 (ReLU), so its mean over 59 layers has std 0.018: tolerance 0.075."""
    depth, width, tol = 60, 256, 0.075
    rates = {}
    for init, act, scale in [("kaiming", "relu", 1.0), ("xavier", "relu", 1.0), ("kaiming", "linear", 1.0), ("kaiming", "linear", 1.4), ("xavier", "tanh", 1.0)]:
        p = simulate_variance(depth, width, init=init, act=act, scale=scale, batch=128, rng=np.random.default_rng(1))
        q = predict_variance(depth, width, init=init, act=act, scale=scale)
        rates[(init, act, scale)] = (_rate(p.forward), _rate(q.forward), _rate(p.backward[::-1]), _rate(q.backward[::-1]))
    he = rates[("kaiming", "relu", 1.0)]
    assert abs(he[0]) < tol and abs(he[2]) < tol and he[1] == pytest.approx(0, abs=1e-12)
    xr = rates[("xavier", "relu", 1.0)]
    assert abs(xr[0] - math.log(0.5)) < tol and abs(xr[2] - math.log(0.5)) < tol  # vanish by 1/2 per layer
    big = rates[("kaiming", "linear", 1.4)]
    assert abs(big[0] - math.log(1.96)) < tol and abs(big[2] - math.log(1.96)) < tol  # explode by 1.96 per layer
    lin = rates[("kaiming", "linear", 1.0)]
    assert abs(lin[0]) < tol and abs(lin[2]) < tol
    # Xavier + tanh: no exponential decay; the forward variance falls like 1/(2l) (rate -0.05 here),
    # as the mean-field recursion predicts, and the backward variance likewise
    xt = rates[("xavier", "tanh", 1.0)]
    assert abs(xt[0] - xt[1]) < 0.01 and abs(xt[2] - xt[3]) < 0.01 and xt[1] > -0.1
    p = simulate_variance(depth, width, init="xavier", act="tanh", batch=128, rng=np.random.default_rng(1))
    assert 0.8 < p.forward[-1] * 2 * depth < 1.25


# -- Jacobians -------------------------------------------------------------------------------


@pytest.mark.parametrize("act", ["linear", "tanh", "relu"])
def test_jacrev_equals_product_and_torch_module(act: str) -> None:
    rng = np.random.default_rng(0)
    ws = mlp_weights(6, 9, init="gaussian", sigma_w=1.3, rng=rng)
    x = rng.normal(size=9)
    J = input_output_jacobian(ws, act, x)
    np.testing.assert_allclose(J, jacobian_product(ws, act, x), rtol=1e-10, atol=1e-12)
    layers: list[nn.Module] = []
    for w in ws:
        lin = nn.Linear(9, 9, bias=False).double()
        with torch.no_grad():
            lin.weight.copy_(torch.tensor(w))
        layers += [lin, {"linear": nn.Identity(), "tanh": nn.Tanh(), "relu": nn.ReLU()}[act]]
    net = nn.Sequential(*layers)
    ref = jacrev(net)(torch.tensor(x)).detach().numpy()
    np.testing.assert_allclose(J, ref, rtol=1e-10, atol=1e-12)


def test_orthogonal_linear_network_is_an_isometry() -> None:
    s = jacobian_singular_values(50, 32, act="linear", init="orthogonal", rng=np.random.default_rng(0))
    np.testing.assert_allclose(s, 1.0, atol=1e-10)
    s = jacobian_singular_values(50, 32, act="linear", init="gaussian", rng=np.random.default_rng(0))
    assert s.max() / s.min() > 1e6  # a Gaussian product is far from isometric


def test_gaussian_linear_mean_squared_singular_value_is_one() -> None:
    """E[tr(J J^T)]/n = (n sigma_w^2 / n)^L = 1 for Var(W) = 1/n: a mean over 40 networks."""
    vals = [np.mean(jacobian_singular_values(10, 16, act="linear", init="gaussian", rng=np.random.default_rng(r)) ** 2) for r in range(40)]
    assert abs(np.mean(vals) - 1) < 4.5 * np.std(vals, ddof=1) / math.sqrt(40)


def test_tanh_orthogonal_is_nearly_isometric_and_relu_is_not() -> None:
    g = spectrum_grid([64], [1.0], ["tanh", "relu"], ["orthogonal", "gaussian"], width=48, seed=0)
    tanh_o = g[("tanh", "orthogonal", 64, 1.0)]
    assert tanh_o.min() > 0.5 and tanh_o.max() < 1.5
    assert g[("tanh", "gaussian", 64, 1.0)].max() / g[("tanh", "gaussian", 64, 1.0)].min() > 1e6
    relu_o = g[("relu", "orthogonal", 64, 1.0)]
    assert np.mean(relu_o < 1e-3) > 0.5  # most directions are killed


def test_grid_cell_equals_jacrev_path() -> None:
    g = spectrum_grid([3, 12], [1.05], ["tanh", "relu"], ["orthogonal"], width=16, seed=4)
    for i, act in enumerate(["tanh", "relu"]):
        rng = np.random.default_rng([4, i, 0, 0])
        s = jacobian_singular_values(12, 16, act=act, init="orthogonal", sigma_w=1.05 * (1.0 if act == "tanh" else math.sqrt(2)), rng=rng)
        np.testing.assert_allclose(g[(act, "orthogonal", 12, 1.05)], s, rtol=1e-9, atol=1e-12)


def test_fixed_point_variance() -> None:
    assert fixed_point_variance("tanh", 0.9) < 1e-12
    q = fixed_point_variance("tanh", 1.5)
    assert q == pytest.approx(2.25 * integrate.quad(lambda z: math.tanh(math.sqrt(q) * z) ** 2 * math.exp(-z * z / 2) / math.sqrt(2 * math.pi), -30, 30)[0], rel=1e-8)


def _quad_expectation(f, q: float) -> float:
    """E[f(z)], z ~ N(0, q), by scipy's adaptive quadrature, with break points where the
    activations bend (|z| <= 40) so that it sees them even when the density is wide."""
    s = math.sqrt(q)
    pts = [p for p in (-40.0, -10.0, -3.0, -1.0, 0.0, 1.0, 3.0, 10.0, 40.0) if abs(p) < 12 * s]
    g = lambda z: f(z) * math.exp(-z * z / (2 * q)) / math.sqrt(2 * math.pi * q)  # noqa: E731
    return integrate.quad(g, -12 * s, 12 * s, points=pts, limit=500, epsabs=0.0, epsrel=1e-13)[0]


@pytest.mark.parametrize("act", ["tanh", "sigmoid"])
def test_gaussian_expectations_at_every_variance(act: str) -> None:
    """E[phi(z)^2] and E[phi'(z)^2] for q from 1e-4 to 1e3 against scipy.integrate.quad. The
    fixed 101-point Gauss-Hermite rule used before was off (relative) by 7e-4 at q = 10 and 10% at
    q = 1e3 for E[tanh(z)^2], by 2% at q = 10 and 6x at q = 1e3 for E[tanh'(z)^2]."""
    from nbcode.init.propagation import gaussian_expectation

    phi = activation(act)
    for q in np.geomspace(1e-4, 1e3, 15):
        for fn in (lambda z: phi.f(z) ** 2, lambda z: phi.df(z) ** 2):
            want = _quad_expectation(lambda z: float(fn(np.array(z))), float(q))
            assert gaussian_expectation(fn, float(q)) == pytest.approx(want, rel=1e-11)
    assert gaussian_expectation(lambda z: phi.f(z) ** 2, 0.0) == pytest.approx(float(phi.f(np.zeros(1))[0]) ** 2)


def test_tanh_fixed_point_at_large_weights_against_scipy() -> None:
    """sigma_w = 7: the fixed point q* = 49 E[tanh^2], q* = 43.1005..., found by brentq on the
    map evaluated by scipy's quad; the Gauss-Hermite rule gave 41.63."""
    from scipy.optimize import brentq

    m2 = lambda q: _quad_expectation(lambda z: math.tanh(z) ** 2, q)  # noqa: E731
    want = brentq(lambda q: 49.0 * m2(q) - q, 1.0, 49.0, xtol=1e-13)
    assert fixed_point_variance("tanh", 7.0) == pytest.approx(want, rel=1e-11)
    assert want == pytest.approx(43.1005, abs=1e-4)
    # and each layer of a tanh network at four times Kaiming's scale, where q reaches ~40
    p = predict_variance(6, 50, init="kaiming", act="tanh", scale=4.0)
    s2n = 50 * weight_std("kaiming", 50, "tanh", 4.0) ** 2
    for q_prev, q_next in zip(p.forward[:-1], p.forward[1:]):
        assert q_next == pytest.approx(s2n * m2(q_prev), rel=1e-11)
    chi = [s2n * _quad_expectation(lambda z: (1 - math.tanh(z) ** 2) ** 2, q) for q in p.forward[:-1]]
    np.testing.assert_allclose(p.backward[:-1], np.cumprod(chi[::-1])[::-1], rtol=1e-10)


def test_theory_errors() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="Invalid depth: 0"):
        simulate_variance(0, 10, rng=rng)
    with pytest.raises(ValueError, match="Invalid width: 0"):
        predict_variance(3, 0)
    with pytest.raises(ValueError, match=r"Invalid act: 'gelu' \(use one of \['linear', 'tanh', 'sigmoid', 'relu', "):
        simulate_variance(3, 10, act="gelu", rng=rng)
    with pytest.raises(ValueError, match=r"Invalid act: 'gelu' \(use one of \['linear', 'tanh', 'relu'\]\)"):
        jacobian_singular_values(3, 10, act="gelu", rng=rng)
    with pytest.raises(ValueError, match=r"Invalid init: 'he' \(use one of \['lecun', 'xavier', 'kaiming', 'orthogonal'\]\)"):
        weight_std("he", 10, "relu")
    with pytest.raises(ValueError, match=r"Invalid scale: -1 \(need scale >= 0\)"):
        weight_std("xavier", 10, "relu", -1)
    with pytest.raises(ValueError, match=r"Invalid sigma_w: -1 \(need sigma_w >= 0\)"):
        mlp_weights(3, 10, sigma_w=-1, rng=rng)
    with pytest.raises(ValueError, match=r"Invalid init: 'uniform' \(use one of \['gaussian', 'orthogonal'\]\)"):
        mlp_weights(3, 10, init="uniform", rng=rng)
