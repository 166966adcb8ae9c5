"""Tests of nbcode.landscape: filter normalization, grids with θ* exactly on them, vectorized
evaluation against a plain loop, the model left untouched."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from nbcode.landscape import (auto_chunk, centered_grid, filter_normalize, interpolate, loss_on_grid, losses_at, random_direction,
                              slice_1d, slice_2d)
from nbcode.train import mlp


@pytest.fixture()
def setup():
    torch.manual_seed(0)
    net = mlp([5, 7, 3], nn.ReLU).double()
    X = torch.randn(40, 5, dtype=torch.float64)
    y = torch.randint(0, 3, (40,))
    return net, X, y


def _loop_loss(net, X, y, theta):
    """The ground truth: copy theta into a clone of the model and call it."""
    clone = mlp([5, 7, 3], nn.ReLU).double()
    torch.nn.utils.vector_to_parameters(theta, clone.parameters())
    with torch.no_grad():
        return float(nn.functional.cross_entropy(clone(X), y))


def test_filter_normalization_per_row_and_zero_bias(setup):
    net, X, y = setup
    d = random_direction(net, seed=3)
    parts = torch.split(d, [p.numel() for p in net.parameters()])
    for p, dp in zip(net.parameters(), parts):
        dp = dp.reshape(p.shape)
        if p.ndim == 1:
            assert torch.count_nonzero(dp) == 0
        else:
            torch.testing.assert_close(dp.norm(dim=1), p.detach().norm(dim=1))
    # direction of each row is kept (only the length changes)
    raw = random_direction(net, seed=3, normalization="none")
    w0 = raw[: 7 * 5].reshape(7, 5)
    torch.testing.assert_close(torch.nn.functional.normalize(d[: 7 * 5].reshape(7, 5), dim=1), torch.nn.functional.normalize(w0, dim=1))
    # seeded
    assert torch.equal(random_direction(net, seed=3), d) and not torch.equal(random_direction(net, seed=4), d)
    # invariance that motivates it: rescaling a ReLU layer's rows rescales the normalized direction alike
    assert torch.equal(filter_normalize(net, 2.0 * raw), filter_normalize(net, raw)) or torch.allclose(
        filter_normalize(net, 2.0 * raw), filter_normalize(net, raw)
    )


def test_slices_match_a_plain_loop_and_leave_the_model_alone(setup):
    net, X, y = setup
    before = [p.detach().clone() for p in net.parameters()]
    theta = torch.nn.utils.parameters_to_vector(net.parameters()).detach()
    d1, d2 = random_direction(net, seed=1), random_direction(net, seed=2)
    a, b = centered_grid(1.0, 5), centered_grid(0.5, 3)
    Z = slice_2d(net, nn.functional.cross_entropy, X, y, (d1, d2), a, b)
    assert Z.shape == (3, 5)
    for i, bi in enumerate(b):
        for j, aj in enumerate(a):
            assert Z[i, j] == pytest.approx(_loop_loss(net, X, y, theta + aj * d1 + bi * d2), rel=1e-12)
    # θ* exactly on the grid: the centre is the model's own loss (up to batched-matmul rounding)
    assert a[2] == 0.0 and b[1] == 0.0
    with torch.no_grad():
        assert Z[1, 2] == pytest.approx(float(nn.functional.cross_entropy(net(X), y)), rel=1e-14)
    line = slice_1d(net, nn.functional.cross_entropy, X, y, d1, a)
    np.testing.assert_allclose(line, Z[1], rtol=1e-12)
    for p, q in zip(net.parameters(), before):
        assert torch.equal(p.detach(), q)


def test_chunking_does_not_change_results(setup):
    net, X, y = setup
    theta = torch.nn.utils.parameters_to_vector(net.parameters()).detach()
    thetas = theta[None, :] + 0.1 * torch.randn(10, theta.numel(), dtype=torch.float64)
    np.testing.assert_allclose(
        loss_on_grid(net, nn.functional.cross_entropy, X, y, thetas, chunk=3),
        loss_on_grid(net, nn.functional.cross_entropy, X, y, thetas, chunk=64),
        rtol=1e-13,
    )


class Wrapped(nn.Module):
    """The same network inside another module."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x)


@pytest.mark.parametrize("chunk", [1, 4, None])
@pytest.mark.parametrize("wrap", [False, True])
def test_losses_on_a_plane_match_the_loop(setup, chunk, wrap):
    """Points on a plane, looped or vmapped, against the ground truth."""
    net, X, y = setup
    model = Wrapped(net) if wrap else net
    theta = torch.nn.utils.parameters_to_vector(net.parameters()).detach()
    d1, d2 = random_direction(net, seed=1, normalization="none"), random_direction(net, seed=2, normalization="none")
    coeffs = torch.tensor([[0.0, 0.0], [0.3, -0.2], [-1.0, 0.5], [2.0, 1.0], [0.1, 0.1]], dtype=torch.float64)
    L = losses_at(model, nn.functional.cross_entropy, X, y, theta, [d1, d2], coeffs, chunk=chunk)
    expected = [_loop_loss(net, X, y, theta + a * d1 + b * d2) for a, b in coeffs.tolist()]
    np.testing.assert_allclose(L, expected, rtol=1e-12)
    with torch.no_grad():
        assert L[0] == pytest.approx(float(nn.functional.cross_entropy(net(X), y)), rel=1e-14)  # the centre (batched-matmul rounding)


