"""The training loop (it learns, it is reproducible, it reports divergence instead of crashing),
the MLP builder, the learning-rate range test, and the book's optimizers training a network
(NumpyOptimizer) step by step like torch.optim."""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import pytest
import torch
from torch import nn

from nbcode import optim
from nbcode import schedules as S
from nbcode.data import load_digits, toy2d
from nbcode.train import NumpyOptimizer, accuracy, evaluate, fit, lr_range_test, mlp, seed_everything


def digits() -> dict:
    return load_digits().as_tensors()


def test_mlp_learns_digits() -> None:
    d = digits()
    seed_everything(0)
    net = mlp([64, 32, 10])
    h = fit(net, torch.optim.SGD(net.parameters(), lr=0.1), d["X_train"], d["y_train"], epochs=15, batch_size=64,
            val=(d["X_val"], d["y_val"]), progress=False)
    assert len(h["train_loss"]) == 16 and h.steps == 15 * math.ceil(1257 / 64)
    assert h["train_loss"][0] > 2.0 and h.last("train_loss") < 0.2
    assert h.last("val_acc") > 0.93
    assert not h.diverged


def test_runs_are_reproducible() -> None:
    d = digits()
    losses = []
    for _ in range(2):
        seed_everything(1)
        net = mlp([64, 16, 10], nn.Tanh)
        h = fit(net, torch.optim.Adam(net.parameters(), lr=1e-2), d["X_train"], d["y_train"], epochs=3, batch_size=100, seed=5, progress=False)
        losses.append(h["train_loss"])
    assert losses[0] == losses[1]


