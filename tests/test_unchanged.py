"""Functions documented to leave a model unchanged leave it unchanged, and work in training mode.

The model is an MLP with BatchNorm (running statistics already moved away from their initial
values) and dropout, in training mode, with one frozen parameter and one existing ``.grad``. Every
function must leave each parameter and buffer (``running_mean``, ``running_var``,
``num_batches_tracked``), each ``requires_grad`` flag and ``.grad``, each module's train/eval mode
and the global random states (torch, NumPy, Python) exactly as they were. And it must compute
what a training step computes: BatchNorm with the batch statistics, dropout with the masks the
module itself would draw from the same random state (checked against a deep copy of the model
called the ordinary way).

Before the fix, ``forward_stats``, ``layer_stats``, ``losses_at(chunk=1)`` and ``flat_loss``
moved the running statistics and ``num_batches_tracked``, and ``losses_at`` with vectorised
chunks, ``exact_hessian`` and ``HessianOperator`` raised inside torch on this model.
"""

from __future__ import annotations

import copy
import random
from typing import Any, Callable

import numpy as np
import pytest
import torch
from torch import nn

from nbcode._torch import call_buffers, fixed_rng, stateless
from nbcode.hessian.monitor import curvature_along_gradient
from nbcode.hessian.operator import HessianOperator, exact_hessian, flat_loss, flat_params
from nbcode.hessian.spectrum import lanczos_topk
from nbcode.init.probe import forward_stats, layer_stats, lsuv
from nbcode.landscape.slices import (auto_chunk, filter_normalize, interpolate, loss_on_grid, losses_at, random_direction,
                                     slice_1d, slice_2d)

ce = nn.functional.cross_entropy


def make_net() -> nn.Sequential:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(5, 6), nn.BatchNorm1d(6), nn.Tanh(), nn.Dropout(0.3), nn.Linear(6, 3)).double()
    with torch.no_grad():  # move the running statistics away from (0, 1)
        for _ in range(3):
            net(torch.randn(16, 5, dtype=torch.float64) + 1.0)
    net[4].bias.requires_grad_(False)
    net[0].weight.grad = torch.full_like(net[0].weight, 0.5)
    return net.train()


@pytest.fixture()
def data() -> tuple[nn.Sequential, torch.Tensor, torch.Tensor]:
    net = make_net()
    g = torch.Generator().manual_seed(1)
    X = torch.randn(20, 5, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (20,), generator=g)
    return net, X, y


class Snapshot:
    """Everything a call could change, with an exact comparison."""

    def __init__(self, model: nn.Module) -> None:
        self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        self.ids = {k: id(v) for k, v in [*model.named_parameters(), *model.named_buffers()]}
        self.flags = {k: p.requires_grad for k, p in model.named_parameters()}
        self.grads = {k: None if p.grad is None else p.grad.clone() for k, p in model.named_parameters()}
        self.modes = {k: m.training for k, m in model.named_modules()}
        self.torch_rng = torch.get_rng_state()
        self.np_rng = np.random.get_state()
        self.py_rng = random.getstate()

    def check(self, model: nn.Module) -> None:
        now = model.state_dict()
        assert now.keys() == self.state.keys()
        for k, v in now.items():
            assert torch.equal(v, self.state[k]), f"{k} changed"
        assert {k: id(v) for k, v in [*model.named_parameters(), *model.named_buffers()]} == self.ids  # same objects
        assert {k: p.requires_grad for k, p in model.named_parameters()} == self.flags
        for k, p in model.named_parameters():
            assert (p.grad is None) == (self.grads[k] is None) and (p.grad is None or torch.equal(p.grad, self.grads[k])), k
        assert {k: m.training for k, m in model.named_modules()} == self.modes
        assert torch.equal(torch.get_rng_state(), self.torch_rng)
        a, b = np.random.get_state(), self.np_rng
        assert a[0] == b[0] and np.array_equal(a[1], b[1]) and a[2:] == b[2:]
        assert random.getstate() == self.py_rng


def _theta(net: nn.Module) -> torch.Tensor:
    return flat_params(net)


