"""RMSNorm (nbcode.norm.rms_norm) against torch.nn.RMSNorm and autograd, in float64."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nbcode.norm import layer_norm, rms_norm, rms_norm_backward


@pytest.mark.parametrize("shape,ns,eps", [((5, 8), (8,), None), ((3, 4, 6), (4, 6), 1e-5), ((2, 7), 7, 0.1)])
def test_rms_norm_against_torch(shape: tuple[int, ...], ns: int | tuple[int, ...], eps: float | None) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(1.0, 2.0, size=shape)
    dims = (ns,) if isinstance(ns, int) else ns
    w = rng.uniform(0.5, 2.0, size=dims)
    g = rng.normal(size=shape)
    layer = torch.nn.RMSNorm(list(dims), eps=eps, dtype=torch.float64)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(w))
    xt = torch.tensor(x, requires_grad=True)
    (layer(xt) * torch.tensor(g)).sum().backward()
    y, cache = rms_norm(x, ns, w, eps=eps)
    np.testing.assert_allclose(y, layer(torch.tensor(x)).detach().numpy(), rtol=1e-13, atol=1e-14)
    dx, dw = rms_norm_backward(g, cache)
    assert xt.grad is not None and layer.weight.grad is not None
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(dw, layer.weight.grad.numpy(), rtol=1e-12, atol=1e-13)


def test_rms_norm_is_layer_norm_on_centred_input_and_scale_invariant() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 10))
    xc = x - x.mean(axis=1, keepdims=True)
    np.testing.assert_allclose(rms_norm(xc, 10, eps=1e-5)[0], layer_norm(xc, (10,), eps=1e-5)[0], rtol=1e-12)
    np.testing.assert_allclose(rms_norm(3.0 * x, 10, eps=1e-300)[0], rms_norm(x, 10, eps=1e-300)[0], rtol=1e-13)
    dx, dw = rms_norm_backward(rng.normal(size=x.shape), rms_norm(x, 10, eps=1e-300)[1])
    assert dw is None
    np.testing.assert_allclose((dx * x).sum(axis=1), 0.0, atol=1e-12)   # orthogonal to x, but not mean-free
    assert np.abs(dx.sum(axis=1)).max() > 1e-3


def test_rms_norm_errors() -> None:
    with pytest.raises(ValueError, match="expected input with shape"):
        rms_norm(np.ones((2, 3)), 4)
    with pytest.raises(ValueError, match="Invalid dout shape"):
        rms_norm_backward(np.ones((2, 2)), rms_norm(np.ones((2, 3)), 3)[1])
    with pytest.raises(ValueError, match="Invalid eps"):
        rms_norm(np.ones((2, 3)), 3, eps=-1.0)
