"""nbcode.checkup against tools no one here wrote: the range test's loss curve against
torch-lr-finder's, and λ_max against PyHessian's ``eigenvalues()`` (both pinned in requirements.txt
as test-only packages; each test skips with the reason when its package is missing)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nbcode.checkup import checkup

# small models: one torch thread is faster (the fixture is in conftest.py)
pytestmark = pytest.mark.usefixtures("one_torch_thread")



def digits_like(n: int = 192, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 10, generator=g, dtype=torch.float64)
    y = (X[:, :3].sum(dim=1) > 0).long() + (X[:, 3] > 1).long()
    return X, y


def small_mlp(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(10, 16), nn.Tanh(), nn.Linear(16, 3)).double()


def nbcode_order(n: int, batch_size: int, steps: int, seed: int) -> list[list[int]]:
    """The mini-batches nbcode's lr_range_test draws: a permutation from a generator seeded with
    ``seed``, reshuffled whenever fewer than ``batch_size`` rows are left."""
    gen = torch.Generator()
    gen.manual_seed(seed)
    perm, pos, out = torch.randperm(n, generator=gen), 0, []
    for _ in range(steps):
        if pos + batch_size > n:
            perm, pos = torch.randperm(n, generator=gen), 0
        out.append(perm[pos:pos + batch_size].tolist())
        pos += batch_size
    return out


def test_range_test_loss_curve_equals_torch_lr_finder() -> None:
    lr_finder = pytest.importorskip("torch_lr_finder", reason="torch-lr-finder (test-only, requirements.txt) is not installed")
    X, y = digits_like()
    net = small_mlp()
    B = 16
    rep = checkup(net, [(X[i:i + B], y[i:i + B]) for i in range(0, X.shape[0], B)], F.cross_entropy, progress=False, seed=3)
    q = rep["rate.range_test"]
    ours = np.asarray(q.extra["losses"])
    lrs = np.asarray(q.extra["lrs"])
    steps = q.extra["num_steps"]
    # torch-lr-finder on a fresh copy, same schedule (exponential from lr_min to lr_max), same batches
    twin = copy.deepcopy(net)
    opt = torch.optim.SGD(twin.parameters(), lr=1.0)
    order = nbcode_order(X.shape[0], B, steps, seed=3)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_sampler=order)
    finder = lr_finder.LRFinder(twin, opt, F.cross_entropy, device="cpu")
    finder.range_test(loader, start_lr=q.extra["lr_min"], end_lr=q.extra["lr_max"], num_iter=steps, step_mode="exp",
                      smooth_f=0.0, diverge_th=1e30)
    theirs = np.asarray(finder.history["loss"])
    their_lrs = np.asarray(finder.history["lr"])
    k = len(ours)
    assert k >= 20
    np.testing.assert_allclose(lrs, their_lrs[:k], rtol=1e-12)
    np.testing.assert_allclose(ours, theirs[:k], rtol=1e-10)


def test_lambda_max_agrees_with_pyhessian_on_a_batch() -> None:
    pyhessian = pytest.importorskip("pyhessian", reason="PyHessian (test-only, requirements.txt) is not installed")
    X, y = digits_like(n=96, seed=1)
    net = small_mlp(seed=1).float()  # PyHessian draws its vectors in float32
    Xf = X.float()
    rep = checkup(net, [(Xf, y)], F.cross_entropy, progress=False)
    ours = rep["curvature.lambda_max"]
    assert abs(rep["curvature.lambda_min"].value) < 0.8 * ours.value  # power iteration finds the largest |λ|
    net.train()
    torch.manual_seed(0)
    h = pyhessian.hessian(copy.deepcopy(net), F.cross_entropy, data=(Xf, y), cuda=False)
    theirs, _ = h.eigenvalues(maxIter=300, tol=1e-7, top_n=1)
    assert ours.value == pytest.approx(theirs[0], rel=1e-4)
    assert ours.ci[0] - 1e-4 * ours.value <= theirs[0] <= ours.ci[1] + 1e-4 * ours.value
