"""nbcode.hessian.sharpness: the top Hessian eigenvalue against a dense Hessian and a closed form."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from nbcode.hessian import sharpness
from nbcode.train import mlp, seed_everything

# torch.func compiles its decompositions with torch.jit.script, which warns in this torch version
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")


def dense_hessian_eigs(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """Eigenvalues of the full Hessian by torch.func.hessian (independent of nbcode's operator)."""
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]
    sizes = [p.numel() for p in model.parameters()]
    flat0 = torch.cat([p.detach().reshape(-1) for p in model.parameters()])

    def loss(flat: torch.Tensor) -> torch.Tensor:
        parts = torch.split(flat, sizes)
        params = {n: t.reshape(s) for n, t, s in zip(names, parts, shapes)}
        return nn.functional.cross_entropy(torch.func.functional_call(model, params, (X,)), y)

    H = torch.func.hessian(loss)(flat0)
    return np.linalg.eigvalsh(H.numpy())


def test_sharpness_is_the_top_hessian_eigenvalue() -> None:
    seed_everything(3)
    net = mlp([4, 6, 3], nn.Tanh)
    X = torch.randn(30, 4, dtype=torch.float64)
    y = torch.randint(0, 3, (30,))
    assert sharpness(net, X, y, tol=1e-10) == pytest.approx(dense_hessian_eigs(net, X, y).max(), rel=1e-8)


def test_sharpness_of_a_linear_least_squares_model() -> None:
    """For L = mean((Xw)^2) the Hessian is 2 X^T X / n: its top eigenvalue in closed form."""
    torch.manual_seed(0)
    X = torch.randn(50, 5, dtype=torch.float64) * torch.tensor([1.0, 2.0, 3.0, 0.5, 0.1], dtype=torch.float64)
    net = nn.Linear(5, 1, bias=False).double()
    y = torch.zeros(50, 1, dtype=torch.float64)
    want = float(np.linalg.eigvalsh(2 * (X.T @ X).numpy() / 50).max())
    assert sharpness(net, X, y, nn.functional.mse_loss, tol=1e-12) == pytest.approx(want, rel=1e-9)


def test_batchnorm_uses_batch_statistics_and_the_model_is_unchanged() -> None:
    """In eval mode too, the training loss (batch statistics) is differentiated, on a copy: the
    same value as in training mode, and the model's mode and buffers do not move."""
    net = mlp([4, 5, 3], batch_norm=True, seed=1)
    X = torch.randn(40, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    y = torch.arange(40) % 3
    train_mode = sharpness(net, X, y)
    net.eval()
    before = {k: b.clone() for k, b in net.state_dict().items()}
    assert sharpness(net, X, y) == pytest.approx(train_mode, rel=1e-12)
    assert not net.training
    for k, b in net.state_dict().items():
        assert torch.equal(b, before[k]), k


def test_bad_input() -> None:
    net = nn.Linear(2, 2).double()
    X, y = torch.zeros(3, 2, dtype=torch.float64), torch.zeros(3, dtype=torch.long)
    with pytest.raises(TypeError, match="Invalid model"):
        sharpness("net", X, y)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Invalid tol: 0"):
        sharpness(net, X, y, tol=0)