def test_auto_chunk_follows_the_activation_size_and_leaves_buffers_alone():
    torch.manual_seed(0)
    small, wide = mlp([5, 7, 3], dtype=torch.float32), mlp([5, 4096, 3], dtype=torch.float32)
    X = torch.randn(64, 5)
    assert auto_chunk(small, X) == 64  # 64 x 7 activations: the cap
    assert auto_chunk(wide, X) == 1  # 64 x 4096 = 2**18 entries: 4 points fit, too few for vmap
    assert auto_chunk(wide, X[:16]) == 16  # 2**16 entries: 16 points fit the 2**20 budget
    bn = nn.Sequential(nn.Linear(5, 7), nn.BatchNorm1d(7), nn.ReLU(), nn.Linear(7, 3))
    before = bn[1].running_mean.clone()
    auto_chunk(bn, X)
    assert torch.equal(bn[1].running_mean, before) and int(bn[1].num_batches_tracked) == 0


def test_interpolation_endpoints(setup):
    net, X, y = setup
    theta = torch.nn.utils.parameters_to_vector(net.parameters()).detach()
    start = torch.zeros_like(theta)
    L = interpolate(net, nn.functional.cross_entropy, X, y, start, [0.0, 0.5, 1.0])
    assert L[0] == pytest.approx(np.log(3.0), rel=1e-12)  # all-zero network: uniform prediction
    with torch.no_grad():
        assert L[2] == pytest.approx(float(nn.functional.cross_entropy(net(X), y)), rel=1e-12)
    assert L[1] == pytest.approx(_loop_loss(net, X, y, 0.5 * theta), rel=1e-12)


def test_bad_inputs(setup):
    net, X, y = setup
    with pytest.raises(ValueError, match="Invalid normalization"):
        random_direction(net, normalization="layer")
    with pytest.raises(ValueError, match="Invalid number of grid points"):
        centered_grid(1.0, 4)
    with pytest.raises(ValueError, match="Invalid radius"):
        centered_grid(-1.0, 5)
    with pytest.raises(ValueError, match=r"Invalid shape of direction: \(3,\) \(need \(\d+,\), one entry per parameter\)"):
        slice_1d(net, nn.functional.cross_entropy, X, y, torch.zeros(3, dtype=torch.float64), [0.0])
    with pytest.raises(ValueError, match=r"Invalid shape of thetas: \(2, 3\)"):
        loss_on_grid(net, nn.functional.cross_entropy, X, y, torch.zeros(2, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="Invalid model: ReLU has no parameters"):
        random_direction(nn.ReLU())
    theta = torch.nn.utils.parameters_to_vector(net.parameters()).detach()
    with pytest.raises(ValueError, match="Invalid chunk: 0"):
        loss_on_grid(net, nn.functional.cross_entropy, X, y, theta[None, :], chunk=0)
    with pytest.raises(ValueError, match=r"Invalid shape of coeffs: \(3, 1\) \(need \(G, 2\) for 2 directions\)"):
        losses_at(net, nn.functional.cross_entropy, X, y, theta, [theta, theta], torch.zeros(3, 1))
    with pytest.raises(ValueError, match=r"Invalid shape of theta_start: \(2,\)"):
        interpolate(net, nn.functional.cross_entropy, X, y, torch.zeros(2, dtype=torch.float64), [0.0])


def test_bad_data_and_points_are_refused_before_any_evaluation(setup):
    net, X, y = setup
    ce = nn.functional.cross_entropy
    theta = torch.nn.utils.parameters_to_vector(net.parameters()).detach()
    with pytest.raises(ValueError, match=r"Invalid shape of y: \(\d+,\) \(need one target per row of X"):
        slice_1d(net, ce, X, y[:-1], theta, [0.0])
    bad = X.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="Invalid X: it contains NaN or infinity"):
        slice_1d(net, ce, bad, y, theta, [0.0])
    with pytest.raises(ValueError, match="Invalid X: it is empty"):
        auto_chunk(net, X[:0])
    d = theta.clone()
    d[-1] = float("inf")
    with pytest.raises(ValueError, match="Invalid direction: it contains NaN or infinity"):
        filter_normalize(net, d)
    with pytest.raises(ValueError, match="Invalid theta: it contains NaN or infinity"):
        losses_at(net, ce, X, y, d, [theta], torch.zeros(2, 1))
    with pytest.raises(ValueError, match="Invalid coeffs: it contains NaN or infinity"):
        losses_at(net, ce, X, y, theta, [theta], torch.tensor([[0.0], [float("nan")]]))
    with pytest.raises(TypeError, match=r"Invalid directions: None \(need a pair of tensors"):
        slice_2d(net, ce, X, y, None, [0.0], [0.0])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Invalid thetas: a tensor of dtype torch.int64"):
        loss_on_grid(net, ce, X, y, torch.zeros(1, theta.numel(), dtype=torch.long))
