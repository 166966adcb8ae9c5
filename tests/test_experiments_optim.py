"""nbcode.experiments.optim: the race on the registry's surfaces and its lessons, Reddi et al.'s
counterexample, the tuned comparison and AdamW on the digits, the gradient-noise scale and the
batch-size study."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from nbcode.experiments import optim as ex

# torch.func compiles its decompositions with torch.jit.script, which warns in this torch version
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")


def test_race_surfaces_come_from_the_registry() -> None:
    """The race's four surfaces are registry entries (one definition each); the race's 'saddle'
    is the double well, with its two minima, and the torch expressions agree with their values."""
    from nbcode.surfaces import get_surface

    assert list(ex.RACE_SURFACES) == ["Beale", "long valley", "aligned valley", "saddle", "Rosenbrock"]
    assert ex.RACE_SURFACES["saddle"].minima == get_surface("double well").minima == ((0.0, 1.0), (0.0, -1.0))
    assert ex.RACE_SURFACES["Beale"].value is get_surface("beale").value
    torch_f = {
        "Beale": lambda w: sum((c - w[0] + w[0] * w[1] ** (i + 1)) ** 2 for i, c in enumerate((1.5, 2.25, 2.625))),
        "saddle": lambda w: 0.5 * w[0] ** 2 - 0.5 * w[1] ** 2 + 0.25 * w[1] ** 4,
        "Rosenbrock": lambda w: (1 - w[0]) ** 2 + 100 * (w[1] - w[0] ** 2) ** 2,
    }
    rng = np.random.default_rng(2)
    for name, f in torch_f.items():
        s = ex.RACE_SURFACES[name]
        for w in rng.uniform(-1.5, 1.5, size=(5, 2)):
            np.testing.assert_allclose(s(w), float(f(torch.tensor(w))), rtol=1e-12)
    A = ex.RACE_SURFACES["long valley"].hess([0.0, 0.0])
    np.testing.assert_allclose(sorted(np.linalg.eigvalsh(A)), [0.1, 10.0])
    # the aligned valley is the long valley turned by -30 degrees, start point included
    c, s = np.cos(np.radians(30.0)), np.sin(np.radians(30.0))
    R = np.array([[c, -s], [s, c]])
    aligned, rotated = ex.RACE_SURFACES["aligned valley"], ex.RACE_SURFACES["long valley"]
    np.testing.assert_allclose(R @ aligned.hess([0.0, 0.0]) @ R.T, A, atol=1e-12)
    np.testing.assert_allclose(R @ np.array(aligned.w0), rotated.w0, atol=1e-12)
    for w in rng.uniform(-3, 3, size=(5, 2)):
        assert aligned(w) == pytest.approx(rotated(R @ w), rel=1e-12)


def test_race_table_ranks() -> None:
    t = ex.race_table(steps=200)
    assert t["Rosenbrock"]["L-BFGS"] < 1e-10 and t["Rosenbrock"]["SGD"] > 1.0
    assert t["saddle"]["Newton"] == 0.0  # converged to the saddle point
    assert all(v == pytest.approx(-0.25, abs=1e-6) for k, v in t["saddle"].items() if k != "Newton")
    assert t["long valley"]["momentum"] < t["long valley"]["SGD"] / 100
    assert all(np.isfinite(t[s]["Adadelta"]) for s in t)


def test_rotation_hurts_only_the_diagonal_methods() -> None:
    """The same valley along the axes and turned by 30 degrees: methods that do not look at the
    axes (SGD, momentum, Nesterov) take the same steps on both (up to round-off); the diagonal
    preconditioners (AdaGrad, Adam, Rprop) are far better on the aligned one."""
    t = ex.race_table(steps=200)
    rot, ali = t["long valley"], t["aligned valley"]
    for name in ("SGD", "momentum", "Nesterov"):
        assert ali[name] == pytest.approx(rot[name], rel=1e-6), name
    for name in ("AdaGrad", "Adam", "Rprop"):
        assert ali[name] < 1e-3 * rot[name], name
    assert rot["AdaGrad"] > rot["SGD"] and rot["Adam"] > rot["SGD"]  # on the turned valley SGD beats them


def test_newton_on_beale_converges_to_the_saddle() -> None:
    path = ex.race("Beale", 1.0, 20)["Newton"]
    np.testing.assert_allclose(path[-1], [0.0, 1.0], atol=1e-12)
    H = ex.RACE_SURFACES["Beale"].hess([0.0, 1.0])
    np.testing.assert_allclose(np.linalg.eigvalsh(H), [-27.75, 27.75], rtol=1e-12)


def test_adaptive_methods_leave_the_saddle_first() -> None:
    esc = ex.saddle_escape(ex.race("saddle", 1.0, 200))
    assert esc["Newton"] == math.inf  # it goes to the saddle point and stays
    slow = min(esc[n] for n in ("SGD", "momentum", "Nesterov"))
    assert max(esc[n] for n in ("AdaGrad", "RMSprop", "Adam", "Rprop")) < slow / 2
    assert esc["SGD"] > esc["momentum"] and esc["SGD"] > 50
    # by hand: the first step with |w2| > 0.5
    p = ex.race("saddle", 1.0, 200)["SGD"]
    assert esc["SGD"] == int(np.argmax(np.abs(p[:, 1]) > 0.5))
    with pytest.raises(ValueError, match="Invalid threshold"):
        ex.saddle_escape({"a": p}, threshold=0.0)


def test_escape_time_depends_on_the_start_only_for_gradient_descent() -> None:
    """From a start 100 times closer to the ridge, gradient descent needs about ln(100)/ln(1 + lr)
    more steps (the linearized growth along y), the sign-like adaptive methods none."""
    lr = ex.BASE_LR["saddle"]["SGD"]
    near = ex.race("saddle", 1.0, 200, w0=(2.0, 1e-5))
    assert near["SGD"][0].tolist() == [2.0, 1e-5]
    esc, esc_near = ex.saddle_escape(ex.race("saddle", 1.0, 200)), ex.saddle_escape(near)
    assert esc_near["SGD"] - esc["SGD"] == pytest.approx(math.log(100) / math.log(1 + lr), abs=2)
    assert all(esc_near[n] == esc[n] for n in ("AdaGrad", "RMSprop", "Adam", "Rprop"))
    with pytest.raises(ValueError, match="Invalid shape of w0"):
        ex.race("saddle", w0=(1.0, 2.0, 3.0))


def test_online_counterexample_adam_fails_amsgrad_converges() -> None:
    """Reddi et al.'s problem (C = 3, beta1 = 0, beta2 = 1/(1 + C^2), rate 0.5/sqrt(t)): Adam ends at
    the worst point x = 1 with average regret (C - 2) * 2 / 3 = 2/3; AMSGrad (both forms) at x = -1."""
    from nbcode.optim import adam
    from nbcode.schedules import inverse_power_lr

    b2 = 1.0 / (1.0 + 9.0)
    rate = inverse_power_lr(0.5, 0.5)
    x, regret = ex.online_counterexample(adam(lr=rate, betas=(0.0, b2)), 3000)
    assert x[-300:].min() > 0.98 and regret[-1] == pytest.approx(2.0 / 3.0, abs=0.02)
    for bc in (True, False):
        x, regret = ex.online_counterexample(adam(lr=rate, betas=(0.0, b2), amsgrad=True, bias_correction=bc), 3000)
        assert x[-300:].max() < -0.98 and regret[-1] < 0.05
    # the regret by hand on three steps of SGD from 0: x = 0, -0.3, -0.2 (projected), losses 3x, -x, -x
    from nbcode.optim import sgd

    x, regret = ex.online_counterexample(sgd(lr=0.1), 3)
    np.testing.assert_allclose(x, [0.0, -0.3, -0.2, -0.1])
    np.testing.assert_allclose(regret * np.arange(1, 4), np.cumsum([3 * 1.0, -(0.7), -(0.8)]))
    with pytest.raises(ValueError, match="Invalid C"):
        ex.online_counterexample(sgd(lr=0.1), 3, C=2.0)


def test_race_diverges_into_nan_and_refuses_bad_names() -> None:
    paths = ex.race("long valley", 3.0, 200)  # 3x SGD's rate: 0.45 > 2 / lam_max = 0.2
    assert np.isnan(paths["SGD"][-1]).all() and np.isfinite(paths["SGD"][0]).all()
    first_nan = int(np.argmax(np.isnan(paths["SGD"][:, 0])))
    assert np.linalg.norm(paths["SGD"][first_nan - 1]) <= ex.RACE_MAX_NORM  # the rule: NaN from the first step outside
    assert np.isfinite(paths["Adam"][-1]).all()
    with pytest.raises(ValueError, match="Invalid surface"):
        ex.race("Himmelblau")
    with pytest.raises(ValueError, match="Invalid optimizer name"):
        ex.race_optimizer("Shampoo", ex.RACE_SURFACES["saddle"], 0.1)


def test_gradient_noise_scale_against_a_loop_and_least_squares() -> None:
    """tr Sigma and |g|^2 from per-example gradients (vmap) against a plain loop of autograd calls,
    and on least squares against nbcode.stochastic's per-example gradients."""
    from nbcode.data import conditioned_regression
    from nbcode.stochastic import gradient_noise_variance
    from nbcode.train import mlp

    torch.manual_seed(0)
    net = mlp([3, 5, 2], torch.nn.Tanh, seed=0)
    X = torch.randn(20, 3, dtype=torch.float64)
    y = torch.randint(0, 2, (20,))
    s = ex.gradient_noise_scale(net, X, y)
    G = []
    for i in range(20):
        net.zero_grad()
        torch.nn.functional.cross_entropy(net(X[i : i + 1]), y[i : i + 1]).backward()
        G.append(torch.cat([p.grad.reshape(-1) for p in net.parameters()]).numpy().copy())
    G = np.array(G)
    g = G.mean(axis=0)
    assert s.trace_sigma == pytest.approx(np.mean(np.sum((G - g) ** 2, axis=1)), rel=1e-12)
    assert s.grad_sq == pytest.approx(g @ g, rel=1e-12) and s.b_simple == pytest.approx(s.trace_sigma / s.grad_sq)
    H = __import__("nbcode.hessian", fromlist=["exact_hessian"]).exact_hessian(net, torch.nn.functional.cross_entropy, X, y)
    assert s.lr_max == pytest.approx((g @ g) / (g @ H @ g), rel=1e-10)
    # least squares: per-example loss (x^T w - y)^2 / 2 has gradient x (x^T w - y)
    prob = conditioned_regression(40, 3, noise=0.5, seed=1)
    lin = torch.nn.Linear(3, 1, bias=False, dtype=torch.float64)
    w = np.array([0.3, -0.2, 0.1])
    with torch.no_grad():
        lin.weight.copy_(torch.tensor(w)[None])
    half_mse = lambda out, t: 0.5 * torch.nn.functional.mse_loss(out, t)  # noqa: E731
    s = ex.gradient_noise_scale(lin, torch.tensor(prob.X), torch.tensor(prob.y)[:, None], half_mse)
    assert s.trace_sigma == pytest.approx(gradient_noise_variance(prob, w), rel=1e-12)
    with pytest.raises(ValueError, match="Invalid data"):
        ex.gradient_noise_scale(net, X[:1], y[:1])


