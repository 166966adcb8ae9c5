"""nbcode.optim: validation messages, identities, closed forms, theory against experiment."""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import pytest
import torch

from nbcode import optim
from nbcode.quadratic import optimal_rate
from nbcode.surfaces import get_surface

# torch.func compiles its decompositions with torch.jit.script, which warns in this torch version
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")


# ---- invalid hyper-parameters, one by one, with PyTorch's messages --------------------------------

BAD: list[tuple[Callable[..., Any], dict[str, Any], str]] = [
    (optim.sgd, dict(lr=-0.1), "Invalid learning rate: -0.1"),
    (optim.sgd, dict(lr=float("nan")), "Invalid learning rate: nan"),
    (optim.sgd, dict(momentum=-0.5), "Invalid momentum value: -0.5"),
    (optim.sgd, dict(weight_decay=-1.0), "Invalid weight_decay value: -1.0"),
    (optim.sgd, dict(nesterov=True), "Nesterov momentum requires a momentum and zero dampening"),
    (optim.sgd, dict(momentum=0.9, dampening=0.1, nesterov=True), "Nesterov momentum requires a momentum and zero dampening"),
    (optim.momentum_ma, dict(lr=0.1, momentum=1.0), "Invalid momentum value: 1.0"),
    (optim.adagrad, dict(lr=-1.0), "Invalid learning rate: -1.0"),
    (optim.adagrad, dict(lr_decay=-0.1), "Invalid lr_decay value: -0.1"),
    (optim.adagrad, dict(initial_accumulator_value=-0.1), "Invalid initial_accumulator_value value: -0.1"),
    (optim.adagrad, dict(eps=-1e-3), "Invalid epsilon value: -0.001"),
    (optim.adagrad, dict(weight_decay=-0.2), "Invalid weight_decay value: -0.2"),
    (optim.rmsprop, dict(alpha=-0.9), "Invalid alpha value: -0.9"),
    (optim.rmsprop, dict(eps=-1.0), "Invalid epsilon value: -1.0"),
    (optim.rmsprop, dict(momentum=-0.1), "Invalid momentum value: -0.1"),
    (optim.rmsprop, dict(weight_decay=-0.1), "Invalid weight_decay value: -0.1"),
    (optim.adadelta, dict(rho=1.5), "Invalid rho value: 1.5"),
    (optim.adadelta, dict(eps=-1.0), "Invalid epsilon value: -1.0"),
    (optim.adam, dict(lr=-1e-3), "Invalid learning rate: -0.001"),
    (optim.adam, dict(eps=-1e-8), "Invalid epsilon value: -1e-08"),
    (optim.adam, dict(betas=(1.0, 0.999)), "Invalid beta parameter at index 0: 1.0"),
    (optim.adam, dict(betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
    (optim.adam, dict(weight_decay=-0.1), "Invalid weight_decay value: -0.1"),
    (optim.adamw, dict(betas=(-0.1, 0.9)), "Invalid beta parameter at index 0: -0.1"),
    (optim.adamax, dict(betas=(0.9, 1.0)), "Invalid beta parameter at index 1: 1.0"),
    (optim.nadam, dict(momentum_decay=-1.0), "Invalid momentum_decay value: -1.0"),
    (optim.rprop, dict(etas=(1.5, 1.2)), "Invalid eta values: 1.5, 1.2"),
    (optim.rprop, dict(lr=-0.1), "Invalid learning rate: -0.1"),
    (optim.rprop_backtrack, dict(step_sizes=(1.0, 0.1)), "Invalid step_sizes: 1.0, 0.1"),
    (optim.quickprop, dict(mu=0.0), "Invalid mu value: 0.0"),
    (optim.lbfgs, dict(lr=-1.0), "Invalid learning rate: -1.0"),
    (optim.lbfgs, dict(history_size=0), "Invalid history_size: 0"),
]


@pytest.mark.parametrize("make,kwargs,message", BAD, ids=[f"{m.__name__}-{msg[:30]}" for m, _, msg in BAD])
def test_invalid_hyperparameters_refused(make: Callable[..., Any], kwargs: dict[str, Any], message: str) -> None:
    """PyTorch's message, then (after it) what the value must be: ``... (need lr >= 0)``."""
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)") + r"( \(need .*\))?$"):
        make(**kwargs)


@pytest.mark.parametrize("kwargs", [dict(lr=-0.1), dict(momentum=-0.5), dict(weight_decay=-1.0), dict(nesterov=True)])
def test_messages_are_torchs(kwargs: dict[str, Any]) -> None:
    """The same arguments make torch.optim.SGD raise the same message (ours may add the bound)."""
    with pytest.raises(ValueError) as theirs:
        torch.optim.SGD([torch.zeros(1, requires_grad=True)], **kwargs)
    with pytest.raises(ValueError) as ours:
        optim.sgd(**kwargs)
    assert str(ours.value).startswith(str(theirs.value))


@pytest.mark.parametrize(
    ("make", "kwargs", "kind", "match"),
    [
        (optim.sgd, dict(dampening=float("nan")), ValueError, r"Invalid dampening value: nan \(need a finite number\)"),
        (optim.sgd, dict(lr="0.1"), TypeError, r"Invalid learning rate: '0.1' \(need a real number\)"),
        (optim.sgd, dict(nesterov=1), TypeError, r"Invalid nesterov: 1 \(need True or False\)"),
        (optim.adam, dict(betas=0.9), TypeError, r"Invalid betas: 0.9 \(need a pair"),
        (optim.adam, dict(engine="cuda"), ValueError, r"Invalid engine: 'cuda'"),
        (optim.rprop, dict(lr=lambda k: 0.1), TypeError, r"Invalid learning rate: a schedule"),
        (optim.lbfgs, dict(history_size=2.5), TypeError, r"Invalid history_size: 2.5 \(need an integer\)"),
    ],
)
def test_bad_kinds_of_hyperparameters(make: Callable[..., Any], kwargs: dict[str, Any], kind: type, match: str) -> None:
    with pytest.raises(kind, match=match):
        make(**kwargs)


def test_numpy_scalars_are_numbers() -> None:
    """np.float32(1e-5) is a valid eps (it was refused as 'Invalid eps: 9.99e-06')."""
    opt = optim.adam(lr=np.float32(0.1), eps=np.float32(1e-5), betas=(np.float64(0.9), 0.999))
    u, s = opt.update(np.ones(2), opt.init(np.zeros(2)), np.zeros(2))
    np.testing.assert_allclose(u, -0.1, rtol=1e-4)


def test_integer_and_float16_inputs_compute_in_float64() -> None:
    """Rprop on an integer parameter array takes steps of lr (not step sizes truncated to 0 and
    clipped to 1e-6); Adam on float16 takes a first step of lr (float16 turns eps = 1e-8 into 0
    and the step into -1001 in the reported case)."""
    r = optim.rprop(lr=0.1)
    w_int = np.array([3, -2])
    u, s = r.update(np.array([1, -1]), r.init(w_int), w_int)
    assert s.step_size.dtype == np.float64
    np.testing.assert_allclose(u, [-0.1, 0.1])
    np.testing.assert_allclose(optim.run(r, lambda w: w, w_int, 2)[2], [3 - 0.1 - 0.12, -2 + 0.1 + 0.12])  # sizes 0.1, 1.2 x 0.1
    a = optim.adam(lr=0.01)
    w16 = np.zeros(3, dtype=np.float16)
    g16 = np.array([1e-4, -3.0, 500.0], dtype=np.float16)
    u, s = a.update(g16, a.init(w16), w16)
    assert u.dtype == np.float64 and s.exp_avg.dtype == np.float64
    np.testing.assert_allclose(u, [-0.01, 0.01, -0.01], rtol=1e-3)
    ref = torch.optim.Adam([p := torch.zeros(3, dtype=torch.float64, requires_grad=True)], lr=0.01)
    p.grad = torch.tensor(g16.astype(np.float64))
    ref.step()
    np.testing.assert_allclose(u, p.detach().numpy(), rtol=1e-10)


def test_rprop_skips_a_nan_gradient_like_torch() -> None:
    """A NaN gradient entry keeps its step size and its parameter (torch.sign(nan) is 0), and the
    next step goes on; the other entries are unaffected. Compared with torch.optim.Rprop."""
    gs = [[1.0, np.nan, -1.0], [1.0, 1.0, 1.0], [np.nan, 2.0, 1.0], [1.0, 1.0, 1.0], [-1.0, np.nan, 1.0]]
    for make, cls in ((optim.rprop, torch.optim.Rprop),):
        opt = make(lr=0.1)
        w = np.array([1.0, 2.0, 3.0])
        s = opt.init(w)
        p = torch.tensor(w.copy(), requires_grad=True)
        topt = cls([p], lr=0.1, foreach=False)
        for g in gs:
            u, s = opt.update(np.array(g), s, w)
            w = w + u
            p.grad = torch.tensor(g, dtype=torch.float64)
            topt.step()
            np.testing.assert_allclose(w, p.detach().numpy(), rtol=1e-12)
            np.testing.assert_allclose(s.step_size, topt.state[p]["step_size"].numpy(), rtol=1e-12)
            np.testing.assert_array_equal(np.isnan(s.prev), np.isnan(topt.state[p]["prev"].numpy()))
        assert np.all(np.isfinite(w))


def test_schedules_as_learning_rates() -> None:
    """lr may be a schedule k -> lr: step k uses lr(k), the state counts the steps."""
    lrs = [0.5, 0.25, 0.125]
    opt = optim.sgd(lr=lambda k: lrs[k])
    path = optim.run(opt, lambda w: np.ones_like(w), [0.0], 3)
    np.testing.assert_allclose(path[:, 0], [0.0, -0.5, -0.75, -0.875])
    with pytest.raises(ValueError, match=r"Invalid learning rate at step 0: -1.0 \(need lr >= 0\)"):
        optim.sgd(lr=lambda k: -1.0).update(np.ones(1), optim.sgd().init(np.zeros(1)), np.zeros(1))


def test_newton_and_others_refuse_bad_inputs() -> None:
    with pytest.raises(ValueError, match="Invalid damping value: -1.0"):
        optim.newton(lambda w: np.eye(1), damping=-1.0)
    with pytest.raises(ValueError, match="Invalid line_search_fn: 'wolfe'"):
        optim.minimize_lbfgs(lambda w: 0.0, lambda w: w, [1.0], line_search_fn="wolfe")
    with pytest.raises(ValueError, match="Invalid eigenvalues"):
        optim.optimal_heavy_ball(0.0, 1.0)
    with pytest.raises(ValueError, match="Invalid parameters"):
        optim.Stepper(optim.sgd(lr=0.1), [np.nan])
    with pytest.raises(ValueError, match=r"Invalid shape of grads: \(1,\)"):
        optim.Stepper(optim.sgd(lr=0.1), [1.0, 2.0]).step([1.0])
    with pytest.raises(ValueError, match=r"Invalid shape of grads: \(1,\) \(need the shape of params, \(2,\)\)"):
        optim.adam().update(np.ones(1), optim.adam().init(np.zeros(2)), np.zeros(2))
    with pytest.raises(ValueError, match=r"Invalid steps: -1 \(need steps >= 0\)"):
        optim.run(optim.sgd(lr=0.1), lambda w: w, [1.0], -1)
    with pytest.raises(TypeError, match=r"Invalid steps: 2.5"):
        optim.run(optim.sgd(lr=0.1), lambda w: w, [1.0], 2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Invalid starting point: it contains NaN"):
        optim.gd_path(lambda w: w, [np.nan], 0.1, 3)
    with pytest.raises(TypeError, match=r"Invalid hess: None"):
        optim.newton_path(lambda w: w, [1.0], 3)
    with pytest.raises(ValueError, match=r"Invalid max_norm: 0"):
        optim.gd_path(lambda w: w, [1.0], 0.1, 3, max_norm=0)
    with pytest.raises(ValueError, match=r"Invalid steps: -2"):
        optim.nesterov_lookahead_path(lambda w: w, [1.0], 0.1, 0.9, -2)
    with pytest.raises(ValueError, match=r"Invalid steps: -2"):
        optim.heavy_ball_path(0.1, 0.9, [1.0], 1.0, -2)


# ---- identities ---------------------------------------------------------------------------------

def grad_fn(w: np.ndarray) -> np.ndarray:
    return np.array([1.0, 5.0, 0.3]) * w + np.sin(w)


W0 = np.array([2.0, -1.0, 0.5])


def test_rmsprop_is_adam_with_beta1_zero_without_bias_correction() -> None:
    a = optim.run(optim.rmsprop(lr=0.05, alpha=0.9, eps=1e-6), grad_fn, W0, 40)
    b = optim.run(optim.adam(lr=0.05, betas=(0.0, 0.9), eps=1e-6, bias_correction=False), grad_fn, W0, 40)
    np.testing.assert_allclose(a, b, rtol=1e-12)
    c = optim.run(optim.adam(lr=0.05, betas=(0.0, 0.9), eps=1e-6), grad_fn, W0, 40)  # with correction: differs
    assert np.max(np.abs(a - c)) > 1e-3


def test_momentum_zero_is_plain_sgd() -> None:
    a = optim.run(optim.sgd(lr=0.1, momentum=0.0), grad_fn, W0, 30)
    w, path = W0.copy(), [W0.copy()]
    for _ in range(30):
        w = w - 0.1 * grad_fn(w)
        path.append(w.copy())
    np.testing.assert_allclose(a, np.array(path), rtol=1e-14)


def test_two_momentum_conventions_differ_by_one_minus_beta() -> None:
    beta = 0.8
    a = optim.run(optim.momentum_ma(lr=0.5, momentum=beta), grad_fn, W0, 30)
    b = optim.run(optim.sgd(lr=0.5 * (1 - beta), momentum=beta), grad_fn, W0, 30)
    np.testing.assert_allclose(a, b, rtol=1e-12)
    # torch's dampening=beta is NOT the moving average: its buffer starts at g, undamped
    c = optim.run(optim.sgd(lr=0.5, momentum=beta, dampening=beta), grad_fn, W0, 30)
    assert np.max(np.abs(a[1] - c[1])) > 0.1


def test_momentum_effective_step_on_constant_gradient() -> None:
    """On a constant gradient the heavy ball's step tends to lr * g / (1 - beta)."""
    opt = optim.sgd(lr=0.01, momentum=0.9)
    w, s = np.zeros(1), opt.init(np.zeros(1))
    for _ in range(300):
        u, s = opt.update(np.array([2.0]), s, w)
    assert u[0] == pytest.approx(-0.01 * 2.0 / (1 - 0.9), rel=1e-10)


def test_nesterov_pytorch_form_equals_lookahead_form() -> None:
    w, look = optim.nesterov_lookahead_path(grad_fn, W0, 0.05, 0.9, 40)
    torch_form = optim.run(optim.sgd(lr=0.05, momentum=0.9, nesterov=True), grad_fn, W0, 40)
    np.testing.assert_allclose(torch_form, look, rtol=1e-11, atol=1e-13)
    assert np.max(np.abs(torch_form - w)) > 1e-3  # the stored iterates are the look-ahead points


def test_nesterov_on_quadratic_closed_form() -> None:
    """On L = lam w^2 / 2, Nesterov is w_{k+1} = (1 + b)(1 - e l) w_k - b (1 - e l) w_{k-1} (look-ahead form)."""
    lam, lr, b = 2.0, 0.1, 0.7
    w, _ = optim.nesterov_lookahead_path(lambda x: lam * x, [1.0], lr, b, 30)
    c = 1 - lr * lam
    ref = [1.0, c]  # first step: v_0 = 0, so a plain gradient step
    for _ in range(29):
        ref.append((1 + b) * c * ref[-1] - b * c * ref[-2])
    np.testing.assert_allclose(w[:, 0], ref, rtol=1e-12)


def test_adam_first_steps_have_size_lr() -> None:
    """|Δw| ≈ η for the first steps, whatever the gradient's scale (up to ε)."""
    rng = np.random.default_rng(0)
    for scale in (1e-3, 1.0, 1e3):
        opt = optim.adam(lr=0.01)
        w, s = np.zeros(5), opt.init(np.zeros(5))
        g = scale * rng.normal(size=5)
        u, s = opt.update(g, s, w)
        np.testing.assert_allclose(np.abs(u), 0.01, rtol=1e-4)
        u, s = opt.update(g, s, w + u)  # same gradient again: still exactly lr
        np.testing.assert_allclose(np.abs(u), 0.01, rtol=1e-4)
    # without bias correction the first step would be (1 - b1) / sqrt(1 - b2) = 3.16 times larger
    opt = optim.adam(lr=0.01, bias_correction=False)
    u, _ = opt.update(np.ones(1), opt.init(np.zeros(1)), np.zeros(1))
    assert abs(u[0]) == pytest.approx(0.01 * 0.1 / math.sqrt(0.001), rel=1e-5)


def test_adamw_decay_is_not_scaled_by_the_gradient() -> None:
    """AdamW shrinks every weight by the same factor; Adam's L2 term is divided by sqrt(v)."""
    w = np.array([1.0, 1.0])
    g = np.array([100.0, 0.01])
    u_w, _ = optim.adamw(lr=0.1, weight_decay=0.1).update(g, optim.adamw().init(w), w)
    u_0, _ = optim.adam(lr=0.1).update(g, optim.adam().init(w), w)
    np.testing.assert_allclose(u_w - u_0, -0.1 * 0.1 * w, rtol=1e-10)


# ---- closed forms: Newton, Quickprop, Rprop with backtracking ---------------------------------------

def test_newton_solves_a_quadratic_in_one_step() -> None:
    rng = np.random.default_rng(1)
    M = rng.normal(size=(6, 6))
    H = M @ M.T + np.eye(6)
    b = rng.normal(size=6)
    path = optim.run(optim.newton(lambda w: H), lambda w: H @ w + b, rng.normal(size=6), 1)
    np.testing.assert_allclose(path[1], np.linalg.solve(H, -b), rtol=1e-10)


def test_newton_is_attracted_by_the_saddle() -> None:
    s = get_surface("double well")
    path = optim.run(optim.newton(s.hess), s.grad, [0.5, 0.3], 10)
    np.testing.assert_allclose(path[-1], [0.0, 0.0], atol=1e-10)
    gd = optim.run(optim.sgd(lr=0.1), s.grad, [0.5, 0.3], 200)
    np.testing.assert_allclose(np.abs(gd[-1]), [0.0, 1.0], atol=1e-6)


def test_newton_at_a_singular_hessian_pads_the_path_with_nan() -> None:
    """run's promise: a step that cannot be taken ends the path, padded with NaN (it raised
    LinAlgError). L = x^4/4 + y^2/2 has H = diag(3x^2, 1): singular on x = 0."""
    grad = lambda w: np.array([w[0] ** 3, w[1]])  # noqa: E731
    hess = lambda w: np.diag([3 * w[0] ** 2, 1.0])  # noqa: E731
    path = optim.run(optim.newton(hess), grad, [0.0, 1.0], 4)
    np.testing.assert_array_equal(path[0], [0.0, 1.0])
    assert np.isnan(path[1:]).all()
    with pytest.raises(np.linalg.LinAlgError):  # the pure update itself cannot pad: it says why
        opt = optim.newton(hess)
        opt.update(grad(np.array([0.0, 1.0])), opt.init(np.zeros(2)), np.array([0.0, 1.0]))
    one_d = optim.newton_path(lambda w: w**3, 0.0, 3, hess=lambda w: 3 * w * w)  # L'' = 0 at the start
    assert one_d[0] == 0.0 and np.isnan(one_d[1:]).all()


def test_quickprop_step_is_the_secant_newton_step() -> None:
    """Hand-computed: L = sum a_i (w_i - c_i)^2 / 2 (separable) is solved in two steps."""
    a, c = np.array([1.0, 4.0, 0.5]), np.array([1.0, -2.0, 3.0])
    path = optim.run(optim.quickprop(lr=0.1, mu=1e6), lambda w: a * (w - c), [0.0, 0.0, 0.0], 3)
    np.testing.assert_allclose(path[1], 0.1 * a * c)  # gradient step
    np.testing.assert_allclose(path[2], c, rtol=1e-12)  # secant = exact curvature
    # with the default growth limit mu = 1.75 the second step is clipped to 1.75 x the first
    p = optim.run(optim.quickprop(lr=0.1), lambda w: a * (w - c), [0.0, 0.0, 0.0], 2)
    np.testing.assert_allclose(p[2] - p[1], np.clip(c - p[1], -1.75 * np.abs(p[1]), 1.75 * np.abs(p[1])))


def test_quickprop_secant_formula_by_hand() -> None:
    opt = optim.quickprop(lr=0.5)
    w0 = np.array([1.0])
    u1, s = opt.update(np.array([2.0]), opt.init(w0), w0)
    assert u1[0] == -1.0
    u2, s = opt.update(np.array([0.5]), s, w0 + u1)  # secant slope (0.5 - 2) / (-1) = 1.5 -> step -0.5/1.5
    assert u2[0] == pytest.approx(-1.0 / 3.0)


def test_rprop_backtrack_undoes_the_overshoot() -> None:
    """1-D L = w^2 / 2 from w = 1 with step 1.5: overshoot to -0.5, go back to 1, then step 0.75."""
    path = optim.run(optim.rprop_backtrack(lr=1.5, etas=(0.5, 1.2)), lambda w: w, [1.0], 3)
    np.testing.assert_allclose(path[:, 0], [1.0, -0.5, 1.0, 0.25])
    torchlike = optim.run(optim.rprop(lr=1.5, etas=(0.5, 1.2)), lambda w: w, [1.0], 3)
    np.testing.assert_allclose(torchlike[:, 0], [1.0, -0.5, -0.5, 0.25])  # no backtracking: wait, then 0.75


def test_optimizers_converge_on_a_parabola_and_rosenbrock() -> None:
    para = lambda w: 2 * (w - 1.0)  # noqa: E731
    for opt in (optim.sgd(lr=0.1, momentum=0.5), optim.adam(lr=0.1), optim.rmsprop(lr=0.01), optim.rprop(lr=0.1),
                optim.adagrad(lr=0.5), optim.adadelta(lr=10.0), optim.nadam(lr=0.1), optim.adamax(lr=0.1)):
        np.testing.assert_allclose(optim.run(opt, para, [3.0, -2.0], 1500)[-1], 1.0, atol=2e-2)
    r = get_surface("rosenbrock")
    res = optim.minimize_lbfgs(r, r.grad, r.w0, tolerance_grad=1e-10)
    np.testing.assert_allclose(res.x, [1.0, 1.0], atol=1e-6)
    np.testing.assert_allclose(optim.run(optim.newton(r.hess), r.grad, r.w0, 10)[-1], [1.0, 1.0], atol=1e-8)


# ---- heavy-ball theory against experiment ----------------------------------------------------------

@pytest.mark.parametrize("kappa", [10.0, 100.0, 1000.0, 1e4])
def test_heavy_ball_rate_at_polyaks_parameters(kappa: float) -> None:
    lams = np.geomspace(1.0, kappa, 9)
    lr, beta, r = optim.optimal_heavy_ball(1.0, kappa)
    assert r == pytest.approx((math.sqrt(kappa) - 1) / (math.sqrt(kappa) + 1))
    assert optim.heavy_ball_rate(lr, beta, lams) == pytest.approx(r, rel=1e-6)
    assert optim.measured_rate(lr, beta, lams) == pytest.approx(r, rel=5e-3)
    assert optim.measured_rate(2 / (1 + kappa), 0.0, lams) == pytest.approx(optimal_rate(kappa), rel=5e-3)


def test_heavy_ball_matches_torch_sgd_on_a_quadratic() -> None:
    lams = np.array([1.0, 10.0, 50.0])
    p = torch.tensor(np.ones(3), requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.02, momentum=0.8)
    ref = [p.detach().numpy().copy()]
    for _ in range(25):
        p.grad = torch.tensor(lams) * p.detach()
        opt.step()
        ref.append(p.detach().numpy().copy())
    np.testing.assert_allclose(optim.heavy_ball_path(0.02, 0.8, lams, 1.0, 25), np.array(ref), rtol=1e-12, atol=1e-14)


def test_convergence_region_matches_spectral_radius() -> None:
    for lr in np.linspace(0.05, 4.5, 15):
        for beta in np.linspace(0.0, 0.95, 10):
            rho = optim.heavy_ball_rate(float(lr), float(beta), [1.0])
            if abs(rho - 1) > 1e-9:
                assert optim.converges(float(lr), float(beta), 1.0) == (rho < 1)


def test_polyak_parameters_are_best_on_a_grid() -> None:
    lams = [1.0, 100.0]
    lr, beta, r = optim.optimal_heavy_ball(1.0, 100.0)
    best = min(optim.heavy_ball_rate(a, b, lams) for a in np.linspace(0.005, 0.06, 56) for b in np.linspace(0.0, 0.95, 96))
    assert best >= r - 1e-3


# ---- exercises -------------------------------------------------------------------------------------

def test_exercises_accept_right_and_refuse_wrong() -> None:
    from nbcode.exercises import check

    assert check("optimizers.effective_step", 1.2)
    assert not check("optimizers.effective_step", 0.06)  # lr * g, without the 1 / (1 - beta)
    assert check("optimizers.hb_rate", 19 / 21)
    assert not check("optimizers.hb_rate", 399 / 401)
    assert check("optimizers.quickprop", lambda wp, w, gp, g: w - g * (w - wp) / (g - gp))
    assert not check("optimizers.quickprop", lambda wp, w, gp, g: w - g * (w - wp) / (gp - g))
    assert check("optimizers.linear_scaling", 0.4)
    assert not check("optimizers.linear_scaling", 0.05 * np.sqrt(8))
    # the answers against the optimizers themselves
    s = optim.Stepper(optim.sgd(lr=0.02, momentum=0.95), [0.0])
    for _ in range(1000):
        before = s.params.copy(); s.step([3.0])
    assert check("optimizers.effective_step", abs(s.params - before)[0])
    lams = np.geomspace(0.01, 1.0, 9)
    assert optim.heavy_ball_rate(3.60, 0.81, lams) == pytest.approx(0.9, rel=1e-7)
    assert optim.heavy_ball_rate(3.62, 0.81, lams) > 0.905
    assert check("optimizers.hb_complex_range", 3.61) and not check("optimizers.hb_complex_range", 3.62)
    st = optim.Stepper(optim.adam(lr=1.0, betas=(0.9, 0.99), eps=0.0, bias_correction=False), np.zeros(1))
    assert abs(st.step([0.37])[0]) == pytest.approx(1.0, rel=1e-12)
    assert check("optimizers.no_bias_correction", 0.99) and not check("optimizers.no_bias_correction", 0.999)
    assert optim.converges(2.99, 0.5, 1.0) and not optim.converges(3.01, 0.5, 1.0)
    assert check("optimizers.hb_edge", 3.0) and not check("optimizers.hb_edge", 2.0)


def test_quickprop_exercise_reference_matches_the_optimizer() -> None:
    """The exercise's secant formula is what optim.quickprop does on a 1-D quadratic."""
    from nbcode.exercises.optimizers import _quickprop_next

    g = lambda w: 3.0 * (w - 2.0)  # noqa: E731
    path = optim.run(optim.quickprop(lr=0.1, mu=1e6), g, [0.0], 2)[:, 0]
    assert _quickprop_next(path[0], path[1], g(path[0]), g(path[1])) == pytest.approx(path[2])


def test_rate_grid_matches_the_matrix_eigenvalues() -> None:
    lrs, betas, lams = np.linspace(0.1, 4.0, 7), np.linspace(0.0, 0.95, 5), [0.01, 0.3, 1.0]
    R = optim.rate_grid(lrs, betas, lams)
    for i, b in enumerate(betas):
        for j, e in enumerate(lrs):
            assert R[i, j] == pytest.approx(optim.heavy_ball_rate(float(e), float(b), lams), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("kappa", [10.0, 100.0, 1000.0])
def test_polyaks_point_is_near_the_stability_edge(kappa: float) -> None:
    """The chapter's remark: eta* lam_max is within 10% of the edge 2 (1 + beta*), and inside it."""
    lr, beta, _ = optim.optimal_heavy_ball(1.0 / kappa, 1.0)
    assert 0.9 < lr / (2 * (1 + beta)) < 1.0
    assert optim.converges(lr, beta, 1.0) and not optim.converges(lr * 1.1, beta, 1.0)


# ---- the third momentum convention, and the two AMSGrads --------------------------------------------


def test_velocity_form_equals_pytorch_at_constant_rate_and_not_under_a_schedule() -> None:
    """Sutskever's v <- beta v - eta g, w <- w + v is PyTorch's form with v = -eta b while eta is
    constant; under a schedule it follows its own recursion, written out here by hand."""
    beta = 0.9
    a = optim.run(optim.momentum_velocity(lr=0.05, momentum=beta), grad_fn, W0, 40)
    b = optim.run(optim.sgd(lr=0.05, momentum=beta), grad_fn, W0, 40)
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    sched = lambda k: 0.05 if k < 10 else 0.005  # noqa: E731 - a step decay at step 10
    a = optim.run(optim.momentum_velocity(lr=sched, momentum=beta), grad_fn, W0, 30)
    w, vel, ref = W0.copy(), np.zeros_like(W0), [W0.copy()]
    for k in range(30):
        vel = beta * vel - sched(k) * grad_fn(w)
        w = w + vel
        ref.append(w.copy())
    np.testing.assert_allclose(a, np.array(ref), rtol=1e-13)
    b = optim.run(optim.sgd(lr=sched, momentum=beta), grad_fn, W0, 30)
    np.testing.assert_allclose(a[:11], b[:11], rtol=1e-12)  # equal until the rate changes
    # after the drop, PyTorch's step shrinks tenfold at once; the velocity keeps its old rate for a while
    step_a, step_b = np.linalg.norm(a[12] - a[11]), np.linalg.norm(b[12] - b[11])
    assert step_a > 3 * step_b
    with pytest.raises(ValueError, match="Invalid momentum value: 1.0"):
        optim.momentum_velocity(lr=0.1, momentum=1.0)
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        optim.momentum_velocity(lr=-1, momentum=0.5)


def _effective_rates(bias_correction: bool, steps: int = 3000) -> np.ndarray:
    """|step| / |g| of AMSGrad with beta1 = 0 (so the step is eta g / (sqrt(v_hat) + eps)): the
    effective rate, for g = 1 during 10 steps and then g = 0.1."""
    opt = optim.adam(lr=0.01, betas=(0.0, 0.999), amsgrad=True, bias_correction=bias_correction)
    w = np.zeros(1)
    s = opt.init(w)
    out = []
    for k in range(1, steps + 1):
        g = 1.0 if k <= 10 else 0.1
        u, s = opt.update(np.array([g]), s, w)
        out.append(abs(u[0]) / g)
    return np.array(out)


def test_reddis_amsgrad_never_raises_the_rate_pytorchs_does() -> None:
    reddi, torch_form = _effective_rates(False), _effective_rates(True)
    assert np.all(np.diff(reddi) <= 1e-15)  # non-increasing
    assert torch_form[2999] > 3 * torch_form[99] > 0  # 0.098 against 0.031: it grows for thousands of steps
    # PyTorch's: eta sqrt(1 - b2^k) / (sqrt(max v) + eps sqrt(1 - b2^k)), where v (uncorrected)
    # rises during the first 10 steps to 1 - b2^10 and then creeps up towards g^2 = 0.01
    k = np.arange(11, 3001)
    v = 0.01 + ((1 - 0.999**10) - 0.01) * 0.999 ** (k - 10)
    bc2 = 1 - 0.999**k
    np.testing.assert_allclose(torch_form[10:], 0.01 * np.sqrt(bc2) / (np.sqrt(v) + 1e-8 * np.sqrt(bc2)), rtol=1e-9)


def test_nesterov_rate_against_the_runs() -> None:
    """The closed-form rate against the decay of Nesterov's own iterates (look-ahead form) and of
    PyTorch's nesterov=True, on one eigenvalue at a time; the kappa = 100 rate 1 - 1/sqrt(kappa)."""
    beta = 9.0 / 11.0
    for lam in (0.01, 0.3, 0.8, 1.3):  # (at lam = 1 with lr = 1 it lands on 0 in one step)
        w, _ = optim.nesterov_lookahead_path(lambda x, lam=lam: lam * x, [1.0], 1.0, beta, 400)
        measured = (abs(w[400, 0]) / abs(w[200, 0])) ** (1 / 200)
        assert measured == pytest.approx(optim.nesterov_rate(1.0, beta, [lam]), rel=2e-2)
        theirs = optim.run(optim.sgd(lr=1.0, momentum=beta, nesterov=True), lambda x, lam=lam: lam * x, [1.0], 400)
        assert (abs(theirs[400, 0]) / abs(theirs[200, 0])) ** (1 / 200) == pytest.approx(optim.nesterov_rate(1.0, beta, [lam]), rel=2e-2)
    assert optim.nesterov_rate(1.0, beta, np.geomspace(0.01, 1.0, 9)) == pytest.approx(0.9, rel=1e-9)
    assert optim.nesterov_rate(1.0, beta, [1.5]) > 1.0  # past its edge it diverges
    with pytest.raises(ValueError, match="Invalid momentum"):
        optim.nesterov_rate(1.0, 1.0, [1.0])


def test_optimal_nesterov_is_the_best_constant_tuning() -> None:
    """Lessard et al.'s tuned Nesterov against a grid search of nesterov_rate (no grid point is
    better), its rate against a run of PyTorch's nesterov=True, and its stability edge."""
    for kappa in (10.0, 100.0, 1000.0):
        lams = np.geomspace(1.0 / kappa, 1.0, 9)
        lr, beta, r = optim.optimal_nesterov(1.0 / kappa, 1.0)
        assert optim.nesterov_rate(lr, beta, lams) == pytest.approx(r, rel=1e-6)
        grid = min(optim.nesterov_rate(e, b, lams) for e in np.linspace(0.513 * lr, 1.49 * lr, 97)
                   for b in np.linspace(0.503 * beta, min(0.999, 1.49 * beta), 97))
        assert r <= grid + 1e-9 and grid < r + 0.1 * (1 - r)  # the grid comes close but never wins
        assert optimal_heavy_ball_rate(kappa) < r < 1 - 1 / math.sqrt(kappa)
        edge = 2 * (1 + beta) / (1 + 2 * beta) / lr
        assert optim.nesterov_rate(lr, beta, [0.999 * edge]) < 1 < optim.nesterov_rate(lr, beta, [1.001 * edge])
    lr, beta, r = optim.optimal_nesterov(0.01, 1.0)
    path = optim.run(optim.sgd(lr=lr, momentum=beta, nesterov=True), lambda x: 0.01 * x, [1.0], 400)
    # a double root at lam_min (a Jordan block): the error decays like k r^k
    assert (abs(path[400, 0]) / abs(path[200, 0])) ** (1 / 200) == pytest.approx(r * 2 ** (1 / 200), rel=1e-3)
    with pytest.raises(ValueError, match="Invalid eigenvalues"):
        optim.optimal_nesterov(1.0, 0.5)


def optimal_heavy_ball_rate(kappa: float) -> float:
    return (math.sqrt(kappa) - 1) / (math.sqrt(kappa) + 1)