CALLS: dict[str, Callable[[nn.Module, torch.Tensor, torch.Tensor], Any]] = {
    "forward_stats": lambda net, X, y: forward_stats(net, X),
    "layer_stats": lambda net, X, y: layer_stats(net, X, y),
    "layer_stats without y": lambda net, X, y: layer_stats(net, X),
    "losses_at chunk=1": lambda net, X, y: losses_at(net, ce, X, y, _theta(net), [random_direction(net, seed=1)],
                                                     torch.linspace(-1, 1, 5, dtype=torch.float64)[:, None], chunk=1),
    "losses_at chunk=4": lambda net, X, y: losses_at(net, ce, X, y, _theta(net), [random_direction(net, seed=1)],
                                                     torch.linspace(-1, 1, 5, dtype=torch.float64)[:, None], chunk=4),
    "loss_on_grid": lambda net, X, y: loss_on_grid(net, ce, X, y, _theta(net)[None, :].repeat(9, 1), chunk=None),
    "slice_1d": lambda net, X, y: slice_1d(net, ce, X, y, random_direction(net, seed=2), [-0.5, 0.0, 0.5]),
    "slice_2d": lambda net, X, y: slice_2d(net, ce, X, y, (random_direction(net, seed=1), random_direction(net, seed=2)),
                                           [-1.0, 0.0, 1.0], [0.0, 1.0]),
    "interpolate": lambda net, X, y: interpolate(net, ce, X, y, torch.zeros_like(_theta(net)), [0.0, 0.5, 1.0]),
    "auto_chunk": lambda net, X, y: auto_chunk(net, X),
    "filter_normalize": lambda net, X, y: filter_normalize(net, torch.ones_like(_theta(net))),
    "flat_loss": lambda net, X, y: [f(th) for f, th in [flat_loss(net, ce, X, y)] for _ in range(2)],
    "exact_hessian": lambda net, X, y: exact_hessian(net, ce, X, y),
    "HessianOperator": lambda net, X, y: [(op.matvec(np.ones(op.dim)), op.gradient(), lanczos_topk(op, k=2, max_iter=12))
                                          for op in [HessianOperator(net, ce, X, y)]],
    "curvature_along_gradient": lambda net, X, y: curvature_along_gradient(net, ce, X, y),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_model_and_random_state_unchanged(name: str, data: tuple[nn.Sequential, torch.Tensor, torch.Tensor]) -> None:
    net, X, y = data
    snap = Snapshot(net)
    CALLS[name](net, X, y)
    snap.check(net)


@pytest.mark.parametrize("name", ["forward_stats", "flat_loss", "losses_at chunk=4"])
def test_unchanged_in_eval_mode_too(name: str, data: tuple[nn.Sequential, torch.Tensor, torch.Tensor]) -> None:
    net, X, y = data
    net.eval()
    snap = Snapshot(net)
    CALLS[name](net, X, y)
    snap.check(net)


def reference_loss(net: nn.Module, X: torch.Tensor, y: torch.Tensor, theta: torch.Tensor, rng: torch.Tensor) -> float:
    """The ground truth: a deep copy with the parameters ``theta``, called the ordinary way in its
    own mode from the random state ``rng`` (it moves the copy's running statistics, not ours)."""
    clone = copy.deepcopy(net)
    torch.nn.utils.vector_to_parameters(theta.clone(), clone.parameters())
    with fixed_rng(rng), torch.no_grad():
        return float(ce(clone(X), y))


@pytest.mark.parametrize("chunk", [1, 4])
def test_losses_are_a_training_steps_losses(chunk: int, data: tuple[nn.Sequential, torch.Tensor, torch.Tensor]) -> None:
    """Batch statistics and the masks dropout itself would draw, looped or vectorised."""
    net, X, y = data
    theta = _theta(net)
    d = random_direction(net, seed=3, normalization="none")
    coeffs = torch.tensor([[-0.5], [0.0], [0.25], [1.0], [2.0]], dtype=torch.float64)
    rng = torch.get_rng_state()
    L = losses_at(net, ce, X, y, theta, [d], coeffs, chunk=chunk)
    expected = [reference_loss(net, X, y, theta + float(c) * d, rng) for c in coeffs[:, 0]]
    np.testing.assert_allclose(L, expected, rtol=1e-12)
    # the running statistics are not what the loss used: eval mode gives another value
    assert abs(reference_loss(net.eval(), X, y, theta, rng) - expected[1]) > 1e-3


def test_hessian_and_hvp_in_training_mode_match_finite_differences(data: tuple[nn.Sequential, torch.Tensor, torch.Tensor]) -> None:
    """Exact Hessian against central differences of plain autograd gradients of a deep copy (same
    masks: the random state reset before each call); the HVP against the exact Hessian.
    (torch.func.hessian and jacrev(jacrev) give a non-symmetric, wrong matrix here.)"""
    net, X, y = data
    rng = torch.get_rng_state()
    H = exact_hessian(net, ce, X, y)
    clone = copy.deepcopy(net)
    params = [p for p in clone.parameters() if p.requires_grad]  # the Hessian is over the trainable parameters

    def gradient(theta: torch.Tensor) -> torch.Tensor:
        torch.nn.utils.vector_to_parameters(theta, params)
        with fixed_rng(rng):
            loss = ce(clone(X), y)
        return torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, params)])

    for p in params:
        p.requires_grad_(True)
    theta0, h = torch.cat([p.detach().reshape(-1) for p in params]), 1e-5
    picked = range(0, theta0.numel(), 3)  # every third column: enough, and fast
    eye = torch.eye(theta0.numel(), dtype=theta0.dtype)
    cols = [(gradient(theta0 + h * eye[i]) - gradient(theta0 - h * eye[i])) / (2 * h) for i in picked]
    H_fd = torch.stack(cols, dim=1).numpy()
    np.testing.assert_allclose(H[:, picked], H_fd, atol=1e-7 * np.abs(H).max())
    op = HessianOperator(net, ce, X, y)
    v = np.random.default_rng(0).standard_normal(op.dim)
    np.testing.assert_allclose(op.matvec(v), H @ v, rtol=1e-10, atol=1e-12 * np.abs(H @ v).max())


