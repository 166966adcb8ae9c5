"""The in-place engines of sgd, rmsprop and adam against the readable update (ground truth) and torch.optim."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import Any, Callable

import numpy as np
import pytest
import torch

from nbcode import optim
from nbcode.optim import _kernels

FAST = [pytest.param("numpy"), pytest.param("numba", marks=pytest.mark.skipif(not optim.HAVE_NUMBA, reason="needs numba"))]
ENGINES = [pytest.param("readable"), *FAST]

N = 3 * 64 + 17  # not a multiple of the block size used below


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of 64 entries, so that the NumPy engine runs several blocks and a partial one."""
    monkeypatch.setattr(_kernels, "BLOCK", 64)


def grads(steps: int, dtype: type = np.float64) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.standard_normal(N).astype(dtype) for _ in range(steps)]


# every feature of the readable optimizers, and the torch twin with the same arguments
CASES: dict[str, tuple[Callable[..., optim.Optimizer], type, dict[str, Any]]] = {
    "sgd momentum": (optim.sgd, torch.optim.SGD, dict(lr=0.1, momentum=0.9)),
    "sgd plain wd": (optim.sgd, torch.optim.SGD, dict(lr=0.1, weight_decay=0.1)),
    "sgd dampening wd": (optim.sgd, torch.optim.SGD, dict(lr=0.03, momentum=0.8, dampening=0.3, weight_decay=0.1)),
    "sgd nesterov wd": (optim.sgd, torch.optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.05)),
    "rmsprop": (optim.rmsprop, torch.optim.RMSprop, dict(lr=0.01, alpha=0.9, eps=1e-8)),
    "rmsprop centered momentum wd": (optim.rmsprop, torch.optim.RMSprop,
                                     dict(lr=0.01, alpha=0.9, eps=1e-6, centered=True, momentum=0.5, weight_decay=0.1)),
    "adam": (optim.adam, torch.optim.Adam, dict(lr=0.01, betas=(0.8, 0.99), eps=1e-8)),
    "adam amsgrad wd": (optim.adam, torch.optim.Adam, dict(lr=0.05, amsgrad=True, weight_decay=0.1)),
    "adamw": (optim.adamw, torch.optim.AdamW, dict(lr=0.05, weight_decay=0.5)),
    "adamw amsgrad": (optim.adamw, torch.optim.AdamW, dict(lr=0.05, weight_decay=0.1, amsgrad=True, betas=(0.7, 0.9))),
}
TORCH_NAMES = {"momentum_buffer", "square_avg", "grad_avg", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}


def run_inplace(make: Callable[..., optim.Optimizer], kw: dict[str, Any], engine: str, gs: list[np.ndarray], w0: np.ndarray) -> tuple[np.ndarray, Any]:
    opt = make(**kw, engine=engine)
    w = w0.copy()
    state = opt.init(w)
    for g in gs:
        state = opt.update_(g, state, w)
    return w, state


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", list(CASES))
def test_engines_match_torch_in_float64(name: str, engine: str) -> None:
    """Parameters and every state field against torch.optim (foreach=False), after 25 steps."""
    make, cls, kw = CASES[name]
    gs, w0 = grads(25), np.linspace(-1, 1, N)
    w, state = run_inplace(make, kw, engine, gs, w0)
    p = torch.nn.Parameter(torch.tensor(w0))
    topt = cls([p], foreach=False, **kw)
    for g in gs:
        p.grad = torch.tensor(g)
        topt.step()
    np.testing.assert_allclose(w, p.detach().numpy(), rtol=1e-12, atol=1e-14)
    ts = topt.state[p]
    assert state.step == 25
    compared = 0
    for field, value in state._asdict().items():
        if field in TORCH_NAMES and value is not None:
            np.testing.assert_allclose(value, ts[field].numpy(), rtol=1e-12, atol=1e-14, err_msg=field)
            compared += 1
    assert compared >= (0 if "plain" in name else 1)


