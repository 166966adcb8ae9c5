"""Issue #16, group F: the messages of the checks at the door of nbcode.hessian, nbcode.checkup
and nbcode.train (one test per message format; the battery covers the rest)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from nbcode.hessian import (
    HessianOperator,
    as_operator,
    exact_hessian,
    find_critical_points,
    gauss_newton,
    gaussian_density,
    lanczos_topk,
    sharpness,
)


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()


def _data(n: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, 3, generator=g, dtype=torch.float64), torch.arange(n) % 2


# ---- hessian

@pytest.mark.parametrize("fn", [exact_hessian, gauss_newton, HessianOperator])
def test_hessian_data_checked_at_the_door(fn):
    X, y = _data()
    ce = nn.functional.cross_entropy
    with pytest.raises(ValueError, match=r"Invalid y: shape \(7,\) for X of shape \(8, 3\) \(need one target per row of X\)"):
        fn(_net(), ce, X, y[:-1])
    with pytest.raises(ValueError, match="Invalid X: it is empty"):
        fn(_net(), ce, X[:0], y)
    Xn = X.clone()
    Xn[0, 0] = float("nan")
    with pytest.raises(ValueError, match="Invalid X: it contains NaN or infinity"):
        fn(_net(), ce, Xn, y)


def test_sharpness_checks_before_copying():
    X, y = _data()
    with pytest.raises(ValueError, match="Invalid y: shape"):
        sharpness(_net(), X, y[:3])


def test_operator_named_operator():
    with pytest.raises(TypeError, match=r"Invalid operator: None \(need real numbers"):
        as_operator(None)
    with pytest.raises(ValueError, match="Invalid operator: it is not symmetric"):
        lanczos_topk(np.array([[1.0, 2.0], [0.0, 1.0]]))

    class Op:
        dim = 0

        def matvec(self, v):
            return v

    with pytest.raises(ValueError, match=r"Invalid operator dimension: 0 \(need operator dimension >= 1\)"):
        as_operator(Op())
    Op.dim = 2
    Op.matvec = 3  # type: ignore[assignment]
    with pytest.raises(TypeError, match="Invalid operator's matvec: 3 \\(need a callable\\)"):
        as_operator(Op())


def test_gaussian_density_sigma():
    with pytest.raises(ValueError, match=r"Invalid smoothing width sigma: 0.0 \(need sigma > 0\)"):
        gaussian_density([0.0], [0.0], [1.0], 0.0)


def test_find_critical_points_arguments():
    X, y = np.zeros((3, 1)), np.zeros(3)
    with pytest.raises(ValueError, match=r"Invalid shape of y: \(3, 1\) \(need \(3,\)\)"):
        find_critical_points(X, y[:, None], 1)
    with pytest.raises(TypeError, match=r"Invalid gd_steps: \(0, 2.5\) \(need integers\)"):
        find_critical_points(X, y, 1, gd_steps=(0, 2.5))
    with pytest.raises(ValueError, match=r"Invalid init_scale: 0 \(need init_scale > 0\)"):
        find_critical_points(X, y, 1, init_scale=0)
    with pytest.raises(ValueError, match=r"Invalid damping: nan \(need a finite number\)"):
        find_critical_points(X, y, 1, damping=float("nan"))
    with pytest.raises(TypeError, match=r"Invalid grad_tol: True \(need a real number\)"):
        find_critical_points(X, y, 1, grad_tol=True)
    # a NumPy array of steps is a sequence of integers too
    a = find_critical_points(X, y, 1, gd_steps=np.array([0, 2]), n_inits=1, iters=2, grad_tol=np.inf)
    b = find_critical_points(X, y, 1, gd_steps=(0, 2), n_inits=1, iters=2, grad_tol=np.inf)
    assert [p.loss for p in a] == [p.loss for p in b]


# ---- train

from nbcode.optim import sgd  # noqa: E402
from nbcode.train import History, NumpyOptimizer, accuracy, evaluate, fit, lr_range_test  # noqa: E402


def test_fit_checks_data_val_scheduler_progress():
    X, y = _data()
    net = _net()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    Xn = X.clone()
    Xn[1, 1] = float("inf")
    with pytest.raises(ValueError, match="Invalid X: it contains NaN or infinity"):
        fit(net, opt, Xn, y, epochs=1, progress=False)
    with pytest.raises(ValueError, match=r"Invalid y: shape \(7,\) for X of shape \(8, 3\)"):
        fit(net, opt, X, y[:-1], epochs=1, progress=False)
    with pytest.raises(TypeError, match=r"Invalid val: 'ab' \(need a pair \(X_val, y_val\) of tensors\)"):
        fit(net, opt, X, y, epochs=1, val="ab", progress=False)
    with pytest.raises(ValueError, match=r"Invalid val\[1\]: shape \(3,\) for val\[0\] of shape \(8, 3\)"):
        fit(net, opt, X, y, epochs=1, val=(X, y[:3]), progress=False)
    with pytest.raises(TypeError, match=r"Invalid scheduler: 3 \(need an object with a step\(\) method"):
        fit(net, opt, X, y, epochs=1, scheduler=3, progress=False)
    with pytest.raises(TypeError, match=r"Invalid progress: 'no' \(need True or False\)"):
        fit(net, opt, X, y, epochs=1, progress="no")


def test_evaluate_and_accuracy_check_their_arguments():
    X, y = _data()
    ce = nn.functional.cross_entropy
    with pytest.raises(TypeError, match=r"Invalid model: None \(need a torch.nn.Module\)"):
        evaluate(None, X, y, ce)
    with pytest.raises(ValueError, match="Invalid model: ReLU has no parameters"):
        evaluate(nn.ReLU(), X, y, ce)
    with pytest.raises(TypeError, match=r"Invalid X: array of shape \(8, 3\) and dtype float64 \(need a torch.Tensor\)"):
        evaluate(_net(), X.numpy(), y, ce)
    with pytest.raises(TypeError, match="Invalid loss_fn: 'ce' \\(need a callable\\)"):
        evaluate(_net(), X, y, "ce")
    logits = _net()(X).detach()
    with pytest.raises(ValueError, match=r"Invalid y: 7 labels for 8 rows of logits \(need one per row\)"):
        accuracy(logits, y[:-1])
    logits[0, 0] = float("nan")
    with pytest.raises(ValueError, match="Invalid logits: it contains NaN or infinity"):
        accuracy(logits, y)


def test_history_last_unknown_key():
    h = History()
    h.log(train_loss=1.0)
    with pytest.raises(ValueError, match=r"Invalid key: 'val_loss' \(use one of \['train_loss'\]\)"):
        h.last("val_loss")
    with pytest.raises(TypeError, match=r"Invalid key: 3 \(need a string\)"):
        h.last(3)
    assert h["train_loss"] == [1.0]  # item access stays a dict's (KeyError)
    with pytest.raises(KeyError):
        h["val_loss"]


def test_numpy_optimizer_arguments():
    with pytest.raises(TypeError, match=r"Invalid params: None \(need an iterable of torch.nn.Parameter"):
        NumpyOptimizer(None, sgd(lr=0.1))
    with pytest.raises(TypeError, match=r"Invalid params: an entry 'a' \(need torch.nn.Parameter entries\)"):
        NumpyOptimizer("ab", sgd(lr=0.1))
    opt = NumpyOptimizer(_net().parameters(), sgd(lr=0.1))
    with pytest.raises(TypeError, match=r"Invalid set_to_none: None \(need True or False\)"):
        opt.zero_grad(None)
    with pytest.raises(TypeError, match=r"Invalid closure: 3 \(need a callable\)"):
        opt.step(3)


def test_lr_range_test_arguments():
    X, y = _data()
    net = _net()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    with pytest.raises(TypeError, match=r"Invalid optimizer: 'sgd' \(need a torch.optim.Optimizer"):
        lr_range_test(net, "sgd", X, y, num_steps=4, batch_size=4)
    with pytest.raises(TypeError, match=r"Invalid lr_min: True \(need a real number\)"):
        lr_range_test(net, opt, X, y, lr_min=True, num_steps=4, batch_size=4)
    with pytest.raises(ValueError, match=r"Invalid learning rate range: lr_min=1.0, lr_max=0.5"):
        lr_range_test(net, opt, X, y, lr_min=1.0, lr_max=0.5, num_steps=4, batch_size=4)
    with pytest.raises(ValueError, match=r"Invalid beta: 1 \(need 0 <= beta < 1\)"):
        lr_range_test(net, opt, X, y, beta=1, num_steps=4, batch_size=4)
    with pytest.raises(ValueError, match=r"Invalid stop_factor: nan \(need a finite number\)"):
        lr_range_test(net, opt, X, y, stop_factor=float("nan"), num_steps=4, batch_size=4)
    with pytest.raises(ValueError, match=r"Invalid stop_factor: 1 \(need stop_factor > 1\)"):
        lr_range_test(net, opt, X, y, stop_factor=1, num_steps=4, batch_size=4)
    with pytest.raises(ValueError, match=r"Invalid y: shape \(7,\) for X of shape \(8, 3\)"):
        lr_range_test(net, opt, X, y[:-1], num_steps=4, batch_size=4)
    # stop_factor=inf: never stop early (all steps run)
    r = lr_range_test(net, opt, X, y, stop_factor=float("inf"), lr_max=1.0, num_steps=4, batch_size=4)
    assert r.lrs.size == 4


# ---- checkup

from nbcode.checkup import Report, Section  # noqa: E402
from nbcode.checkup.quantity import fmt, fmt_pm  # noqa: E402
from nbcode.checkup.report import Figure  # noqa: E402


def test_fmt_refuses_non_numbers_and_keeps_missing_values():
    with pytest.raises(TypeError, match=r"Invalid x: True \(need a real number or None\)"):
        fmt(True)
    with pytest.raises(TypeError, match=r"Invalid x: '1' \(need a real number or None\)"):
        fmt("1")
    with pytest.raises(TypeError, match=r"Invalid digits: 2.5 \(need an integer\)"):
        fmt(1.0, 2.5)
    with pytest.raises(ValueError, match=r"Invalid digits: 0 \(need digits >= 1\)"):
        fmt(1.0, 0)
    with pytest.raises(TypeError, match=r"Invalid value: \[1.0\] \(need a real number or None\)"):
        fmt_pm([1.0], 0.1)
    with pytest.raises(TypeError, match=r"Invalid error: \(0.1\+1j\) \(need a real number or None\)"):
        fmt_pm(1.0, 0.1 + 1j)
    # documented: NaN is a missing value, an unknown error shows the value alone
    assert fmt(float("nan")) == fmt(np.float32("nan")) == "–"
    assert fmt_pm(float("nan"), 0.1) == "–"
    assert fmt_pm(1.5, float("nan")) == fmt_pm(1.5, None) == "1.5"
    assert fmt(np.float32(0.5)) == fmt(0.5) == "0.5"


def test_report_section_and_paths(tmp_path):
    rep = Report("t", {}, [Section("curvature", "Curvature")])
    with pytest.raises(ValueError, match=r"Invalid key: 'init' \(use one of \['curvature'\]\)"):
        rep.section("init")
    with pytest.raises(TypeError, match=r"Invalid path: None \(need a str or os.PathLike\)"):
        rep.save_html(None)
    with pytest.raises(TypeError, match=r"Invalid draw: None \(need a callable\)"):
        Figure(None, "alt", "caption")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"Invalid alt: 3 \(need a string\)"):
        Figure(lambda: b"", 3, "caption")  # type: ignore[arg-type]


def test_checkup_progress_flag():
    from nbcode.checkup import checkup

    X, y = _data()
    with pytest.raises(TypeError, match=r"Invalid progress: 'yes' \(need True or False\)"):
        checkup(_net(), [(X, y)], nn.functional.cross_entropy, progress="yes")


def test_fmt_huge_integer():
    with pytest.raises(ValueError, match=r"Invalid x: 1000.* \(need a number within the float range\)"):
        fmt(10**400)
