"""Second round of checks at the door of nbcode.hessian and nbcode.landscape (issue #16): kept data
copied, frozen parameters, non-scalar losses, data that do not fit the model, direction dtypes,
user operators, SLQ's default number of steps, Hutchinson's variance, half precision."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import nbcode.hessian as H
import nbcode.landscape as L

ce, mse = F.cross_entropy, F.mse_loss


def ce_none(out: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(out, t, reduction="none")


@pytest.fixture
def data():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    X = torch.randn(10, 3, dtype=torch.float64)
    return net, X, torch.randint(0, 2, (10,)), torch.randn(10, 2, dtype=torch.float64)


# -- 1. what an object keeps is a copy -------------------------------------------------------------


def test_operator_keeps_copies_of_the_data(data):
    net, X, y, Y = data
    op = H.HessianOperator(net, mse, X, Y)
    f, th = H.flat_loss(net, mse, X, Y)
    v = np.arange(op.dim, dtype=float)
    before, g, loss = op.matvec(v), op.gradient(), f(th)
    X.mul_(10)
    Y.mul_(3)
    assert np.array_equal(op.matvec(v), before) and np.array_equal(op.gradient(), g) and torch.equal(f(th), loss)
    M = np.array([[2.0, 1.0], [1.0, 3.0]])
    mop = H.MatrixOperator(M)
    M[0, 0] = 100.0
    assert np.array_equal(mop.matvec(np.array([1.0, 0.0])), [2.0, 1.0])


# -- 2. frozen parameters: the Hessian is over the trainable ones ---------------------------------


def test_frozen_parameters_are_held_fixed(data):
    net, X, y, _ = data
    frozen = copy.deepcopy(net)
    frozen[0].requires_grad_(False)
    trainable = slice(16, 26)  # the second layer's weight (8) and bias (2)
    full = H.exact_hessian(net, ce, X, y)
    block = H.exact_hessian(frozen, ce, X, y)
    assert block.shape == (10, 10)
    np.testing.assert_allclose(block, full[trainable, trainable], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(H.gauss_newton(frozen, ce, X, y), H.gauss_newton(net, ce, X, y)[trainable, trainable],
                               rtol=1e-12, atol=1e-14)
    # against torch: the Hessian of the loss in the last layer's parameters only
    W, b = net[2].weight.detach(), net[2].bias.detach()
    hid = torch.tanh(net[0](X)).detach()

    def loss(w: torch.Tensor) -> torch.Tensor:
        return ce(hid @ w[:8].reshape(2, 4).T + w[8:], y)

    ref = torch.autograd.functional.hessian(loss, torch.cat([W.reshape(-1), b])).numpy()
    np.testing.assert_allclose(block, ref, rtol=1e-10, atol=1e-13)
    top = float(np.linalg.eigvalsh(ref)[-1])
    assert H.sharpness(frozen, X, y, ce, tol=1e-10) == pytest.approx(top, rel=1e-8)
    op = H.HessianOperator(frozen, ce, X, y)
    assert op.dim == 10 and op.gradient().shape == (10,)
    with pytest.raises(ValueError, match=r"Invalid model: it has no parameter with requires_grad=True"):
        H.exact_hessian(copy.deepcopy(net).requires_grad_(False), ce, X, y)


# -- 3./4. the loss and the data must fit the model ----------------------------------------------------


CALLS = {
    "exact_hessian": lambda m, lf, X, y: H.exact_hessian(m, lf, X, y),
    "gauss_newton": lambda m, lf, X, y: H.gauss_newton(m, lf, X, y),
    "sharpness": lambda m, lf, X, y: H.sharpness(m, X, y, lf),
    "HessianOperator": lambda m, lf, X, y: H.HessianOperator(m, lf, X, y),
    "flat_loss": lambda m, lf, X, y: H.flat_loss(m, lf, X, y),
    "curvature_along_gradient": lambda m, lf, X, y: H.curvature_along_gradient(m, lf, X, y),
    "loss_on_grid": lambda m, lf, X, y: L.loss_on_grid(m, lf, X, y, torch.zeros(3, 26, dtype=torch.float64)),
    "losses_at": lambda m, lf, X, y: L.losses_at(m, lf, X, y, H.flat_params(m), [torch.ones(26, dtype=torch.float64)],
                                                 torch.ones(3, 1, dtype=torch.float64)),
    "slice_1d": lambda m, lf, X, y: L.slice_1d(m, lf, X, y, torch.ones(26, dtype=torch.float64), [0.0, 1.0]),
    "slice_2d": lambda m, lf, X, y: L.slice_2d(m, lf, X, y, (torch.ones(26, dtype=torch.float64),) * 2, [0.0], [1.0]),
    "interpolate": lambda m, lf, X, y: L.interpolate(m, lf, X, y, torch.zeros(26, dtype=torch.float64), [0.0, 1.0]),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_data_that_does_not_fit_is_refused(data, name):
    net, X, y, Y = data
    call = CALLS[name]
    cases = [
        (lambda: call(net, ce_none, X, y), TypeError, r"Invalid loss_fn: it returned \(2,\) \(need a scalar tensor"),
        (lambda: call(net, ce, torch.randn(10, 5, dtype=torch.float64), y), ValueError,
         r"Invalid X: the model cannot take it \(mat1 and mat2"),
        (lambda: call(net, ce, X.float(), y), TypeError, r"Invalid X: dtype torch.float32 \(the model's parameters are"),
        (lambda: call(net, ce, X, y + 1), ValueError, r"Invalid y: labels 1 \.\. 2 for a model with 2 outputs"),
        (lambda: call(net, ce, X, Y[:, 0]), ValueError, r"Invalid y: the loss cannot take it"),
        (lambda: call(net, mse, X, y), ValueError, r"Invalid y: shape \(10,\) for model outputs of shape \(10, 2\)"),
        (lambda: call(net, mse, X, Y[:, :1]), ValueError, r"Invalid shape of y: \(10, 1\) for model outputs"),
        (lambda: call(copy.deepcopy(net).half(), ce, X.half(), y), TypeError,
         r"Invalid model: its parameters are torch.float16 \(need float32 or float64"),
        (lambda: call(copy.deepcopy(net).bfloat16(), ce, X.bfloat16(), y), TypeError,
         r"Invalid model: its parameters are torch.bfloat16"),
    ]
    for run, exc, match in cases:
        with pytest.raises(exc, match=match):
            run()


@pytest.mark.parametrize("name", sorted(CALLS))
def test_one_row_through_batchnorm_in_training_mode(name):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)).double()
    X, y = torch.randn(1, 3, dtype=torch.float64), torch.tensor([1])
    theta_size = sum(p.numel() for p in net.parameters())
    calls = dict(CALLS)
    calls["loss_on_grid"] = lambda m, lf, X, y: L.loss_on_grid(m, lf, X, y, torch.zeros(2, theta_size, dtype=torch.float64))
    calls["losses_at"] = lambda m, lf, X, y: L.losses_at(m, lf, X, y, H.flat_params(m), [H.flat_params(m)],
                                                         torch.ones(2, 1, dtype=torch.float64))
    calls["slice_1d"] = lambda m, lf, X, y: L.slice_1d(m, lf, X, y, H.flat_params(m), [0.0, 1.0])
    calls["slice_2d"] = lambda m, lf, X, y: L.slice_2d(m, lf, X, y, (H.flat_params(m),) * 2, [0.0], [1.0])
    calls["interpolate"] = lambda m, lf, X, y: L.interpolate(m, lf, X, y, torch.zeros(theta_size, dtype=torch.float64), [0.0])
    with pytest.raises(ValueError, match=r"Invalid X: one row for a model with BatchNorm in training mode"):
        calls[name](net, ce, X, y)
    if name != "sharpness":
        calls[name](net.eval(), ce, X, y)
    else:  # sharpness differentiates the training loss whatever the mode
        with pytest.raises(ValueError, match=r"Invalid X: one row .* need two or more rows, the training loss is taken"):
            calls[name](net.eval(), ce, X, y)


def test_auto_chunk_checks_the_model(data):
    net, X, _, _ = data
    with pytest.raises(ValueError, match=r"Invalid X: the model cannot take it"):
        L.auto_chunk(net, X[:, :2])
    with pytest.raises(TypeError, match=r"Invalid model: its parameters are torch.float16"):
        L.auto_chunk(copy.deepcopy(net).half(), X.half())


# -- 5. landscape points and directions in the model's dtype --------------------------------------------


def test_directions_are_taken_in_the_models_dtype(data):
    net, X, y, _ = data
    d1, d2 = L.random_direction(net, seed=1), L.random_direction(net, seed=2)
    d1, d2 = d1.float().double(), d2.float().double()  # exactly representable in float32
    g = L.centered_grid(1.0, 3)
    Z = L.slice_2d(net, ce, X, y, (d1, d2), g, g)
    assert np.array_equal(L.slice_2d(net, ce, X, y, (d1.float(), d2.float()), g, g), Z)
    assert np.array_equal(L.slice_2d(net, ce, X, y, (d1.float(), d2), g, g), Z)
    assert np.array_equal(L.slice_1d(net, ce, X, y, d1.float(), g), L.slice_1d(net, ce, X, y, d1, g))
    th = torch.stack([d1, d2])
    assert np.array_equal(L.loss_on_grid(net, ce, X, y, th.float()), L.loss_on_grid(net, ce, X, y, th))
    c = torch.ones(2, 1, dtype=torch.float64)
    assert np.array_equal(L.losses_at(net, ce, X, y, d1.float(), [d2.float()], c), L.losses_at(net, ce, X, y, d1, [d2], c))
    assert np.array_equal(L.interpolate(net, ce, X, y, d1.float(), g), L.interpolate(net, ce, X, y, d1, g))
    fn = L.filter_normalize(net, d1.float())
    assert fn.dtype == torch.float64 and torch.equal(fn, L.filter_normalize(net, d1))
    # the reference: torch on the model moved by hand
    moved = copy.deepcopy(net)
    with torch.no_grad():
        torch.nn.utils.vector_to_parameters(H.flat_params(net) + d1 + d2, moved.parameters())
    assert Z[2, 2] == pytest.approx(ce(moved(X), y).item(), rel=1e-14)


# -- 6. a user's operator: its first product is checked -----------------------------------------------


class _Op:
    def __init__(self, f, dim: int = 3) -> None:
        self.f, self.dim = f, dim

    def matvec(self, v: np.ndarray):
        return self.f(v)


SPECTRAL = {
    "power_iteration": lambda op: H.power_iteration(op),
    "lanczos": lambda op: H.lanczos(op, 2),
    "lanczos_topk": lambda op: H.lanczos_topk(op, 1),
    "hutchinson_trace": lambda op: H.hutchinson_trace(op, 3),
    "slq": lambda op: H.slq(op, 2, 2),
    "slq_density": lambda op: H.slq_density(op, [0.0, 1.0], m=2),
}
D3 = np.diag([3.0, 2.0, 1.0])


@pytest.mark.parametrize("name", sorted(SPECTRAL))
@pytest.mark.parametrize(
    "f,exc,match",
    [
        (lambda v: np.ones(2), ValueError, r"its matvec returned an array of shape \(2,\) \(need a finite NumPy array of shape \(3,\)\)"),
        (lambda v: torch.as_tensor(D3 @ v), TypeError, r"its matvec returned a torch.Tensor"),
        (lambda v: None, TypeError, r"its matvec returned None"),
        (lambda v: list(D3 @ v), TypeError, r"its matvec returned a list"),
        (lambda v: (D3 @ v).astype(complex), TypeError, r"its matvec returned an array of dtype complex128"),
        (lambda v: np.full(3, np.nan), ValueError, r"its matvec returned non-finite entries"),
        (lambda v: np.array([np.inf, 0.0, 0.0]), ValueError, r"its matvec returned non-finite entries"),
    ],
)
def test_a_bad_operator_is_refused(name, f, exc, match):
    with pytest.raises(exc, match="Invalid operator: " + match):
        SPECTRAL[name](_Op(f))


@pytest.mark.parametrize("name", sorted(SPECTRAL))
def test_a_good_operator_gives_what_the_matrix_gives(name):
    a, b = SPECTRAL[name](_Op(lambda v: D3 @ v)), SPECTRAL[name](D3)
    if isinstance(a, H.EigResult):
        assert np.array_equal(a.eigenvalues, b.eigenvalues) and a.n_matvec == b.n_matvec
    else:
        for x, y in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,)):
            assert np.array_equal(x, y)


# -- 7. SLQ's default number of steps is clamped to d ---------------------------------------------------


def test_slq_default_steps_clamped_to_the_dimension():
    A = np.diag([1.0, 2.0, 3.0, 4.0])
    nodes, w = H.slq(A)  # min(30, 4) = 4 steps: exact quadrature, the mean eigenvalue
    assert nodes.shape == (16,) and w.sum() == pytest.approx(1.0) and w @ nodes == pytest.approx(2.5, rel=1e-12)
    assert np.array_equal(H.slq(A)[0], H.slq(A, 4)[0])
    t = np.linspace(0.0, 5.0, 6)
    assert np.allclose(H.slq_density(A, t, sigma=0.5), H.gaussian_density(t, [1.0, 2.0, 3.0, 4.0], np.full(4, 0.25), 0.5))
    with pytest.raises(ValueError, match=r"Invalid number of Lanczos steps: 30 \(need 1 <= number of Lanczos steps <= 4\)"):
        H.slq(A, 30)
    big = np.diag(np.arange(1.0, 41.0))
    assert np.array_equal(H.slq(big)[0], H.slq(big, 30)[0])  # d >= 30: the default is 30, as before


# -- 8. Hutchinson's variance: symmetric matrices only ----------------------------------------------------


def test_hutchinson_variance_needs_a_symmetric_matrix():
    with pytest.raises(ValueError, match=r"Invalid H: it is not symmetric \(largest \|H - H\^T\| = 2\)"):
        H.hutchinson_variance([[1.0, 2.0], [0.0, 1.0]])
    S = np.array([[1.0, 1.0], [1.0, 1.0]])  # the symmetric part of [[1, 2], [0, 1]]
    z = np.array([[a, b] for a in (-1.0, 1.0) for b in (-1.0, 1.0)])  # every sign pattern, equally likely
    q = np.einsum("ni,ij,nj->n", z, S, z)
    assert H.hutchinson_variance(S) == q.var() == 4.0
    Hh = np.array([[2.0, 1.0, 0.0], [1.0, 3.0, -2.0], [0.0, -2.0, 1.0]])
    z = np.array([[a, b, c] for a in (-1.0, 1.0) for b in (-1.0, 1.0) for c in (-1.0, 1.0)])
    assert H.hutchinson_variance(Hh) == np.einsum("ni,ij,nj->n", z, Hh, z).var()