def test_full_batch_is_gradient_descent() -> None:
    X, y = toy2d("moons", 64)
    Xt, yt = torch.as_tensor(X, dtype=torch.float64), torch.as_tensor(y)
    seed_everything(0)
    net = mlp([2, 8, 2]).double()
    ref = mlp([2, 8, 2]).double()
    ref.load_state_dict(net.state_dict())
    fit(net, torch.optim.SGD(net.parameters(), lr=0.5), Xt, yt, epochs=3, progress=False)
    opt = torch.optim.SGD(ref.parameters(), lr=0.5)
    for _ in range(3):
        opt.zero_grad()
        nn.functional.cross_entropy(ref(Xt), yt).backward()
        opt.step()
    for a, b in zip(net.parameters(), ref.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_divergence_stops_the_run() -> None:
    d = digits()
    seed_everything(0)
    net = mlp([64, 64, 10])
    h = fit(net, torch.optim.SGD(net.parameters(), lr=1e4), d["X_train"], d["y_train"], epochs=20, batch_size=256, progress=False)
    assert h.diverged and len(h["train_loss"]) < 21


def test_callback_can_stop_early_and_scheduler_steps() -> None:
    d = digits()
    seed_everything(0)
    net = mlp([64, 10])
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    h = fit(net, opt, d["X_train"], d["y_train"], epochs=10, scheduler=sched, callback=lambda e, hist: e >= 3, progress=False)
    assert len(h["train_loss"]) == 4
    assert h["lr"] == [0.1, 0.05, 0.025, 0.0125]


def test_evaluate_restores_training_mode() -> None:
    net = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    X, y = torch.zeros(4, 2), torch.zeros(4, dtype=torch.long)
    net.train()
    evaluate(net, X, y, nn.functional.cross_entropy)
    assert net.training
    assert accuracy(torch.tensor([[0.0, 1.0], [2.0, 1.0]]), torch.tensor([1, 1])) == 0.5


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"epochs": -1}, "Invalid number of epochs"), ({"epochs": 1, "batch_size": 0}, "Invalid batch size"),
     ({"epochs": 1, "batch_size": 10_000}, "Invalid batch size")],
)
def test_bad_input(kwargs: dict, match: str) -> None:
    net = mlp([64, 10])
    d = digits()
    with pytest.raises(ValueError, match=match):
        fit(net, torch.optim.SGD(net.parameters(), lr=0.1), d["X_train"], d["y_train"], progress=False, **kwargs)
    with pytest.raises(ValueError, match="Invalid layer sizes"):
        mlp([64])
    with pytest.raises(ValueError, match="Invalid layer sizes"):
        mlp([64, 2.5])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="Invalid optimizer"):
        fit(net, "sgd", d["X_train"], d["y_train"], epochs=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Invalid model"):
        fit("net", torch.optim.SGD(net.parameters(), lr=0.1), d["X_train"], d["y_train"], epochs=1)  # type: ignore[arg-type]


@pytest.mark.parametrize(("env", "progress", "shown"), [("1", None, False), ("", None, True), ("1", True, True), ("", False, False)])
def test_progress_bar_follows_tqdm_disable(monkeypatch: pytest.MonkeyPatch, env: str, progress: bool | None, shown: bool) -> None:
    """The notebook bar of tqdm ignores TQDM_DISABLE, so fit reads it itself."""
    import nbcode.train.loop as loop

    seen = []

    class Recorder:
        def __init__(self, it: object, **kw: object) -> None:
            seen.append(kw["disable"])
            self.it = it

        def __iter__(self):  # type: ignore[no-untyped-def]
            return iter(self.it)  # type: ignore[call-overload]

        def set_postfix(self, **kw: object) -> None:
            pass

        def close(self) -> None:
            pass

    monkeypatch.setattr(loop, "tqdm", Recorder)
    monkeypatch.setenv("TQDM_DISABLE", env)
    net = mlp([2, 2])
    fit(net, torch.optim.SGD(net.parameters(), lr=0.1), torch.zeros(4, 2, dtype=torch.float64), torch.zeros(4, dtype=torch.long), epochs=1,
        progress=progress)
    assert seen == [not shown]


# ---- the options of fit and mlp -----------------------------------------------------------------


def test_mlp_options() -> None:
    net = mlp([4, 3, 3, 2], nn.Tanh, batch_norm=True, dropout=0.25, seed=0)
    assert [type(m).__name__ for m in net] == ["Linear", "BatchNorm1d", "Tanh", "Dropout", "Linear", "BatchNorm1d", "Tanh",
                                               "Dropout", "Linear"]
    assert all(p.dtype == torch.float64 for p in net.parameters()) and net[3].p == 0.25
    again = mlp([4, 3, 3, 2], nn.Tanh, batch_norm=True, dropout=0.25, seed=0)
    assert all(torch.equal(a, b) for a, b in zip(net.parameters(), again.parameters()))  # seed: same weights
    assert mlp([4, 2], dtype=torch.float32)[0].weight.dtype == torch.float32
    with pytest.raises(TypeError, match="Invalid dtype"):
        mlp([4, 2], dtype=torch.int64)


def test_shuffle_off_keeps_the_order_and_drop_last_skips_the_partial_batch() -> None:
    X = torch.arange(10, dtype=torch.float64).reshape(10, 1)
    y = torch.zeros(10, 1, dtype=torch.float64)
    seen: list[list[float]] = []
    net = nn.Linear(1, 1).double()
    net.register_forward_pre_hook(lambda m, inp: seen.append(inp[0][:, 0].tolist()) if m.training else None)
    fit(net, torch.optim.SGD(net.parameters(), lr=0.0), X, y, epochs=1, batch_size=4, shuffle=False)
    assert seen == [[0.0, 1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0], [8.0, 9.0]]
    seen.clear()
    h = fit(net, torch.optim.SGD(net.parameters(), lr=0.0), X, y, epochs=2, batch_size=4, drop_last=True)
    assert [len(b) for b in seen] == [4, 4, 4, 4] and h.steps == 4
    assert len(set(seen[0] + seen[1])) == 8 and seen[:2] != seen[2:]  # 8 distinct rows an epoch, reshuffled


def test_step_callback_max_loss_and_batch_losses() -> None:
    d = digits()
    seed_everything(0)
    net = mlp([64, 10])
    calls: list[tuple[int, float]] = []
    h = fit(net, torch.optim.SGD(net.parameters(), lr=0.1), d["X_train"], d["y_train"], epochs=3, batch_size=500,
            step_callback=lambda k, loss: calls.append((k, loss)) or k == 4)
    assert [k for k, _ in calls] == [1, 2, 3, 4] and h.steps == 4 and len(h["train_loss"]) == 3
    assert h.batch_loss == [loss for _, loss in calls]
    seed_everything(0)
    net = mlp([64, 64, 10])
    h = fit(net, torch.optim.SGD(net.parameters(), lr=50.0), d["X_train"], d["y_train"], epochs=20, max_loss=10.0)
    assert h.diverged and h.batch_loss[-1] > 10.0 and h.steps == len(h.batch_loss) - 1  # no update with the last


def test_a_one_row_last_batch_with_batchnorm_is_refused_up_front() -> None:
    net = mlp([2, 3, 2], batch_norm=True, seed=0)
    X, y = torch.zeros(9, 2, dtype=torch.float64), torch.zeros(9, dtype=torch.long)
    with pytest.raises(ValueError, match=r"Invalid batch size: 4 leaves a last mini-batch of one row"):
        fit(net, torch.optim.SGD(net.parameters(), lr=0.1), X, y, epochs=1, batch_size=4)
    h = fit(net, torch.optim.SGD(net.parameters(), lr=0.1), X, y, epochs=1, batch_size=4, drop_last=True)
    assert h.steps == 2


# ---- the learning-rate range test ----------------------------------------------------------------
def _digits_like(n: int = 300, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 8, generator=g, dtype=torch.float64)
    y = (X[:, 0] + X[:, 1] > 0).long() + (X[:, 2] > 0.5).long()
    return X, y


def test_range_test_shape_and_suggestion():
    X, y = _digits_like()
    seed_everything(0)
    model = mlp([8, 16, 3], torch.nn.Tanh)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    rt = lr_range_test(model, opt, X, y, lr_min=1e-3, lr_max=100.0, num_steps=120, batch_size=32)
    assert len(rt.lrs) == len(rt.losses) == len(rt.smoothed) >= 50
    np.testing.assert_allclose(rt.lrs, np.geomspace(1e-3, 100.0, 120)[: len(rt.lrs)])
    assert len(rt.lrs) < 120  # the loss blows up before lr = 100 and the run stops
    assert 1e-2 < rt.lr_steepest <= rt.lr_min_loss < 100.0
    assert rt.smoothed.min() < rt.smoothed[0] - 0.1  # the loss does fall somewhere in the range


def test_range_test_bad_input():
    X, y = _digits_like(40)
    model = mlp([8, 4, 3])
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="Invalid learning rate range"):
        lr_range_test(model, opt, X, y, lr_min=1.0, lr_max=0.1)
    with pytest.raises(ValueError, match="Invalid batch size: 41"):
        lr_range_test(model, opt, X, y, batch_size=41)
    with pytest.raises(ValueError, match="Invalid num_steps: 1"):
        lr_range_test(model, opt, X, y, num_steps=1)


