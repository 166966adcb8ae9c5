"""The exercises of the loss-surfaces chapter: each reference answer against an independent computation,
and the tempting wrong answers (the ones printed in the chapter, the unshifted limit) rejected."""

from __future__ import annotations

import numpy as np

from nbcode.exercises import check
from nbcode.hessian import hutchinson_variance, power_iteration
from nbcode.optim import gd_path
from nbcode.surfaces import classify, escape_steps, get_surface, two_weight_net


def test_valley_curvature_at_a_new_point() -> None:
    lam = float(np.linalg.eigvalsh(two_weight_net().hess([-4.0, -0.25]))[-1])
    assert check("surfaces.valley_curvature", lam)
    assert not check("surfaces.valley_curvature", 8.5)  # the value at (2, 0.5), printed in the chapter


def test_degenerate_test_and_which_is_a_minimum() -> None:
    # Hessians of x² + y⁴ and x² + y³ at the origin, by central differences
    for f in (lambda x, y: x**2 + y**4, lambda x, y: x**2 + y**3):
        h = 1e-4
        H = np.array([[(f(h, 0) - 2 * f(0, 0) + f(-h, 0)) / h**2, 0.0], [0.0, (f(0, h) - 2 * f(0, 0) + f(0, -h)) / h**2]])
        assert check("surfaces.degenerate_test", classify(H, 1e-6))
    assert not check("surfaces.degenerate_test", "minimum")
    t = np.linspace(-1, 1, 201)
    assert np.all(t**4 >= 0) and np.any(t**3 < 0)  # L4 ≥ L4(0) on the y axis, L3 dips below
    assert check("surfaces.degenerate_minimum", "L4") and not check("surfaces.degenerate_minimum", "both")


def test_escape_steps_is_the_integer() -> None:
    k = escape_steps(gd_path(get_surface("saddle"), [0.0, 1e-6], 0.1, 200), [0.0, 0.0], 1.0)
    assert check("surfaces.escape_steps", k) and not check("surfaces.escape_steps", 75.8)


def test_best_shift_minimizes_the_error_factor() -> None:
    Q = np.linalg.qr(np.random.default_rng(0).standard_normal((3, 3)))[0]
    H = Q @ np.diag([-3.0, 1.0, 2.0]) @ Q.T

    def factor(c: float) -> float:
        # (second largest |μ| / largest |μ|)² for the eigenvalues μ of H + cI, if the largest is 2 + c
        mu = np.sort(np.abs(np.linalg.eigvalsh(H + c * np.eye(3))))
        return float((mu[1] / mu[2]) ** 2) if abs(mu[2] - (2 + c)) < 1e-9 else np.inf

    cs = np.linspace(0.0, 10.0, 10001)
    best = cs[int(np.argmin([factor(c) for c in cs]))]
    assert abs(best - 1.0) < 2e-3 and abs(factor(1.0) - 4 / 9) < 1e-9
    # and power iteration with c = 1 does reach λ = 2, while c = 0 converges to −3
    assert abs(power_iteration(H + np.eye(3), tol=1e-12, max_iter=500, seed=0).eigenvalues[0] - 3.0) < 1e-9
    assert abs(power_iteration(H, tol=1e-12, max_iter=500, seed=0).eigenvalues[0] + 3.0) < 1e-9
    assert check("surfaces.power_shift", float(best)) and not check("surfaces.power_shift", 0.0)


def test_gaussian_probe_variance_by_sampling() -> None:
    H = np.array([[2.0, 1.0, 0.0], [1.0, 3.0, -2.0], [0.0, -2.0, 1.0]])
    z = np.random.default_rng(1).standard_normal((400_000, 3))
    v = float(np.var(np.einsum("ni,ij,nj->n", z, H, z)))
    assert abs(v - 48.0) < 1.5  # sampling sd ≈ 0.4
    assert check("surfaces.gaussian_probe_variance", 48.0)
    assert not check("surfaces.gaussian_probe_variance", hutchinson_variance(H))  # 20, the random-sign value
