"""The one-mini-batch probe, LSUV, the torch-model helpers and the chapter's exercises."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from nbcode.exercises import check
from nbcode.init import format_stats, forward_stats, init_model_, layer_stats, lsuv, predict_widths, prior_bias


def _net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Dropout(0.2), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 3)).double()


def test_layer_stats_match_a_manual_pass() -> None:
    net = _net().eval()  # no dropout randomness, so the manual pass is the same computation
    X = torch.randn(20, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    y = torch.arange(20) % 3
    stats = layer_stats(net, X, y)
    assert [s.name for s in stats] == ["0", "1", "2", "3", "4", "5"]
    outs, h = [], X
    for m in net:
        h = m(h)
        h.retain_grad()
        outs.append(h)
    nn.functional.cross_entropy(h, y).backward()
    for s, o in zip(stats, outs):
        assert o.grad is not None
        g, o = o.grad, o.detach()
        assert s.mean == pytest.approx(float(o.mean()), rel=1e-12)
        assert s.std == pytest.approx(float(o.std()), rel=1e-12)
        assert s.grad_std == pytest.approx(float(g.std()), rel=1e-12)
        assert s.frac_zero == pytest.approx(float((o == 0).double().mean()))
    for i in (0, 3, 5):
        assert stats[i].weight_grad_std == pytest.approx(float(net[i].weight.grad.std()), rel=1e-12)
    assert math.isnan(stats[1].weight_grad_std)


def test_layer_stats_leave_the_model_unchanged() -> None:
    net = _net().train()
    X = torch.randn(16, 6, dtype=torch.float64)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    sentinel = torch.full_like(net[0].weight, 7.0)
    net[0].weight.grad = sentinel
    torch.manual_seed(5)
    layer_stats(net, X, torch.arange(16) % 3)
    after_rand = torch.rand(3)
    torch.manual_seed(5)
    assert torch.equal(after_rand, torch.rand(3)), "the global RNG must be restored (dropout used it)"
    assert net.training
    assert net[0].weight.grad is sentinel and net[3].weight.grad is None
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k])
    for m in net.modules():
        assert not m._forward_hooks and not m._backward_hooks


def test_forward_stats_and_default_losses() -> None:
    net = _net().eval()
    X = torch.randn(10, 6, dtype=torch.float64)
    f = forward_stats(net, X)
    full = layer_stats(net, X)  # y None: loss = half the mean square of the output
    assert [r.std for r in f] == pytest.approx([r.std for r in full], rel=1e-12)
    out = net(X).detach()
    assert full[-1].grad_std == pytest.approx(float((out / out.numel()).std()), rel=1e-10)
    reg = layer_stats(net, X, torch.zeros(10, 3, dtype=torch.float64))  # float y: MSE
    assert reg[-1].grad_std == pytest.approx(float((2 * out / out.numel()).std()), rel=1e-10)


def test_format_stats() -> None:
    text = format_stats(layer_stats(_net().eval(), torch.randn(8, 6, dtype=torch.float64), torch.arange(8) % 3))
    lines = text.splitlines()
    assert lines[0].split() == ["layer", "kind", "mean", "std", "grad", "std", "W-grad", "std", "zero", "sat."]
    assert len(lines) == 7 and lines[2].split()[1] == "Tanh" and lines[2].split()[5] == "-"
    assert lines[2].split()[6] == "-" and lines[2].split()[7] != "-"  # Tanh: saturation, not zeros
    assert lines[5].split()[1] == "ReLU" and lines[5].split()[6] != "-" and lines[5].split()[7] == "-"


def test_lsuv_gives_unit_variance_on_the_batch_and_near_it_on_new_data() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(*[m for _ in range(12) for m in (nn.Linear(40, 40), nn.ReLU())], nn.Linear(40, 5)).double()
    X = torch.randn(512, 40, dtype=torch.float64)
    stds = lsuv(net, X, tol=0.01, rng=np.random.default_rng(0))
    assert len(stds) == 13 and all(abs(s**2 - 1) < 0.01 for s in stds)
    linear_out = [r.std for r in forward_stats(net, X) if r.kind == "Linear"]
    assert all(abs(s**2 - 1) < 0.01 for s in linear_out)
    fresh = [r.std for r in forward_stats(net, torch.randn(512, 40, dtype=torch.float64)) if r.kind == "Linear"]
    assert all(abs(s - 1) < 0.15 for s in fresh)
    # without LSUV (torch's default init) the last layer's std has collapsed
    torch.manual_seed(0)
    plain = nn.Sequential(*[m for _ in range(12) for m in (nn.Linear(40, 40), nn.ReLU())], nn.Linear(40, 5)).double()
    assert [r.std for r in forward_stats(plain, X) if r.kind == "Linear"][-1] < 0.1


def test_lsuv_returns_the_final_measurements_and_whether_they_converged() -> None:
    """With max_iter = 1 the weight is divided once; the old loop then returned the std measured
    *before* that division (0.57 for the first layer here) instead of the std of the weights it
    leaves (1.0). Every returned value must equal a fresh measurement of the final network."""
    torch.manual_seed(0)
    net = nn.Sequential(*[m for _ in range(4) for m in (nn.Linear(30, 30), nn.ReLU())]).double()
    X = torch.randn(256, 30, dtype=torch.float64)
    before = [r.std for r in forward_stats(net, X) if r.kind == "Linear"]
    out = lsuv(net, X, tol=0.01, max_iter=1)
    after = [r.std for r in forward_stats(net, X) if r.kind == "Linear"]
    assert list(out) == after and all(abs(s - 1.0) < 1e-12 for s in after)
    assert all(abs(b - 1.0) > 0.05 for b in before)  # so a stale value would show
    assert out.converged == [True] * 4 and out.iterations == [1] * 4
    # a tolerance no float can meet: every layer runs out of iterations, and says so
    out = lsuv(net, X, tol=1e-300, max_iter=2)
    assert out.iterations == [2] * 4
    assert out.converged == [abs(s**2 - 1) < 1e-300 for s in out]
    assert list(out) == [r.std for r in forward_stats(net, X) if r.kind == "Linear"]


def test_lsuv_errors() -> None:
    X = torch.randn(4, 3)
    with pytest.raises(ValueError, match="Invalid tolerance: 0"):
        lsuv(nn.Linear(3, 3), X, tol=0)
    with pytest.raises(ValueError, match="Invalid max_iter: 0"):
        lsuv(nn.Linear(3, 3), X, max_iter=0)
    with pytest.raises(ValueError, match="LSUV needs at least one Linear or Conv layer"):
        lsuv(nn.Sequential(nn.BatchNorm1d(3)), X)
    with pytest.raises(ValueError, match="Invalid model: Sequential has no parameters"):
        lsuv(nn.Sequential(nn.ReLU()), X)


def test_init_model_schemes() -> None:
    net = nn.Sequential(nn.Linear(400, 300), nn.ReLU(), nn.Linear(300, 200)).double()
    rng = np.random.default_rng(0)
    init_model_(net, "kaiming", rng=rng, bias=0.1)
    assert float(net[0].weight.detach().var()) * 400 == pytest.approx(2.0, rel=0.02)  # 5 standard errors of a sample variance
    assert torch.all(net[2].bias == 0.1)
    init_model_(net, "orthogonal", rng=rng)
    W = net[2].weight.detach().numpy()
    np.testing.assert_allclose(W @ W.T, 2.0 * np.eye(200), atol=1e-10)  # gain sqrt(2) for ReLU
    init_model_(net, "zeros", rng=rng)
    assert float(net[0].weight.detach().abs().max()) == 0.0
    with pytest.raises(ValueError, match=r"Invalid initialization scheme: 'he' \(use one of"):
        init_model_(net, "he", rng=rng)


def test_prior_bias() -> None:
    y = np.array([0] * 90 + [1] * 10)
    b = prior_bias(y, 2)
    p = torch.softmax(torch.tensor(b), 0).numpy()
    np.testing.assert_allclose(p, [0.9, 0.1], rtol=1e-12)
    loss = nn.functional.cross_entropy(torch.tensor(b).repeat(100, 1), torch.tensor(y))
    assert float(loss) == pytest.approx(-(0.9 * math.log(0.9) + 0.1 * math.log(0.1)), rel=1e-12)
    with pytest.raises(ValueError, match=r"Invalid y: every one of the 3 classes must occur \(missing: \[1\]\)"):
        prior_bias(np.array([0, 0, 2]), 3)
    with pytest.raises(ValueError, match=r"Invalid y: array of shape \(3,\) and dtype float64 \(need integer labels in \[0, 3\)\)"):
        prior_bias(np.array([0.0, 1.5, 2.0]), 3)
    with pytest.raises(ValueError, match=r"Invalid y: array of shape \(2,\) and dtype int64 \(need integer labels in \[0, 2\)\)"):
        prior_bias(np.array([0, 2]), 2)
    with pytest.raises(ValueError, match=r"Invalid n_classes: 0 \(need n_classes >= 1\)"):
        prior_bias(np.array([0, 1]), 0)
    np.testing.assert_array_equal(prior_bias(torch.tensor([0, 1, 1]), 2), prior_bias([0, 1, 1], 2))


def test_exercises() -> None:
    # Conv2d(16, 48, 5): weight (48, 16, 5, 5); fan_out = 48 * 25 = 1200, fan_in = 16 * 25 = 400
    fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(torch.empty(48, 16, 5, 5))
    assert (fan_in, fan_out) == (400, 1200)
    assert check("init.conv_he_std", nn.init.calculate_gain("relu") / math.sqrt(fan_out))
    assert not check("init.conv_he_std", math.sqrt(2) / math.sqrt(fan_in))
    assert not check("init.conv_he_std", math.sqrt(1 / fan_out))
    assert check("init.relu_xavier_depth", 21) and not check("init.relu_xavier_depth", 20)
    # the reference is torch's own kaiming_uniform_ bound: its largest |w| over many draws
    w = torch.empty(20_000, 64, dtype=torch.float64)
    nn.init.kaiming_uniform_(w, a=0.0, mode="fan_in", nonlinearity="relu", generator=torch.Generator().manual_seed(0))
    b_torch = float(w.abs().max())
    assert check("init.kaiming_uniform_bound", lambda fan, g: g * math.sqrt(3 / fan))
    assert b_torch == pytest.approx(math.sqrt(2) * math.sqrt(3 / 64), rel=1e-5)
    assert not check("init.kaiming_uniform_bound", lambda fan, g: g * math.sqrt(6 / fan))
    assert not check("init.kaiming_uniform_bound", lambda fan, g: g / math.sqrt(fan))
    depth = next(L for L in range(1, 100) if 1.05**L > 2)
    assert check("init.isometry_depth", depth) and not check("init.isometry_depth", depth - 1) and not check("init.isometry_depth", 16)
    assert check("init.leaky_gain", nn.init.calculate_gain("leaky_relu", 0.3))
    assert not check("init.leaky_gain", nn.init.calculate_gain("leaky_relu", 0.2))
    assert not check("init.leaky_gain", nn.init.calculate_gain("relu"))
    pw = predict_widths([32, 128, 48, 96, 8], mode="fan_out").forward
    assert check("init.fan_out_forward", pw[-1] / pw[0]) and not check("init.fan_out_forward", 96 / 32)
