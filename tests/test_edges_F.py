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
