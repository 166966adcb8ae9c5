"""nbcode.experiments.norm: BatchNorm in small MLPs, the chapter's claims (larger stable rates,
curvature at the end below 2/eta, batch-statistics noise 1/sqrt(B))."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from nbcode.data import load_digits
from nbcode.experiments.norm import (
    DIVERGED,
    batch_stat_accuracy,
    class_skewed_batches,
    compare_bn,
    gd_train,
    lr_scan,
    scale_invariance,
    train_sgd,
)
from nbcode.train import mlp

torch.set_num_threads(1)
# torch.func compiles its decompositions with torch.jit.script, which warns in this torch version
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")


@pytest.fixture(scope="module")
def digits() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    d = load_digits()
    return torch.tensor(d.X_train), torch.tensor(d.y_train), torch.tensor(d.X_val), torch.tensor(d.y_val)


def test_bn_trains_at_larger_lr_and_ends_below_two_over_eta(digits: tuple[torch.Tensor, ...]) -> None:
    X, y = digits[0][:512], digits[1][:512]
    lrs = [0.5, 2.0, 5.0]
    plain, bn = compare_bn([64, 32, 32, 10], X, y, lrs, steps=50)
    assert bn.scan.lr_max > plain.scan.lr_max
    for r in (plain, bn):
        ok = r.scan.final_loss < 0.5 * r.scan.initial_loss
        assert np.all(r.scan.lam_final[ok] < 2 / r.scan.lrs[ok])
    # BN is sharper at initialization here: curvature at init does not explain the larger lr
    assert bn.lam_init > plain.lam_init
    # ... the weights before each BatchNorm grow at a large lr, shrinking the effective step
    assert bn.scan.weight_growth[-1] > 2.0 > bn.scan.weight_growth[0]


def test_lr_scan_marks_divergence(digits: tuple[torch.Tensor, ...]) -> None:
    s = lr_scan([64, 16, 10], digits[0][:128], digits[1][:128], [1.0, 1e4], bn=False, steps=30)
    assert np.isfinite(s.final_loss[0]) and np.isnan(s.final_loss[1]) and s.lr_max == 1.0


def test_scale_invariance_with_bn_only(digits: tuple[torch.Tensor, ...]) -> None:
    X, y = digits[0][:128], digits[1][:128]
    change, ratio = scale_invariance(mlp([64, 16, 10], batch_norm=True, seed=0), X, y, 4.0)
    assert change < 1e-3 and ratio == pytest.approx(0.25, rel=1e-3)
    change, ratio = scale_invariance(mlp([64, 16, 10], seed=0), X, y, 4.0)
    assert change > 0.1


def test_batch_statistics_noise_is_one_over_sqrt_b(digits: tuple[torch.Tensor, ...]) -> None:
    X, y, Xv, yv = digits
    m = train_sgd(mlp([64, 32, 10], batch_norm=True, seed=0), X, y, batch_size=32, epochs=3, lr=0.1)
    rm = m[1].running_mean.clone()
    accs = {}
    for B in (4, 16, 64):
        acc, noise = batch_stat_accuracy(m, Xv, yv, B, 0.0, n_batches=512 // B)
        assert noise == pytest.approx(1 / np.sqrt(B), rel=0.2)
        accs[B] = acc
    assert accs[4] < accs[64]
    acc1, _ = batch_stat_accuracy(m, Xv, yv, 32, 1.0, n_batches=20)
    assert acc1 < 0.3  # single-class batches: batch statistics are not the data's
    torch.testing.assert_close(m[1].running_mean, rm)


def test_skewed_batches_and_errors(digits: tuple[torch.Tensor, ...]) -> None:
    y = np.repeat(np.arange(5), 10)
    for b in class_skewed_batches(y, 8, 0.75, 5, seed=1):
        assert len(b) == 8 and np.bincount(y[b]).max() >= 6
    with pytest.raises(ValueError, match=r"Invalid skew: 2 \(need 0 <= skew <= 1\)"):
        class_skewed_batches(y, 8, 2, 5)
    with pytest.raises(ValueError, match="Invalid batch size: 0"):
        class_skewed_batches(y, 0, 0.5, 5)
    with pytest.raises(ValueError, match="Invalid model: it has no BatchNorm layer"):
        batch_stat_accuracy(mlp([64, 10], seed=0), digits[2], digits[3], 8)
    with pytest.raises(ValueError, match=r"Invalid layer sizes: \[4\]"):
        mlp([4], batch_norm=True)


def test_gd_train_takes_exactly_steps_steps(digits: tuple[torch.Tensor, ...]) -> None:
    """steps = 0 takes no step (it took one); steps = 3 is three plain gradient-descent steps on
    the whole batch, in order, checked against a loop of torch.optim.SGD."""
    X, y = digits[0][:64], digits[1][:64]
    net = mlp([64, 8, 10], batch_norm=True, seed=0)
    w0 = [p.detach().clone() for p in net.parameters()]
    losses = gd_train(net, X, y, 0.5, 0)
    assert len(losses) == 1 and all(torch.equal(a, b) for a, b in zip(w0, net.parameters()))
    ref = mlp([64, 8, 10], batch_norm=True, seed=0)
    net = mlp([64, 8, 10], batch_norm=True, seed=0)
    losses = gd_train(net, X, y, 0.5, 3)
    opt = torch.optim.SGD(ref.parameters(), lr=0.5)
    want = []
    for _ in range(3):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(ref(X), y)
        want.append(loss.item())
        loss.backward()
        opt.step()
    assert len(losses) == 4 and losses[:3] == pytest.approx(want, rel=1e-12)
    for a, b in zip(net.parameters(), ref.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)
    assert not net.training


def test_gd_train_stops_at_divergence(digits: tuple[torch.Tensor, ...]) -> None:
    net = mlp([64, 16, 10], seed=0)
    losses = gd_train(net, digits[0][:128], digits[1][:128], 1e4, 30)
    assert len(losses) == 31
    k = int(np.argmax(~np.isfinite(losses) | (np.array(losses) > DIVERGED)))
    assert 0 < k < 30 and all(math.isnan(v) for v in losses[k + 1 :])


def test_he_init_matches_the_rule() -> None:
    from nbcode.experiments.norm import he_init_

    net = he_init_(mlp([400, 300, 200], seed=0))
    w0, w1 = net[0].weight.detach().numpy(), net[2].weight.detach().numpy()
    assert w0.var() * 400 == pytest.approx(2.0, rel=0.02) and w1.var() * 300 == pytest.approx(1.0, rel=0.02)
    assert float(net[0].bias.abs().max()) == 0.0 == float(net[2].bias.abs().max())


def test_rescaled_sharpness_keeps_the_function_and_moves_the_curvature(digits: tuple[torch.Tensor, ...]) -> None:
    from nbcode.experiments.norm import rescaled_sharpness
    from nbcode.hessian import sharpness

    X, y = digits[0][:128], digits[1][:128]
    net = mlp([64, 16, 10], batch_norm=True, seed=0)
    change1, lam1 = rescaled_sharpness(net, X, y, 1.0)
    assert change1 == 0.0 and lam1 == pytest.approx(sharpness(net, X, y, tol=1e-4), rel=1e-3)
    change2, lam2 = rescaled_sharpness(net, X, y, 2.0)
    assert change2 < 1e-3 and lam2 < 0.8 * lam1
    with pytest.raises(ValueError, match="no Linear layer feeds a BatchNorm"):
        rescaled_sharpness(mlp([64, 16, 10], seed=0), X, y, 2.0)


def test_norm_mlp_layers_are_torch_layers() -> None:
    from nbcode.experiments.norm import norm_mlp

    x = torch.randn(6, 8, dtype=torch.float64)
    for norm, cls in [("batch", torch.nn.BatchNorm1d), ("layer", torch.nn.LayerNorm), ("group", torch.nn.GroupNorm),
                      ("rms", torch.nn.RMSNorm)]:
        net = norm_mlp([8, 12, 3], norm, groups=3, seed=1)
        assert isinstance(net[1], cls)
        h = net[1](net[0](x))
        if norm == "layer":
            torch.testing.assert_close(h.mean(1), torch.zeros(6, dtype=torch.float64), rtol=0, atol=1e-12)
    assert [type(m).__name__ for m in norm_mlp([8, 12, 3], "none")] == ["Linear", "ReLU", "Linear"]
    with pytest.raises(ValueError, match="Invalid norm"):
        norm_mlp([8, 3], "weight")


def test_train_norms_per_example_norms_do_not_need_a_batch(digits: tuple[torch.Tensor, ...]) -> None:
    from nbcode.experiments.norm import train_norms

    X, y, Xv, yv = digits
    acc = train_norms([64, 32, 10], X[:320], y[:320], Xv, yv, norms=["layer", "batch"], batch_sizes=[2, 32], epochs=2,
                      lr_per_example=0.1 / 32)
    assert set(acc) == {("layer", 2), ("layer", 32), ("batch", 2), ("batch", 32)}
    assert acc["layer", 2] > 0.8 and acc["layer", 2] > acc["batch", 2] + 0.1
