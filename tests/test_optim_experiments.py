"""nbcode.optim.experiments: sharpness against a dense Hessian, the batch-size study, the digits race."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from nbcode import optim

# torch.func compiles its decompositions with torch.jit.script, which warns in this torch version
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
from nbcode.train import mlp, seed_everything


def dense_hessian_eigs(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> np.ndarray:
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
    net = mlp([4, 6, 3], nn.Tanh).double()
    X = torch.randn(30, 4, dtype=torch.float64)
    y = torch.randint(0, 3, (30,))
    eigs = dense_hessian_eigs(net, X, y)
    top = eigs[np.argmax(np.abs(eigs))]
    assert optim.top_hessian_eigenvalue(net, X, y, tol=1e-10, iters=5000) == pytest.approx(top, rel=1e-5)


def test_sharpness_of_a_linear_least_squares_model() -> None:
    """For L = mean((Xw)^2) the Hessian is 2 X^T X / n: its top eigenvalue in closed form."""
    torch.manual_seed(0)
    X = torch.randn(50, 5, dtype=torch.float64) * torch.tensor([1.0, 2.0, 3.0, 0.5, 0.1], dtype=torch.float64)
    net = nn.Linear(5, 1, bias=False).double()
    y = torch.zeros(50, 1, dtype=torch.float64)
    want = float(np.linalg.eigvalsh(2 * (X.T @ X).numpy() / 50).max())
    assert optim.top_hessian_eigenvalue(net, X, y, nn.functional.mse_loss, tol=1e-12, iters=5000) == pytest.approx(want, rel=1e-6)


def test_batch_size_study_as_in_the_notebook() -> None:
    """The chapter's numbers: every run reaches the target; the smallest batch ends flattest, and
    test accuracies stay within 0.01 of each other (no Keskar gap at this scale)."""
    torch.set_num_threads(1)
    runs = optim.batch_size_study((16, 64, 256, 1257), lr=0.2, target_loss=0.02)
    assert all(r.history["train_loss"][-1] < 0.02 and r.train_acc > 0.99 for r in runs)
    sharp = [r.sharpness for r in runs]
    assert sharp[0] < min(sharp[1:]) * 0.95
    assert max(r.test_acc for r in runs) - min(r.test_acc for r in runs) < 0.01
    steps = [r.steps for r in runs]
    assert max(steps) < 1.2 * min(steps)  # same lr: about the same number of updates for every B
    assert [r.epochs for r in runs] == sorted(r.epochs for r in runs)


def test_digits_race_trains_every_optimizer() -> None:
    h = optim.digits_race(epochs=2, batch_size=64, hidden=16)
    for name, hist in h.items():
        assert hist["train_loss"][-1] < hist["train_loss"][0], name
        assert not hist.diverged
    # the same initial weights for everyone: identical loss before training
    assert len({round(v["train_loss"][0], 12) for v in h.values()}) == 1


def test_update_timings_shape() -> None:
    t = optim.update_timings((16, 1257), repeats=5)
    assert set(t) == {16, 1257}
    u16, e16 = t[16]
    u_full, e_full = t[1257]
    assert e16 == pytest.approx(u16 * 79) and e_full == pytest.approx(u_full)
    assert u16 > 0 and u_full > 0
