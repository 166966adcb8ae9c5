"""The fast in-place kernels against torch.optim and against the readable optimizers (ground truth)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nbcode.optim import adam, rmsprop, sgd
from nbcode.optim.inplace import HAVE_NUMBA, adam_, rmsprop_, sgd_

ENGINES = [pytest.param("numpy"), pytest.param("numba", marks=pytest.mark.skipif(not HAVE_NUMBA, reason="needs numba"))]

N = 3 * 64 + 17  # not a multiple of the block size used below
BLOCK = 64


def grads(steps: int, dtype: type = np.float64) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.standard_normal(N).astype(dtype) for _ in range(steps)]


def run_kernel(name: str, gs: list[np.ndarray], w0: np.ndarray, engine: str, **hp: float) -> tuple[np.ndarray, list[np.ndarray]]:
    w = w0.copy()
    bufs = [np.zeros_like(w) for _ in range(2)]
    for k, g in enumerate(gs, start=1):
        if name == "sgd":
            sgd_(w, g, bufs[0], lr=hp["lr"], momentum=hp["momentum"], first_step=k == 1, engine=engine, block=BLOCK)
        elif name == "rmsprop":
            rmsprop_(w, g, bufs[0], lr=hp["lr"], alpha=hp["alpha"], eps=hp["eps"], engine=engine, block=BLOCK)
        else:
            adam_(w, g, bufs[0], bufs[1], step=k, lr=hp["lr"], betas=(hp["b1"], hp["b2"]), eps=hp["eps"], engine=engine, block=BLOCK)
    return w, bufs


CASES = {
    "sgd": dict(lr=0.1, momentum=0.9),
    "rmsprop": dict(lr=0.01, alpha=0.9, eps=1e-8),
    "adam": dict(lr=0.01, b1=0.8, b2=0.99, eps=1e-8),
}


def torch_run(name: str, gs: list[np.ndarray], w0: np.ndarray, dtype: torch.dtype) -> tuple[np.ndarray, dict]:
    p = torch.nn.Parameter(torch.tensor(w0, dtype=dtype))
    hp = CASES[name]
    if name == "sgd":
        opt: torch.optim.Optimizer = torch.optim.SGD([p], lr=hp["lr"], momentum=hp["momentum"], foreach=False)
    elif name == "rmsprop":
        opt = torch.optim.RMSprop([p], lr=hp["lr"], alpha=hp["alpha"], eps=hp["eps"], foreach=False)
    else:
        opt = torch.optim.Adam([p], lr=hp["lr"], betas=(hp["b1"], hp["b2"]), eps=hp["eps"], foreach=False)
    for g in gs:
        p.grad = torch.tensor(g, dtype=dtype)
        opt.step()
    return p.detach().numpy(), opt.state[p]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", list(CASES))
def test_kernels_match_torch_in_float64(name: str, engine: str) -> None:
    gs = grads(25)
    w0 = np.linspace(-1, 1, N)
    w, bufs = run_kernel(name, gs, w0, engine, **CASES[name])
    w_ref, state = torch_run(name, gs, w0, torch.float64)
    np.testing.assert_allclose(w, w_ref, rtol=1e-12, atol=1e-14)
    key = {"sgd": "momentum_buffer", "rmsprop": "square_avg", "adam": "exp_avg"}[name]
    np.testing.assert_allclose(bufs[0], state[key].numpy(), rtol=1e-12, atol=1e-14)
    if name == "adam":
        np.testing.assert_allclose(bufs[1], state["exp_avg_sq"].numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", list(CASES))
def test_kernels_match_torch_in_float32(name: str, engine: str) -> None:
    gs = grads(25, np.float32)
    w0 = np.linspace(-1, 1, N).astype(np.float32)
    w, _ = run_kernel(name, gs, w0, engine, **CASES[name])
    assert w.dtype == np.float32
    w_ref, _ = torch_run(name, gs, w0, torch.float32)
    np.testing.assert_allclose(w, w_ref, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", list(CASES))
def test_kernels_match_the_readable_optimizers(name: str, engine: str) -> None:
    """The readable functional optimizers are the ground truth."""
    hp = CASES[name]
    opt = {
        "sgd": lambda: sgd(lr=hp["lr"], momentum=hp["momentum"]),
        "rmsprop": lambda: rmsprop(lr=hp["lr"], alpha=hp["alpha"], eps=hp["eps"]),
        "adam": lambda: adam(lr=hp["lr"], betas=(hp["b1"], hp["b2"]), eps=hp["eps"]),
    }[name]()
    gs = grads(20)
    w_ref = np.linspace(-1, 1, N)
    state = opt.init(w_ref)
    for g in gs:
        u, state = opt.update(g, state, w_ref)
        w_ref = w_ref + u
    w, _ = run_kernel(name, gs, np.linspace(-1, 1, N), engine, **hp)
    np.testing.assert_allclose(w, w_ref, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("engine", ENGINES)
def test_default_block_and_2d_arrays(engine: str) -> None:
    """More than one default block (and, for Numba, more entries than threads): 2-D float32 arrays."""
    rng = np.random.default_rng(1)
    w = rng.standard_normal((300, 700)).astype(np.float32)
    w_ref = w.copy()
    m, v = np.zeros_like(w), np.zeros_like(w)
    g = rng.standard_normal(w.shape).astype(np.float32)
    adam_(w, g, m, v, step=1, lr=0.1, engine=engine)
    p = torch.nn.Parameter(torch.tensor(w_ref))
    o = torch.optim.Adam([p], lr=0.1, foreach=False)
    p.grad = torch.tensor(g)
    o.step()
    np.testing.assert_allclose(w, p.detach().numpy(), rtol=1e-6, atol=1e-7)


def test_bad_input() -> None:
    w = np.zeros(10)
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        sgd_(w, w.copy(), w.copy(), lr=-1, momentum=0.9, first_step=True)
    with pytest.raises(ValueError, match="shapes/dtypes differ"):
        rmsprop_(w, np.zeros(9), w.copy(), lr=0.1, alpha=0.9, eps=1e-8)
    with pytest.raises(ValueError, match="shapes/dtypes differ"):
        rmsprop_(w, np.zeros(10, np.float32), w.copy(), lr=0.1, alpha=0.9, eps=1e-8)
    with pytest.raises(ValueError, match="Invalid step: 0"):
        adam_(w, w.copy(), w.copy(), w.copy(), step=0, lr=0.1)
    with pytest.raises(ValueError, match="Invalid beta parameter at index 1: 1.0"):
        adam_(w, w.copy(), w.copy(), w.copy(), step=1, lr=0.1, betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="Invalid momentum value: -0.5"):
        sgd_(w, w.copy(), w.copy(), lr=0.1, momentum=-0.5, first_step=True)
    with pytest.raises(ValueError, match="Invalid alpha value: -1"):
        rmsprop_(w, w.copy(), w.copy(), lr=0.1, alpha=-1, eps=1e-8)
    with pytest.raises(ValueError, match="Invalid epsilon value: -1e-08"):
        rmsprop_(w, w.copy(), w.copy(), lr=0.1, alpha=0.9, eps=-1e-8)
    with pytest.raises(ValueError, match="Invalid engine: 'cuda'"):
        sgd_(w, w.copy(), w.copy(), lr=0.1, momentum=0.0, first_step=True, engine="cuda")
    with pytest.raises(ValueError, match="Invalid block size: 0"):
        sgd_(w, w.copy(), w.copy(), lr=0.1, momentum=0.0, first_step=True, engine="numpy", block=0)
    with pytest.raises(ValueError, match="expected NumPy arrays, got list"):
        sgd_(w, [0.0] * 10, w.copy(), lr=0.1, momentum=0.0, first_step=True)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Invalid dtype: int64"):
        sgd_(np.zeros(3, np.int64), np.zeros(3, np.int64), np.zeros(3, np.int64), lr=0.1, momentum=0.0, first_step=True)
    with pytest.raises(ValueError, match="writeable"):
        ro = np.zeros(10)
        ro.flags.writeable = False
        sgd_(ro, w.copy(), w.copy(), lr=0.1, momentum=0.0, first_step=True)
    with pytest.raises(ValueError, match="C-contiguous"):
        sgd_(np.zeros((4, 4))[:, 0], np.zeros(4), np.zeros(4), lr=0.1, momentum=0.0, first_step=True)
