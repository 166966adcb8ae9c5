"""Bad and edge inputs of nbcode.init: one test per message format, and the edge cases the battery
does not judge (results kept bit for bit, the chaotic phase without biases)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from nbcode.init import (
    ResidualBlock,
    activation,
    calculate_correct_fan,
    correlation_map,
    format_stats,
    forward_stats,
    init_model_,
    input_output_jacobian,
    input_variance,
    jacobian_product,
    layer_stats,
    lsuv,
    mean_field,
    mlp_weights,
    predict_widths,
    residual_mlp,
    simulate_variance,
    spectrum_grid,
    unit_spread,
    weight_std,
)
from nbcode.init.probe import LSUVResult
from nbcode.init.propagation import gaussian_expectation


def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def test_numpy_scalars_give_the_float64_result() -> None:
    # a float32 scale used to turn the whole profile into float32 arithmetic
    assert weight_std("kaiming", np.int64(100), "relu", np.float32(1.0)) == weight_std("kaiming", 100, "relu", 1.0)
    assert type(weight_std("kaiming", 100, "relu", np.float32(1.0))) is float
    a = simulate_variance(3, 4, scale=np.float32(1.0), batch=8, rng=rng())
    b = simulate_variance(3, 4, scale=1.0, batch=8, rng=rng())
    np.testing.assert_array_equal(a.forward, b.forward)


def test_mode_is_case_insensitive_as_in_torch() -> None:
    assert calculate_correct_fan((10, 64), "FAN_OUT") == 10


def test_activation_and_scheme_messages() -> None:
    with pytest.raises(ValueError, match=r"Invalid nonlinearity name: 'gelu' \(use one of \['linear', 'tanh', "):
        activation("gelu")
    with pytest.raises(ValueError, match=r"Invalid act: 3 \(use one of"):
        predict_widths([3, 4], act=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"Invalid keep_hidden: 'yes' \(need True or False\)"):
        simulate_variance(3, 4, rng=rng(), keep_hidden="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"Invalid rng: None \(need a numpy.random.Generator\)"):
        simulate_variance(3, 4, rng=None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"Invalid rng: 'r' \(need a numpy.random.Generator\)"):
        mlp_weights(3, 4, rng="r")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Invalid widths: \[4\] \(need at least 2 entries\)"):
        predict_widths([4])
    np.testing.assert_array_equal(predict_widths(np.array([4, 6, 3])).forward, predict_widths([4, 6, 3]).forward)
    with pytest.raises(TypeError, match=r"Invalid fn: 3 \(need a callable\)"):
        gaussian_expectation(3, 1.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"Invalid sigma_w: 'a' \(need a real number\)"):
        input_variance("relu", "a")  # type: ignore[arg-type]


def test_jacobian_inputs_are_checked() -> None:
    ws = [np.eye(2), 0.5 * np.ones((3, 2))]
    x = np.array([1.0, -1.0])
    ref = input_output_jacobian(ws, "tanh", x)
    assert ref.shape == (3, 2)
    np.testing.assert_allclose(jacobian_product(ws, "tanh", x), ref, rtol=1e-14)
    np.testing.assert_array_equal(input_output_jacobian([w.tolist() for w in ws], "tanh", [1, -1]), ref)
    for fn in (input_output_jacobian, jacobian_product):
        with pytest.raises(ValueError, match=r"Invalid shape of x: \(3,\) \(need \(2,\)\)"):
            fn(ws, "tanh", np.ones(3))
        with pytest.raises(ValueError, match=r"Invalid shape of x: \(2, 1\) \(need \(2,\)\)"):
            fn(ws, "tanh", x[:, None])
        with pytest.raises(ValueError, match=r"Invalid x: it contains NaN or infinity"):
            fn(ws, "tanh", np.array([1.0, math.nan]))
        with pytest.raises(ValueError, match=r"Invalid weights\[1\]: it contains NaN or infinity"):
            fn([np.eye(2), np.full((2, 2), math.nan)], "tanh", x)
        with pytest.raises(ValueError, match=r"Invalid shape of weights\[1\]: \(2, 2\) \(need 3 columns, the rows of weights\[0\]\)"):
            fn([np.ones((3, 2)), np.ones((2, 2))], "tanh", x)
        with pytest.raises(TypeError, match=r"Invalid weights: 'abc' \(need a non-empty list of 2-D arrays\)"):
            fn("abc", "tanh", x)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match=r"Invalid weights: \[\] \(need a non-empty list of 2-D arrays\)"):
            fn([], "tanh", x)


def test_spectrum_grid_checks_its_lists_and_keys_by_float() -> None:
    base = spectrum_grid([2], [1.0], ["tanh"], ["orthogonal"], width=4)
    assert list(base) == [("tanh", "orthogonal", 2, 1.0)]
    for sigmas in (np.array([1]), np.array([1.0], dtype=np.float32), [1]):
        got = spectrum_grid([2], sigmas, ["tanh"], ["orthogonal"], width=4)
        assert [type(k[3]) for k in got] == [float]
        np.testing.assert_array_equal(got["tanh", "orthogonal", 2, 1.0], base["tanh", "orthogonal", 2, 1.0])
    with pytest.raises(TypeError, match=r"Invalid acts: 'tanh' \(need a list of names from \['linear', 'tanh', 'relu'\]\)"):
        spectrum_grid([2], [1.0], "tanh", ["orthogonal"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Invalid inits: 'he' \(use one of \['gaussian', 'orthogonal'\]\)"):
        spectrum_grid([2], [1.0], ["tanh"], ["he"])
    with pytest.raises(ValueError, match=r"Invalid acts: it is empty"):
        spectrum_grid([2], [1.0], [], ["orthogonal"])
    with pytest.raises(ValueError, match=r"Invalid sigmas: it is empty"):
        spectrum_grid([2], [], ["tanh"], ["orthogonal"])
    with pytest.raises(ValueError, match=r"Invalid sigmas: \[-1.0\] \(need numbers >= 0\)"):
        spectrum_grid([2], [-1.0], ["tanh"], ["orthogonal"])
    with pytest.raises(TypeError, match=r"Invalid depths: \[2.5\] \(need integers\)"):
        spectrum_grid([2.5], [1.0], ["tanh"], ["orthogonal"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match=r"Invalid seed: -1 \(need seed >= 0\)"):
        spectrum_grid([2], [1.0], ["tanh"], ["orthogonal"], seed=-1)


def _bn_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2)).double()


def test_probe_inputs_are_checked() -> None:
    net, X = _bn_net(), torch.randn(8, 3, dtype=torch.float64)
    for fn in (forward_stats, layer_stats, lsuv):
        with pytest.raises(ValueError, match=r"Invalid X: it is empty"):
            fn(net, X[:0])
        Xn = X.clone()
        Xn[0, 0] = math.nan
        with pytest.raises(ValueError, match=r"Invalid X: it contains NaN or infinity"):
            fn(net, Xn)
    with pytest.raises(ValueError, match=r"Invalid shape of y: \(7,\) \(need 8 rows, as many as X\)"):
        layer_stats(net, X, torch.arange(7) % 2)
    with pytest.raises(ValueError, match=r"Invalid y: it is empty"):
        layer_stats(net, X, torch.arange(0))
    stats = forward_stats(net, X)
    with pytest.raises(TypeError, match=r"Invalid stats: 'abc' \(need a list of LayerStats, as layer_stats returns\)"):
        format_stats("abc")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"Invalid digits: 2.5 \(need an integer\)"):
        format_stats(stats, digits=2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Invalid digits: 0 \(need digits >= 1\)"):
        format_stats(stats, digits=0)
    assert format_stats(stats, digits=np.int64(3)) == format_stats(stats)


def test_lsuv_result_checks_its_parts() -> None:
    r = LSUVResult([1.0, math.nan], [True, np.bool_(False)], [1, np.int64(10)])
    assert r[0] == 1.0 and math.isnan(r[1]) and r.converged == [True, False] and r.iterations == [1, 10]
    with pytest.raises(TypeError, match=r"Invalid converged: \[1, 0\] \(need 2 bools, one per std\)"):
        LSUVResult([1.0, 0.5], [1, 0], [1, 1])  # type: ignore[list-item]
    with pytest.raises(ValueError, match=r"Invalid iterations: \[1, 1, 1\] \(need 2 counts, one per std\)"):
        LSUVResult([1.0, 0.5], [True, True], [1, 1, 1])
    with pytest.raises(ValueError, match=r"Invalid stds: it is empty"):
        LSUVResult([], [], [])


def test_model_helpers_check_their_arguments() -> None:
    net = nn.Sequential(nn.Linear(3, 2)).double()
    before = [p.detach().clone() for p in net.parameters()]
    for kwargs, kind, msg in [
        (dict(bias=math.nan), ValueError, r"Invalid bias: nan \(need a finite number\)"),
        (dict(value="0.1"), TypeError, r"Invalid value: '0.1' \(need a real number\)"),
        (dict(nonlinearity="swish"), ValueError, r"Invalid nonlinearity: 'swish'"),
    ]:
        with pytest.raises(kind, match=msg):
            init_model_(net, "zeros", rng=rng(), **kwargs)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"Invalid rng: 0 \(need a numpy.random.Generator\)"):
        init_model_(net, "zeros", rng=0)  # type: ignore[arg-type]
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))  # refused before any change
    with pytest.raises(TypeError, match=r"Invalid layer: Identity\(\) \(need a torch.nn.Linear\)"):
        unit_spread(nn.Identity())  # type: ignore[arg-type]


def test_residual_constructors_check_before_seeding() -> None:
    with pytest.raises(ValueError, match=r"Invalid width: -1 \(need width >= 1\)"):
        ResidualBlock(-1, 3)
    with pytest.raises(TypeError, match=r"Invalid hidden: 2.5 \(need an integer\)"):
        ResidualBlock(4, 2.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"Invalid zero_init: 'yes' \(need True or False\)"):
        ResidualBlock(4, 3, zero_init="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"Invalid dtype: None \(need a floating torch.dtype\)"):
        ResidualBlock(4, 3, dtype=None)  # type: ignore[arg-type]
    state = torch.get_rng_state()
    with pytest.raises(ValueError, match=r"Invalid alpha: -1 \(need alpha >= 0\)"):
        residual_mlp((3, 4, 2), 2, alpha=-1, seed=5)
    with pytest.raises(ValueError, match=r"Invalid sizes: \[3, 4, 2, 1\] \(need \(in_features, width, out_features\)\)"):
        residual_mlp([3, 4, 2, 1], 2, seed=5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Invalid sizes: \(3, -1, 2\) \(need integers >= 1\)"):
        residual_mlp((3, -1, 2), 2, seed=5)
    assert torch.equal(state, torch.get_rng_state())
    a = residual_mlp(np.array([3, 4, 2]), 2, seed=0)  # type: ignore[arg-type]
    b = residual_mlp((3, 4, 2), 2, seed=0)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_mean_field_without_biases_in_the_chaotic_phase() -> None:
    """sigma_b = 0, sigma_w > 1: c* = 0 (the map is odd and convex on [0, 1]); chi_c is its slope there,
    checked against a central difference of correlation_map and against a tiny sigma_b."""
    mf = mean_field(2.0, 0.0)
    assert mf.c_star == 0.0 and mf.chi_1 > 1.0
    q, h = mf.q_star, 1e-4
    slope = (correlation_map(h, q, 2.0, 0.0) - correlation_map(-h, q, 2.0, 0.0)) / (2 * h)
    assert mf.chi_c == pytest.approx(slope, rel=1e-7)
    assert mf.chi_c == pytest.approx(mean_field(2.0, 1e-6).chi_c, rel=1e-9)
    assert mf.depth_scale == pytest.approx(-1.0 / math.log(mf.chi_c), rel=1e-12)
    gaps = [correlation_map(c, q, 2.0, 0.0) - c for c in np.linspace(0.01, 0.99, 50)]
    assert max(gaps) < 0.0  # below the diagonal on (0, 1): no other fixed point


def test_probes_leave_a_batchnorm_model_in_training_mode_unchanged() -> None:
    net, X = _bn_net().train(), torch.randn(8, 3, dtype=torch.float64)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    state = torch.get_rng_state()
    forward_stats(net, X)
    layer_stats(net, X, torch.arange(8) % 2)
    assert net.training and torch.equal(state, torch.get_rng_state())
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k]), k  # running_mean, running_var, num_batches_tracked included
    # lsuv changes the weights and biases only: every buffer stays
    lsuv(net, X, rng=rng())
    for k, v in net.state_dict().items():
        if "running" in k or "num_batches" in k:
            assert torch.equal(v, before[k]), k