def test_batch_size_study_stops_every_run_at_the_same_loss() -> None:
    """Stopped by the first update that takes the full training loss below the target: all runs
    end within a few 1e-5 of it (checked per update, not per epoch), after about the same number
    of updates; B_simple grows as the gradient shrinks."""
    torch.set_num_threads(1)
    runs = ex.batch_size_study((16, 1257), lr=0.2, target_loss=0.05, noise_at=(1.0, 0.1))
    for r in runs:
        assert 0.049 < r.stop_loss < 0.05 and r.train_acc > 0.98
        assert r.stop_loss == pytest.approx(r.history["train_loss"][-1], rel=1e-12)
    steps = [r.steps for r in runs]
    assert max(steps) < 1.15 * min(steps)
    noise = runs[1].noise
    assert [round(q.loss, 1) for q in noise][0] == pytest.approx(2.4, abs=0.1) and len(noise) == 3
    assert noise[0].b_simple < noise[1].b_simple < noise[2].b_simple and noise[2].loss < 0.1 < noise[1].loss
    assert runs[0].noise == []


def test_tuned_comparison_and_best_rates() -> None:
    r = ex.tuned_comparison(("SGD", "Adam"), epochs=2, seeds=(0, 1))
    assert r.steps == 40 and sorted(r.runs) == ["Adam", "SGD"]
    for name in r.runs:
        lrs = list(r.runs[name])
        means = [r.final(name, lr).mean() for lr in lrs]
        assert r.best_lr(name) == lrs[int(np.argmin(means))]
        assert r.curves(name, lrs[0]).shape == (2, 3)
    # the same seed gives the same initial network for every optimizer and rate
    first = {round(h["val_loss"][0], 12) for runs in r.runs.values() for hs in runs.values() for h in hs[:1]}
    assert len(first) == 1
    with pytest.raises(ValueError, match="Invalid optimizer name"):
        ex.tuned_comparison(("Shampoo",))


def test_adamw_shrinks_dead_weights_geometrically_adam_l2_drives_them_to_zero() -> None:
    """Inputs that are 0 on every training image give their weights no data gradient: AdamW
    multiplies them by exactly (1 - lr wd)^steps; Adam + L2 normalizes the decay term itself and
    moves them by about lr per step, to zero."""
    r = ex.decoupled_decay(lr=1e-3, weight_decay=0.01, epochs=10)
    assert r.dead.sum() == 4 and r.steps == 200
    np.testing.assert_allclose(r.w["AdamW"][:, r.dead], r.w0[:, r.dead] * (1 - 1e-5) ** 200, rtol=1e-12)
    assert np.abs(r.w["Adam + L2"][:, r.dead]).max() < 0.1 * np.abs(r.w0[:, r.dead]).max()
    assert np.abs(r.w0[:, r.dead]).max() > 20 * r.lr  # they had far to go