@pytest.mark.parametrize("engine", FAST)
@pytest.mark.parametrize("name", list(CASES))
def test_engines_match_torch_in_float32(name: str, engine: str) -> None:
    """The fast engines compute in the arrays' dtype, as torch does."""
    make, cls, kw = CASES[name]
    gs, w0 = grads(25, np.float32), np.linspace(-1, 1, N).astype(np.float32)
    w, state = run_inplace(make, kw, engine, gs, w0)
    assert w.dtype == np.float32 and all(a.dtype == np.float32 for a in state if isinstance(a, np.ndarray))
    p = torch.nn.Parameter(torch.tensor(w0))
    topt = cls([p], foreach=False, **kw)
    for g in gs:
        p.grad = torch.tensor(g)
        topt.step()
    np.testing.assert_allclose(w, p.detach().numpy(), rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", list(CASES))
def test_engines_match_the_readable_update(name: str, engine: str) -> None:
    """The readable functional update is the ground truth; a schedule lr too."""
    make, _, kw = CASES[name]
    kw = {**kw, "lr": lambda k, lr=kw["lr"]: lr * 0.9**k}
    gs = grads(20)
    opt = make(**kw)
    w_ref = np.linspace(-1, 1, N)
    state = opt.init(w_ref)
    for g in gs:
        u, state = opt.update(g, state, w_ref)
        w_ref = w_ref + u
    w, fast = run_inplace(make, kw, engine, gs, np.linspace(-1, 1, N))
    np.testing.assert_allclose(w, w_ref, rtol=1e-12, atol=1e-14)
    for a, b in zip(fast, state):
        if isinstance(b, np.ndarray):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("engine", FAST)
def test_default_block_and_2d_arrays(engine: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """More than one default block (and, for Numba, more entries than threads): 2-D float32 arrays."""
    monkeypatch.setattr(_kernels, "BLOCK", 65536)
    rng = np.random.default_rng(1)
    w = rng.standard_normal((300, 700)).astype(np.float32)
    w_ref = w.copy()
    g = rng.standard_normal(w.shape).astype(np.float32)
    opt = optim.adam(lr=0.1, engine=engine)
    opt.update_(g, opt.init(w), w)
    p = torch.nn.Parameter(torch.tensor(w_ref))
    o = torch.optim.Adam([p], lr=0.1, foreach=False)
    p.grad = torch.tensor(g)
    o.step()
    np.testing.assert_allclose(w, p.detach().numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("engine", FAST)
def test_bad_arrays_are_refused(engine: str) -> None:
    opt = optim.sgd(lr=0.1, momentum=0.9, engine=engine)
    w = np.zeros(10)
    s = opt.init(w)
    with pytest.raises(ValueError, match=r"Invalid grads: it shares memory with momentum_buffer"):
        opt.update_(s.momentum_buffer, s, w)  # the grad IS the momentum buffer: the engines would disagree
    with pytest.raises(ValueError, match=r"Invalid grads: it shares memory with params"):
        opt.update_(w, s, w)
    with pytest.raises(ValueError, match=r"Invalid grads: shape \(9,\) and dtype float64 \(need those of params"):
        opt.update_(np.zeros(9), s, w)
    with pytest.raises(ValueError, match=r"Invalid grads: shape \(10,\) and dtype float32"):
        opt.update_(np.zeros(10, np.float32), s, w)
    with pytest.raises(TypeError, match=r"Invalid grads: \[0.0"):
        opt.update_([0.0] * 10, s, w)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"Invalid params: dtype int64"):
        opt.update_(np.zeros(3), s, np.zeros(3, np.int64))
    with pytest.raises(TypeError, match=r"Invalid params: dtype float16"):
        opt.init(np.zeros(3, np.float16))
    ro = np.zeros(10)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        opt.update_(np.zeros(10), s, ro)
    with pytest.raises(ValueError, match="C-contiguous"):
        opt.update_(np.zeros(4), opt.init(np.zeros(4)), np.zeros((4, 4))[:, 0])


def test_engine_choice() -> None:
    with pytest.raises(ValueError, match=r"Invalid engine: 'cuda' \(use one of \['readable', 'numpy', 'numba', 'auto'\]\)"):
        optim.rmsprop(engine="cuda")
    assert _kernels.engine_for("auto") == ("numba" if optim.HAVE_NUMBA else "numpy")
    assert optim.ENGINES == ("readable", "numpy", "numba")


@pytest.mark.skipif(not optim.HAVE_NUMBA, reason="needs numba")
def test_numba_kernels_from_two_threads_with_the_workqueue_layer() -> None:
    """Two Python threads entering a parallel Numba kernel at once abort the interpreter under
    Numba's workqueue threading layer; the kernels hold a lock, so both threads finish, with the
    results of a sequential run."""
    code = textwrap.dedent(
        """
        import os, threading
        import numpy as np
        import numba
        from nbcode import optim
        def work(out, i):
            w = np.linspace(-1, 1, 20_000) * (i + 1)
            opt = optim.adam(lr=0.01, engine="numba")
            s = opt.init(w)
            for k in range(300):
                s = opt.update_(np.cos(w), s, w)
            out[i] = w
        seq = {}
        for i in range(2):
            work(seq, i)
        par = {}
        ts = [threading.Thread(target=work, args=(par, i)) for i in range(2)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        assert numba.threading_layer() == "workqueue", numba.threading_layer()
        assert all(np.array_equal(seq[i], par[i]) for i in range(2))
        print("ok")
        """
    )
    env = {**__import__("os").environ, "NUMBA_THREADING_LAYER": "workqueue", "NUMBA_NUM_THREADS": "2"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr[-2000:]
