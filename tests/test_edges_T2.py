"""Issue #16, second round (group T): defects of nbcode.train and nbcode.checkup found by an audit."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nbcode.checkup import Monitor, checkup
from nbcode.train import NumpyOptimizer, evaluate, fit, lr_range_test, mlp

ce, mse = F.cross_entropy, F.mse_loss


def _net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3)).double()


def _data() -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(1)
    return [(torch.randn(32, 4, dtype=torch.float64, generator=g), torch.randint(0, 3, (32,), generator=g))]


# 1. every parameter group's learning rate counts
def test_rate_judged_at_the_largest_group_lr() -> None:
    net, data = _net(), _data()
    opt = torch.optim.SGD([{"params": net[0].parameters(), "lr": 0.01}, {"params": net[2].parameters(), "lr": 50.0}])
    q = checkup(net, data, ce, opt, progress=False, sections=["rate"])["rate.stable"]
    assert q.extra["lr"] == 50.0 and q.verdict == "warning"
    assert "parameter groups" in q.note
    # reversed order: the same verdict
    opt2 = torch.optim.SGD([{"params": net[2].parameters(), "lr": 50.0}, {"params": net[0].parameters(), "lr": 0.01}])
    assert checkup(net, data, ce, opt2, progress=False, sections=["rate"])["rate.stable"].verdict == "warning"
    # one group: unchanged, no note about groups
    q1 = checkup(net, data, ce, torch.optim.SGD(net.parameters(), lr=0.01), progress=False, sections=["rate"])["rate.stable"]
    assert q1.verdict == "ok" and "groups" not in q1.note


def test_monitor_uses_the_largest_group_lr() -> None:
    net, data = _net(), _data()
    opt = torch.optim.SGD([{"params": net[0].parameters(), "lr": 0.01}, {"params": net[2].parameters(), "lr": 50.0}])
    mon = Monitor(net, data, ce, opt)
    mon()
    rec = mon.records[0]
    assert rec["lr"] == 50.0
    assert rec["limit"] == pytest.approx(2.0 / 50.0)


# 2. accuracy only for integer labels
def test_fit_and_evaluate_on_a_regression_with_several_outputs() -> None:
    net = mlp([3, 4, 2], seed=0)
    X, Y = torch.randn(6, 3, dtype=torch.float64), torch.randn(6, 2, dtype=torch.float64)
    h = fit(net, torch.optim.SGD(net.parameters(), lr=0.1), X, Y, epochs=1, progress=False)
    assert all(math.isnan(a) for a in h["train_acc"])
    assert h["train_loss"][-1] == pytest.approx(float(mse(net(X).detach(), Y)))
    net2 = mlp([3, 4, 2], seed=0)
    loss, acc = evaluate(net2, X[:2], Y[:2], mse)  # n == K: no meaningless 0.0
    assert math.isnan(acc) and loss == pytest.approx(float(mse(net2(X[:2]).detach(), Y[:2])))
    # labels still give the accuracy
    y = torch.tensor([0, 1, 1, 0, 1, 0])
    _, acc = evaluate(net2, X, y, ce)
    assert acc == float((net2(X).argmax(1) == y).double().mean())


# 3. NumpyOptimizer's rate is read-only; lr_range_test refuses it
def _numpy_opt(net: nn.Module) -> NumpyOptimizer:
    from nbcode.optim import sgd

    return NumpyOptimizer(net.parameters(), sgd(lr=0.1))


def test_numpy_optimizer_lr_is_read_only() -> None:
    net = mlp([3, 4, 2], seed=0)
    opt = _numpy_opt(net)
    assert opt.param_groups[0]["lr"] == 0.1
    with pytest.raises(TypeError, match="read|schedule"):
        opt.param_groups[0]["lr"] = 5.0
    with pytest.raises(TypeError, match="schedule"):
        opt.param_groups[0].update(lr=5.0)
    assert opt.param_groups[0]["lr"] == 0.1
    X = torch.randn(8, 3, dtype=torch.float64)
    net(X).sum().backward()
    opt.step()  # the adapter itself still records the rate
    assert opt.param_groups[0]["lr"] == 0.1 and opt.state.step == 1


def test_lr_range_test_refuses_a_numpy_optimizer() -> None:
    net = mlp([3, 4, 2], seed=0)
    X, y = torch.randn(8, 3, dtype=torch.float64), torch.tensor([0, 1] * 4)
    before = [p.detach().clone() for p in net.parameters()]
    with pytest.raises(TypeError, match="NumpyOptimizer"):
        lr_range_test(net, _numpy_opt(net), X, y, batch_size=4, num_steps=5)
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))


def test_fit_with_a_scheduler_writing_a_numpy_optimizer_lr_is_refused() -> None:
    net = mlp([3, 4, 2], seed=0)
    X, y = torch.randn(8, 3, dtype=torch.float64), torch.tensor([0, 1] * 4)
    opt = _numpy_opt(net)

    class Halve:
        def step(self) -> None:
            opt.param_groups[0]["lr"] *= 0.5

    with pytest.raises(TypeError, match="schedule"):
        fit(net, opt, X, y, epochs=2, scheduler=Halve(), progress=False)


# 4. stored batches are copies
def test_checkup_copies_the_batches_of_a_loader_refilling_one_buffer() -> None:
    net = nn.Linear(3, 1).double()
    torch.manual_seed(0)
    Xs = [torch.randn(16, 3, dtype=torch.float64) * s for s in (1.0, 3.0)]
    ys = [torch.randn(16, 1, dtype=torch.float64) for _ in Xs]
    buf_x, buf_y = torch.empty(16, 3, dtype=torch.float64), torch.empty(16, 1, dtype=torch.float64)

    def loader():  # one preallocated buffer, refilled for each batch
        for x, y in zip(Xs, ys):
            buf_x.copy_(x), buf_y.copy_(y)
            yield buf_x, buf_y

    lam = checkup(net, loader(), mse, progress=False, sections=["curvature"])["curvature.lambda_max"].value
    X = torch.cat(Xs)
    # exact Hessian of the mean-squared error of a linear model over all rows: (2/n) [X 1]^T [X 1]
    A = torch.cat([X, torch.ones(32, 1, dtype=torch.float64)], 1)
    exact = float(torch.linalg.eigvalsh(2 * A.T @ A / 32)[-1])
    assert lam == pytest.approx(exact, rel=1e-3)


def test_monitor_does_not_follow_later_changes_of_the_callers_tensors() -> None:
    torch.manual_seed(0)
    net = nn.Linear(3, 1).double()
    X, y = torch.randn(32, 3, dtype=torch.float64), torch.randn(32, 1, dtype=torch.float64)
    mon = Monitor(net, [(X, y)], mse, torch.optim.SGD(net.parameters(), lr=0.1))
    mon()
    X.mul_(10)
    mon()
    assert mon.records[1]["sharpness"] == pytest.approx(mon.records[0]["sharpness"], rel=1e-6)


# 5. evaluate restores the mode of every module
def test_evaluate_restores_each_modules_mode() -> None:
    net = mlp([3, 4, 2], batch_norm=True, dropout=0.2, seed=0)
    net.train()
    net[1].eval()  # a frozen BatchNorm
    modes = [m.training for m in net.modules()]
    X, y = torch.randn(8, 3, dtype=torch.float64), torch.tensor([0, 1] * 4)
    loss, _ = evaluate(net, X, y, ce)
    assert [m.training for m in net.modules()] == modes
    net.eval()
    assert loss == float(ce(net(X).detach(), y))


# 6, 7. data that does not fit the model, a loss with reduction='none', batches of one row with BatchNorm
_MISFITS = {
    "features": lambda X, y: (torch.randn(X.shape[0], 5, dtype=torch.float64), y, ce, ValueError, "the model cannot take it"),
    "float32": lambda X, y: (X.float(), y, ce, TypeError, "dtype torch.float32"),
    "labels": lambda X, y: (X, y + 3, ce, ValueError, "labels 3"),
    "float targets for ce": lambda X, y: (X, torch.rand(X.shape[0], dtype=torch.float64), ce, ValueError, "loss cannot take it"),
    "reduction none": lambda X, y: (X, y, lambda o, t: F.cross_entropy(o, t, reduction="none"), TypeError, "scalar"),
}


@pytest.mark.parametrize("case", sorted(_MISFITS))
def test_misfit_refused_at_the_door(case: str) -> None:
    net = mlp([4, 5, 3], seed=0)
    X0, y0 = torch.randn(10, 4, dtype=torch.float64), torch.randint(0, 3, (10,))
    X, y, loss, err, msg = _MISFITS[case](X0, y0)
    before = [p.detach().clone() for p in net.parameters()]
    with pytest.raises(err, match=msg):
        fit(net, torch.optim.SGD(net.parameters(), lr=0.1), X, y, loss_fn=loss, epochs=1, progress=False)
    with pytest.raises(err, match=msg):
        fit(net, torch.optim.SGD(net.parameters(), lr=0.1), X0, y0, loss_fn=loss if case == "reduction none" else ce,
            val=(X, y), epochs=1, progress=False)
    with pytest.raises(err, match=msg):
        evaluate(net, X, y, loss)
    with pytest.raises(err, match=msg):
        lr_range_test(net, torch.optim.SGD(net.parameters(), lr=0.1), X, y, loss_fn=loss, batch_size=4, num_steps=5)
    with pytest.raises(err, match=msg):
        checkup(net, [(X, y)], loss, progress=False)
    with pytest.raises(err, match=msg):
        Monitor(net, [(X, y)], loss, torch.optim.SGD(net.parameters(), lr=0.1))
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))


def test_batch_norm_with_batches_of_one_row_refused_by_name() -> None:
    net = mlp([4, 5, 3], batch_norm=True, seed=0)
    X, y = torch.randn(10, 4, dtype=torch.float64), torch.randint(0, 3, (10,))
    with pytest.raises(ValueError, match="Invalid batch size: 1 "):
        fit(net, torch.optim.SGD(net.parameters(), lr=0.1), X, y, batch_size=1, epochs=1, progress=False)
    with pytest.raises(ValueError, match="Invalid batch size: 1 "):
        fit(net, torch.optim.SGD(net.parameters(), lr=0.1), X[:1], y[:1], epochs=1, progress=False)
    with pytest.raises(ValueError, match="Invalid batch size: 1 "):
        lr_range_test(net, torch.optim.SGD(net.parameters(), lr=0.1), X, y, batch_size=1, num_steps=5)
    with pytest.raises(ValueError, match="Invalid batch 1: one row"):
        checkup(net, [(X[:9], y[:9]), (X[9:], y[9:])], ce, progress=False)
    # BatchNorm2d normalizes one image over its pixels: a batch of one is fine, as in torch
    torch.manual_seed(0)
    cnn = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(32, 3)).double()
    h = fit(cnn, torch.optim.SGD(cnn.parameters(), lr=0.01), torch.randn(5, 1, 6, 6, dtype=torch.float64),
            torch.randint(0, 3, (5,)), batch_size=2, epochs=1, progress=False)
    assert h.steps == 3


# 8. LBFGS: its step needs a closure
def test_lbfgs_checkup_skips_the_range_test_and_fit_refuses() -> None:
    net, data = _net(), _data()
    opt = torch.optim.LBFGS(net.parameters(), lr=0.5)
    rep = checkup(net, data, ce, opt, progress=False, sections=["rate"])
    assert rep["rate.range_test"].verdict == "not applicable" and "closure" in rep["rate.range_test"].note
    assert rep["rate.stable"].extra == {} or "lr" not in rep["rate.stable"].extra  # "other": the plain GD limit
    X, y = data[0]
    with pytest.raises(TypeError, match="closure"):
        fit(net, opt, X, y, epochs=1, progress=False)
    with pytest.raises(TypeError, match="closure"):
        lr_range_test(net, opt, X, y, batch_size=8, num_steps=5)


# 9. an optimizer over another model's parameters
def test_optimizer_over_another_model_refused() -> None:
    net, other = mlp([4, 5, 3], seed=0), mlp([4, 5, 3], seed=1)
    X, y = torch.randn(10, 4, dtype=torch.float64), torch.randint(0, 3, (10,))
    for opt in (torch.optim.SGD(other.parameters(), lr=0.1), _numpy_opt(other)):
        with pytest.raises(ValueError, match="none of its parameters belong to the model"):
            fit(net, opt, X, y, epochs=1, progress=False)
    with pytest.raises(ValueError, match="none of its parameters belong to the model"):
        lr_range_test(net, torch.optim.SGD(other.parameters(), lr=0.1), X, y, batch_size=4, num_steps=5)


# 10. the stopping rule with a loss that can be negative
def test_range_test_runs_on_with_a_negative_loss() -> None:
    torch.manual_seed(0)
    net = nn.Linear(3, 1).double()
    X, y = torch.randn(64, 3, dtype=torch.float64), torch.randn(64, 1, dtype=torch.float64)

    def shifted(out: torch.Tensor, t: torch.Tensor) -> torch.Tensor:  # MSE - 100: the same problem, negative values
        return mse(out, t) - 100.0

    rt = lr_range_test(net, torch.optim.SGD(net.parameters(), lr=0.1), X, y, loss_fn=shifted, lr_min=1e-4, lr_max=1e-2,
                       num_steps=20, batch_size=16)
    assert len(rt.lrs) == 20  # small rates: the loss only falls, nothing diverges
    # the reference rule, written out: stop once s > best + (stop_factor - 1)|best| (= stop_factor * best for best > 0)
    best = rt.smoothed[0]
    for s in rt.smoothed:
        best = min(best, s)
        assert not s > best + 3 * abs(best)
    # a positive loss: Smith's rule, unchanged
    torch.manual_seed(0)
    net2 = nn.Linear(3, 1).double()
    rt2 = lr_range_test(net2, torch.optim.SGD(net2.parameters(), lr=0.1), X, y, loss_fn=mse, lr_min=1e-2, lr_max=100.0,
                        num_steps=40, batch_size=16)
    assert len(rt2.lrs) < 40 and rt2.smoothed[-1] > 4 * rt2.smoothed.min()