def test_forward_and_layer_stats_are_a_training_steps_statistics(data: tuple[nn.Sequential, torch.Tensor, torch.Tensor]) -> None:
    net, X, y = data
    rng = torch.get_rng_state()
    clone = copy.deepcopy(net)
    outs: dict[str, torch.Tensor] = {}
    for name, m in clone.named_children():
        m.register_forward_hook(lambda mod, inp, out, name=name: outs.__setitem__(name, out))
    with fixed_rng(rng):
        loss = ce(clone(X), y)
    for o in outs.values():
        o.retain_grad()
    loss.backward()
    fs = forward_stats(net, X)
    ls = layer_stats(net, X, y)
    for a, b in zip(fs, ls):
        o = outs[a.name].detach()
        assert a.name == b.name and a.std == pytest.approx(float(o.std()), rel=1e-12)
        assert b.std == a.std and b.grad_std == pytest.approx(float(outs[a.name].grad.std()), rel=1e-12)
    # every weight's gradient, the frozen-bias layer's too
    assert ls[0].weight_grad_std == pytest.approx(float(clone[0].weight.grad.std()), rel=1e-12)
    assert ls[4].weight_grad_std == pytest.approx(float(clone[4].weight.grad.std()), rel=1e-12)


def test_lsuv_changes_only_the_weights(data: tuple[nn.Sequential, torch.Tensor, torch.Tensor]) -> None:
    net, X, y = data
    snap = Snapshot(net)
    lsuv(net, X)
    for k, v in net.state_dict().items():
        changed = not torch.equal(v, snap.state[k])
        assert changed == (k in ("0.weight", "0.bias", "4.weight", "4.bias")), k  # rescaled weights, zeroed biases
    assert torch.equal(torch.get_rng_state(), snap.torch_rng)
    assert [m.training for m in net.modules()] == list(snap.modes.values())


def test_stateless_helper() -> None:
    net = make_net()
    buffers = call_buffers(net)
    assert buffers["1.running_mean"] is None and buffers["1.num_batches_tracked"] is None
    assert torch.equal(call_buffers(net.eval())["1.running_mean"], net[1].running_mean)  # a copy, in eval mode
    assert call_buffers(net.eval())["1.running_mean"] is not net[1].running_mean
    net.train()
    call = stateless(net)
    X = torch.randn(8, 5, dtype=torch.float64)
    a = call(dict(net.named_parameters()), X)
    torch.rand(5)  # the global stream moves on: the model's masks do not
    b = call(dict(net.named_parameters()), X)
    assert torch.equal(a, b)