# ---- nbcode's optimizers train the digits MLP exactly like torch.optim ----------------------------

EPOCHS, BATCH = 3, 64
STEPS_PER_EPOCH = math.ceil(1257 / BATCH)
TOTAL = EPOCHS * STEPS_PER_EPOCH


def _schedules(lr: float) -> dict[str, tuple[Callable[[int], float], Callable[[torch.optim.Optimizer], Any]]]:
    """nbcode's closed-form schedule and the matching torch scheduler (stepped after every update)."""
    return {
        "cosine": (S.cosine_annealing_lr(lr, T_max=TOTAL, eta_min=lr / 50),
                   lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=TOTAL, eta_min=lr / 50)),
        "one-cycle": (S.one_cycle_lr(lr, total_steps=TOTAL, pct_start=0.25),
                      lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=lr, total_steps=TOTAL, pct_start=0.25,
                                                                   cycle_momentum=False)),
    }


OPTIMIZERS: dict[str, tuple[Callable[..., optim.Optimizer], type, dict[str, Any]]] = {
    "Adam": (optim.adam, torch.optim.Adam, dict(lr=3e-3, weight_decay=1e-3)),
    "AdamW": (optim.adamw, torch.optim.AdamW, dict(lr=3e-3, weight_decay=0.05)),
    "SGD-Nesterov": (optim.sgd, torch.optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-4)),
}


def _trajectory(model: nn.Module, opt: Any, after_step: Callable[[], None] | None = None) -> tuple[list[np.ndarray], Any]:
    d = digits()
    X, y = d["X_train"].double(), d["y_train"]
    params: list[np.ndarray] = []

    def record(step: int, loss: float) -> None:
        if after_step is not None:
            after_step()
        params.append(torch.cat([p.detach().reshape(-1) for p in model.parameters()]).numpy().copy())

    h = fit(model, opt, X, y, epochs=EPOCHS, batch_size=BATCH, seed=4, step_callback=record)
    return params, h


