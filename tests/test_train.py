"""The training loop: it learns, it is reproducible, it reports divergence instead of crashing."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from nbcode.data import load_digits, toy2d
from nbcode.train import accuracy, evaluate, fit, mlp, seed_everything


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
