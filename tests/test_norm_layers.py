"""NumPy normalization layers against torch.nn (float64): outputs, gradients, running statistics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from nbcode.norm import (
    BatchNorm,
    batch_norm,
    batch_norm_backward,
    batch_norm_backward_stepwise,
    group_norm,
    group_norm_backward,
    instance_norm,
    layer_norm,
    layer_norm_backward,
    norm_axes,
    spectral_norm,
    spectral_power_iteration,
    weight_norm,
    weight_norm_backward,
)

RTOL, ATOL = 1e-10, 1e-12


def t(a: np.ndarray) -> torch.Tensor:
    return torch.tensor(a, dtype=torch.float64, requires_grad=True)


def close(a: np.ndarray, b: torch.Tensor) -> None:
    np.testing.assert_allclose(a, b.detach().numpy(), rtol=RTOL, atol=ATOL)


def finite_diff(f, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


@pytest.mark.parametrize("shape", [(8, 3), (5, 3, 4), (4, 3, 2, 3)])
@pytest.mark.parametrize("momentum", [0.1, 0.5])
def test_batchnorm_matches_torch_over_steps(shape: tuple[int, ...], momentum: float) -> None:
    rng = np.random.default_rng(0)
    C = shape[1]
    mod = {2: nn.BatchNorm1d, 3: nn.BatchNorm1d, 4: nn.BatchNorm2d}[len(shape)](C, momentum=momentum).double()
    with torch.no_grad():
        mod.weight.copy_(torch.tensor(rng.uniform(0.5, 2, C)))
        mod.bias.copy_(torch.tensor(rng.normal(size=C)))
    bn = BatchNorm(C, momentum=momentum)
    bn.weight, bn.bias = mod.weight.detach().numpy().copy(), mod.bias.detach().numpy().copy()
    for step in range(4):
        x = rng.normal(2.0, 3.0, size=shape)
        dy = rng.normal(size=shape)
        xt = t(x)
        yt = mod(xt)
        (yt * torch.tensor(dy)).sum().backward()
        y = bn(x)
        dx, dw, db = bn.backward(dy)
        close(y, yt)
        close(dx, xt.grad)
        close(dw, mod.weight.grad)
        close(db, mod.bias.grad)
        close(bn.running_mean, mod.running_mean)
        close(bn.running_var, mod.running_var)
        assert bn.num_batches_tracked == int(mod.num_batches_tracked) == step + 1
        mod.weight.grad = mod.bias.grad = None
    # inference: running statistics, nothing updated
    mod.eval()
    bn.training = False
    x = rng.normal(size=shape)
    dy = rng.normal(size=shape)
    xt = t(x)
    (mod(xt) * torch.tensor(dy)).sum().backward()
    rm = bn.running_mean.copy()
    close(bn(x), mod(xt))
    dx, dw, db = bn.backward(dy)
    close(dx, xt.grad)
    close(dw, mod.weight.grad)
    np.testing.assert_array_equal(bn.running_mean, rm)


def test_running_var_uses_unbiased_correction() -> None:
    x = np.array([[0.0], [2.0], [4.0]])
    r = batch_norm(x, np.ones(1), np.zeros(1), np.zeros(1), np.ones(1), training=True, momentum=1.0)
    assert r.running_var[0] == pytest.approx(4.0)  # unbiased: 8 / (3 - 1)
    # while the normalization uses the biased variance 8/3
    np.testing.assert_allclose(r.out.ravel(), (x.ravel() - 2) / np.sqrt(8 / 3 + 1e-5))


def test_compact_backward_equals_stepwise_and_finite_differences() -> None:
    rng = np.random.default_rng(1)
    x, w, dy = rng.normal(size=(6, 3)), rng.uniform(0.5, 2, 3), rng.normal(size=(6, 3))
    b, z, o = rng.normal(size=3), np.zeros(3), np.ones(3)
    r = batch_norm(x, w, b, z, o, training=True)
    dx, dw, db = batch_norm_backward(dy, r.cache)
    np.testing.assert_allclose(dx, batch_norm_backward_stepwise(dy, x, w), rtol=1e-12, atol=1e-13)
    f = lambda xx: float((batch_norm(xx, w, b, z, o, training=True).out * dy).sum())
    np.testing.assert_allclose(dx, finite_diff(f, x), rtol=1e-6, atol=1e-8)
    fw = lambda ww: float((batch_norm(x, ww, b, z, o, training=True).out * dy).sum())
    np.testing.assert_allclose(dw, finite_diff(fw, w), rtol=1e-6, atol=1e-8)
    # the input gradient sums to zero per channel and is orthogonal to x_hat
    assert np.allclose(dx.sum(0), 0, atol=1e-12)


@pytest.mark.parametrize("ns", [(4,), (3, 4)])
def test_layernorm_matches_torch(ns: tuple[int, ...]) -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(1.0, 2.0, size=(5, 3, 4))
    w, b, dy = rng.uniform(0.5, 2, ns), rng.normal(size=ns), rng.normal(size=x.shape)
    mod = nn.LayerNorm(ns).double()
    with torch.no_grad():
        mod.weight.copy_(torch.tensor(w))
        mod.bias.copy_(torch.tensor(b))
    xt = t(x)
    yt = mod(xt)
    (yt * torch.tensor(dy)).sum().backward()
    y, cache = layer_norm(x, ns, w, b)
    dx, dw, db = layer_norm_backward(dy, cache)
    close(y, yt)
    close(dx, xt.grad)
    close(dw, mod.weight.grad)
    close(db, mod.bias.grad)
    f = lambda xx: float((layer_norm(xx, ns, w, b)[0] * dy).sum())
    np.testing.assert_allclose(dx, finite_diff(f, x), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("groups", [1, 2, 3, 6])
def test_groupnorm_matches_torch(groups: int) -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3, 6, 2, 3)) * rng.uniform(0.5, 4, size=(1, 6, 1, 1))
    w, b, dy = rng.uniform(0.5, 2, 6), rng.normal(size=6), rng.normal(size=x.shape)
    mod = nn.GroupNorm(groups, 6).double()
    with torch.no_grad():
        mod.weight.copy_(torch.tensor(w))
        mod.bias.copy_(torch.tensor(b))
    xt = t(x)
    (mod(xt) * torch.tensor(dy)).sum().backward()
    y, cache = group_norm(x, groups, w, b)
    dx, dw, db = group_norm_backward(dy, cache)
    close(y, mod(xt))
    close(dx, xt.grad)
    close(dw, mod.weight.grad)
    close(db, mod.bias.grad)
    f = lambda xx: float((group_norm(xx, groups, w, b)[0] * dy).sum())
    np.testing.assert_allclose(dx, finite_diff(f, x), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("shape,cls", [((3, 4, 5), nn.InstanceNorm1d), ((2, 3, 4, 3), nn.InstanceNorm2d)])
@pytest.mark.parametrize("affine", [False, True])
def test_instancenorm_matches_torch(shape: tuple[int, ...], cls: type, affine: bool) -> None:
    rng = np.random.default_rng(4)
    x, dy = rng.normal(2.0, 3.0, size=shape), rng.normal(size=shape)
    C = shape[1]
    mod = cls(C, affine=affine).double()
    w = b = None
    if affine:
        w, b = rng.uniform(0.5, 2, C), rng.normal(size=C)
        with torch.no_grad():
            mod.weight.copy_(torch.tensor(w))
            mod.bias.copy_(torch.tensor(b))
    xt = t(x)
    yt = mod(xt)
    (yt * torch.tensor(dy)).sum().backward()
    y, cache = instance_norm(x, w, b)
    dx, dw, db = group_norm_backward(dy, cache)
    close(y, yt)
    close(dx, xt.grad)
    if affine:
        close(dw, mod.weight.grad)
        close(db, mod.bias.grad)
    f = lambda xx: float((instance_norm(xx, w, b)[0] * dy).sum())
    np.testing.assert_allclose(dx, finite_diff(f, x), rtol=1e-6, atol=1e-8)


def test_per_example_norms_do_not_depend_on_the_batch() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(6, 4, 3, 3))
    for f in (lambda a: layer_norm(a, (4, 3, 3))[0], lambda a: group_norm(a, 2)[0], lambda a: instance_norm(a)[0]):
        np.testing.assert_allclose(f(x)[:1], f(x[:1]), rtol=1e-12)
    full = batch_norm(x, np.ones(4), np.zeros(4), np.zeros(4), np.ones(4), training=True).out
    sub = batch_norm(x[:3], np.ones(4), np.zeros(4), np.zeros(4), np.ones(4), training=True).out
    assert np.abs(full[:3] - sub).max() > 1e-2  # batch norm does


def test_norm_axes_masks_match_the_statistics() -> None:
    rng = np.random.default_rng(6)
    x = rng.normal(size=(4, 6, 2, 2))
    for kind, y in [("batch", batch_norm(x, np.ones(6), np.zeros(6), np.zeros(6), np.ones(6), training=True).out),
                    ("layer", layer_norm(x, (6, 2, 2))[0]), ("group", group_norm(x, 2)[0]), ("instance", instance_norm(x)[0])]:
        m = norm_axes(kind, x.shape, num_groups=2)
        assert abs(y[m].mean()) < 1e-12 and abs(y[m].var() - 1) < 1e-3, kind
        # a set one entry larger is no longer standardized exactly
        assert m.sum() == {"batch": 16, "layer": 24, "group": 12, "instance": 4}[kind]


@pytest.mark.parametrize("dim", [0, 1])
def test_weight_norm_matches_torch(dim: int) -> None:
    torch.manual_seed(0)
    lin = nn.Linear(4, 3).double()
    nn.utils.parametrizations.weight_norm(lin, dim=dim)
    g = lin.parametrizations.weight.original0.detach().numpy().copy()
    v = lin.parametrizations.weight.original1.detach().numpy().copy()
    with torch.no_grad():
        lin.parametrizations.weight.original0.mul_(1.7)
    g = g * 1.7
    W = lin.weight
    close(weight_norm(v, g, dim), W)
    dW = torch.randn(3, 4, dtype=torch.float64)
    (W * dW).sum().backward()
    dv, dg = weight_norm_backward(dW.numpy(), v, g, dim)
    close(dv, lin.parametrizations.weight.original1.grad)
    close(dg, lin.parametrizations.weight.original0.grad)
    fv = lambda vv: float((weight_norm(vv, g, dim) * dW.numpy()).sum())
    np.testing.assert_allclose(dv, finite_diff(fv, v), rtol=1e-6, atol=1e-8)
    fg = lambda gg: float((weight_norm(v, gg, dim) * dW.numpy()).sum())
    np.testing.assert_allclose(dg, finite_diff(fg, g), rtol=1e-6, atol=1e-8)
    # the gradient in v is orthogonal to v, row by row (dim=0) or column by column (dim=1)
    assert np.allclose((dv * v).sum(axis=1 - dim), 0, atol=1e-12)


@pytest.mark.parametrize("dim", [0, 1, 2, -1, -2, -3, None])
def test_weight_norm_of_a_3d_weight_matches_torch_for_every_dim(dim: int | None) -> None:
    """torch's conventions: dim=None and dim=-1 both mean the norm of the whole tensor with a
    0-d g (not the last axis); other negative dims count from the end. Forward and backward
    against torch._weight_norm and autograd, g from torch.norm_except_dim. (Before the fix,
    dim=-1 normalized over the last axis and dim=None was refused.)"""
    torch.manual_seed(1)
    v_t = torch.randn(3, 4, 5, dtype=torch.float64, requires_grad=True)
    tdim = -1 if dim is None else dim
    g_t = (1.3 * torch.norm_except_dim(v_t.detach(), 2, tdim)).requires_grad_(True)
    w_t = torch._weight_norm(v_t, g_t, tdim)
    dW = torch.randn(3, 4, 5, dtype=torch.float64)
    (w_t * dW).sum().backward()
    v, g = v_t.detach().numpy(), g_t.detach().numpy()
    w = weight_norm(v, g, dim)
    close(w, w_t)
    dv, dg = weight_norm_backward(dW.numpy(), v, g, dim)
    assert dg.shape == tuple(g_t.shape)
    close(dv, v_t.grad)
    close(dg, g_t.grad)
    if dim in (None, -1):
        assert g.shape == () and np.linalg.norm(w) == pytest.approx(1.3 * np.linalg.norm(v), rel=1e-12)
    # the parametrization itself, on a Conv1d whose weight has this shape
    conv = nn.Conv1d(4, 3, 5).double()
    nn.utils.parametrizations.weight_norm(conv, dim=dim)
    p = conv.parametrizations.weight
    close(weight_norm(p.original1.detach().numpy(), p.original0.detach().numpy(), dim), conv.weight)


def test_spectral_norm_matches_torch_and_svd() -> None:
    torch.manual_seed(0)
    lin = nn.Linear(5, 4).double()
    nn.utils.parametrizations.spectral_norm(lin, n_power_iterations=1)
    sn = lin.parametrizations.weight[0]
    W = lin.parametrizations.weight.original.detach().numpy().copy()
    u, v = sn._u.detach().numpy().copy(), sn._v.detach().numpy().copy()
    for _ in range(3):  # each training-mode access does one iteration from the stored u, v
        Wt = lin.weight.detach().numpy()
        Wn, u, v = spectral_norm(W, u, v, 1)
        np.testing.assert_allclose(Wn, Wt, rtol=1e-10)
        np.testing.assert_allclose(u, sn._u.numpy(), rtol=1e-10)
    r = spectral_power_iteration(W, np.ones(4), np.ones(5), 200)
    assert r.sigma == pytest.approx(np.linalg.svd(W, compute_uv=False)[0], rel=1e-10)


def test_errors() -> None:
    one = np.ones(3)
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        batch_norm(np.ones((1, 3)), one, 0 * one, 0 * one, one, training=True)
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        BatchNorm(3)(np.ones((1, 3, 1, 1)))
    batch_norm(np.ones((1, 3)), one, 0 * one, 0 * one, one, training=False)  # fine in eval mode
    with pytest.raises(ValueError, match=r"Expected 2D, 3D or 4D input \(got 1D input\)"):
        batch_norm(np.ones(3), one, one, one, one, training=True)
    with pytest.raises(ValueError, match=r"Invalid weight shape: expected \(3,\), got \(2,\)"):
        batch_norm(np.ones((4, 3)), np.ones(2), one, one, one, training=True)
    with pytest.raises(ValueError, match="Invalid eps: -1e-05"):
        batch_norm(np.ones((4, 3)), one, one, one, one, training=True, eps=-1e-5)
    with pytest.raises(ValueError, match="Invalid eps: 0"):
        layer_norm(np.ones((4, 3)), (3,), eps=0)
    with pytest.raises(ValueError, match="Invalid momentum: 1.5"):
        BatchNorm(3, momentum=1.5)
    with pytest.raises(ValueError, match="Invalid num_features: 0"):
        BatchNorm(0)
    with pytest.raises(ValueError, match="backward before forward"):
        BatchNorm(3).backward(np.ones((2, 3)))
    cache = batch_norm(np.arange(6.0).reshape(2, 3), one, one, one, one, training=True).cache
    with pytest.raises(ValueError, match=r"Invalid dout shape: expected \(2, 3\), got \(3, 3\)"):
        batch_norm_backward(np.ones((3, 3)), cache)
    with pytest.raises(ValueError, match=r"num_channels \(6\) must be divisible by num_groups \(4\)"):
        group_norm(np.ones((2, 6, 3)), 4)
    with pytest.raises(ValueError, match=r"num_channels \(6\) must be divisible by num_groups \(4\)"):
        norm_axes("group", (2, 6, 3, 3), num_groups=4)
    with pytest.raises(ValueError, match="Invalid num_groups: 0"):
        group_norm(np.ones((2, 6, 3)), 0)
    with pytest.raises(ValueError, match=r"Given normalized_shape=\[4\], expected input with shape \[\*, 4\]"):
        layer_norm(np.ones((2, 3)), (4,))
    with pytest.raises(ValueError, match=r"Expected 3D or 4D input \(got 2D input\)"):
        instance_norm(np.ones((2, 3)))
    with pytest.raises(ValueError, match="Expected more than 1 spatial element when training"):
        instance_norm(np.ones((2, 3, 1)))
    with pytest.raises(ValueError, match="Invalid normalization kind: 'batchy'"):
        norm_axes("batchy", (2, 2, 2, 2))
    with pytest.raises(ValueError, match=r"Invalid g shape: expected \(1, 1\), got \(2,\)"):
        weight_norm(np.ones((1, 3)), np.ones(2))
    with pytest.raises(ValueError, match=r"Invalid dim: 2 \(need -2 <= dim <= 1\)"):
        weight_norm(np.ones((1, 3)), np.ones((1, 1)), dim=2)
    with pytest.raises(ValueError, match=r"Invalid dw shape"):
        weight_norm_backward(np.ones(3), np.ones((1, 3)), np.ones((1, 1)))
    with pytest.raises(ValueError, match=r"Invalid u, v shapes"):
        spectral_power_iteration(np.ones((2, 3)), np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match="Invalid n_power_iterations: -1"):
        spectral_power_iteration(np.ones((2, 3)), np.ones(2), np.ones(3), -1)
    with pytest.raises(ValueError, match="Invalid weight: expected at least 2 dimensions"):
        spectral_power_iteration(np.ones(3), np.ones(2), np.ones(3))
    with pytest.raises(ValueError, match="Invalid input: expected at least 1 dimension"):
        layer_norm(1.0, (1,))


def test_condition_number_refuses_a_non_symmetric_matrix() -> None:
    """eigvalsh reads one triangle: [[1, 2], [0, 1]] used to give kappa = 1 (its lower triangle is
    the identity's) instead of an error."""
    from nbcode.norm.conditioning import condition_number

    assert condition_number([[2.0, 1.0], [1.0, 2.0]]) == pytest.approx(3.0, rel=1e-14)
    assert condition_number(1e-13 * np.array([[2.0, 1.0], [1.0, 2.0]])) == pytest.approx(3.0, rel=1e-14)
    with pytest.raises(ValueError, match=r"Invalid Hessian: it is not symmetric \(largest \|Hessian - Hessian\^T\| = 2\)"):
        condition_number([[1.0, 2.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match="not symmetric"):  # the rule is relative: a tiny matrix too
        condition_number(1e-13 * np.array([[1.0, 2.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match=r"Invalid shape of Hessian: \(2, 3\)"):
        condition_number(np.ones((2, 3)))


def test_layer_norm_accepts_an_int_shape_like_torch() -> None:
    """torch.nn.functional.layer_norm(x, 3) works; ours used to fail with "'int' object is not iterable"."""
    x = np.random.default_rng(0).standard_normal((4, 3))
    y, _ = layer_norm(x, 3)
    close(y, nn.functional.layer_norm(torch.tensor(x), (3,)))
    close(layer_norm(x, torch.Size([3]))[0], nn.functional.layer_norm(torch.tensor(x), (3,)))
    with pytest.raises(TypeError, match=r"Invalid normalized_shape: '3' \(need an int or a tuple of ints\)"):
        layer_norm(x, "3")
    with pytest.raises(TypeError, match=r"Invalid num_groups: 2.0 \(need an integer\)"):
        group_norm(np.ones((2, 4, 3)), 2.0)
    with pytest.raises(TypeError, match=r"Invalid training: 1 \(need True or False\)"):
        batch_norm(np.ones((4, 3)), np.ones(3), np.zeros(3), np.zeros(3), np.ones(3), training=1)