@pytest.mark.parametrize("schedule", ["cosine", "one-cycle"])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_nbcode_optimizers_train_the_digits_mlp_like_torch(name: str, schedule: str) -> None:
    """Adam, AdamW and SGD with Nesterov momentum from nbcode.optim, with nbcode's cosine and
    one-cycle schedules as lr, train the digits MLP for 3 epochs through fit (NumpyOptimizer):
    the parameters equal torch.optim's with the matching lr_scheduler after every one of the 60
    updates (float64, rtol 1e-10), and so do the optimizer states at the end."""
    make, torch_cls, kw = OPTIMIZERS[name]
    ours_lr, torch_sched = _schedules(kw["lr"])[schedule]
    torch.set_num_threads(1)
    ours_net = mlp([64, 32, 10], nn.Tanh, seed=7)
    their_net = mlp([64, 32, 10], nn.Tanh, seed=7)
    ours_opt = make(**{**kw, "lr": ours_lr})
    ours, h1 = _trajectory(ours_net, ours_opt)
    topt = torch_cls(their_net.parameters(), **kw)
    sched = torch_sched(topt)
    theirs, h2 = _trajectory(their_net, topt, after_step=sched.step)
    assert len(ours) == len(theirs) == TOTAL
    for k, (a, b) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, err_msg=f"after update {k + 1}")
    assert h1["train_loss"] == pytest.approx(h2["train_loss"], rel=1e-10)
    assert h1["train_loss"][-1] < 0.5 * h1["train_loss"][0]  # it trained
    assert h1["lr"][-1] == pytest.approx(h2["lr"][-1], rel=1e-10)  # the lr each reports (the next step's)


def test_numpy_optimizer_state_matches_torch_field_by_field() -> None:
    """The flat state of NumpyOptimizer is torch's per-tensor state, concatenated."""
    seed_everything(0)
    net, ref = mlp([64, 16, 10], seed=2), mlp([64, 16, 10], seed=2)
    ours = NumpyOptimizer(net.parameters(), optim.adam(lr=1e-2, amsgrad=True))
    theirs = torch.optim.Adam(ref.parameters(), lr=1e-2, amsgrad=True)
    d = digits()
    for o, m in ((ours, net), (theirs, ref)):
        fit(m, o, d["X_train"], d["y_train"], epochs=1, batch_size=200)
    assert ours.state.step == 7
    for field in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
        flat = torch.cat([theirs.state[p][field].reshape(-1) for p in ref.parameters()]).numpy()
        np.testing.assert_allclose(getattr(ours.state, field), flat, rtol=1e-10, atol=1e-14, err_msg=field)
    assert "NumpyOptimizer(4 tensors, 1210 parameters, step 7)" == repr(ours)


@pytest.mark.parametrize("engine", ["numpy", pytest.param("numba", marks=pytest.mark.skipif(not optim.HAVE_NUMBA, reason="numba"))])
def test_fit_accepts_an_nbcode_optimizer_with_a_fast_engine(engine: str) -> None:
    """fit wraps an nbcode Optimizer itself; the in-place engines train the same network."""
    d = digits()
    runs = []
    for eng in ("readable", engine):
        net = mlp([64, 16, 10], seed=3)
        h = fit(net, optim.sgd(lr=0.05, momentum=0.9, engine=eng), d["X_train"], d["y_train"], epochs=2, batch_size=100)
        runs.append((h["train_loss"], torch.cat([p.detach().reshape(-1) for p in net.parameters()])))
    assert runs[0][0] == pytest.approx(runs[1][0], rel=1e-12)
    torch.testing.assert_close(runs[0][1], runs[1][1], rtol=1e-12, atol=1e-14)
    assert runs[0][0][-1] < 0.5 * runs[0][0][0]


def test_numpy_optimizer_bad_input() -> None:
    with pytest.raises(TypeError, match="Invalid optimizer"):
        NumpyOptimizer(mlp([2, 2]).parameters(), torch.optim.SGD)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no parameter requires a gradient"):
        NumpyOptimizer([], optim.sgd())
    mixed = [nn.Parameter(torch.zeros(2, dtype=torch.float64)), nn.Parameter(torch.zeros(2, dtype=torch.float32))]
    with pytest.raises(TypeError, match="one floating dtype"):
        NumpyOptimizer(mixed, optim.sgd())
